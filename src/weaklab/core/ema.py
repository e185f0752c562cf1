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


@torch.no_grad()
def copy_buffers(target: torch.nn.Module, source: torch.nn.Module) -> None:
    """BatchNorm statistics (and every other buffer) of `source` into `target`: an EMA model that never runs a
    training forward of its own (FixMatch's evaluation model) takes the student's."""
    torch._foreach_copy_(list(target.buffers()), list(source.buffers()))


def horizon_capped(decay: float, cap_steps: float) -> float:
    """The EMA decay whose horizon 1/(1 − α) is at most `cap_steps`: a horizon longer than a short run would
    average the untrained start into the model."""
    return min(decay, 1.0 - 1.0 / max(cap_steps, 1.0))


@torch.no_grad()
def ema_(statistic: torch.Tensor, value: torch.Tensor, momentum: float) -> None:
    """statistic ← m · statistic + (1 − m) · value, in place (EMA statistics of confidences)."""
    statistic.mul_(momentum).add_(value.to(statistic.dtype), alpha=1.0 - momentum)
