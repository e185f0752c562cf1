"""Mean Teacher (Tarvainen & Valpola, NeurIPS 2017).

    student sees view₁(x), teacher (EMA of the student, no gradient) sees view₂(x)
    L = Σ_labeled CE(student, y)/|B| + w(t) · consistency(student, teacher) [+ logit distance between heads]
    after each optimizer step: θ' ← α_t θ' + (1 − α_t) θ,  α_t = min(1 − 1/(t+1), α)
α is 0.99 during the consistency ramp-up and 0.999 after it (the paper's ConvNet runs: horizons 1/(1−α) of 100 and
1,000 steps in a 150,000-step run). The horizon is capped at `ema_horizon_cap` of the run, which never binds at the
paper's length; in a run of 500 steps a 1,000-step horizon would average the whole run, untrained start included.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch

from ..config import within
from ..core.ema import ema_decay, ema_update, horizon_capped
from ..core.losses import squared_error
from .base import ConsistencyMethod, ConsistencySettings


@dataclass
class Settings(ConsistencySettings):
    name: str = "mean_teacher"
    consistency: Literal["mse", "kl"] = "mse"  # mse: softmax squared error
    ema_decay: float = within(0.99, "[0, 1)")  # α during ramp-up
    ema_decay_after_rampup: float | None = within(0.999, "[0, 1)")  # α after ramp-up; null: keep ema_decay
    ema_horizon_cap: float | str = "2%"  # the teacher averages over at most this much of the run (core/span.py)
    ramp_every: float | str = 0.0  # the weight ramps every step, from the first (the official code)
    logit_distance_cost: float = 0.0  # > 0: two student heads, classification and consistency (paper: 0.01)
    evaluate: Literal["teacher", "student"] = "teacher"


class MeanTeacher(ConsistencyMethod):
    name = "mean_teacher"
    settings: Settings
    Settings = Settings
    description = "student matches an exponential-moving-average teacher on differently augmented views"

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        if settings.logit_distance_cost > 0:
            self.model = ctx.make_model(heads=2)
        self.teacher = copy.deepcopy(self.model)
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.cap_steps = ctx.run.steps_of(settings.ema_horizon_cap, "method.ema_horizon_cap")

    def alpha(self, epochs_done: float) -> float:
        """The EMA decay for this point of the run: the paper's α, its horizon capped to a share of the run."""
        s = self.settings
        in_rampup = epochs_done < self.rampup
        alpha = s.ema_decay if in_rampup or s.ema_decay_after_rampup is None else s.ema_decay_after_rampup
        return horizon_capped(alpha, self.cap_steps)

    def schedule(self):
        out = super().schedule()
        horizon = lambda a: 1.0 / (1.0 - a)  # noqa: E731
        out["ema_horizon_steps_rampup"] = round(horizon(self.alpha(0.0)), 1)
        out["ema_horizon_steps_after"] = round(horizon(self.alpha(self.rampup)), 1)
        return out

    def training_step(self, batch, progress):
        s = self.settings
        x = batch.all_x()
        student_view, teacher_view = self.views(x), self.views(x)
        heads = self.model.head_outputs(student_view)
        class_logits, cons_logits = heads[0], heads[-1]  # the same tensor unless two heads are configured
        with torch.no_grad():
            teacher_logits = self.teacher.logits(teacher_view)
        n_lb = len(batch.x_lb)
        supervised = self.task.supervised_loss(class_logits[:n_lb], batch.y_lb, batch.size)
        consistency = self.task.consistency(cons_logits, self.task.summary(teacher_logits), s.consistency).mean()
        w = self.weight(batch, progress.epochs_done)  # ramped per step
        loss = supervised + w * consistency
        logs = {"supervised": supervised.detach(), "consistency": consistency.detach(), "consistency_weight": w}
        if s.logit_distance_cost > 0:
            distance = squared_error(class_logits, cons_logits).mean()
            loss = loss + s.logit_distance_cost * distance
            logs["logit_distance"] = distance.detach()
        return loss, logs

    def after_optimizer_step(self, progress):
        ema_update(self.teacher, self.model, ema_decay(progress.step, self.alpha(progress.epochs_done)))

    def predictor(self):
        return self.teacher if self.settings.evaluate == "teacher" else self.model
