"""The task says what a network's output means, so the consistency methods need no copy per task.

Classification: outputs are logits; the quantity compared between two passes is the softmax. (Regression
will compare predicted means; it plugs in here with the same four functions.)
"""

from __future__ import annotations

import torch

from .losses import cross_entropy_sum_over, softmax_kl, softmax_mse
from .metrics import classification_metrics


class Classification:
    selection_metric = "accuracy"  # chosen on validation, higher is better
    higher_is_better = True

    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self.out_dim = num_classes

    def supervised_loss(self, out: torch.Tensor, labels: torch.Tensor, denominator: int) -> torch.Tensor:
        return cross_entropy_sum_over(out, labels, denominator)

    def summary(self, out: torch.Tensor) -> torch.Tensor:
        """What is ensembled and compared: class probabilities."""
        return out.float().softmax(-1)

    def consistency(self, out: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
        """Per-sample distance between an output and a target summary (softmax MSE, or KL)."""
        return softmax_kl(out, target) if kind == "kl" else softmax_mse(out, target)

    def metrics(self, summaries: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        return classification_metrics(summaries, labels)
