"""Synthetic label noise on clean labels, for controlled studies; seeded, fixed for the run, and reported.

Each generator takes clean integer labels and returns the noisy ones. Where a rate is given, exactly
round(rate · n) samples are picked (per source class for class-conditional noise), so the realised rate is the
asked one up to rounding; `transition` draws each label from its row of a matrix instead.

    symmetric       the SCN protocol: a picked label becomes a uniformly random *different* class
    uniform         symmetric that may keep the class: a picked label is redrawn from all classes
    asymmetric      a picked label of a mapped class becomes its image under a mapping (CIFAR-10: truck→automobile,
                    bird→airplane, deer→horse, cat↔dog); unmapped classes stay clean
    pairflip        a picked label c becomes c+1 (mod C)
    transition      label i becomes j with probability T[i, j] (rows sum to 1)

Noise is learnable only while the true class stays the most frequent given label of its samples; `make_noisy`
refuses a rate (or a transition matrix) past that point (`max_rate`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...config import NoiseKind, choices
from ...errors import WeaklabError

KINDS = choices(NoiseKind)

# Standard class-conditional mappings by class name.
MAPPINGS = {
    "cifar10": {"truck": "automobile", "bird": "airplane", "deer": "horse", "cat": "dog", "dog": "cat"},
    # Digits: pairs a human writer confuses (1↔7, 3→8, 5→6, 4→9); half the classes flip, as in the CIFAR-10 map.
    "digits": {"1": "7", "7": "1", "3": "8", "5": "6", "4": "9"},
}


def _pick(members: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(members)[: int(round(rate * len(members)))]


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise WeaklabError(f"data.noise_rate must be in [0, 1], got {rate}")


def max_rate(kind: str, num_classes: int) -> float | None:
    """The rate from which on the true class is no longer the most frequent given label of its samples (None: the
    kind takes no rate). A class's samples keep their label with share 1 - r; the rest goes:"""
    if kind == "symmetric":  # r / (C - 1) to each other class: 1 - r > r / (C - 1) while r < (C - 1) / C
        return (num_classes - 1) / num_classes
    if kind == "uniform":  # r / C to every class, its own included: 1 - r + r / C > r / C while r < 1
        return 1.0
    if kind in ("asymmetric", "pairflip"):  # r to one other class: 1 - r > r while r < 1/2
        return 0.5
    return None


def check_learnable(kind: str, rate: float, num_classes: int) -> None:
    limit = max_rate(kind, num_classes)
    if limit is not None and num_classes >= 2 and rate >= limit:  # fewer classes: the generators say so
        raise WeaklabError(
            f"data.noise_rate {rate:g} is too high for {kind} noise on {num_classes} classes: from {limit:.4g} on, "
            f"the true class is no longer the most frequent label of its samples and nothing can be learned; use "
            f"--noise-rate below {limit:.4g}"
        )


def symmetric(labels: np.ndarray, num_classes: int, rate: float, seed: int, keep_possible: bool = False) -> np.ndarray:
    """Replace round(rate·n) labels by a uniformly random different class (or any class, `keep_possible`)."""
    _check_rate(rate)
    if num_classes < 2:
        raise WeaklabError("symmetric label noise needs at least 2 classes")
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    picked = _pick(np.arange(len(labels)), rate, rng)
    if keep_possible:
        noisy[picked] = rng.integers(0, num_classes, len(picked))
    else:  # an offset 1..C-1 added mod C is uniform over the other classes
        noisy[picked] = (labels[picked] + rng.integers(1, num_classes, len(picked))) % num_classes
    return noisy


def class_mapping(labels: np.ndarray, mapping: dict[int, int], rate: float, seed: int) -> np.ndarray:
    """Per mapped source class, round(rate · n_class) labels become mapping[class]."""
    _check_rate(rate)
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    for src in sorted(mapping):
        picked = _pick(np.flatnonzero(labels == src), rate, rng)
        noisy[picked] = mapping[src]
    return noisy


def pairflip(labels: np.ndarray, num_classes: int, rate: float, seed: int) -> np.ndarray:
    return class_mapping(labels, {c: (c + 1) % num_classes for c in range(num_classes)}, rate, seed)


def transition(labels: np.ndarray, matrix: np.ndarray, seed: int) -> np.ndarray:
    """Draw each noisy label from row `labels[i]` of the transition matrix T[clean, noisy]."""
    rng = np.random.default_rng(seed)
    cumulative = matrix.cumsum(1)
    u = rng.random(len(labels))
    return np.minimum((u[:, None] > cumulative[labels]).sum(1), matrix.shape[1] - 1)


def parse_mapping(spec, classes: list[str]) -> dict[int, int]:
    """A named mapping ("cifar10", "digits") or a list of "source->target" entries (class names or indices)."""
    if isinstance(spec, str) and spec in MAPPINGS:
        pairs = list(MAPPINGS[spec].items())
    elif isinstance(spec, list) and all(isinstance(e, str) and "->" in e for e in spec):
        pairs = [tuple(part.strip() for part in e.split("->", 1)) for e in spec]
    else:
        raise WeaklabError(
            f"data.noise_mapping must be one of {', '.join(MAPPINGS)} or a list like "
            f"['cat->dog', 'dog->cat'], got {spec!r}"
        )
    return {_class_index(s, classes): _class_index(t, classes) for s, t in pairs}


def _class_index(name: str, classes: list[str]) -> int:
    if name in classes:
        return classes.index(name)
    if name.isdigit() and int(name) < len(classes):
        return int(name)
    raise WeaklabError(
        f"data.noise_mapping names class {name!r}, which this dataset lacks; classes: {', '.join(classes)}"
    )


def read_matrix(spec, num_classes: int) -> np.ndarray:
    """A C×C row-stochastic matrix from a nested list or a .npy / .csv file."""
    if isinstance(spec, str):
        path = Path(spec)
        if not path.is_file():
            raise WeaklabError(f"data.noise_matrix file {path} does not exist")
        try:
            spec = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, delimiter=",")
        except Exception as e:
            raise WeaklabError(
                f"cannot read data.noise_matrix {path} ({type(e).__name__}); use .npy or comma-separated text"
            ) from None
    try:
        matrix = np.asarray(spec, dtype=np.float64)
    except (TypeError, ValueError):
        raise WeaklabError("data.noise_matrix must be a C×C list of numbers") from None
    if matrix.shape != (num_classes, num_classes):
        raise WeaklabError(
            f"data.noise_matrix must be {num_classes}×{num_classes} (classes × classes), got shape {matrix.shape}"
        )
    if (matrix < 0).any() or not np.allclose(matrix.sum(1), 1.0, atol=1e-6):
        raise WeaklabError("data.noise_matrix rows must be non-negative and sum to 1 (row i: P(noisy label | clean i))")
    off = matrix - np.diag(np.full(num_classes, np.inf))  # each row without its diagonal
    weak = np.flatnonzero(matrix.diagonal() <= off.max(1))
    if len(weak):  # the same condition as max_rate's: a class must keep its own label most often
        i = int(weak[0])
        raise WeaklabError(
            f"data.noise_matrix row {i}: keeping the label ({matrix[i, i]:.4g}) must be more likely than any change "
            f"(up to {off[i].max():.4g}), or nothing can be learned; make each diagonal entry its row's largest"
        )
    return matrix


def make_noisy(
    labels: np.ndarray, classes: list[str], kind: str, rate: float, seed: int, mapping=None, matrix=None
) -> np.ndarray:
    """The noisy labels of `kind` (see the module docstring); "none" and "given" return the labels unchanged."""
    labels = np.asarray(labels, dtype=np.int64)
    c = len(classes)
    if kind in ("none", "given"):
        return labels.copy()
    check_learnable(kind, rate, c)
    if kind == "symmetric":
        return symmetric(labels, c, rate, seed)
    if kind == "uniform":
        return symmetric(labels, c, rate, seed, keep_possible=True)
    if kind == "asymmetric":
        if mapping is None:
            raise WeaklabError("asymmetric noise needs data.noise_mapping (cifar10, digits, or ['a->b', ...])")
        return class_mapping(labels, parse_mapping(mapping, classes), rate, seed)
    if kind == "pairflip":
        return pairflip(labels, c, rate, seed)
    if kind == "transition":
        if matrix is None:
            raise WeaklabError("transition noise needs data.noise_matrix (a C×C list or a .npy/.csv file)")
        return transition(labels, read_matrix(matrix, c), seed)
    raise WeaklabError(f"unknown data.noise {kind!r}; choose one of {', '.join(KINDS)}")


def noise_report(clean: np.ndarray, noisy: np.ndarray, kind: str, rate: float | None) -> dict:
    """What the generator produced: the realised share of wrong labels, overall and per clean class."""
    wrong = clean != noisy
    per_class = [float(wrong[clean == k].mean()) if (clean == k).any() else 0.0 for k in range(int(clean.max()) + 1)]
    return {
        "noise": kind,
        "noise_rate_asked": rate,
        "noise_rate_realised": float(wrong.mean()),
        "noisy_labels": int(wrong.sum()),
        "noise_rate_per_class": [round(r, 4) for r in per_class],
    }


def noisy_supervision(
    supervision, clean: np.ndarray, classes: list[str], kind: str, rate: float, seed: int, mapping=None, matrix=None
):
    """The noisy-label regime: the labeled rows become one-hot of their noisy label, flagged untrusted.

    Returns (supervision, report). kind "none" leaves the supervision trusted and unchanged; "given" keeps the
    labels as they are but marks every labeled one untrusted (a user's own crowd labels).
    """
    from .labeled import Supervision

    if kind == "none":
        return supervision, None
    labeled = supervision.labeled
    mask = labeled.numpy()
    # Drawn on the labeled rows only, so that the asked share of the *given* labels is wrong: drawn on every sample,
    # 100 labels asked at 40 % came out 34-54 % wrong, by the luck of which samples the labeled subset picked.
    given = clean.copy()
    given[mask] = make_noisy(clean[mask], classes, kind, rate, seed, mapping, matrix)
    out = Supervision.from_labels(given, len(classes), mask)
    out.untrusted = labeled.clone()
    report = noise_report(clean[mask], given[mask], kind, None if kind == "given" else rate)
    if kind == "given":  # the true labels are unknown: nothing to measure
        report.update(noise_rate_realised=None, noisy_labels=None, noise_rate_per_class=None)
    return out, report
