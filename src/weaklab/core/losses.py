"""Loss pieces shared by the methods. Each returns a per-sample vector unless its name says otherwise."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy_sum_over(logits: torch.Tensor, labels: torch.Tensor, denominator: int) -> torch.Tensor:
    """Σ CE over the given labeled rows, divided by `denominator` (the whole batch in Π/TE/MT papers)."""
    return F.cross_entropy(logits.float(), labels, reduction="sum") / denominator


def softmax_mse(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Per sample: mean over classes of (softmax(logits) - target)²."""
    return (logits.float().softmax(-1) - target_probs.float()).pow(2).mean(-1)


def softmax_kl(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Per sample: KL(target ‖ softmax(logits))."""
    target = target_probs.float()
    return (target * (target.clamp_min(1e-12).log() - logits.float().log_softmax(-1))).sum(-1)


def squared_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per sample: mean over output dimensions of (prediction - target)²."""
    return (prediction.float() - target.float()).pow(2).reshape(len(prediction), -1).mean(-1)


def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per sample: ½ [exp(−s)(μ − y)² + s], the heteroscedastic regression loss (constant ½ log 2π left out)."""
    return 0.5 * (torch.exp(-log_var) * (mean - target.float()).pow(2) + log_var)
