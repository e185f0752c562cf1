"""Thresholds, weights and alignment of the confidence-based family, as pure functions of tensors.

The methods (methods/flexmatch.py, freematch.py, softmatch.py) keep the running statistics in buffers; these say
what is computed from them, so each rule can be checked by hand. `probs` is a batch of class probabilities (N×C).
"""

from __future__ import annotations

import torch


def class_threshold_mask(probs: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """1[max q ≥ T(argmax q)]: each sample against the threshold of its own predicted class."""
    confidence, predicted = probs.max(1)
    return (confidence >= thresholds[predicted]).float()


def convex_mapping(x: torch.Tensor) -> torch.Tensor:
    """FlexMatch's M(x) = x / (2 − x): 0 → 0, 1 → 1, below the identity in between (slow start, fast finish)."""
    return x / (2.0 - x)


def learning_effect(confident_class: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(σ(c) per class, unused count): how many samples' last confident prediction is c, and how many have none
    yet (−1)."""
    counts = counts_per_class(confident_class + 1, num_classes + 1)
    return counts[1:], counts[0]


def flexmatch_thresholds(
    confident_class: torch.Tensor, num_classes: int, threshold: float, warmup: bool = True
) -> torch.Tensor:
    """T(c) = M(β(c)) · τ,  β(c) = σ(c) / max(max_c σ, N − Σ_c σ) with the warm-up (else σ(c) / max_c σ).

    With the warm-up the unused samples compete as one more class, so while most samples are unused every β
    stays small and the thresholds rise from 0 as the model learns (all unused: every T(c) = M(0) · τ = 0).
    """
    sigma, unused = learning_effect(confident_class, num_classes)
    top = torch.maximum(sigma.max(), unused) if warmup else sigma.max()
    return convex_mapping(sigma / top.clamp_min(1.0)) * threshold


def counts_per_class(labels: torch.Tensor, num_classes: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """How many of `labels` (or their summed weights) fall in each class. A scatter, not bincount: bincount's
    output length depends on the values, a host sync on a GPU."""
    weights = torch.ones_like(labels, dtype=torch.float) if weights is None else weights.float()
    return torch.zeros(num_classes, device=labels.device).scatter_add_(0, labels, weights)


def label_histogram(labels: torch.Tensor, num_classes: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The share of `labels` (weighted by `weights`, e.g. a mask) in each class; zeros when there are none."""
    counts = counts_per_class(labels, num_classes, weights)
    return counts / counts.sum().clamp_min(1.0)


def self_adaptive_thresholds(global_threshold: torch.Tensor, class_marginal: torch.Tensor) -> torch.Tensor:
    """FreeMatch's τ_t(c) = MaxNorm(p̃_t)(c) · τ_t: the global threshold, lowered for the classes predicted less."""
    return class_marginal / class_marginal.max() * global_threshold


def _inverse_where_positive(t: torch.Tensor) -> torch.Tensor:
    """1/t where t > 0, else 0 (a class nobody predicts gets no ratio)."""
    return torch.where(t > 0, 1.0 / t.clamp_min(torch.finfo(t.dtype).tiny), torch.zeros_like(t))


def sum_normalize(t: torch.Tensor) -> torch.Tensor:
    return t / t.sum(-1, keepdim=True)


def fairness_loss(
    strong_logits: torch.Tensor, mask: torch.Tensor, class_marginal: torch.Tensor, histogram: torch.Tensor
) -> torch.Tensor:
    """FreeMatch's self-adaptive fairness L_f = −H(SumNorm(p̃_t / h̃_t), SumNorm(p̄ / h̄)) (H: cross-entropy).

    p̃_t, h̃_t: the EMAs of the weak view's mean probability and arg-max histogram (the reference); p̄, h̄: the
    mean strong-view probability and the normalised histogram of the strong-view arg-max over the masked samples.
    The sign is the paper's eq. (11) and the authors' code (TorchSSL, USB) alike. Gradient flows through p̄ only. A class that no masked sample predicts has no ratio p̄/h̄ and is left out of
    the sum (the reference code's log(0 + 1e-12) there adds a constant without gradient). 0 when nothing is masked.
    """
    # Masked rows enter through 0/1 weights, not a selection: no shape depends on the mask (no host sync).
    keep = (mask > 0).float()
    probs = strong_logits.softmax(-1)
    batch_hist = label_histogram(probs.detach().argmax(-1), probs.shape[-1], keep)
    mean_probs = (probs * keep[:, None]).sum(0) / keep.sum().clamp_min(1.0)
    reference = sum_normalize(class_marginal * _inverse_where_positive(histogram))
    ratio = mean_probs * _inverse_where_positive(batch_hist)
    batch = ratio / ratio.sum().clamp_min(torch.finfo(ratio.dtype).tiny)  # all zero when nothing is masked
    seen = batch_hist > 0
    return torch.where(seen, reference * batch.clamp_min(1e-12).log(), torch.zeros_like(batch)).sum()


def truncated_gaussian_weight(
    confidence: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor, n_sigma: float = 2.0
) -> torch.Tensor:
    """SoftMatch's λ(p) = exp(−(max p − μ_t)² / (2 σ_t² / n_sigma²)) below μ_t, and 1 at or above it.

    n_sigma = 1 is the paper's eq. (5) as printed; its experiments (§4.1) and both reference codes divide the
    variance by 4, n_sigma = 2.
    """
    below = (confidence - mean).clamp(max=0.0)
    scale = 2.0 * variance.clamp_min(torch.finfo(variance.dtype).tiny) / n_sigma**2
    return torch.exp(-below.square() / scale)


def confidence_moments(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, unbiased variance) of the batch's max probabilities (variance 0 for a single sample)."""
    confidence = probs.max(1).values
    variance = confidence.var() if len(confidence) > 1 else torch.zeros_like(confidence.sum())
    return confidence.mean(), variance


def distribution_alignment(
    probs: torch.Tensor, model_marginal: torch.Tensor, target: torch.Tensor | None = None
) -> torch.Tensor:
    """Normalize(q · target / p̂): each prediction rescaled so that the model's running mean p̂ would become the
    target (None: uniform, SoftMatch's uniform alignment UA)."""
    ratio = 1.0 / model_marginal if target is None else target / model_marginal
    return sum_normalize(probs * ratio)
