"""CC, classifier-consistent partial-label learning (Feng et al., NeurIPS 2020).

L = -mean_i log Σ_{j ∈ S_i} p_j(x_i)       (the probability that the prediction falls in the candidate set)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import MethodSettings
from ..core.losses import candidate_log_likelihood
from .partial_label import PartialLabelMethod


@dataclass
class Settings(MethodSettings):
    name: str = "cc"


class CC(PartialLabelMethod):
    name = "cc"
    Settings = Settings
    description = "partial labels: maximise the probability mass on each candidate set (classifier-consistent)"

    def training_step(self, batch, progress):
        out = self.model(self.views(batch.x_lb))
        loss = -candidate_log_likelihood(out, self.candidates[batch.idx_lb]).mean()
        return loss, {"cc": loss.detach()}
