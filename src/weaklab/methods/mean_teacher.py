"""Mean Teacher (Tarvainen & Valpola, NeurIPS 2017).

    student sees view₁(x), teacher (EMA of the student, no gradient) sees view₂(x)
    L = Σ_labeled CE(student, y)/|B| + w(t) · consistency(student, teacher) [+ logit distance between heads]
    after each optimizer step: θ' ← α_t θ' + (1 − α_t) θ,  α_t = min(1 − 1/(t+1), α)
α is 0.99 during the consistency ramp-up and 0.999 after it (the paper's ConvNet runs).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..core.ema import ema_decay, ema_update
from ..core.losses import squared_error
from ..errors import WeaklabError
from .base import ConsistencyMethod, ConsistencySettings


@dataclass
class Settings(ConsistencySettings):
    name: str = "mean_teacher"
    consistency: str = "mse"  # mse (softmax squared error) | kl
    ema_decay: float = 0.99  # α during ramp-up
    ema_decay_after_rampup: float | None = 0.999  # α after ramp-up; null: keep ema_decay
    logit_distance_cost: float = 0.0  # > 0: two student heads, classification and consistency (paper: 0.01)
    evaluate: str = "teacher"  # teacher | student


class MeanTeacher(ConsistencyMethod):
    name = "mean_teacher"
    Settings = Settings
    description = "student matches an exponential-moving-average teacher on differently augmented views"

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        if settings.consistency not in ("mse", "kl"):
            raise WeaklabError(f"method.consistency must be 'mse' or 'kl', got {settings.consistency!r}")
        if settings.evaluate not in ("teacher", "student"):
            raise WeaklabError(f"method.evaluate must be 'teacher' or 'student', got {settings.evaluate!r}")
        if settings.logit_distance_cost > 0:
            self.model = ctx.make_model(heads=2)
        self.teacher = copy.deepcopy(self.model)
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def _heads(self, out):
        """(classification logits, consistency logits): the same tensor unless two heads are configured."""
        return out if isinstance(out, tuple) else (out, out)

    def training_step(self, batch, progress):
        s = self.settings
        x = batch.all_x()
        student_view, teacher_view = self.views(x), self.views(x)
        class_logits, cons_logits = self._heads(self.model(student_view))
        with torch.no_grad():
            teacher_logits = self._heads(self.teacher(teacher_view))[0]
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
        s = self.settings
        in_rampup = progress.epochs_done < s.rampup_epochs
        alpha = s.ema_decay if in_rampup or s.ema_decay_after_rampup is None else s.ema_decay_after_rampup
        ema_update(self.teacher, self.model, ema_decay(progress.step, alpha))

    def predictor(self):
        return self.teacher if self.settings.evaluate == "teacher" else self.model
