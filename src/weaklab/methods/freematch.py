"""FreeMatch (Wang et al., ICLR 2023): self-adaptive thresholds from the model's own confidence, and a fairness term.

    τ_0 = 1/C,  p̃_0 = h̃_0 = uniform                           (buffers, checkpointed)
    for each batch:  q = softmax(f(weak(u))),  Q = softmax(f(strong(u)))
        τ_t  = λ τ_{t−1} + (1 − λ) mean_u max q                 global: the mean confidence
        p̃_t  = λ p̃_{t−1} + (1 − λ) mean_u q                     local: the mean class probability
        h̃_t  = λ h̃_{t−1} + (1 − λ) Hist(argmax q)
        τ_t(c) = MaxNorm(p̃_t)(c) · τ_t                          updated from this batch before its mask
        ŷ = argmax q,   w = 1[max q ≥ τ_t(ŷ)]                  (methods/confidence.py: the shared step)
        L_f = −H(SumNorm(p̃_t / h̃_t), SumNorm(p̄ / h̄))           p̄, h̄: mean Q and Hist(argmax Q) where w = 1
        L = supervised + λ_u · unlabeled + w_f · L_f
λ = 0.999, λ_u = 1 (core/thresholds.py: the rules). The paper's SVHN-only extras (a labeled warm-up, τ_t clamped
to [0.9, 0.95]) are not part of the method and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import within
from ..core.ema import ema_
from ..core.thresholds import class_threshold_mask, fairness_loss, label_histogram, self_adaptive_thresholds
from .confidence import ConfidenceMethod, StatisticsSettings


@dataclass
class Settings(StatisticsSettings):
    name: str = "freematch"
    # w_f: the paper's table 5 has 0.01 for its scarcest labels (CIFAR-10 with 10, CIFAR-100 with 400, STL-10
    # with 40, all SVHN, ImageNet) and 0.05 elsewhere; USB's configs use 0.001
    fairness_weight: float = within(0.01, "[0, inf)")


class FreeMatch(ConfidenceMethod):
    name = "freematch"
    settings: Settings
    Settings = Settings
    description = "thresholds that follow the model's own mean confidence per class, with a class-fairness term"
    averaged_state = ("global_threshold", "class_marginal", "label_histogram")
    global_threshold: torch.Tensor
    class_marginal: torch.Tensor
    label_histogram: torch.Tensor

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        uniform = torch.full((self.num_classes,), 1.0 / self.num_classes)
        self.register_buffer("global_threshold", torch.tensor(1.0 / self.num_classes))  # τ_t
        self.register_buffer("class_marginal", uniform.clone())  # p̃_t
        self.register_buffer("label_histogram", uniform.clone())  # h̃_t
        self.momentum = self.statistics_momentum()

    def thresholds(self) -> torch.Tensor:
        return self_adaptive_thresholds(self.global_threshold, self.class_marginal)

    def pseudo_labels(self, probs, idx):
        m, predicted = self.momentum, probs.argmax(1)
        ema_(self.global_threshold, probs.max(1).values.mean(), m)
        ema_(self.class_marginal, probs.mean(0), m)
        ema_(self.label_histogram, label_histogram(predicted, self.num_classes), m)
        return class_threshold_mask(probs, self.thresholds()), predicted

    def extra_loss(self, strong_logits, weights):
        w_f = self.settings.fairness_weight
        if w_f == 0:
            return {}
        return {"fairness": w_f * fairness_loss(strong_logits, weights, self.class_marginal, self.label_histogram)}

    def state_logs(self):
        t = self.thresholds()
        return {"global_threshold": float(self.global_threshold), "threshold_min": float(t.min())}
