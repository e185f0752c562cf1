"""Regression metrics in original target units: accuracy of the mean and calibration of the predicted spread.

Inputs are N × 3 predictive summaries [mean, aleatoric variance, epistemic variance] and the true targets.
"""

from __future__ import annotations

import math
import warnings

import torch

NOMINAL_LEVEL = 0.9  # the central interval whose coverage `coverage` reports


def interval_halfwidth(std: torch.Tensor, level: float) -> torch.Tensor:
    """Half-width of the central Gaussian interval holding `level` of the probability: z_{(1+level)/2} · σ."""
    z = torch.special.ndtri(torch.tensor((1.0 + level) / 2.0, dtype=torch.float64)).item()
    return z * std


def coverage(mean: torch.Tensor, std: torch.Tensor, targets: torch.Tensor, level: float) -> float:
    """Share of targets inside the central interval at `level` (a calibrated model gives `level`)."""
    return ((targets - mean).abs() <= interval_halfwidth(std, level)).float().mean().item()


def gaussian_nll_metric(mean: torch.Tensor, var: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean negative log-likelihood of the targets under N(mean, var), constant included."""
    return (0.5 * (math.log(2 * math.pi) + var.log() + (targets - mean).pow(2) / var)).mean().item()


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Rank correlation; NaN when one side is constant (a homoscedastic model ranks nothing)."""
    from scipy.stats import spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(a.numpy(), b.numpy()).statistic)


def total_variance(summaries: torch.Tensor, noise_var: float | None, targets: torch.Tensor) -> torch.Tensor:
    """Aleatoric + epistemic variance. A network without a variance head has NaN aleatoric variance; it gets the
    homoscedastic `noise_var` (the validation MSE), or this split's MSE when none is given."""
    mean, aleatoric, epistemic = summaries.unbind(1)
    if torch.isnan(aleatoric).any():
        fallback = noise_var if noise_var is not None else (mean - targets).pow(2).mean().item()
        aleatoric = torch.full_like(mean, fallback)
    return (aleatoric + epistemic).clamp_min(1e-12)


def variance_scale(summaries: torch.Tensor, targets: torch.Tensor, noise_var: float | None = None) -> float:
    """The one factor c on the predicted variance that maximises the Gaussian likelihood of these targets:
    c = mean((y − μ)² / σ²) ("σ-scaling", Laves et al. 2020). Fitted on validation it recalibrates a variance head
    the way the validation-fitted std calibrates a mean-only network (for which c = 1 exactly)."""
    summaries, targets = summaries.double(), targets.double()
    var = total_variance(summaries, noise_var, targets)
    return ((summaries[:, 0] - targets).pow(2) / var).mean().item()


def regression_metrics(
    summaries: torch.Tensor, targets: torch.Tensor, noise_var: float | None = None, scale: float | None = None
) -> dict[str, float]:
    """`scale`: a variance factor fitted elsewhere (validation); adds NLL and coverage with the variance × scale."""
    summaries, targets = summaries.double(), targets.double()
    mean = summaries[:, 0]
    var = total_variance(summaries, noise_var, targets)
    error = mean - targets
    mse = error.pow(2).mean().item()
    spread = (targets - targets.mean()).pow(2).mean().item()
    scaled = {}
    if scale is not None:
        scaled = {
            "variance_scale": scale,
            "nll_scaled": gaussian_nll_metric(mean, scale * var, targets),
            "coverage_scaled": coverage(mean, (scale * var).sqrt(), targets, NOMINAL_LEVEL),
        }
    return {
        "mse": mse,
        "mae": error.abs().mean().item(),
        "rmse": math.sqrt(mse),
        "r2": 1.0 - mse / spread if spread > 0 else float("nan"),
        "nll": gaussian_nll_metric(mean, var, targets),
        "coverage": coverage(mean, var.sqrt(), targets, NOMINAL_LEVEL),
        "std_error_spearman": spearman(var.sqrt(), error.abs()),
        "std_rms": var.mean().sqrt().item(),  # sharpness: a calibrated model's equals its RMSE
        **scaled,
    }


def coverage_curve(summaries: torch.Tensor, targets: torch.Tensor, noise_var: float | None = None, levels=None):
    """(nominal levels, observed coverage) for the calibration plot."""
    levels = levels or [round(0.05 * i, 2) for i in range(1, 20)] + [0.99]
    summaries, targets = summaries.double(), targets.double()
    std = total_variance(summaries, noise_var, targets).sqrt()
    return levels, [coverage(summaries[:, 0], std, targets, lv) for lv in levels]
