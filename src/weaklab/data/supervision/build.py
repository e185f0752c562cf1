"""A run's supervision, assembled as its data config says: the one place that chooses between regression targets,
candidate sets and labels, then adds label noise and hides a cross-validation fold. Training and the speed
benchmark both call `build_supervision`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ...config import DataConfig
from ...core.task import Classification, Regression
from ...errors import WeaklabError
from . import partial
from .folds import hold_out
from .labeled import RegressionSupervision, Supervision, semi_supervised, semi_supervised_regression
from .noise import noisy_supervision


@dataclass
class RunSupervision:
    supervision: Supervision | RegressionSupervision
    task: Classification | Regression  # regression's holds the target normalisation, fitted on labeled targets only
    val_candidates: np.ndarray | None = None  # partial labels: the validation split's candidate sets
    regime: dict = field(default_factory=dict)  # what the candidate-set generator produced
    noise: dict | None = None  # what the label-noise generator produced (None: labels trusted)
    held_out: np.ndarray | None = None  # cross-validation: training samples whose labels the run never sees


def build_supervision(
    d: DataConfig,
    y: np.ndarray,
    classes: list[str],
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    seed: int,
    regression: bool,
    paths: list[str] | None = None,
) -> RunSupervision:
    """What is known of each training sample (`y[train_idx]`); `y` holds every sample of the source, so candidate
    sets are drawn once for all and the validation split gets its own."""
    y_train = y[train_idx]
    if regression:
        if d.partial or d.candidates_file or d.noise != "none":
            raise WeaklabError("candidate sets (data.partial) and label noise (data.noise) are for classification data")
        targets = semi_supervised_regression(
            y_train, labels_per_class=d.labels_per_class, fraction=d.labeled_fraction, seed=seed
        )
        return RunSupervision(targets, Regression.fit(y_train[targets.has_target.numpy()]))
    val_candidates, regime = None, {}
    if d.partial or d.candidates_file:
        if d.noise != "none":
            raise WeaklabError(
                "data.partial (candidate sets) and data.noise (noisy labels) cannot be combined yet; choose one"
            )
        train_sets, val_candidates, summary = partial.for_splits(d, y, classes, train_idx, val_idx, seed, paths)
        supervision = Supervision(torch.as_tensor(train_sets), torch.zeros(len(train_idx), dtype=torch.bool))
        regime = {"partial": summary}
    else:
        supervision = semi_supervised(
            y_train, len(classes), labels_per_class=d.labels_per_class, fraction=d.labeled_fraction, seed=seed
        )
    noise_seed = seed if d.noise_seed is None else d.noise_seed
    supervision, noise = noisy_supervision(
        supervision, y_train, classes, d.noise, d.noise_rate, noise_seed, d.noise_mapping, d.noise_matrix
    )
    held_out = None
    if d.cv_folds is not None:  # this fold's labels are hidden, its samples predicted later
        supervision, held_out = hold_out(supervision, d.cv_folds, d.cv_fold, d.split_seed)
    return RunSupervision(supervision, Classification(len(classes)), val_candidates, regime, noise, held_out)
