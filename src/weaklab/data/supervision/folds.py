"""K folds over the training samples, for out-of-sample class probabilities (cross-validation).

Fold k's samples are hidden from training (they become unlabeled) in the run with `data.cv_fold = k`, so that
run's predictions on them are out-of-sample: what label-quality tools (cleanlab) expect as `pred_probs`.
"""

from __future__ import annotations

import numpy as np
import torch

from ...errors import WeaklabError


def fold_ids(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold number 0..folds-1 per sample, stratified by (given) label, fixed by the seed."""
    if folds < 2:
        raise WeaklabError(f"data.cv_folds must be at least 2, got {folds}")
    rng = np.random.default_rng(seed)
    ids = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        ids[members] = (np.arange(len(members)) + offset) % folds  # round-robin keeps folds balanced per class
        offset += len(members)
    return ids


def hold_out(supervision, folds: int, fold: int, seed: int):
    """The supervision with fold `fold`'s labeled samples made unlabeled; and the held-out indices."""
    from .labeled import Supervision

    if not 0 <= fold < folds:
        raise WeaklabError(f"data.cv_fold must be in 0..{folds - 1}, got {fold}")
    labels = supervision.labels.numpy()
    ids = fold_ids(labels, folds, seed)
    held = (ids == fold) & supervision.labeled.numpy()
    candidates = supervision.candidates.clone()
    candidates[held] = True
    untrusted = supervision.untrusted & ~torch.as_tensor(held)
    return Supervision(candidates, untrusted), np.flatnonzero(held)
