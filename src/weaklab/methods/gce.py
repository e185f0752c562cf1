"""Generalized cross-entropy (Zhang & Sabuncu, NeurIPS 2018): a noise-robust baseline for noisy labels.

    L_q = mean over the batch of (1 − p_y^q) / q,   q ∈ (0, 1]

q → 0 recovers cross-entropy; q = 1 is the (noise-robust, slow to fit) mean absolute error. q = 0.7 is the
paper's setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import MethodSettings, within
from .base import Method


@dataclass
class Settings(MethodSettings):
    name: str = "gce"
    q: float = within(0.7, "(0, 1]")  # the paper's 0.7


def generalized_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, q: float) -> torch.Tensor:
    """Per sample (1 − p_y^q) / q."""
    p_label = logits.float().softmax(-1).gather(1, labels[:, None]).squeeze(1)
    return (1 - p_label.clamp_min(1e-12).pow(q)) / q


class GCE(Method):
    name = "gce"
    settings: Settings
    Settings = Settings
    description = "generalized cross-entropy (1 − p_y^q)/q on the labeled samples (noisy-label baseline)"
    uses_unlabeled = False
    tasks = ("classification",)
    supervision_kind = "noisy"

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)

    def training_step(self, batch, progress):
        loss = generalized_cross_entropy(self.model(self.views(batch.x_lb)), batch.y_lb, self.settings.q).mean()
        return loss, {"gce": loss.detach()}
