"""The confidence-based family (FixMatch, FlexMatch, FreeMatch, SoftMatch): what they share, written once.

    for a batch of labeled (x, y) and unlabeled u, one forward pass of [weak(x), weak(u), strong(u)]:
        supervised = CE(f(weak(x)), y)
        q          = softmax(f(weak(u)))                     no gradient: the pseudo-label's source
        w, ŷ       = method.pseudo_labels(q)                 a weight per sample (FixMatch: 1[max q ≥ τ]) and a target
        unlabeled  = mean_u w · CE(f(strong(u)), ŷ)           gradient only through the strong view
        L = supervised + λ_u · unlabeled [+ method.extra_loss]
    after each step: the evaluation model θ_ema ← α θ_ema + (1 − α) θ (BatchNorm statistics copied)

Each method file says how its weights and targets are made, and keeps its statistics in buffers (checkpointed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from ..config import MethodSettings, within
from ..core.ema import copy_buffers, ema_decay, ema_update, horizon_capped
from .base import Method


@dataclass
class ConfidenceSettings(MethodSettings):
    unlabeled_weight: float = within(1.0, "[0, inf)")  # λ_u
    ema_decay: float = within(0.999, "[0, 1)")  # the evaluation model's EMA
    # the EMA's horizon 1/(1 − α) is at most this much of the run (core/span.py); at the papers' 2^20 steps it
    # never binds, in a 400-step run a 1,000-step horizon would average the untrained start into the model
    ema_horizon_cap: float | str = "10%"
    evaluate: Literal["ema", "student"] = "ema"


@dataclass
class StatisticsSettings(ConfidenceSettings):
    """Methods that keep EMA statistics of the model's confidence (FreeMatch, SoftMatch)."""

    momentum: float = within(0.999, "[0, 1)")  # the statistics' EMA momentum
    # the statistics' horizon 1/(1 − m) is at most this much of the run (core/span.py). The papers' 0.999 is 1,000
    # of their 2^20 steps (0.1 %), where 1 % never binds. At 10 % the thresholds stayed near 1/C through a short
    # run's first epoch and let the untrained model's wrong pseudo-labels through: FreeMatch and SoftMatch lost
    # 6-7 points at 3 epochs (BENCHMARKS.md: MNIST at other lengths)
    momentum_horizon_cap: float | str = "1%"


class ConfidenceMethod(Method):
    tasks = ("classification",)
    draws_strong_views = True
    strong_view = "randaugment_random"  # RandAugment with random magnitudes, then Cutout (FixMatch)

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        self.num_classes = ctx.task.out_dim
        self.ema_model = copy.deepcopy(self.model)
        for p in self.ema_model.parameters():
            p.requires_grad_(False)
        self.cap_steps = ctx.run.steps_of(settings.ema_horizon_cap, "method.ema_horizon_cap")
        clean = ctx.clean_labels if ctx.clean_labels is not None else torch.full((ctx.num_train,), -1)
        self.register_buffer("clean_labels", torch.as_tensor(clean).clone(), persistent=False)  # for the log only

    def statistics_momentum(self) -> float:
        """The momentum of the method's confidence statistics, its horizon capped (StatisticsSettings)."""
        s = self.settings
        assert isinstance(s, StatisticsSettings)
        return horizon_capped(s.momentum, self.ctx.run.steps_of(s.momentum_horizon_cap, "method.momentum_horizon_cap"))

    def pseudo_labels(self, probs: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight per sample, hard target per sample) from the weak view's class probabilities."""
        raise NotImplementedError

    def extra_loss(self, strong_logits: torch.Tensor, weights: torch.Tensor) -> dict[str, torch.Tensor]:
        """Further weighted terms of the loss, by name (FreeMatch's fairness term); none by default."""
        return {}

    def training_step(self, batch, progress):
        assert batch.x_ulb is not None and batch.idx_ulb is not None
        n_lb, n_ulb = len(batch.x_lb), len(batch.x_ulb)
        x = torch.cat([self.views(batch.x_lb), self.views(batch.x_ulb), self.views.strong(batch.x_ulb)])
        lb, weak, strong = self.model.logits(x).float().split([n_lb, n_ulb, n_ulb])
        supervised = F.cross_entropy(lb, batch.y_lb)
        with torch.no_grad():
            weights, targets = self.pseudo_labels(weak.detach().softmax(1), batch.idx_ulb)
        unlabeled = (weights * F.cross_entropy(strong, targets, reduction="none")).mean()
        extra = self.extra_loss(strong, weights)
        loss = supervised + self.settings.unlabeled_weight * unlabeled + sum(extra.values())
        clean = self.clean_labels[batch.idx_ulb]
        known = (clean >= 0).float() * weights
        logs = {
            "supervised": supervised.detach(),
            "unlabeled": unlabeled.detach(),
            **{name: term.detach() for name, term in extra.items()},
            "mask_rate": weights.mean(),  # the unlabeled share that teaches (FixMatch: above the threshold)
            # how often the pseudo-labels that teach are right, where the true labels are known (benchmarks)
            "pseudo_label_accuracy": (known * (targets == clean).float()).sum() / known.sum().clamp_min(1e-12),
        }
        return loss, logs

    def after_optimizer_step(self, progress):
        alpha = ema_decay(progress.step, horizon_capped(self.settings.ema_decay, self.cap_steps))
        ema_update(self.ema_model, self.model, alpha)
        copy_buffers(self.ema_model, self.model)

    def predictor(self):
        return self.ema_model if self.settings.evaluate == "ema" else self.model

    def schedule(self):
        alpha = horizon_capped(self.settings.ema_decay, self.cap_steps)
        out = {"ema_horizon_steps": round(1.0 / (1.0 - alpha), 1)}
        if isinstance(self.settings, StatisticsSettings):
            out["statistics_horizon_steps"] = round(1.0 / (1.0 - self.statistics_momentum()), 1)
        return out
