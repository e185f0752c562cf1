"""Stratified, seeded splits. Validation is carved from training data; test is touched once, at the end."""

from __future__ import annotations

import numpy as np

from ...errors import WeaklabError


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices of `y` into (rest, part) with `fraction` of every class in `part` (at least one each
    where the class has two or more samples). Deterministic for a seed; both index arrays are sorted."""
    if not 0 <= fraction < 1:
        raise WeaklabError(f"a split fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    parts = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        take = int(round(fraction * len(members)))
        if fraction > 0 and len(members) >= 2:
            take = min(max(take, 1), len(members) - 1)
        parts.append(rng.permutation(members)[:take])
    part = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(len(y)), part)
    return rest, part


def quantile_bins(y: np.ndarray, bins: int = 10) -> np.ndarray:
    """Stratum of each real-valued target: which of `bins` equal-count quantile bins it falls in.

    Regression splits and labeled subsets stratify on these, so every part spans the target range. Fewer than
    2 × `bins` targets get fewer bins, two targets each, so that a split can still take one of each."""
    y = np.asarray(y, dtype=np.float64)
    bins = min(bins, len(y) // 2)
    if bins < 2:
        return np.zeros(len(y), dtype=np.int64)
    edges = np.quantile(y, np.linspace(0, 1, bins + 1)[1:-1])
    return np.searchsorted(edges, y, side="right")
