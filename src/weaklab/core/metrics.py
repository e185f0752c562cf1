"""Classification metrics: accuracy, negative log-likelihood, expected calibration error."""

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
    total = torch.zeros(bins).index_add_(0, which, torch.ones_like(confidence))
    conf_sum = torch.zeros(bins).index_add_(0, which, confidence)
    acc_sum = torch.zeros(bins).index_add_(0, which, correct)
    return ((acc_sum - conf_sum).abs().sum() / len(labels)).item()


def classification_metrics(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    probs, labels = probs.float().cpu(), labels.cpu()
    return {"accuracy": accuracy(probs, labels), "nll": nll(probs, labels), "ece": ece(probs, labels)}
