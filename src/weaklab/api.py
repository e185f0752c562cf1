"""The Python API: `train(config) -> Run`, `load_run(path) -> Run`, and a Run's `predict_proba` / `evaluate`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from .config import Config, from_dict, load_yaml, resolve
from .engine import checkpoint
from .engine.experiment import build_data, make_network
from .engine.trainer import first_head, predict_summaries, run_training
from .errors import WeaklabError


def train(config: Config | dict | str | Path | None = None, out: str | Path | None = None, **overrides) -> Run:
    """Train a method and return its Run.

    `config` is a Config, a nested dict (`{"method": {"name": "mean_teacher"}, "data": {...}}`) or a recipe
    path; `overrides` are dotted keys written with double underscores, e.g. `train__lr=0.01`. `out` (or
    `config.out`) is the run directory; default `runs/<method>-<dataset>-seed<seed>-<time>`.
    """
    if not isinstance(config, Config):
        config = resolve(config, {k.replace("__", "."): v for k, v in overrides.items()})
    elif overrides:
        config = resolve(config.to_dict(), {k.replace("__", "."): v for k, v in overrides.items()})
    config.out = str(out or config.out or default_run_dir(config))
    run_dir = Path(config.out)
    if (run_dir / "checkpoints" / "last.pt").exists():
        raise WeaklabError(f"{run_dir} already holds a run; continue it with `weaklab resume {run_dir}` or choose another output directory")
    if run_training(config, run_dir) is None:
        return None  # a torchrun rank other than 0: rank 0 holds the run's outputs
    return Run(run_dir)


def resume(run_dir: str | Path) -> Run:
    """Continue a stopped run from its last checkpoint; a finished run is returned as it is."""
    run = Run(run_dir, require_summary=False)
    if not (run.directory / "checkpoints" / "last.pt").exists():
        raise WeaklabError(f"{run.directory} has no checkpoints/last.pt to resume from; start it again with `weaklab train`")
    if run_training(run.config, run.directory, resume=True) is None:
        return None  # a torchrun rank other than 0
    return Run(run.directory)


def load_run(run_dir: str | Path) -> Run:
    """Open a finished run directory."""
    return Run(run_dir)


def default_run_dir(config: Config) -> Path:
    return Path("runs") / f"{config.method.name}-{config.data.dataset}-seed{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


class Run:
    """A run directory: its config, summary, metrics, and the selected checkpoint for predictions."""

    def __init__(self, run_dir: str | Path, require_summary: bool = True):
        self.directory = Path(run_dir)
        if not self.directory.is_dir():
            raise WeaklabError(f"run directory {self.directory} does not exist")
        if not (self.directory / "config.yaml").is_file():
            raise WeaklabError(f"{self.directory} is not a weaklab run directory (no config.yaml)")
        self.config = from_dict(load_yaml(self.directory / "config.yaml"))
        summary = self.directory / "summary.json"
        if require_summary and not summary.is_file():
            raise WeaklabError(f"{self.directory} has no summary.json: the run did not finish; continue it with `weaklab resume {self.directory}`")
        self.summary = json.loads(summary.read_text()) if summary.is_file() else None
        self._predictor = None

    def __repr__(self) -> str:
        return f"Run({str(self.directory)!r})"

    @property
    def metrics(self) -> list[dict]:
        from .engine.logger import read_metrics

        return read_metrics(self.directory)

    def _load_predictor(self):
        if self._predictor is None:
            state = checkpoint.load(self.directory / "checkpoints" / "best.pt")
            model = make_network(state["model_spec"], heads=_heads(state))
            prefix = state["predictor"] + "."
            model.load_state_dict({k[len(prefix):]: v for k, v in state["method"].items() if k.startswith(prefix)})
            from .data.store import Normalizer

            self._predictor = (model.eval(), Normalizer.from_state_dict(state["normalizer"]), state["model_spec"], state["classes"])
        return self._predictor

    @property
    def classes(self) -> list[str]:
        return self._load_predictor()[3]

    @torch.no_grad()
    def predict_proba(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities (N×C) from the selected checkpoint; `x` in the raw units of the training data."""
        model, normalizer, spec, _ = self._load_predictor()
        x = np.asarray(x)
        expected = tuple(spec["input_shape"])
        if x.shape[1:] != expected:
            if x.shape == expected:
                x = x[None]
            else:
                raise WeaklabError(f"inputs have shape {x.shape}; this run expects N×{'×'.join(map(str, expected))}")
        if not np.issubdtype(x.dtype, np.number) or (np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all()):
            raise WeaklabError("inputs must be finite numbers (found NaN, inf or a non-numeric dtype)")
        xt = torch.as_tensor(x.astype(np.float32))
        outs = [first_head(model(normalizer(xt[i : i + batch_size]))).float().softmax(-1) for i in range(0, len(xt), batch_size)]
        return torch.cat(outs).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted class indices."""
        return self.predict_proba(x).argmax(1)

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """Re-evaluate the selected checkpoint on the run's `test` or `val` split (rebuilt from the config)."""
        if split not in ("test", "val"):
            raise WeaklabError(f"split must be 'test' or 'val', got {split!r}")
        from .core.task import Classification

        data = build_data(self.config, torch.device("cpu"))
        model = self._load_predictor()[0]
        store, labels = (data.test, data.test_labels) if split == "test" else (data.val, data.val_labels)
        task = Classification(len(data.classes))
        return task.metrics(predict_summaries(model, task, store.batches(1024)), labels)


def _heads(state: dict) -> int:
    prefix = state["predictor"] + ".heads."
    return len({k[len(prefix):].split(".")[0] for k in state["method"] if k.startswith(prefix)})
