"""Temporal Ensembling (Laine & Aila, ICLR 2017).

    for each epoch t:
        for each batch:  z = f(view(x));  L = Σ_labeled CE(z, y)/|B| + w(t) · mean_{B×C} (softmax z − z̃)²
        after the epoch: Z ← α Z + (1 − α) z   (z: that epoch's training-mode softmax of each sample)
                         z̃ ← Z / (1 − α^t)     (start-up bias correction)
Targets z̃ are frozen within an epoch. Z, z̃ and the per-sample count t are buffers, so they are checkpointed.
The ensemble's horizon 1/(1 − α) (2.5 epochs: 1/120 of the paper's 300) is capped at `ensemble_horizon_cap` of the
run, as Mean Teacher's EMA is: it never binds at the paper's length, and in a 10-epoch run, where the paper's α would
average predictions from a quarter of the run back, the targets are the last epoch's (α = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import within
from ..core.ema import horizon_capped
from .base import ConsistencyMethod, ConsistencySettings


@dataclass
class Settings(ConsistencySettings):
    name: str = "temporal_ensembling"
    consistency_weight: float = 30.0  # w_max (paper: 30 for TE, CIFAR-10 and SVHN)
    ensemble_momentum: float = within(0.6, "[0, 1)")  # α
    ensemble_horizon_cap: float | str = "2%"  # Z averages over at most this much of the run (core/span.py)


class TemporalEnsembling(ConsistencyMethod):
    name = "temporal_ensembling"
    Settings = Settings
    description = "one pass per sample; targets are a bias-corrected moving average of past epochs' predictions"
    sample_state = {"epoch_outputs": "unlabeled", "seen": "unlabeled"}  # written per step; Z follows at epoch end

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        n, c = ctx.num_train, ctx.task.out_dim
        self.register_buffer("Z", torch.zeros(n, c))  # accumulated ensemble
        self.register_buffer("targets", torch.zeros(n, c))  # z̃, frozen for the current epoch
        self.register_buffer("count", torch.zeros(n, dtype=torch.long))  # epochs accumulated per sample
        self.register_buffer("epoch_outputs", torch.zeros(n, c))  # this epoch's z
        self.register_buffer("seen", torch.zeros(n, dtype=torch.bool))
        cap = ctx.run.epochs_of(settings.ensemble_horizon_cap, "method.ensemble_horizon_cap")
        self.alpha = horizon_capped(settings.ensemble_momentum, cap)  # Z is updated once per epoch

    def training_step(self, batch, progress):
        out = self.model(self.views(batch.all_x()))
        n_lb = len(batch.x_lb)
        supervised = self.task.supervised_loss(out[:n_lb], batch.y_lb, batch.size)
        idx = batch.all_idx()
        has_target = (self.count[idx] > 0).float()  # no target before a sample's first epoch ends
        consistency = (self.task.consistency(out, self.targets[idx]) * has_target).mean()
        # The unlabeled stream visits every training sample once per epoch: record its predictions for Z.
        self.epoch_outputs[batch.idx_ulb] = self.task.summary(out[n_lb:]).detach()
        self.seen[batch.idx_ulb] = True
        w = self.weight(batch, progress.epochs_done)  # ramped once per paper-epoch, 0 in the first
        loss = supervised + w * consistency
        return loss, {"supervised": supervised.detach(), "consistency": consistency.detach(), "consistency_weight": w}

    def length_notes(self):
        epochs = self.ctx.run.epochs
        if self.alpha >= self.settings.ensemble_momentum:  # the paper's horizon fits: a long enough run
            return []
        # A target is one epoch old whatever the run's length: 1/300 of the paper's run, a tenth of a 10-epoch one.
        return [
            f"temporal_ensembling's targets are last epoch's predictions, 1/{epochs:g} of this run old (the paper's: "
            "1/300); measured below supervised training at 3-10 epochs and ahead at 20-30 (BENCHMARKS.md); pi_model "
            "takes its second opinion from this step"
        ]

    def schedule(self):
        return {**super().schedule(), "ensemble_horizon": round(1.0 / (1.0 - self.alpha), 2)}  # epochs

    @torch.no_grad()
    def on_epoch_end(self, epoch):
        alpha, seen = self.alpha, self.seen
        self.Z[seen] = alpha * self.Z[seen] + (1 - alpha) * self.epoch_outputs[seen]
        self.count[seen] += 1
        correction = 1 - alpha ** self.count.clamp_min(1).double()
        self.targets.copy_(torch.where(self.count[:, None] > 0, self.Z / correction[:, None].float(), self.targets))
        self.seen.zero_()
