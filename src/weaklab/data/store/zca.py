"""ZCA whitening (Laine & Aila's CIFAR-10 preprocessing for the Π-model and Temporal Ensembling).

Fitted on the standardised training samples: with C = U Λ Uᵀ the covariance of the flattened samples,
W = U (Λ + ε)^(-1/2) Uᵀ decorrelates the pixels while staying as close as possible to the original image
("zero-phase"), so translations and flips still make sense on the whitened image. The paper does not state
ε; ours (data.zca_epsilon, default 0.01 on the unit-variance scale) keeps low-variance directions from being
blown up into noise.
"""

from __future__ import annotations

import numpy as np
import torch

from ...errors import WeaklabError
from .rows import Rows

MAX_DIM = 4096  # a D×D matrix: 3×32×32 = 3072 is fine; 3×96×96 would need 3 GB


def fit_zca(x: np.ndarray | Rows, standardise, epsilon: float, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, W) with `mean` of shape D and `W` D×D, from samples x (N×...) after `standardise`."""
    d = int(np.prod(x.shape[1:]))
    if d > MAX_DIM:
        raise WeaklabError(
            f"ZCA whitening needs a {d}×{d} matrix; use it for inputs of at most {MAX_DIM} values "
            f"(e.g. 3×32×32), or data.normalize=standard"
        )
    if epsilon <= 0:
        raise WeaklabError(f"data.zca_epsilon must be positive, got {epsilon}")
    total = torch.zeros(d, dtype=torch.float64)
    gram = torch.zeros(d, d, dtype=torch.float64)
    for start in range(0, len(x), chunk):
        z = standardise(torch.as_tensor(np.asarray(x[start : start + chunk]))).double().reshape(-1, d)
        total += z.sum(0)
        gram += z.T @ z
    n = len(x)
    mean = total / n
    cov = gram / n - torch.outer(mean, mean)
    eigvals, eigvecs = torch.linalg.eigh(cov)
    w = eigvecs @ torch.diag((eigvals.clamp_min(0) + epsilon).rsqrt()) @ eigvecs.T
    return mean.float(), w.float()


def apply_zca(z: torch.Tensor, mean: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    flat = z.reshape(len(z), -1)
    return ((flat - mean) @ w).reshape(z.shape)
