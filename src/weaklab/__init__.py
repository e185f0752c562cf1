"""weaklab: train deep networks from imperfect labels.

>>> import weaklab
>>> run = weaklab.train({"method": {"name": "mean_teacher"}, "data": {"labels_per_class": 5}})
>>> run.summary["test"]["accuracy"]
>>> run.predict_proba(x)
"""

__version__ = "0.1.0"

__all__ = ["Run", "load_run", "train", "__version__"]


def __getattr__(name: str):
    """`weaklab.train` and friends, imported on first use: `weaklab --help` need not load torch."""
    if name in ("Run", "load_run", "train"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'weaklab' has no attribute {name!r}")
