"""weaklab: train deep networks from imperfect labels.

>>> import weaklab
>>> run = weaklab.train({"method": {"name": "mean_teacher"}, "data": {"labels_per_class": 5}})
>>> run.summary["test"]["accuracy"]
>>> run.predict_proba(x)
"""

__version__ = "0.1.0"

from .api import Run, load_run, train  # noqa: E402

__all__ = ["Run", "load_run", "train", "__version__"]
