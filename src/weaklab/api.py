"""The Python API: `train(config) -> Run`, `load_run(path) -> Run`, and a Run's `predict_proba` / `predict` /
`evaluate`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from .config import Config, from_dict, load_yaml, resolve
from .engine import checkpoint
from .engine.experiment import build_data, build_method
from .engine.trainer import predict_summaries, run_training
from .errors import WeaklabError


def train(
    config: Config | dict | str | Path | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    **overrides,
) -> Run | None:
    """Train a method and return its Run.

    `config` is a Config, a nested dict (`{"method": {"name": "mean_teacher"}, "data": {...}}`) or a recipe
    path; `overrides` are dotted keys written with double underscores, e.g. `train__lr=0.01`. `out` (or
    `config.out`) is the run directory; default `runs/<method>-<dataset>-seed<seed>-<time>`. A directory that
    already holds a run is refused unless `overwrite` (its outputs are then deleted first).
    """
    if not (config is None or isinstance(config, (Config, dict, str, Path))):
        raise TypeError(f"weaklab.train: config must be a Config, a dict or a recipe path, not {type(config).__name__}")
    if not (out is None or isinstance(out, (str, Path))):
        raise TypeError(f"weaklab.train: out must be a path (str or Path), not {type(out).__name__}")
    if not isinstance(config, Config):
        config = resolve(config, {k.replace("__", "."): v for k, v in overrides.items()})
    elif overrides:
        config = resolve(config.to_dict(), {k.replace("__", "."): v for k, v in overrides.items()})
    config.out = str(out or config.out or default_run_dir(config))
    run_dir = Path(config.out)
    if run_training(config, run_dir, overwrite=overwrite) is None:
        return None  # a torchrun rank other than 0: rank 0 holds the run's outputs
    return Run(run_dir)


def resume(run_dir: str | Path) -> Run | None:
    """Continue a stopped run from its last checkpoint; a finished run is returned as it is."""
    run = Run(run_dir, require_summary=False)
    if not (run.directory / "checkpoints" / "last.pt").exists():
        raise WeaklabError(
            f"{run.directory} has no checkpoints/last.pt to resume from; start it again with `weaklab train`"
        )
    if run_training(run.config, run.directory, resume=True) is None:
        return None  # a torchrun rank other than 0
    return Run(run.directory)


def load_run(run_dir: str | Path) -> Run:
    """Open a finished run directory."""
    return Run(run_dir)


def default_run_dir(config: Config) -> Path:
    return (
        Path("runs") / f"{config.method.name}-{config.data.dataset}-seed{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    )


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
            raise WeaklabError(
                f"{self.directory} has no summary.json: the run did not finish; continue it with `weaklab resume {self.directory}`"
            )
        self.summary: dict | None = json.loads(summary.read_text()) if summary.is_file() else None
        self._method = None

    def __repr__(self) -> str:
        return f"Run({str(self.directory)!r})"

    @property
    def metrics(self) -> list[dict]:
        from .engine.logger import read_metrics

        return read_metrics(self.directory)

    def _load_method(self):
        """The run's method rebuilt from the selected checkpoint (weights, teacher, second model, task)."""
        if self._method is None:
            from .core.task import Regression, task_from_state
            from .data.store.device import Normalizer
            from .data.supervision.labeled import Supervision
            from .data.views.pipeline import Views

            state = checkpoint.load(self.directory / "checkpoints" / "best.pt")
            if "task" not in state or "context" not in state:
                raise WeaklabError(
                    f"{self.directory} was written by an older weaklab that saved no task/context in its checkpoints; train it again"
                )
            spec, task = state["model_spec"], task_from_state(state["task"])
            n = state["context"]["num_train"]
            # Per-sample training state (candidate sets, relabeled labels) plays no part in prediction: a
            # placeholder of the right size lets every method be built; its learned buffers come from the checkpoint.
            placeholder = (
                None
                if isinstance(task, Regression)
                else Supervision(torch.ones(n, task.out_dim, dtype=torch.bool), torch.zeros(n, dtype=torch.bool))
            )
            views = Views(0, False, 0.0, "cpu", seed=0)  # prediction makes no views
            context = dict(task=task, views=views, supervision=placeholder, **state["context"])
            method = build_method(self.config, spec, context, pretrained=False)
            method.load_state_dict(state["method"])
            self._method = (method.eval(), Normalizer.from_state_dict(state["normalizer"]), spec, state["classes"])
        return self._method

    @property
    def task(self):
        return self._load_method()[0].task

    @property
    def classes(self) -> list[str]:
        return self._load_method()[3]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape as the network takes it (C×H×W images, or D features)."""
        return tuple(self._load_method()[2]["input_shape"])

    def _summaries(self, x: np.ndarray, batch_size: int) -> torch.Tensor:
        from .data.sources.inputs import check_scale

        method, normalizer, spec, _ = self._load_method()
        x = np.asarray(x)
        expected = tuple(spec["input_shape"])
        if x.shape[1:] != expected:
            if x.shape == expected:
                x = x[None]
            else:
                raise WeaklabError(f"inputs have shape {x.shape}; this run expects N×{'×'.join(map(str, expected))}")
        if len(x) == 0:
            raise WeaklabError("x holds no samples (0 rows); give at least one")
        if not np.issubdtype(x.dtype, np.number) or (np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all()):
            raise WeaklabError("inputs must be finite numbers (found NaN, inf or a non-numeric dtype)")
        # images on the training data's scale (its raw (min, max) is kept with the normalizer; None: older runs)
        check_scale(x, normalizer.value_range, expected)
        xt = torch.as_tensor(x.astype(np.float32))
        with torch.random.fork_rng():  # MC-dropout predictions are repeatable and leave the caller's RNG alone
            torch.manual_seed(0)
            return predict_summaries(
                method, (normalizer(xt[i : i + batch_size]) for i in range(0, len(xt), batch_size))
            )

    def predict_proba(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities (N×C) from the selected checkpoint; `x` in the raw units of the training data."""
        if self.is_regression:
            raise WeaklabError(f"{self.directory} is a regression run: it has no class probabilities; use predict")
        return self._summaries(x, batch_size).numpy()

    @property
    def is_regression(self) -> bool:
        from .core.task import Regression

        return isinstance(self.task, Regression)

    def predict(self, x: np.ndarray, uncertainty: bool = False, level: float = 0.9, batch_size: int = 1024):
        """Predicted class indices, or (regression) predicted values in original target units.

        Regression with `uncertainty=True`: a dict of arrays `prediction`, `aleatoric_std`, `epistemic_std`,
        `total_std` and the central interval at `level`, `lower` and `upper`."""
        if not self.is_regression:
            return self.predict_proba(x, batch_size).argmax(1)
        if not 0 < level < 1:
            raise WeaklabError(f"the interval level must be between 0 and 1 (e.g. 0.9), got {level}")
        from .core.regression_metrics import interval_halfwidth

        decoded = self.task.decode(self._summaries(x, batch_size)).double()
        mean, aleatoric, epistemic = decoded.unbind(1)
        if torch.isnan(aleatoric).any():  # no variance head: the validation-fitted homoscedastic noise
            aleatoric = torch.full_like(
                mean, (self.summary or {}).get("task", {}).get("homoscedastic_noise_var") or float("nan")
            )
        if not uncertainty:
            return mean.numpy()
        total = (aleatoric + epistemic).sqrt()
        half = interval_halfwidth(total, level)
        return {
            "prediction": mean.numpy(),
            "aleatoric_std": aleatoric.sqrt().numpy(),
            "epistemic_std": epistemic.sqrt().numpy(),
            "total_std": total.numpy(),
            "lower": (mean - half).numpy(),
            "upper": (mean + half).numpy(),
        }

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """Re-evaluate the selected checkpoint on the run's `test` or `val` split (rebuilt from the config)."""
        if split not in ("test", "val"):
            raise WeaklabError(f"split must be 'test' or 'val', got {split!r}")
        data = build_data(self.config, torch.device("cpu"))
        method = self._load_method()[0]
        store, labels = (data.test, data.test_labels) if split == "test" else (data.val, data.val_labels)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            reference = None
            if method.task.uses_reference:
                reference = (predict_summaries(method, data.val.batches(1024)), data.val_labels)
            return method.task.metrics(predict_summaries(method, store.batches(1024)), labels, reference=reference)
