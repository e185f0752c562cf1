"""UCVME: uncertainty-consistent variational model ensembling (Dai, Li, Cheng, AAAI 2023), for regression.

two networks a, b with MC dropout, each giving a mean μ and a log-variance s (normalised targets)
labeled (x, y):
    L_lb_reg = Σ_m mean ½ [exp(−s_m)(μ_m − y)² + s_m]       (paper: each model's own s; option: s̄ = (s_a+s_b)/2)
    L_lb_unc = mean (s_a − s_b)²
unlabeled x′, with no gradient: T stochastic passes of each model (dropout on)
    ỹ = mean over models and passes of μ,   z̃ = mean of s
    L_ulb_reg = Σ_m mean ½ [exp(−z̃)(μ_m − ỹ)² + z̃],   L_ulb_unc = Σ_m mean (s_m − z̃)²
L = L_lb_reg + L_lb_unc + w_ulb (L_ulb_reg + L_ulb_unc),   w_ulb = 10, constant
predict: T passes per model, dropout on, BatchNorm frozen: mean of μ, aleatoric = mean exp(s),
         epistemic = variance of μ over the 2T passes
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..config import MethodSettings, within
from ..core.losses import gaussian_nll
from ..core.ramps import sigmoid_rampup
from .base import Method


@dataclass
class Settings(MethodSettings):
    name: str = "ucvme"
    samples: int = within(5, "[1, inf)")  # T: stochastic passes per model for pseudo-labels and for prediction
    # w_ulb; None: the paper's 10 where the networks start pretrained (as all the paper's do), 1 where they are
    # trained from scratch, whose first pseudo-labels are noise (measured better on 3 seeds of two real data sets:
    # docs/METHODS.md)
    unlabeled_weight: float | None = None
    # own (paper, Eq. 3) | average (official code: s̄ of both models in both terms)
    labeled_variance: Literal["own", "average"] = "own"
    dropout: float = within(0.05, "[0, 1)")  # MC-dropout p, used when model.dropout is not set
    unlabeled_rampup: float | str = 0.0  # not in the paper (constant w_ulb): Gaussian ramp-up of w_ulb, for
    # networks trained from scratch (see docs/METHODS.md)


class UCVME(Method):
    name = "ucvme"
    settings: Settings
    Settings = Settings
    description = (
        "two co-trained MC-dropout regressors; mean and variance pseudo-labels from their variational ensemble"
    )
    tasks = ("regression",)

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        task = ctx.task
        make = lambda: ctx.make_model(out_dim=task.out_dim_with_variance, dropout=settings.dropout)  # noqa: E731
        self.model, self.model_b = make(), make()  # a and b: independently initialised
        self.rampup = self.length("unlabeled_rampup")
        self.unlabeled_weight = (
            settings.unlabeled_weight if settings.unlabeled_weight is not None else (10.0 if ctx.pretrained else 1.0)
        )

    def models(self):
        return self.model, self.model_b

    def split(self, out):
        return self.task.mean(out), self.task.log_var(out)

    def training_step(self, batch, progress):
        s, n_lb = self.settings, len(batch.x_lb)
        views = [self.views(batch.all_x()) for _ in self.models()]  # one view per model, labeled + unlabeled
        outs = [self.split(m(v)) for m, v in zip(self.models(), views)]  # [(μ_m, s_m)]
        y = batch.y_lb.float()

        mu, logv = [o[0] for o in outs], [o[1] for o in outs]
        lb_reg, lb_unc = labeled_losses([m[:n_lb] for m in mu], [v[:n_lb] for v in logv], y, s.labeled_variance)
        y_tilde, z_tilde = self.pseudo_labels([v[n_lb:] for v in views])
        ulb_reg, ulb_unc = unlabeled_losses([m[n_lb:] for m in mu], [v[n_lb:] for v in logv], y_tilde, z_tilde)

        w_ulb = self.unlabeled_weight * sigmoid_rampup(progress.epochs_done, self.rampup)
        loss = lb_reg + lb_unc + w_ulb * (ulb_reg + ulb_unc)
        logs = {
            "unlabeled_weight": w_ulb,
            "lb_reg": lb_reg.detach(),
            "lb_unc": lb_unc.detach(),
            "ulb_reg": ulb_reg.detach(),
            "ulb_unc": ulb_unc.detach(),
        }
        return loss, logs

    @torch.no_grad()
    def pseudo_labels(self, views) -> tuple[torch.Tensor, torch.Tensor]:
        """ỹ, z̃: mean μ and mean s over T no-gradient stochastic passes of each model on its own view (the T
        passes batched, the layers before the first dropout run once: models/network.py::Network.sampled)."""
        passes = torch.cat([m.sampled(v, self.settings.samples) for m, v in zip(self.models(), views)])
        mu, logv = self.split(passes.flatten(0, 1))
        return mu.view(len(passes), -1).mean(0), logv.view(len(passes), -1).mean(0)

    @torch.no_grad()
    def predict_summary(self, x):
        """T MC-dropout passes per model -> [mean, aleatoric var, epistemic var] (normalised units)."""
        with mc_dropout(self):
            outs = torch.cat([m.sampled(x, self.settings.samples) for m in self.models()])
        return self.task.predictive(outs)

    def trainable_parameters(self):
        return [p for m in self.models() for p in m.parameters()]


def labeled_losses(mu, logv, y, labeled_variance: str = "own"):
    """L_lb_reg = Σ_m mean ½[exp(−s)(μ_m − y)² + s] with s = s_m (own) or s̄ = mean_m s_m (average);
    L_lb_unc = mean (s_a − s_b)². `mu`, `logv`: one tensor per model."""
    if labeled_variance == "average":
        s_bar = sum(logv) / len(logv)
        reg = sum(gaussian_nll(m, s_bar, y).mean() for m in mu)
    else:
        reg = sum(gaussian_nll(m, v, y).mean() for m, v in zip(mu, logv))
    return reg, (logv[0] - logv[1]).pow(2).mean()


def unlabeled_losses(mu, logv, y_tilde, z_tilde):
    """L_ulb_reg = Σ_m mean ½[exp(−z̃)(μ_m − ỹ)² + z̃];  L_ulb_unc = Σ_m mean (s_m − z̃)²."""
    reg = sum(gaussian_nll(m, z_tilde, y_tilde).mean() for m in mu)
    unc = sum((v - z_tilde).pow(2).mean() for v in logv)
    return reg, unc


class mc_dropout:
    """Within the block, dropout layers sample (train mode) while BatchNorm keeps its running statistics."""

    def __init__(self, module: nn.Module):
        self.dropouts = [m for m in module.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]

    def __enter__(self):
        self.was = [d.training for d in self.dropouts]
        for d in self.dropouts:
            d.train()

    def __exit__(self, *exc):
        for d, was in zip(self.dropouts, self.was):
            d.train(was)
