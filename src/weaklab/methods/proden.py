"""PRODEN, progressive identification of true labels (Lv et al., ICML 2020).

w_i ← uniform over S_i                                          (N×C buffer, checkpointed)
for each batch:  L = -mean_i Σ_j w_ij log p_j(x_i)
                 w_i ← normalise(S_i ⊙ p(x_i))  from this step's detached predictions
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import MethodSettings
from ..core.losses import restrict_to_candidates, soft_cross_entropy
from .partial_label import PartialLabelMethod


@dataclass
class Settings(MethodSettings):
    name: str = "proden"


class PRODEN(PartialLabelMethod):
    name = "proden"
    Settings = Settings
    sample_state = {"weights": "labeled"}  # per-sample label weights rewritten each step
    description = "partial labels: cross-entropy to per-sample label weights re-estimated from the model each step"

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        self.register_buffer("weights", self.uniform_over_candidates())

    def training_step(self, batch, progress):
        idx = batch.idx_lb
        out = self.model(self.views(batch.x_lb))
        loss = soft_cross_entropy(out, self.weights[idx]).mean()
        with torch.no_grad():
            self.weights[idx] = restrict_to_candidates(out.float().softmax(-1), self.candidates[idx])
        return loss, {"proden": loss.detach()}
