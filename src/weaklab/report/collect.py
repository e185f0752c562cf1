"""Which folders are finished runs, and what each run directory holds, read as it is on disk."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from ..config import load_yaml
from ..engine.logger import read_metrics
from ..errors import WeaklabError


@dataclass
class RunRecord:
    """One finished run: config.yaml as written (not re-validated, so an older run still shows), summary.json
    and metrics.jsonl."""

    directory: Path
    config: dict
    summary: dict
    metrics: list[dict]

    @property
    def method(self) -> str:
        return self.summary["method"]

    @property
    def name(self) -> str:
        return f"{self.method} on {self.summary['dataset']}, seed {self.summary['seed']}"

    @property
    def kind(self) -> str:
        """classification | regression (summaries older than regression have no `task`)."""
        return (self.summary.get("task") or {}).get("kind", "classification")

    @property
    def selected_step(self) -> int | None:
        return (self.summary.get("selected") or {}).get("step")

    @property
    def labels_text(self) -> str:
        """What the run learned from, in a few words."""
        labels = self.summary.get("labels") or {}
        if "partial" in labels:
            size = (labels["partial"].get("train") or {}).get("avg_candidates", "?")
            return f"{labels.get('train', '?')} training samples with candidate sets (mean size {size})"
        text = f"{labels.get('num_labeled', '?')} labeled of {labels.get('train', '?')} training samples"
        if "noise_rate_realised" in labels:
            text += f", {100 * labels['noise_rate_realised']:.1f}% of the labels wrong ({labels.get('noise')} noise)"
        return text

    @property
    def partial(self) -> bool:
        """The run learned from candidate sets."""
        return "partial" in (self.summary.get("labels") or {})

    @property
    def noisy(self) -> bool:
        """The run's labels were untrusted (synthetic noise, or a label-issue report written)."""
        labels = self.summary.get("labels") or {}
        return (self.directory / "label_issues.csv").is_file() or labels.get("noise") not in (None, "none")


def find_runs(paths: list[str | Path]) -> tuple[list[RunRecord], list[str]]:
    """The finished runs at or below each path, in the order given (below a folder: by path); and one line per
    unfinished run skipped."""
    found: dict[Path, None] = {}
    skipped: list[str] = []
    for given in map(Path, paths):
        if not given.exists():
            raise WeaklabError(f"{given} does not exist; give run directories or a folder that holds them")
        configs = [given / "config.yaml"] if (given / "config.yaml").is_file() else sorted(given.rglob("config.yaml"))
        for config in configs:
            run_dir = config.parent
            if (run_dir / "summary.json").is_file():
                found.setdefault(run_dir.resolve(), None)
            else:
                skipped.append(f"{run_dir}: not finished (no summary.json); `weaklab resume {run_dir}` completes it")
    if not found:
        where = ", ".join(map(str, paths))
        raise WeaklabError(
            f"no finished run in {where}: a run directory holds config.yaml and summary.json (`weaklab train --out`)"
        )
    return [read_run(d) for d in found], skipped


def read_run(run_dir: Path) -> RunRecord:
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except json.JSONDecodeError:
        raise WeaklabError(f"{run_dir / 'summary.json'} is not valid JSON; train or resume the run again") from None
    return RunRecord(run_dir, load_yaml(run_dir / "config.yaml"), summary, read_metrics(run_dir))


def top_label_issues(run_dir: Path, n: int) -> list[dict] | None:
    """The `n` most suspicious rows of label_issues.csv (suspicion rank 1 first); None where the run wrote none."""
    path = run_dir / "label_issues.csv"
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return sorted(rows, key=lambda r: int(r["suspicion_rank"]))[:n]


def flatten(tree: dict, prefix: str = "") -> dict:
    """A nested config as dotted keys: {"train": {"lr": 0.1}} → {"train.lr": 0.1}."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def default_settings(method: str | None = None) -> dict | None:
    """weaklab's defaults, flattened, for `method` (None: the default method); None for a method this version does
    not know."""
    from ..config import resolve
    from ..methods import METHODS  # importing the methods fills the config's settings table

    if method is not None and method not in METHODS:
        return None
    return flatten(resolve(None, {} if method is None else {"method.name": method}).to_dict())
