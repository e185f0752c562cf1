"""FlexMatch (Zhang et al., NeurIPS 2021): FixMatch with curriculum pseudo-labeling, a threshold per class.

    û_n ← −1 for every unlabeled sample n                       (the last confident class, checkpointed)
    for each batch:  q = softmax(f(weak(u)))
        σ(c) = #{n : û_n = c}                                   the learning effect of class c
        β(c) = σ(c) / max(max_c σ, N − Σ_c σ)                   warm-up: the unused samples compete
        T(c) = M(β(c)) · τ,   M(x) = x / (2 − x)                convex mapping
        ŷ = argmax q,   w = 1[max q ≥ T(ŷ)]                     (methods/confidence.py: the shared step)
        û_n ← ŷ_n where max q_n ≥ τ                             after the mask, as in the paper's Algorithm 1
τ = 0.95, λ_u = 1 (core/thresholds.py: the rule). At the start every β is 0 and every threshold M(0)·τ = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import within
from ..core.thresholds import class_threshold_mask, flexmatch_thresholds
from .confidence import ConfidenceMethod, ConfidenceSettings


@dataclass
class Settings(ConfidenceSettings):
    name: str = "flexmatch"
    threshold: float = within(0.95, "(0, 1]")  # τ, the highest a class threshold gets
    threshold_warmup: bool = True  # the unused samples count as a competing class (β above)


class FlexMatch(ConfidenceMethod):
    name = "flexmatch"
    settings: Settings
    Settings = Settings
    description = "FixMatch with a threshold per class, lowered for classes with few confident predictions yet"
    sample_state = {"confident_class": "unlabeled"}  # û, rewritten at the batch's rows
    confident_class: torch.Tensor

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        # ctx.num_train is the index space of the unlabeled stream (every training sample)
        self.register_buffer("confident_class", torch.full((ctx.num_train,), -1, dtype=torch.long))

    def thresholds(self) -> torch.Tensor:
        s = self.settings
        return flexmatch_thresholds(self.confident_class, self.num_classes, s.threshold, s.threshold_warmup)

    def pseudo_labels(self, probs, idx):
        mask = class_threshold_mask(probs, self.thresholds())
        confidence, predicted = probs.max(1)
        confident = confidence >= self.settings.threshold
        # the confident samples' class is updated in place, the others keep theirs (no mask-selected shape)
        self.confident_class[idx] = torch.where(confident, predicted, self.confident_class[idx])
        return mask, predicted

    def state_logs(self):
        t = self.thresholds()
        return {"threshold_min": float(t.min()), "threshold_max": float(t.max())}
