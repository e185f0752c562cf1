"""The training labels a model believes are wrong, ranked, with a suggested correction.

`label_issues.csv` has one row per training sample: its row in the source data, the given label (its name, and
its class index `given_index`: the column of that class in the probabilities), the current
label (after a method's relabeling; else the given one), the suggested label (the model's arg-max), the
importance weight (SCN's α; empty for other methods), the margin of the given label
p_given − max_{j≠given} p_j (negative: the model prefers another class), and the suspicion rank (1 = most
likely wrong: lowest margin first, lower importance breaking ties). With synthetic noise the true label is
known and written too (`clean_label`), so a study can score the ranking.

The class probabilities go to `pred_probs_in_sample.npy` (N×K float32, rows in the CSV's order, columns in
class order: the layout cleanlab takes as `pred_probs`), with `classes.json` beside them (class index → name), so
neither file needs weaklab to be read. They are *in-sample*: the model was trained on
these very samples, so they are more confident in the given labels than cleanlab's out-of-sample
(cross-validated) probabilities would be. `weaklab crossval-probs` computes out-of-sample ones by K folds.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np


def given_label_margin(probs: np.ndarray, given: np.ndarray) -> np.ndarray:
    """p_given − the largest other class probability, per sample."""
    rows = np.arange(len(given))
    p_given = probs[rows, given]
    others = probs.copy()
    others[rows, given] = -np.inf
    return p_given - others.max(1)


def suspicion_rank(margin: np.ndarray, importance: np.ndarray | None = None) -> np.ndarray:
    """1 for the most suspicious sample: lowest margin first, then lowest importance."""
    tie = np.zeros_like(margin) if importance is None else importance
    order = np.lexsort((tie, margin))
    rank = np.empty(len(margin), dtype=np.int64)
    rank[order] = np.arange(1, len(margin) + 1)
    return rank


def write_label_issues(
    run_dir: str | Path,
    probs: np.ndarray,
    given: np.ndarray,
    classes: list[str],
    *,
    current: np.ndarray | None = None,
    importance: np.ndarray | None = None,
    clean: np.ndarray | None = None,
    source_index: np.ndarray | None = None,
    probs_name: str = "pred_probs_in_sample.npy",
) -> Path:
    """Write label_issues.csv (and the probabilities) into `run_dir`; returns the CSV's path."""
    run_dir = Path(run_dir)
    probs = np.asarray(probs, dtype=np.float32)
    given = np.asarray(given, dtype=np.int64)
    current = given if current is None else np.asarray(current, dtype=np.int64)
    index = np.arange(len(given)) if source_index is None else np.asarray(source_index)
    margin = given_label_margin(probs, given)
    rank = suspicion_rank(margin, importance)
    suggested = probs.argmax(1)
    header = [
        "index",
        "source_index",
        "given_label",
        "given_index",
        "current_label",
        "suggested_label",
        "importance",
        "margin",
        "suspicion_rank",
    ] + (["clean_label"] if clean is not None else [])
    path = run_dir / "label_issues.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for i in range(len(given)):
            row = [
                i,
                int(index[i]),
                classes[given[i]],
                int(given[i]),
                classes[current[i]],
                classes[suggested[i]],
                "" if importance is None else f"{importance[i]:.4f}",
                f"{margin[i]:.4f}",
                int(rank[i]),
            ]
            out.writerow(row + ([classes[clean[i]]] if clean is not None else []))
    np.save(run_dir / probs_name, probs)
    write_classes(run_dir, classes)
    return path


def write_classes(directory: str | Path, classes: list[str]) -> Path:
    """`classes.json`: class index → name, the column order of every probability file in `directory`."""
    path = Path(directory) / "classes.json"
    path.write_text(json.dumps({str(i): name for i, name in enumerate(classes)}, indent=1, ensure_ascii=False) + "\n")
    return path
