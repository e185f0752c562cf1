"""Partial labels: candidate sets, generated from clean labels with a seed or loaded from a user's file.

Generators (q = partial_rate, C classes, y the true label):
    plcr               each wrong class joins with probability q; then random wrong classes are added until the set
                       has at least 2 members (PL-CR's protocol: no sample is fully labeled)
    pico               each wrong class joins with probability q; singletons allowed; E|S| = 1 + q(C - 1)
    pico_hierarchical  as pico, but only the other fine classes of y's superclass may join (CIFAR-100's 20 groups
                       of 5; another grouping can be passed as `groups`)
A user's sets load from a CSV (`index` or `path` column, then the candidate labels) or an N×C 0/1 array
(.npy, or .npz with a `candidates` array). Every loader returns a boolean N×C matrix; `report` says what it holds.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ...config import PartialGenerator, choices
from ...errors import WeaklabError

GENERATORS = choices(PartialGenerator)

# CIFAR-100: the superclass (coarse label) of each fine label 0..99, in the dataset's fine-label order.
CIFAR100_COARSE = np.array([
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
])  # fmt: skip


def generate(kind: str, labels: np.ndarray, num_classes: int, rate: float, seed: int, groups=None) -> np.ndarray:
    """Candidate sets N×C (bool) drawn from clean `labels` by generator `kind`, reproducibly from `seed`."""
    labels = np.asarray(labels, dtype=np.int64)
    if kind not in GENERATORS:
        raise WeaklabError(f"unknown partial-label generator {kind!r}; choose one of {', '.join(GENERATORS)}")
    if not 0.0 <= rate <= 1.0:
        raise WeaklabError(f"data.partial_rate must be a probability in [0, 1], got {rate}")
    if num_classes < 2:
        raise WeaklabError("partial labels need at least 2 classes")
    rng = np.random.default_rng(seed)
    n = len(labels)
    truth = np.zeros((n, num_classes), dtype=bool)
    truth[np.arange(n), labels] = True
    allowed = ~truth
    if kind == "pico_hierarchical":
        groups = _groups(groups, num_classes)
        allowed &= groups[None, :] == groups[labels][:, None]  # only classes of the true label's superclass
    sets = truth | (allowed & (rng.random((n, num_classes)) < rate))
    if kind == "plcr":
        single = np.flatnonzero(sets.sum(1) < 2)
        # one more uniformly random wrong class for every singleton: y + 1..C-1 (mod C) covers the others
        extra = (labels[single] + rng.integers(1, num_classes, len(single))) % num_classes
        sets[single, extra] = True
    return sets


def _groups(groups, num_classes: int) -> np.ndarray:
    if groups is None:
        if num_classes != len(CIFAR100_COARSE):
            raise WeaklabError(
                f"pico_hierarchical flips within CIFAR-100's superclasses and needs 100 classes, got {num_classes}; "
                "use the pico or plcr generator for this dataset"
            )
        return CIFAR100_COARSE
    groups = np.asarray(groups)
    if groups.shape != (num_classes,):
        raise WeaklabError(f"groups must give one superclass per class ({num_classes}), got shape {groups.shape}")
    return groups


def report(candidates: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """Average set size, and the share of sets holding the true label where it is known."""
    candidates = np.asarray(candidates, dtype=bool)
    sizes = candidates.sum(1)
    out = {
        "avg_candidates": round(float(sizes.mean()), 4),
        "min_candidates": int(sizes.min()),
        "singletons": int((sizes == 1).sum()),
    }
    if labels is not None:
        out["true_label_covered"] = round(float(candidates[np.arange(len(labels)), labels].mean()), 4)
    return out


def load(
    path: str | Path,
    num_classes: int,
    classes: list[str] | None = None,
    paths: list[str] | None = None,
    num_samples: int | None = None,
) -> np.ndarray:
    """A user's candidate sets as an N×C bool matrix, rows in the dataset's sample order.

    `.npy`/`.npz`: an N×C array of 0/1. `.csv`: a header row, then per sample its `index` (row in the dataset)
    or `path` (as the dataset lists its files), followed by candidate labels: more columns, or one column with
    labels separated by spaces or `;`. Labels are class indices or class names.
    """
    path = Path(path)
    if not path.is_file():
        raise WeaklabError(f"candidates file {path} does not exist")
    if path.suffix in (".npy", ".npz"):
        sets = _load_array(path)
    elif path.suffix == ".csv":
        sets = _load_csv(path, num_classes, classes, paths, num_samples)
    else:
        raise WeaklabError(f"candidates file {path}: use .csv, .npy or .npz")
    return check(sets, num_classes, num_samples, str(path))


def check(
    sets: np.ndarray, num_classes: int, num_samples: int | None, where: str, labels: np.ndarray | None = None
) -> np.ndarray:
    """Shape, 0/1 values, no empty set; with `labels`, every true label inside its set."""
    sets = np.asarray(sets)
    if sets.ndim != 2 or sets.shape[1] != num_classes:
        raise WeaklabError(
            f"{where}: candidate sets must be an N×{num_classes} array (one column per class), got shape {sets.shape}"
        )
    if num_samples is not None and len(sets) != num_samples:
        raise WeaklabError(f"{where}: {len(sets)} candidate rows for {num_samples} samples; give one row per sample")
    if not np.isin(sets, (0, 1)).all():
        raise WeaklabError(f"{where}: candidate sets must hold only 0 and 1 (or true/false)")
    sets = sets.astype(bool)
    empty = np.flatnonzero(~sets.any(1))
    if len(empty):
        raise WeaklabError(
            f"{where}: {len(empty)} samples have an empty candidate set (first: row {empty[0]}); every set needs at least one class"
        )
    if labels is not None:
        outside = np.flatnonzero(~sets[np.arange(len(labels)), labels])
        if len(outside):
            raise WeaklabError(
                f"{where}: the known true label of {len(outside)} samples lies outside their candidate set (first: row "
                f"{outside[0]}, label {labels[outside[0]]}); fix the sets or set data.candidates_complete=false"
            )
    return sets


def _load_array(path: Path) -> np.ndarray:
    try:
        data = np.load(path)
    except Exception as e:
        raise WeaklabError(f"candidates file {path} could not be read as a numpy array: {e}") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        keys = list(data.keys())
        key = "candidates" if "candidates" in keys else (keys[0] if len(keys) == 1 else None)
        if key is None:
            raise WeaklabError(f"{path}: an .npz of candidate sets needs an array named 'candidates'; found {keys}")
        return data[key]
    return data


def _load_csv(path: Path, num_classes: int, classes, paths, num_samples) -> np.ndarray:
    with path.open(newline="") as f:
        rows = [r for r in csv.reader(f) if any(cell.strip() for cell in r)]
    if not rows:
        raise WeaklabError(f"{path}: the file is empty")
    key = rows[0][0].strip().lower()
    if key not in ("index", "path"):
        raise WeaklabError(f"{path}: the first column's header must be 'index' or 'path', got {rows[0][0]!r}")
    if key == "path" and paths is None:
        raise WeaklabError(f"{path}: this dataset has no file paths; identify samples by 'index' instead")
    if num_samples is None:
        raise WeaklabError(f"{path}: the number of samples is needed to read a CSV of candidate sets")
    position = {p: i for i, p in enumerate(paths)} if key == "path" else None
    names = {c: i for i, c in enumerate(classes or [])}
    sets = np.zeros((num_samples, num_classes), dtype=bool)
    seen = np.zeros(num_samples, dtype=bool)
    for line, row in enumerate(rows[1:], start=2):
        sample = _sample_row(row[0].strip(), key, position, num_samples, path, line)
        tokens = [t for cell in row[1:] for t in cell.replace(";", " ").split()]
        if not tokens:
            raise WeaklabError(f"{path} line {line}: sample {row[0]} has an empty candidate set")
        for token in tokens:
            sets[sample, _label(token, names, num_classes, path, line)] = True
        seen[sample] = True
    missing = np.flatnonzero(~seen)
    if len(missing):
        raise WeaklabError(
            f"{path}: {len(missing)} samples have no row (first: sample {missing[0]}); list every sample"
        )
    return sets


def _sample_row(value: str, key: str, position, num_samples: int, path: Path, line: int) -> int:
    if key == "path":
        if value not in position:
            raise WeaklabError(f"{path} line {line}: {value!r} is not a file of this dataset")
        return position[value]
    try:
        index = int(value)
    except ValueError:
        raise WeaklabError(f"{path} line {line}: index {value!r} is not an integer") from None
    if not 0 <= index < num_samples:
        raise WeaklabError(f"{path} line {line}: index {index} is outside 0..{num_samples - 1}")
    return index


def _label(token: str, names: dict, num_classes: int, path: Path, line: int) -> int:
    if token in names:
        return names[token]
    try:
        label = int(token)
    except ValueError:
        raise WeaklabError(f"{path} line {line}: {token!r} is neither a class index nor a class name") from None
    if not 0 <= label < num_classes:
        raise WeaklabError(f"{path} line {line}: label {label} is out of range 0..{num_classes - 1}")
    return label


def for_splits(
    data_config,
    y: np.ndarray,
    classes: list[str],
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    seed: int,
    paths: list[str] | None = None,
    given: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Candidate sets of the training and validation rows of a source, from the data section of a config.

    Sets are drawn (or loaded) once for every sample of the source and then split, so the validation split gets
    sets from the same generator and model selection can run without true labels. `given`: the training rows'
    given labels where they differ from the true ones (label noise): their sets are drawn around the given label,
    so a noisy label's set misses the true class unless the generator adds it (ILL's noisy partial labels).
    """
    d = data_config
    if d.partial and d.candidates_file:
        raise WeaklabError("give data.partial (generate candidate sets) or data.candidates_file (your own), not both")
    num_classes = len(classes)
    if d.candidates_file:
        if given is not None:
            raise WeaklabError(
                "data.noise draws wrong labels for generated candidate sets; a candidates_file is used as it is: "
                "unset data.noise (or use data.partial)"
            )
        sets = load(d.candidates_file, num_classes, classes, paths, len(y))
        if d.candidates_complete:
            check(sets, num_classes, len(y), d.candidates_file, labels=y)
        source = {"candidates_file": d.candidates_file}
    else:
        centre = np.asarray(y).copy()
        if given is not None:
            centre[train_idx] = given
        sets = generate(d.partial, centre, num_classes, d.partial_rate, seed)
        source = {"generator": d.partial, "partial_rate": d.partial_rate}
    train_sets, val_sets = sets[train_idx], sets[val_idx]
    summary = {**source, "train": report(train_sets, y[train_idx]), "val": report(val_sets, y[val_idx])}
    return train_sets, val_sets, summary
