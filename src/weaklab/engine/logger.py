"""Run outputs: metrics.jsonl (one line per evaluation), TensorBoard events when installed, PNG plots."""

from __future__ import annotations

import json
import math
from pathlib import Path


def strict_json(obj, **kwargs) -> str:
    """JSON that strict parsers accept: an undefined metric (NaN, ±inf; e.g. Spearman ρ for a network without a
    variance head) is written as null instead of Python's non-standard NaN token."""
    return json.dumps(_finite_or_none(obj), allow_nan=False, **kwargs)


def _finite_or_none(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


class RunLogger:
    def __init__(self, run_dir: Path, resume_step: int | None = None):
        self.path = run_dir / "metrics.jsonl"
        if resume_step is not None:
            self._truncate_after(resume_step)
        self.tb = _tensorboard(run_dir / "tensorboard")

    def _truncate_after(self, step: int) -> None:
        """A run killed after its last checkpoint logged lines the resumed run will write again: drop them."""
        if not self.path.exists():
            return
        lines = self.path.read_text().splitlines()
        kept = [line for line in lines if (record := _record(line)) is not None and record["step"] <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        with self.path.open("a") as f:
            f.write(strict_json(record) + "\n")
        if self.tb is not None:
            for key, value in flatten(record).items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)) and math.isfinite(value):
                    self.tb.add_scalar(key, value, record["step"])
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [r for r in map(_record, path.read_text().splitlines()) if r is not None]


def _record(line: str) -> dict | None:
    """A line of metrics.jsonl; None for a blank line or a partial one (a process killed while writing it)."""
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def flatten(record: dict, prefix: str = "", sep: str = "/") -> dict:
    """Nested keys joined: {"val": {"accuracy": 0.9}} -> {"val/accuracy": 0.9} (a config, with sep=".": train.lr)."""
    out = {}
    for k, v in record.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}{sep}", sep))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _tensorboard(directory: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard not installed: an optional extra
        return None
    return SummaryWriter(str(directory))
