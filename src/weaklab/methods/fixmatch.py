"""FixMatch (Sohn et al., NeurIPS 2020): pseudo-labels from the weak view where the model is confident.

    ŷ = argmax q,   w = 1[max q ≥ τ]                  τ = 0.95, λ_u = 1
    unlabeled = mean_u w · CE(f(strong(u)), ŷ)         (methods/confidence.py: the shared step)
Paper: μ = 7 unlabeled per labeled sample, SGD lr 0.03 with cosine decay cos(7πk/16K), 2^20 steps, EMA 0.999 for
evaluation (recipes/ hold that protocol; the CPU default shares the engine's Adam schedule with Π / MT).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import within
from .confidence import ConfidenceMethod, ConfidenceSettings


@dataclass
class Settings(ConfidenceSettings):
    name: str = "fixmatch"
    threshold: float = within(0.95, "(0, 1]")  # τ


class FixMatch(ConfidenceMethod):
    name = "fixmatch"
    settings: Settings
    Settings = Settings
    description = "weak-view pseudo-labels above a fixed confidence τ train the strong view"

    def pseudo_labels(self, probs, idx):
        return fixmatch_mask(probs, self.settings.threshold), probs.argmax(1)


def fixmatch_mask(probs: torch.Tensor, threshold: float) -> torch.Tensor:
    """1 where the weak view's confidence reaches τ (the defining rule, for tests and reuse)."""
    return (probs.max(1).values >= threshold).float()
