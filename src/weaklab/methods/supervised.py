"""Supervised-only baseline: the task's loss on the labeled stream, same views, same budget in steps.

Classification: cross-entropy. Regression: squared error, or with `heteroscedastic` a mean + log-variance network
trained by the Gaussian NLL ½[exp(−s)(μ − y)² + s] (the UCVME paper's second supervised baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import MethodSettings
from ..errors import WeaklabError
from .base import Method


@dataclass
class Settings(MethodSettings):
    name: str = "supervised"
    heteroscedastic: bool = False  # regression only: also predict a log-variance, train by Gaussian NLL


class Supervised(Method):
    name = "supervised"
    Settings = Settings
    description = "the task's loss on the labeled samples only (the baseline every method must beat)"
    uses_unlabeled = False

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        if settings.heteroscedastic:
            if not hasattr(self.task, "out_dim_with_variance"):
                raise WeaklabError(
                    "method.heteroscedastic applies to regression datasets only; this dataset is a classification"
                )
            self.model = ctx.make_model(out_dim=self.task.out_dim_with_variance)

    def training_step(self, batch, progress):
        out = self.model(self.views(batch.x_lb))
        loss = self.task.supervised_loss(out, batch.y_lb, len(batch.x_lb))
        return loss, {"supervised": loss.detach()}
