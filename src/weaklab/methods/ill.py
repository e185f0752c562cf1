"""ILL, Imprecise Label Learning (Chen et al., NeurIPS 2024): labels, candidate sets, wrong labels and missing
labels in one run, the true label a latent variable (core/imprecise.py: the likelihoods).

    every sample: a candidate set S (one class: a label; all classes: unlabeled) and an untrusted flag
    T = softmax(V) by rows, V = s·I at the start                      learned where some labels are untrusted
    for a batch of informed samples x (a label or a set) and of every sample u, one forward pass of
    [weak(x), strong(x), weak(u), strong(u)], p = softmax of the weak views:
        observed  = mean_x NLL of S under p̃ = p·T (p where trusted)   −log p̃_y, or −Σ_{j∉S} log(1 − p̃_j) for a set
        em        = mean_x CE(f(strong(x)), q),  q ∝ p(x) · Σ_{j∈S} T[·, j]  (1[· ∈ S] where trusted)    no gradient
                    (an untrusted set's likelihood: the sum over its members, or the official code's product)
        unlabeled = mean_u CE(f(strong(u)), q_u),  q_u ∝ DA(p(u)) · likelihood,  DA(p) ∝ p / p̂          no gradient
                    (p̂ ← EMA of mean p(u); for an unlabeled sample q_u = DA(p(u)))
        balance   = −(1/C) Σ_c log mean_x p_c
        L = observed + em + λ_u · unlabeled + w_b · balance
    after each step: the evaluation model θ_ema ← α θ_ema + (1 − α) θ (methods/confidence.py)
Paper and official code: λ_u = 1, w_b = 0.1, DA momentum 0.999, V = 1·I at the start ("initialised to the
identity"), T learned with the network (its own optimizer in the code: here the run's, at 10× the lr). Where
untrusted candidate sets are given, V = 5·I (measured, docs/METHODS.md): at s = 1 a set's likelihood barely
separates its members from the other classes, and the E-step's targets stay near the model's own guess. The code
computes p̃ through a column-normalised T and the likelihood through the row-normalised one; here one
row-stochastic T serves both (the paper's model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..config import within
from ..core.ema import ema_
from ..core.imprecise import class_balance, em_targets, observed_likelihood, observed_loss, transition_logits
from ..core.losses import soft_cross_entropy
from ..core.thresholds import distribution_alignment
from .confidence import ConfidenceMethod, StatisticsSettings


@dataclass
class Settings(StatisticsSettings):
    name: str = "ill"
    balance_weight: float = within(0.1, "[0, inf)")  # w_b, the class-balance term
    # T: auto (learned where some labels are untrusted) | on | off (T = I: every label taken as correct)
    transition: Literal["auto", "on", "off"] = "auto"
    # V = s·I at the start (the official code: 1 on CIFAR-10, 2 on CIFAR-100); T's diagonal starts at
    # e^s / (e^s + C − 1): 0.23 at s = 1 and 10 classes. None: 1, or 5 where untrusted samples hold candidate sets:
    # with Σ over a set of k members, a member is (e^s + k − 1)/k times as likely as a class outside it, 1.5 at
    # s = 1 and k = 3.7, so the E-step learns nothing from the set (measured on MNIST, 3 seeds: 94.2 % at s = 5,
    # 93.3 % at s = 3; seed 0 at s = 1: 34 %; BENCHMARKS.md)
    transition_scale: float | None = within(None, "(0, inf)")
    # an untrusted set's likelihood Σ_{j∈S} T[c, j] (sum: how weaklab's noisy sets are drawn, around one given
    # label) or Π_{j∈S} T[c, j] (product: the official code's)
    set_likelihood: Literal["sum", "product"] = "sum"
    # T's lr as a multiple of the network's: the official code steps T with its own optimizer; through the run's
    # Adam at the network's lr, T's logits move about lr per step and would stay near the start in a short run
    transition_lr_scale: float = within(10.0, "(0, inf)")
    # the distribution alignment's marginal is no threshold: a lagging one lets no wrong pseudo-label through, and
    # the shared 1 % measured no better than 10 % here (0.4-0.6 points lower on two regimes, seed 0; BENCHMARKS.md)
    momentum_horizon_cap: float | str = "10%"


class ILL(ConfidenceMethod):
    name = "ill"
    settings: Settings
    Settings = Settings
    supervision_kind = "mixed"
    description = "imprecise labels (labels, candidate sets, noisy, unlabeled, mixed): EM over the latent true label"
    averaged_state = ("class_marginal",)
    candidates: torch.Tensor  # buffers (see __init__)
    untrusted: torch.Tensor
    class_marginal: torch.Tensor

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        supervision = ctx.supervision
        # data, not state: rebuilt from the config on resume, so not in checkpoints
        self.register_buffer("candidates", supervision.candidates.clone(), persistent=False)
        self.register_buffer("untrusted", supervision.untrusted.clone(), persistent=False)
        self.register_buffer("class_marginal", torch.full((self.num_classes,), 1.0 / self.num_classes))  # p̂
        self.momentum = self.statistics_momentum()
        learn = settings.transition == "on" or (settings.transition == "auto" and bool(supervision.untrusted.any()))
        self.transition_logits = (
            nn.Parameter(transition_logits(self.num_classes, self.transition_scale(supervision))) if learn else None
        )

    def transition_scale(self, supervision) -> float:
        """s of V = s·I at the start: as set, else 5 where some untrusted sample holds a set of several classes."""
        if self.settings.transition_scale is not None:
            return self.settings.transition_scale
        sets = supervision.untrusted & (supervision.candidates.sum(1) > 1) & ~supervision.candidates.all(1)
        return 5.0 if bool(sets.any()) else 1.0

    def transition(self) -> torch.Tensor | None:
        """T[i, j] = P(given j | true i), or None where every label is trusted."""
        return None if self.transition_logits is None else self.transition_logits.softmax(1)

    def training_step(self, batch, progress):
        assert batch.x_ulb is not None and batch.idx_ulb is not None
        n_x, n_u = len(batch.x_lb), len(batch.x_ulb)
        views = [self.views(batch.x_lb), self.views.strong(batch.x_lb), self.views(batch.x_ulb)]
        x = torch.cat([*views, self.views.strong(batch.x_ulb)])
        weak_x, strong_x, weak_u, strong_u = self.model.logits(x).float().split([n_x, n_x, n_u, n_u])
        candidates, untrusted = self.candidates[batch.idx_lb], self.untrusted[batch.idx_lb]
        t, p_x = self.transition(), weak_x.softmax(1)
        observed = observed_loss(p_x, candidates, untrusted, t).mean()
        with torch.no_grad():
            t = None if t is None else t.detach()
            likelihood = observed_likelihood(candidates, untrusted, t, self.settings.set_likelihood)
            q_x = em_targets(p_x.detach(), likelihood)
            p_u = weak_u.detach().softmax(1)
            ema_(self.class_marginal, p_u.mean(0), self.momentum)
            # every sample's target is its posterior given what is known of it: DA(p) for an unlabeled one
            idx_u = batch.idx_ulb
            likelihood_u = observed_likelihood(
                self.candidates[idx_u], self.untrusted[idx_u], t, self.settings.set_likelihood
            )
            q_u = em_targets(distribution_alignment(p_u, self.class_marginal), likelihood_u)
        em = soft_cross_entropy(strong_x, q_x).mean()
        unlabeled = soft_cross_entropy(strong_u, q_u).mean()
        balance = class_balance(p_x)
        s = self.settings
        loss = observed + em + s.unlabeled_weight * unlabeled + s.balance_weight * balance
        clean = self.clean_labels[batch.idx_lb]
        known = (clean >= 0).float()
        logs = {
            "observed": observed.detach(),
            "em": em.detach(),
            "unlabeled": unlabeled.detach(),
            "balance": balance.detach(),
            # how often the E-step's target names the true class, where it is known (benchmarks)
            "target_accuracy": (known * (q_x.argmax(1) == clean).float()).sum() / known.sum().clamp_min(1.0),
        }
        return loss, logs

    def lr_scales(self):
        return {} if self.transition_logits is None else {self.transition_logits: self.settings.transition_lr_scale}

    def trainable_parameters(self):
        extra = [] if self.transition_logits is None else [self.transition_logits]
        return [*self.model.parameters(), *extra]

    @torch.no_grad()
    def state_logs(self):
        t = self.transition()
        return {} if t is None else {"transition_diagonal": float(t.diagonal().mean())}
