"""SoftMatch (Chen et al., ICLR 2023): a soft weight for every pseudo-label, a truncated Gaussian of its confidence.

    μ_0 = 1/C,  σ²_0 = 1,  p̂_0 = uniform                       (buffers, checkpointed)
    for each batch:  q = softmax(f(weak(u)))
        μ_t  = m μ_{t−1}  + (1 − m) mean_u max q                 moments of the unaligned confidence
        σ²_t = m σ²_{t−1} + (1 − m) var_u max q                  (unbiased), from this batch before its weights
        p̂_t  = m p̂_{t−1}  + (1 − m) mean_u q
        UA(q) = Normalize(q · (1/C) / p̂_t)                      uniform alignment
        w = exp(−(max UA(q) − μ_t)² / (2 σ²_t / n_σ²)) below μ_t, 1 at or above
        ŷ = argmax q                                             from q itself: UA moves the weight, not the label
        unlabeled = mean_u w · CE(f(strong(u)), ŷ)              (methods/confidence.py: the shared step)
m = 0.999, n_σ = 2 (§4.1: the variance divided by 4), λ_max = λ_u = 1 (core/thresholds.py: the rules).
USB aligns before it takes the moments and starts p̂ at the first batch's mean; this follows the paper's Algorithm 1
and its TorchSSL code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import within
from ..core.ema import ema_
from ..core.thresholds import confidence_moments, distribution_alignment, truncated_gaussian_weight
from .confidence import ConfidenceMethod, StatisticsSettings


@dataclass
class Settings(StatisticsSettings):
    name: str = "softmatch"
    n_sigma: float = within(2.0, "(0, inf)")  # the variance is divided by n_σ²; 1: eq. (5) as printed
    uniform_alignment: bool = True  # UA before the weight (false: the paper's w/o-UA ablation)


class SoftMatch(ConfidenceMethod):
    name = "softmatch"
    settings: Settings
    Settings = Settings
    description = "every pseudo-label weighted by a truncated Gaussian of its confidence, with uniform alignment"
    averaged_state = ("confidence_mean", "confidence_var", "class_marginal")
    confidence_mean: torch.Tensor
    confidence_var: torch.Tensor
    class_marginal: torch.Tensor

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        self.register_buffer("confidence_mean", torch.tensor(1.0 / self.num_classes))  # μ_t
        self.register_buffer("confidence_var", torch.tensor(1.0))  # σ²_t
        self.register_buffer("class_marginal", torch.full((self.num_classes,), 1.0 / self.num_classes))  # p̂_t
        self.momentum = self.statistics_momentum()

    def pseudo_labels(self, probs, idx):
        s, m = self.settings, self.momentum
        mean, var = confidence_moments(probs)
        ema_(self.confidence_mean, mean, m)
        ema_(self.confidence_var, var, m)
        aligned = probs
        if s.uniform_alignment:
            ema_(self.class_marginal, probs.mean(0), m)
            aligned = distribution_alignment(probs, self.class_marginal)
        confidence = aligned.max(1).values
        weights = truncated_gaussian_weight(confidence, self.confidence_mean, self.confidence_var, s.n_sigma)
        return weights, probs.argmax(1)

    def state_logs(self):
        return {"confidence_mean": float(self.confidence_mean), "confidence_var": float(self.confidence_var)}
