"""In-memory array sources: the one shape every dataset takes before training.

A source is raw samples (images N×C×H×W or flat features N×D, any numeric dtype), integer labels and class
names, plus the facts about the data that augmentation needs (whether a horizontal flip keeps the meaning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import WeaklabError
from ..store.rows import Rows


@dataclass
class ArraySource:
    """Samples and clean labels held in memory; validated on construction.

    `test_x`/`test_y` hold an official test split where the dataset ships one; otherwise the test split is
    carved from `x`, stratified.
    """

    x: np.ndarray | Rows  # Rows: a lazy selection of a memory-mapped cache (data/store/rows.py)
    y: np.ndarray
    classes: list[str]
    name: str = "arrays"
    # Is a horizontal flip label-preserving? Only a dataset that says so is flipped: not digits, letters, text, or
    # targets that change with the image (angles). None: the data does not say (users' files): no flip unless
    # --flip / views.flip, and the run says so when it starts.
    flip: bool | None = None
    test_x: np.ndarray | Rows | None = None
    test_y: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    task: str = "classification"  # classification (integer labels) | regression (real targets; classes empty)
    # Samples whose label is unknown (bool mask over x; their y is a placeholder). They join training as
    # unlabeled samples only, never validation or test.
    unlabeled: np.ndarray | None = None
    # Extra unlabeled samples beyond x (STL-10's unlabeled split, SVHN's extra): the unlabeled stream only.
    extra_x: np.ndarray | None = None
    # A user table's per-row candidate sets (`3|5|7` cells): N×C bool, every class on rows without a set. Rows with a
    # set are among `unlabeled` (their true label is unknown), and train with their set.
    candidates: np.ndarray | None = None

    def __post_init__(self):
        if self.task not in ("classification", "regression"):
            raise WeaklabError(f"{self.name}: task must be 'classification' or 'regression', got {self.task!r}")
        if self.unlabeled is not None:
            self.unlabeled = np.asarray(self.unlabeled, dtype=bool)
            if self.unlabeled.shape != (len(self.x),):
                raise WeaklabError(f"{self.name}: the unlabeled mask needs one entry per sample ({len(self.x)})")
            self.y = np.where(self.unlabeled, 0, np.asarray(self.y))  # placeholder where there is no label
            if self.unlabeled.all():
                raise WeaklabError(f"{self.name}: every sample is unlabeled; at least some need labels")
        self.x, self.y = _check_arrays(self.x, self.y, len(self.classes), self.name, self.task)
        if self.extra_x is not None and tuple(self.extra_x.shape[1:]) != tuple(self.x.shape[1:]):
            raise WeaklabError(
                f"{self.name}: extra unlabeled samples have shape {self.extra_x.shape[1:]}, training samples "
                f"{self.x.shape[1:]}; they must match"
            )
        if (self.test_x is None) != (self.test_y is None):
            raise WeaklabError(f"{self.name}: give both test_x and test_y, or neither")
        if self.test_x is not None:
            self.test_x, self.test_y = _check_arrays(
                self.test_x, self.test_y, len(self.classes), self.name + " test", self.task
            )
            if self.test_x.shape[1:] != self.x.shape[1:]:
                raise WeaklabError(
                    f"{self.name}: test samples have shape {self.test_x.shape[1:]}, training samples "
                    f"{self.x.shape[1:]}; they must match"
                )

    @property
    def has_label(self) -> np.ndarray:
        """Bool mask of the samples whose label (or target) is known."""
        return np.ones(len(self.y), dtype=bool) if self.unlabeled is None else ~self.unlabeled

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.ndim == 4


def _check_arrays(x, y, num_classes: int, name: str, task: str = "classification"):
    # Rows (a lazy selection of a memory-mapped file, data/store/rows.py) stay lazy: reading them here would copy a
    # data set that may not fit in memory. They only ever select rows of an array that passed these checks.
    x, y = (x if isinstance(x, Rows) else np.asarray(x)), np.asarray(y)
    if x.ndim not in (2, 4):
        raise WeaklabError(
            f"{name}: samples must be images N×C×H×W or flat features N×D, got an array of shape {x.shape}"
        )
    if not (np.issubdtype(x.dtype, np.number) and not np.issubdtype(x.dtype, np.complexfloating)):
        raise WeaklabError(f"{name}: samples must be numeric, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.floating) and not isinstance(x, Rows) and not np.isfinite(x).all():
        raise WeaklabError(f"{name}: samples contain NaN or inf values; clean or impute them first")
    if y.ndim != 1 or len(y) != len(x):
        raise WeaklabError(f"{name}: need one label per sample: {len(x)} samples but labels of shape {y.shape}")
    if len(x) == 0:
        raise WeaklabError(f"{name}: the dataset is empty")
    if task == "regression":
        if not np.issubdtype(y.dtype, np.number) or not np.isfinite(y.astype(np.float64)).all():
            raise WeaklabError(f"{name}: regression targets must be finite numbers (found NaN, inf or text)")
        return x, y.astype(np.float32)
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and (y == np.round(y)).all():
            y = y.astype(np.int64)
        else:
            raise WeaklabError(f"{name}: labels must be integers 0..{num_classes - 1}, got dtype {y.dtype}")
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        raise WeaklabError(
            f"{name}: {int(bad.sum())} labels are outside 0..{num_classes - 1} (first: {int(y[bad][0])} at "
            f"index {int(np.flatnonzero(bad)[0])}); there are {num_classes} classes"
        )
    return x, y.astype(np.int64)
