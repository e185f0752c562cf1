"""Exponential moving average of parameters (the Mean Teacher), with foreach ops."""

from __future__ import annotations

import torch


def ema_decay(step: int, decay: float) -> float:
    """α_t = min(1 - 1/(t+1), α): early steps follow the student closely (t counts optimizer steps from 0)."""
    return min(1.0 - 1.0 / (step + 1), decay)


@torch.no_grad()
def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, decay: float) -> None:
    """θ' ← α θ' + (1 - α) θ on parameters only; the teacher's BatchNorm statistics come from its own passes."""
    t: list[torch.Tensor] = [p for p in teacher.parameters()]
    s = [p.detach() for p in student.parameters()]
    torch._foreach_mul_(t, decay)
    torch._foreach_add_(t, s, alpha=1.0 - decay)
