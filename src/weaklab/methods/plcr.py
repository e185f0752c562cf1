"""PL-CR, partial-label learning with consistency regularisation (Wu, Wang & Zhang, ICML 2022).

    q_i ← uniform over S_i                                              (N×C target table, checkpointed)
    for each batch:  views: 1 weak + K-1 strong per sample, one forward pass
        supervised  = -mean_i Σ_{j ∉ S_i} log(1 - p_ij(weak) + 1e-7)
        consistency = Σ_k mean_i KL(q_i ‖ p_k(x_i))
        L = supervised + λ(e) · consistency,   λ(e) = min(e / T, 1) · λ_max   (e = epoch: 0 in the first)
        q_i ← normalise(S_i ⊙ Π_k p_k(x_i)^(1/K))   from this step's detached predictions
T = 100 of the paper's 200 epochs, e counted in paper-epochs (1/200 of the run): shares, so shorter runs keep the shape.
The paper's loss reads q_i as stored, one visit (one epoch) old: 1/200 of its run. Where a visit is a larger share
(an epoch of a 3-epoch run is a third), q_i is rewritten before the loss reads it by default (`target_refresh`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from ..config import MethodSettings, within
from ..core.losses import non_candidate_loss, restrict_to_candidates, softmax_kl
from ..core.ramps import linear_rampup
from ..core.span import tick
from .partial_label import PartialLabelMethod


@dataclass
class Settings(MethodSettings):
    name: str = "plcr"
    lambda_max: float = 1.0  # λ_max
    rampup: float | str = "100/200"  # T: λ grows linearly to λ_max over T (core/span.py)
    ramp_every: float | str = "1/200"  # λ is recomputed once per this (the paper: once per epoch of 200)
    strong_views: int = within(2, "[1, inf)")  # K - 1
    # When the loss reads q_i. after: the stored q_i, rewritten after the step (paper and official code), so q_i is
    # one visit old: 1/200 of the paper's run, a third of a 3-epoch one. before: rewritten first, from this step's
    # views. auto: after where one visit is at most 1/200 of the run, else before. A visit is an epoch where every
    # sample has a set (so auto is after from 200 epochs up), a few steps where only 100 have one.
    target_refresh: Literal["auto", "after", "before"] = "auto"


class PLCR(PartialLabelMethod):
    name = "plcr"
    settings: Settings
    Settings = Settings
    draws_strong_views = True
    sample_state = {"targets": "labeled"}  # the target table rows each step rewrites (one stream: every sample)
    description = "partial labels: non-candidate loss + consistency of weak/strong views to a per-sample target table"

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        self.register_buffer("targets", self.uniform_over_candidates())
        clean = ctx.clean_labels if ctx.clean_labels is not None else torch.full((ctx.num_train,), -1)
        self.register_buffer("clean_labels", clean.clone(), persistent=False)  # for the log only
        self.rampup = self.length("rampup", "λ never reaches λ_max")
        self.ramp_every = self.length("ramp_every")
        refresh = settings.target_refresh
        self.visit_steps = math.ceil(ctx.num_labeled / ctx.batch_labeled)  # between two visits of a sample
        too_old = self.visit_steps * 200 > ctx.run.steps  # a stored target older than 1/200 of the run
        self.fresh_targets = refresh == "before" or (refresh == "auto" and too_old)

    def lam(self, epochs_done: float) -> float:
        return linear_rampup(tick(epochs_done, self.ramp_every), self.rampup) * self.settings.lambda_max

    def schedule(self):
        age = 0.0 if self.fresh_targets else round(self.visit_steps / self.ctx.steps_per_epoch, 3)  # epochs
        return {"lambda_rampup_end": self.rampup, "target_age": age}

    def training_step(self, batch, progress):
        x, idx, k = batch.x_lb, batch.idx_lb, 1 + self.settings.strong_views
        views = [self.views(x)] + [self.views.strong(x) for _ in range(k - 1)]
        logits = self.model(torch.cat(views)).chunk(k)
        candidates, stored = self.candidates[idx], self.targets[idx]
        with torch.no_grad():  # normalised geometric mean of the K views, masked to the candidates
            log_mean = torch.stack([out.float().log_softmax(-1) for out in logits]).mean(0)
            fresh = restrict_to_candidates(log_mean.softmax(-1), candidates)
            self.targets[idx] = fresh
            target_accuracy = (fresh.argmax(1) == self.clean_labels[idx]).float().mean()
        targets = fresh if self.fresh_targets else stored
        supervised = non_candidate_loss(logits[0], candidates).mean()
        consistency = sum(softmax_kl(out, targets).mean() for out in logits)
        lam = self.lam(progress.epochs_done)
        loss = supervised + lam * consistency
        return loss, {
            "supervised": supervised.detach(),
            "consistency": consistency.detach(),
            "consistency_weight": lam,
            "target_accuracy": target_accuracy,
        }
