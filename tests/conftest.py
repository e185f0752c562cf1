import importlib.util
from pathlib import Path

import pytest

from weaklab.config import resolve

# A tiny but real run: digits, 5 labels per class, a narrow small CNN, 3 epochs of 6 steps.
FAST = {
    "data.labels_per_class": 5,
    "model.name": "small_cnn",
    "model.width": 8,
    "train.epochs": 3,
    "train.batch_labeled": 16,
    "train.batch_unlabeled": 256,
    "train.lr_rampup": 0,
    "train.progress": False,
}


def fast_config(method="supervised", **overrides):
    """A resolved Config for a seconds-long digits run; overrides use dotted keys with '__' for '.'."""
    return resolve(None, {**FAST, "method.name": method, **{k.replace("__", "."): v for k, v in overrides.items()}})


def benchmark_script(name: str):
    """A script of the repository's benchmarks/ folder (not a package), loaded as a module."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fast():
    return fast_config


def train_interrupted(config, out, monkeypatch, saves: int = 2) -> None:
    """Train `config` into `out`, killed (KeyboardInterrupt) right after its `saves`-th checkpoint is written."""
    from weaklab.api import train
    from weaklab.engine.trainer import Trainer

    original, calls = Trainer._save, {"n": 0}

    def killed(self, improved):
        original(self, improved)
        calls["n"] += 1
        if calls["n"] == saves:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Trainer, "_save", killed)
        with pytest.raises(KeyboardInterrupt):
            train(config, out=out)
