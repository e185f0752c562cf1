"""Embedded regression datasets: real, or derived from real data shipped inside scikit-learn (work offline)."""

from __future__ import annotations

import numpy as np
import torch

from .source import ArraySource

ROTATION_SEED = 0  # the angles are part of the dataset: fixed, so every run sees the same data
MAX_ANGLE = 45.0  # degrees; beyond ±45° some digits (6/9, rotated 1/7) become ambiguous


def rotate(images: np.ndarray, degrees: np.ndarray, upsample: int = 2) -> np.ndarray:
    """Rotate N×1×H×W images counter-clockwise by `degrees` about their centre.

    Rotating at `upsample`× resolution (bilinear) and averaging back down keeps 8×8 strokes from breaking up.
    Pixels rotated in from outside the frame are 0 (the digits' background)."""
    x = torch.as_tensor(images, dtype=torch.float32)
    h, w = x.shape[-2:]
    x = torch.nn.functional.interpolate(x, scale_factor=upsample, mode="bilinear", align_corners=False)
    theta = torch.as_tensor(np.deg2rad(degrees), dtype=torch.float32)
    cos, sin = torch.cos(theta), torch.sin(theta)
    # affine_grid maps output coordinates to input coordinates: the inverse rotation; y points down in images.
    matrix = torch.stack(
        [torch.stack([cos, -sin, torch.zeros_like(cos)], 1), torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1
    )
    grid = torch.nn.functional.affine_grid(matrix, list(x.shape), align_corners=False)
    x = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return torch.nn.functional.adaptive_avg_pool2d(x, (h, w)).numpy()


def digits_rotation(root: str | None = None) -> ArraySource:
    """scikit-learn's 1,797 real 8×8 handwritten digits, each rotated by its own random angle drawn uniformly
    from ±45° (seed 0); the target is that angle in degrees.

    A continuous target built from real shipped images: recovering it needs the shape of each digit (what
    "upright" means for a 2 differs from a 7), so unlabeled images carry information, and the label is exact,
    so errors measure the model, not label noise. Not flip-invariant (a mirror negates the angle)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    angles = np.random.default_rng(ROTATION_SEED).uniform(-MAX_ANGLE, MAX_ANGLE, len(d.images))
    x = rotate(d.images.astype(np.float32)[:, None], angles)
    info = {"target": "rotation angle in degrees", "range": [-MAX_ANGLE, MAX_ANGLE], "source": "sklearn load_digits"}
    return ArraySource(
        x=x, y=angles.astype(np.float32), classes=[], name="digits_rotation", flip=False, info=info, task="regression"
    )


def diabetes(root: str | None = None) -> ArraySource:
    """scikit-learn's diabetes table (Efron et al. 2004): 442 patients, 10 baseline features (age, sex, BMI,
    blood pressure, six serum measurements), target a disease-progression score one year later (25–346)."""
    from sklearn.datasets import load_diabetes

    d = load_diabetes(scaled=False)
    info = {
        "target": "disease progression after one year",
        "features": list(d.feature_names),
        "source": "sklearn load_diabetes",
    }
    return ArraySource(
        x=d.data.astype(np.float32),
        y=d.target.astype(np.float32),
        classes=[],
        name="diabetes",
        flip=False,
        info=info,
        task="regression",
    )
