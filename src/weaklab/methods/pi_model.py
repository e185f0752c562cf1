"""Π-model (Laine & Aila, ICLR 2017).

for each batch:
    z, z̃ = f(view₁(x)), f(view₂(x))          # two stochastic passes, both in the graph
    L = Σ_labeled CE(z, y) / |B| + w(t) · mean_{B×C} (softmax z − softmax z̃)²
w(t) = 0 in the first epoch, then a Gaussian ramp-up over 80 epochs to w_max (of 300: `rampup`, `ramp_every`
are shares of the run, so shorter runs keep the shape).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import ConsistencyMethod, ConsistencySettings


@dataclass
class Settings(ConsistencySettings):
    name: str = "pi_model"
    share_flip: bool = True  # both passes mirror the same samples (the paper's choice)


class PiModel(ConsistencyMethod):
    name = "pi_model"
    Settings = Settings
    description = "two stochastic passes per sample, squared error between their softmax outputs"

    def training_step(self, batch, progress):
        s = self.settings
        x1, x2 = self.views.many(batch.all_x(), 2, share_flip=s.share_flip)
        z, z_tilde = self.model(x1), self.model(x2)
        n_lb = len(batch.x_lb)
        supervised = self.task.supervised_loss(z[:n_lb], batch.y_lb, batch.size)
        # Both sides keep their gradient: the Π-model pulls the two passes towards each other.
        consistency = self.task.consistency(z, self.task.summary(z_tilde)).mean()
        w = self.weight(batch, progress.epochs_done)  # ramped once per paper-epoch, 0 in the first
        loss = supervised + w * consistency
        return loss, {"supervised": supervised.detach(), "consistency": consistency.detach(), "consistency_weight": w}
