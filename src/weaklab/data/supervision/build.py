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
    # One representation composes every kind (labeled.py): a labeled subset (the rest all-candidate rows), wrong
    # labels on it (flagged untrusted), and candidate sets drawn around the given labels of that subset.
    supervision = semi_supervised(
        y_train, len(classes), labels_per_class=d.labels_per_class, fraction=d.labeled_fraction, seed=seed
    )
    noise_seed = seed if d.noise_seed is None else d.noise_seed
    supervision, noise = noisy_supervision(
        supervision, y_train, classes, d.noise, d.noise_rate, noise_seed, d.noise_mapping, d.noise_matrix
    )
    val_candidates, regime = None, {}
    if d.partial or d.candidates_file:
        labeled = supervision.labeled.numpy()
        given = supervision.labels.numpy() if noise is not None else None
        if given is not None:
            given = np.where(labeled, given, y_train)  # rows without a label: any centre (their sets are all)
        train_sets, val_candidates, summary = partial.for_splits(
            d, y, classes, train_idx, val_idx, seed, paths, given=given
        )
        train_sets[~labeled] = True  # unlabeled rows: every class
        summary["train"] = partial.report(train_sets[labeled], y_train[labeled])
        supervision = Supervision(torch.as_tensor(train_sets), supervision.untrusted)
        regime = {"partial": summary}
        if noise is not None and noise["noise_rate_realised"] is not None:
            # what a noisy set means: the true class is missing from it
            noise["noise_rate_realised"] = round(1.0 - summary["train"]["true_label_covered"], 4)
    held_out = None
    if d.cv_folds is not None:  # this fold's labels are hidden, its samples predicted later
        supervision, held_out = hold_out(supervision, d.cv_folds, d.cv_fold, d.split_seed)
    return RunSupervision(supervision, Classification(len(classes)), val_candidates, regime, noise, held_out)
