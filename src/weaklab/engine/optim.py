"""Optimizers and learning-rate / Adam-β1 schedules as functions of the (fractional) epoch of the run."""

from __future__ import annotations

import math

import torch

from ..config import LrSchedule, TrainConfig, choices
from ..core.ramps import cosine_rampdown, fixmatch_cosine, gaussian_rampdown, sigmoid_rampup, step_decay
from ..core.span import Run

SCHEDULES = choices(LrSchedule)


def build_optimizer(cfg: TrainConfig, params, lr_scales: dict | None = None) -> torch.optim.Optimizer:
    """One optimizer for the method's parameters; `lr_scales` (parameter -> factor) puts those parameters in their
    own group, whose lr is the schedule's times the factor (ILL's transition matrix)."""
    params = [p for p in params if p.requires_grad]
    fast = _fused_or_foreach(params)
    scales = lr_scales or {}
    scaled = {id(p) for p in scales}
    groups = [{"params": [p for p in params if id(p) not in scaled], "lr_scale": 1.0}]
    groups += [{"params": [p], "lr_scale": float(factor)} for p, factor in scales.items() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(
            groups, lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2), weight_decay=cfg.weight_decay, **fast
        )
    return torch.optim.SGD(
        groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay, **fast
    )


def _fused_or_foreach(params) -> dict:
    """One fused kernel per step where torch has it (CPU and CUDA; ~3× faster than foreach for Adam on CNN-13 on
    CPU, see docs/SCALING.md), else the foreach implementation."""
    return {"fused": True} if params and all(p.device.type in ("cpu", "cuda") for p in params) else {"foreach": True}


class Schedule:
    """Sets lr (and Adam β1) on the optimizer before each step. Every length is read against the run
    (core/span.py): the defaults are the papers' shares, so `--epochs 10` keeps their shape.

    gaussian: Gaussian ramp-up over lr_rampup, Gaussian ramp-down of lr and β1 over the last lr_rampdown
              (Π-model / Temporal Ensembling / Mean Teacher ConvNet runs: 80 and 50 of 300 epochs)
    cosine:   Gaussian ramp-up, then cosine decay to 0 at the end of training
    fixmatch_cosine: lr · cos(7π t / 16 T) over the run, no ramp-up (FixMatch and the USB protocol)
    step:     lr × lr_gamma at each of lr_milestones
    exponential: lr × lr_gamma per whole lr_decay_every (PyTorch's ExponentialLR stepped per epoch; SCN: 0.9)
    constant: lr throughout
    """

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int = 1):
        self.cfg, self.run = cfg, Run(cfg.epochs, steps_per_epoch)
        run, kind = self.run, cfg.lr_schedule
        self.rampup = run.epochs_of(
            cfg.lr_rampup,
            "train.lr_rampup",
            "the lr never reaches train.lr" if kind in ("gaussian", "cosine") else None,
        )
        self.rampdown = run.epochs_of(
            cfg.lr_rampdown,
            "train.lr_rampdown",
            "the lr starts the run already ramped down" if kind == "gaussian" else None,
        )
        self.milestones = [run.epochs_of(m, "train.lr_milestones") for m in cfg.lr_milestones]
        self.decay_every = run.epochs_of(cfg.lr_decay_every, "train.lr_decay_every")

    def lr_factor(self, epoch: float) -> float:
        c = self.cfg
        if c.lr_schedule == "gaussian":
            return sigmoid_rampup(epoch, self.rampup) * gaussian_rampdown(epoch, c.epochs, self.rampdown)
        if c.lr_schedule == "cosine":
            return sigmoid_rampup(epoch, self.rampup) * cosine_rampdown(epoch, c.epochs)
        if c.lr_schedule == "fixmatch_cosine":
            return fixmatch_cosine(epoch, c.epochs)
        if c.lr_schedule == "step":
            return step_decay(epoch, self.milestones, c.lr_gamma)
        if c.lr_schedule == "exponential":
            return c.lr_gamma ** math.floor(epoch / self.decay_every + 1e-9) if self.decay_every > 0 else 1.0
        return 1.0

    def beta1(self, epoch: float) -> float:
        c = self.cfg
        if c.lr_schedule != "gaussian":
            return c.adam_beta1
        down = gaussian_rampdown(epoch, c.epochs, self.rampdown)
        return down * c.adam_beta1 + (1 - down) * c.rampdown_beta1

    def warmup_end(self) -> float:
        """Where the lr warm-up ends, in epochs (0 for schedules without one)."""
        return self.rampup if self.cfg.lr_schedule in ("gaussian", "cosine") else 0.0

    def describe(self) -> dict:
        """The effective schedule in epochs of this run, for the start-of-run report."""
        c = self.cfg
        out: dict[str, str | float | list[float]] = {"lr_schedule": c.lr_schedule}
        if c.lr_schedule in ("gaussian", "cosine"):
            out["lr_rampup_end"] = self.rampup
        if c.lr_schedule == "gaussian":
            out["lr_rampdown_start"] = max(c.epochs - self.rampdown, 0.0)
        if c.lr_schedule == "step":
            out["lr_milestones"] = self.milestones
        if c.lr_schedule == "exponential":
            out["lr_decay_every"] = self.decay_every
        return out

    def apply(self, optimizer: torch.optim.Optimizer, epoch: float) -> float:
        lr = self.cfg.lr * self.lr_factor(epoch)
        beta1 = self.beta1(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
            if "betas" in group:
                group["betas"] = (beta1, group["betas"][1])
        return lr
