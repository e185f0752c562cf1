"""RC, risk-consistent partial-label learning (Feng et al., NeurIPS 2020).

    w_i ← uniform over S_i                                          (N×C buffer, checkpointed)
    for each batch:  L = -mean_i Σ_j w_ij log p_j(x_i)               (importance-reweighted CE)
                     optimizer step
                     w_i ← normalise(S_i ⊙ p(x_i))  with the *updated* model, same views (as the authors' code)
The loss is PRODEN's; the importance weights p(y=j|x) / Σ_{k∈S} p(y=k|x) come from the risk-consistent derivation,
and they are re-estimated after the step rather than from the step's own forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import MethodSettings
from ..core.losses import restrict_to_candidates, soft_cross_entropy
from .partial_label import PartialLabelMethod


@dataclass
class Settings(MethodSettings):
    name: str = "rc"


class RC(PartialLabelMethod):
    name = "rc"
    Settings = Settings
    sample_state = {"weights": "labeled"}  # per-sample label weights rewritten each step
    description = "partial labels: risk-consistent importance-weighted CE, weights re-estimated after each step"

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        self.register_buffer("weights", self.uniform_over_candidates())
        self._last = None  # (views, indices) of the step just taken

    def training_step(self, batch, progress):
        x = self.views(batch.x_lb)
        out = self.model(x)
        loss = soft_cross_entropy(out, self.weights[batch.idx_lb]).mean()
        self._last = (x, batch.idx_lb)
        return loss, {"rc": loss.detach()}

    @torch.no_grad()
    def after_optimizer_step(self, progress):
        x, idx = self._last
        p = self.model(x).float().softmax(-1)
        self.weights[idx] = restrict_to_candidates(p, self.candidates[idx])
        self._last = None
