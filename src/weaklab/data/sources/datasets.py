"""Datasets by name. Each loader returns an ArraySource; new datasets register here."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...errors import WeaklabError
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


def _benchmark_loader(name: str) -> Callable[[str | None], ArraySource]:
    def load(root: str | None = None) -> ArraySource:
        from .benchmarks import load_benchmark

        return load_benchmark(name, root)

    load.__doc__ = f"{name}, from the converted cache under ROOT/{name} (see `weaklab data download`)."
    return load


DATASETS: dict[str, Callable[[str | None], ArraySource]] = {"digits": digits}
for _name in ("cifar10", "cifar100", "svhn", "stl10", "mnist", "fashion_mnist", "kmnist"):
    DATASETS[_name] = _benchmark_loader(_name)

# Layouts of a user's own copy of a data set (they take the data options: image size, bad images).
LAYOUTS = ("rafdb", "fer2013", "ferplus", "utkface")
DATASETS.update(digits_rotation=digits_rotation, diabetes=diabetes)  # embedded regression tasks


def load_source(name: str, root: str | None = None, options=None) -> ArraySource:
    """The dataset called `name`, or the user's data at the path `name` (its kind inferred).

    `options` (the `data` config section) carries the user-data settings: target column, task, image size...
    """
    from . import arrays, user_data

    if (staged := arrays.take(name)) is not None:  # samples given in memory (`weaklab.train(x=...)`)
        src = staged
    elif name in DATASETS:
        src = DATASETS[name](root)
    elif name in LAYOUTS:
        src = user_data.load_layout(name, root, user_data.Options.from_config(options))
    elif user_data.looks_like_path(name):
        src = user_data.load_path(name, user_data.Options.from_config(options))
    else:
        src = None
    if src is not None:
        if (image_shape := getattr(options, "image_shape", None)) is not None:
            src = user_data.rows_as_images(src, image_shape)
        target_range = getattr(options, "target_range", None)
        return user_data.keep_target_range(src, target_range) if target_range else src
    raise WeaklabError(
        f"unknown dataset {name!r}; available: {', '.join(sorted([*DATASETS, *LAYOUTS]))}, or a path to your "
        f"own data (.npz, .csv, .parquet, an image folder)"
    )
