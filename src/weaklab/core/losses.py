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


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Per sample: -Σ_j target_j log softmax(logits)_j."""
    return -(target_probs.float() * logits.float().log_softmax(-1)).sum(-1)


def non_candidate_loss(logits: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Per sample: -Σ_{j ∉ S} log(1 - p_j + 1e-7), pushing probability off the classes a sample cannot be."""
    p = logits.float().softmax(-1)
    return -((~candidates).float() * torch.log(1 - p + 1e-7)).sum(-1)


def candidate_log_likelihood(logits: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Per sample: log Σ_{j ∈ S} p_j (computed stably as logsumexp over S minus logsumexp over all)."""
    logits = logits.float()
    return logits.masked_fill(~candidates, float("-inf")).logsumexp(-1) - logits.logsumexp(-1)


def restrict_to_candidates(probs: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Probabilities zeroed outside each candidate set and renormalised (uniform over S where all mass was 0)."""
    masked = probs.float() * candidates
    total = masked.sum(-1, keepdim=True)
    uniform = candidates.float() / candidates.sum(-1, keepdim=True)
    return torch.where(total > 0, masked / total.clamp_min(1e-30), uniform)


def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per sample: ½ [exp(−s)(μ − y)² + s], the heteroscedastic regression loss (constant ½ log 2π left out)."""
    return 0.5 * (torch.exp(-log_var) * (mean - target.float()).pow(2) + log_var)
