"""Datasets by name. Each loader returns an ArraySource; new datasets register here."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import WeaklabError
from .regression_datasets import diabetes, digits_rotation
from .source import ArraySource


def digits(root: str | None = None) -> ArraySource:
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes, pixel values 0..16).

    Shipped inside the scikit-learn wheel, so it works offline. It has no official test split, and digits
    are not flip-invariant.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32)[:, None]  # N×1×8×8
    return ArraySource(x=x, y=d.target, classes=[str(c) for c in d.target_names], name="digits", flip=False)


DATASETS: dict[str, Callable[[str | None], ArraySource]] = {"digits": digits}
DATASETS.update(digits_rotation=digits_rotation, diabetes=diabetes)  # embedded regression tasks


def load_source(name: str, root: str | None = None) -> ArraySource:
    """The dataset called `name`; an unknown name is an error listing the known ones."""
    if name not in DATASETS:
        raise WeaklabError(f"unknown dataset {name!r}; available: {', '.join(sorted(DATASETS))}")
    return DATASETS[name](root)
