"""What a run directory does not hold but its views need: test predictions, the training samples a label-issue
gallery shows, partial labels' candidate sets. Recomputed on the CPU through the Python API (`load_run`) with
the run's data rebuilt from its config, only where that is cheap."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .collect import RunRecord

# test samples × network parameters: the rough cost of one pass over the test split that `auto` allows (CIFAR-10's
# test split through a WRN-28-2, ~1.5 M parameters, is inside; a WRN-34-10 or a ResNet-50 on it is not)
CHEAP = 2e10


def too_costly(record: RunRecord) -> str | None:
    """Why recomputing this run is not cheap, or None where it is."""
    labels = record.summary.get("labels") or {}
    cost = (labels.get("test") or 0) * (record.summary.get("parameters") or 0)
    if cost > CHEAP:
        return (
            f"{labels.get('test')} test samples through {record.summary.get('parameters')} parameters is not cheap "
            "to recompute here; `weaklab report --recompute always` draws it"
        )
    return None


class Reloaded:
    """A finished run (its selected checkpoint) with its data rebuilt, on the CPU."""

    def __init__(self, directory: Path):
        import torch

        from ..api import load_run
        from ..engine.experiment import build_data

        self.run = load_run(directory)
        config = self.run.config
        config.data.store = "device"  # the splits in memory: their raw samples are read here
        self.data = build_data(config, torch.device("cpu"))
        self.data.train.close()

    @staticmethod
    def _raw(store) -> np.ndarray:
        x = store.x
        return x.numpy() if hasattr(x, "numpy") else np.asarray(x)

    def test_targets(self) -> np.ndarray:
        return self.data.test_labels.numpy()

    def test_probs(self) -> np.ndarray:
        """Classification: the test split's class probabilities from the selected checkpoint."""
        return self.run.predict_proba(self._raw(self.data.test))

    def test_regression(self) -> dict[str, np.ndarray]:
        """Regression: the test split's predictions with their spread (`Run.predict(..., uncertainty=True)`)."""
        return self.run.predict(self._raw(self.data.test), uncertainty=True)

    def train_samples(self, rows: list[int]) -> np.ndarray:
        """Raw training samples by their row in the training split (label_issues.csv's `index`)."""
        return self._raw(self.data.train)[np.asarray(rows, dtype=np.int64)]

    def train_clean_labels(self) -> np.ndarray:
        return self.data.train_labels_clean.numpy()

    def candidates(self) -> np.ndarray | None:
        """Partial labels: the training candidate sets (N×C bool); None for other runs."""
        candidates = getattr(self.data.supervision, "candidates", None)
        return None if candidates is None else candidates.numpy()

    def target_table(self) -> tuple[str, np.ndarray] | None:
        """Partial labels: the per-sample target table the method learned (PL-CR's `targets`, PRODEN's and RC's
        `weights`) at the selected checkpoint, by its buffer name; None where the method keeps none (CC)."""
        from ..engine import checkpoint

        candidates = self.candidates()
        if candidates is None:
            return None
        state = checkpoint.load(self.run.directory / "checkpoints" / "best.pt", mmap=True)["method"]
        for name, value in state.items():
            if tuple(value.shape) == candidates.shape and value.is_floating_point():
                return name, value.float().numpy()
        return None
