"""Supervised-only baseline: cross-entropy on the labeled stream, same views, same budget in steps."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import MethodSettings
from .base import Method


@dataclass
class Settings(MethodSettings):
    name: str = "supervised"


class Supervised(Method):
    name = "supervised"
    Settings = Settings
    description = "cross-entropy on the labeled samples only (the baseline every method must beat)"
    uses_unlabeled = False

    def training_step(self, batch, progress):
        out = self.model(self.views(batch.x_lb))
        loss = self.task.supervised_loss(out, batch.y_lb, len(batch.x_lb))
        return loss, {"supervised": loss.detach()}
