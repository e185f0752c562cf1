"""Classification metrics: accuracy, negative log-likelihood, expected calibration error; and, for partial
labels, PLENCH's label-free selection metrics computed against candidate sets only."""

from __future__ import annotations

import torch


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    return (probs.argmax(1) == labels).float().mean().item()


def nll(probs: torch.Tensor, labels: torch.Tensor) -> float:
    return -probs.gather(1, labels[:, None]).clamp_min(1e-12).log().mean().item()


def ece(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """Expected calibration error: Σ_b |B_b|/N · |accuracy(B_b) - confidence(B_b)| over equal-width bins."""
    confidence, predicted = probs.max(1)
    correct = (predicted == labels).float()
    which = torch.clamp((confidence * bins).ceil().long() - 1, 0, bins - 1)
    conf_sum = torch.zeros(bins).index_add_(0, which, confidence)
    acc_sum = torch.zeros(bins).index_add_(0, which, correct)
    return ((acc_sum - conf_sum).abs().sum() / len(labels)).item()


def classification_metrics(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    probs, labels = probs.float().cpu(), labels.cpu()
    return {"accuracy": accuracy(probs, labels), "nll": nll(probs, labels), "ece": ece(probs, labels)}


# Direction of each validation metric, for choosing the best checkpoint with train.selection_metric.
HIGHER_IS_BETTER = {"accuracy": True, "nll": False, "ece": False, "covering_rate": True, "approx_accuracy": True}


def covering_rate(probs: torch.Tensor, candidates: torch.Tensor) -> float:
    """Share of predictions (argmax) that fall inside the sample's candidate set."""
    predicted = probs.argmax(1)
    return candidates.gather(1, predicted[:, None]).float().mean().item()


def approximated_accuracy(probs: torch.Tensor, candidates: torch.Tensor) -> float:
    """1 - mean_i Σ_{j ≠ argmax p_i} q_ij, with q_i = p_i restricted to the candidates and renormalised
    (PLENCH): the expected accuracy of the predictions if the candidate-restricted model were calibrated."""
    q = probs * candidates
    q = q / q.sum(1, keepdim=True).clamp_min(1e-12)
    predicted = probs.argmax(1, keepdim=True)
    return (1 - (q.sum(1) - q.gather(1, predicted)[:, 0])).mean().item()


def candidate_metrics(probs: torch.Tensor, candidates: torch.Tensor) -> dict[str, float]:
    probs, candidates = probs.float().cpu(), candidates.bool().cpu()
    return {
        "covering_rate": covering_rate(probs, candidates),
        "approx_accuracy": approximated_accuracy(probs, candidates),
    }
