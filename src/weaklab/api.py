"""The Python API: `train(config) -> Run`, `load_run(path) -> Run`, and a Run's `predict_proba` / `predict` /
`evaluate`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from .config import Config, DataConfig, from_dict, load_yaml, resolve
from .data.sources import arrays
from .data.sources.source import ArraySource
from .data.sources.user_data import Options
from .engine import checkpoint
from .engine.experiment import build_data, build_method
from .engine.trainer import predict_summaries, run_training
from .errors import WeaklabError


def train(
    config: Config | dict | str | Path | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    *,
    x=None,
    y=None,
    classes=None,
    candidates=None,
    **overrides,
) -> Run | None:
    """Train a method and return its Run.

    `config` is a Config, a nested dict (`{"method": {"name": "mean_teacher"}, "data": {...}}`) or a recipe
    path; `overrides` are dotted keys written with double underscores, e.g. `train__lr=0.01`. `out` (or
    `config.out`) is the run directory; default `runs/<method>-<dataset>-seed<seed>-<time>`. A directory that
    already holds a run is refused unless `overwrite` (its outputs are then deleted first).

    `x` trains on samples in memory instead of `data.dataset`, checked as the file they stand for: a NumPy array or
    torch tensor (N×D features, N×C×H×W images) with `y` (class indices, -1 for an unlabeled sample, named by
    `classes`; class names; or real targets, NaN for a missing one), as an .npz holds them; or a pandas or polars
    DataFrame: feature columns and a label column (`data.target_column`, else label / target / y) as a CSV table,
    or one column of arrays (images H×W or C×H×W, or feature vectors) beside it; with `y`, the frame holds only
    samples. `candidates`: an N×C 0/1 matrix of candidate sets (partial labels), as `data.candidates_file`; without
    `y`, each sample's stand-in label is a member of its set (drawn with the seed: test metrics read it). The run
    keeps them as data.npz (and candidates.npy) in its directory, named by its config.yaml (resume, evaluate).
    """
    if not (config is None or isinstance(config, (Config, dict, str, Path))):
        raise TypeError(f"weaklab.train: config must be a Config, a dict or a recipe path, not {type(config).__name__}")
    if not (out is None or isinstance(out, (str, Path))):
        raise TypeError(f"weaklab.train: out must be a path (str or Path), not {type(out).__name__}")
    if not isinstance(config, Config):
        config = resolve(config, {k.replace("__", "."): v for k, v in overrides.items()})
    elif overrides:
        config = resolve(config.to_dict(), {k.replace("__", "."): v for k, v in overrides.items()})
    if x is None:
        if any(v is not None for v in (y, classes, candidates)):
            raise TypeError("weaklab.train: y, classes and candidates describe the samples x; give x too")
        config.out = str(out or config.out or default_run_dir(config))
        return _train(config, Path(config.out), overwrite)
    source, sets = _from_memory(config, x, y, classes, candidates)
    config.out = str(out or config.out or default_run_dir(config))
    with arrays.staged(source, Path(config.out), sets) as (data_file, sets_file):
        config.data.dataset, config.data.candidates_file = data_file, sets_file
        return _train(config, Path(config.out), overwrite)


def _train(config: Config, run_dir: Path, overwrite: bool) -> Run | None:
    if run_training(config, run_dir, overwrite=overwrite) is None:
        return None  # a torchrun rank other than 0: rank 0 holds the run's outputs
    return Run(run_dir)


def _from_memory(config: Config, x, y, classes, candidates) -> tuple[ArraySource, np.ndarray | None]:
    """The samples (and candidate sets) given to `train`, checked before anything is written; `config.data` is set
    to read them back from the run's files as they are read now."""
    from .data.supervision import partial

    d = config.data
    if d.dataset != DataConfig.dataset or d.candidates_file:
        given = "data.dataset" if d.dataset != DataConfig.dataset else "data.candidates_file"
        raise WeaklabError(f"the data is given twice, as x and as {given}; give one")
    sets = None
    if candidates is not None:
        sets = arrays.as_array(candidates, "candidates")
        if y is None:  # only the sets are known: stand-in labels inside them
            width = sets.shape[1] if sets.ndim == 2 else 0
            sets = partial.check(sets, len(classes) if classes is not None else width, len(x), "candidates")
            y, classes = arrays.stand_in_labels(sets, config.seed), classes or [str(c) for c in range(width)]
    source = arrays.from_memory(x, y, Options.from_config(d), classes, quiet=not config.train.progress)
    if source.candidates is not None:  # the run's data.npz could not hold them for resume and evaluate
        raise WeaklabError(
            f"{source.name}: candidate-set cells ('a|b') are read from files only; write the table to a CSV and give "
            "its path as data.dataset, or give every sample's set as `candidates` (an N×C 0/1 matrix)"
        )
    if sets is not None:
        if source.task != "classification" or source.unlabeled is not None:
            raise WeaklabError(
                "candidates: candidate sets are for classification, one per sample: y may not mark samples unlabeled "
                "(give a sample you know nothing of every class as its set)"
            )
        known = source.y if d.candidates_complete else None
        sets = partial.check(sets, len(source.classes), len(source.x), "candidates", labels=known)
    # the name until the run directory is known; the task as read, so the run's file reads back the same
    d.dataset, d.task = source.name, ("regression" if source.task == "regression" else "classification")
    if source.task == "regression" and source.unlabeled is not None:
        d.missing_targets = "unlabeled"  # NaN targets, accepted now, are unlabeled samples when read back
    return source, sets


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
        from .data.sources.inputs import check_scale, in_layout

        method, normalizer, spec, _ = self._load_method()
        expected = tuple(spec["input_shape"])
        given = arrays.inputs(x, expected)  # arrays, tensors and DataFrames, read as training read them
        fitted = in_layout(given, expected)
        if fitted is None:
            raise WeaklabError(f"inputs have shape {given.shape}; this run expects N×{'×'.join(map(str, expected))}")
        x = fitted
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
        """Class probabilities (N×C) from the selected checkpoint; `x` in the raw units of the training data: an
        array, a torch tensor, or a pandas / polars DataFrame (the feature columns, or one column of arrays)."""
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
