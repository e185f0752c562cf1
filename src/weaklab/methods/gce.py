"""Generalized cross-entropy (Zhang & Sabuncu, NeurIPS 2018): a noise-robust baseline for noisy labels.

    L_q = mean over the batch of (1 − p_y^q) / q,   q ∈ (0, 1]

q → 0 recovers cross-entropy; q = 1 is the (noise-robust, slow to fit) mean absolute error. q = 0.7 is the
paper's setting.

The paper's truncated L_q (`k` > 0; the paper's k = 0.5) drops the samples the network gives little chance:
    L_trunc = w_i · L_q(p_y) + (1 − w_i) · L_q(k),   w_i = [p_y(x_i) > k]
w is re-chosen for every labeled sample from epoch 40 of 120 on, every 10 epochs (`prune_start`, `prune_every`:
shares of the run), so a pruned sample whose p_y rises again comes back. p_y is read at each sample's latest
visit in training (the paper re-reads every sample with the current weights; here the newest reading is at
most one epoch old, and costs no extra pass).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import MethodSettings, within
from .base import Method


@dataclass
class Settings(MethodSettings):
    name: str = "gce"
    q: float = within(0.7, "(0, 1]")  # the paper's 0.7
    k: float = within(0.0, "[0, 1)")  # truncation: 0 is plain L_q; the paper's truncated L_q uses 0.5
    prune_start: float | str = "40/120"  # w is first re-chosen here (core/span.py): epoch 40 of the paper's 120
    prune_every: float | str = "10/120"  # ... and again after each such span


def generalized_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, q: float) -> torch.Tensor:
    """Per sample (1 − p_y^q) / q."""
    return lq(label_probability(logits, labels), q)


def label_probability(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return logits.float().softmax(-1).gather(1, labels[:, None]).squeeze(1)


def lq(p_label: torch.Tensor, q: float) -> torch.Tensor:
    return (1 - p_label.clamp_min(1e-12).pow(q)) / q


def prunes_due(epochs_done: float, start: float, every: float) -> int:
    """How many times w should have been re-chosen by this point of the run."""
    if epochs_done < start:
        return 0
    return 1 + (math.floor((epochs_done - start) / every + 1e-9) if every > 0 else 0)


class GCE(Method):
    name = "gce"
    settings: Settings
    Settings = Settings
    description = "generalized cross-entropy (1 − p_y^q)/q on the labeled samples (noisy-label baseline)"
    uses_unlabeled = False
    tasks = ("classification",)
    supervision_kind = "noisy"
    sample_state = {"p_label": "labeled"}  # written per step: every rank re-chooses w from the same readings

    p_label: torch.Tensor  # buffers (see __init__)
    labeled: torch.Tensor
    wrong: torch.Tensor
    keep: torch.Tensor
    prunes: torch.Tensor

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        n = ctx.num_train
        self.register_buffer("p_label", torch.ones(n))  # p_y at each sample's latest visit
        self.register_buffer("keep", torch.ones(n, dtype=torch.bool))  # w
        self.register_buffer("prunes", torch.zeros((), dtype=torch.long))  # times w was re-chosen
        self.prune_start = self.length("prune_start", overrun="the loss is never truncated")
        self.prune_every = self.length("prune_every")
        sup = ctx.supervision
        labeled = sup.labeled.clone() if sup is not None else torch.zeros(n, dtype=torch.bool)
        self.register_buffer("labeled", labeled, persistent=False)
        # for the logs only: which labeled samples carry a wrong label (none known without the clean labels)
        wrong, self.clean_known = torch.zeros_like(labeled), False
        if ctx.clean_labels is not None and sup is not None:
            wrong, self.clean_known = (torch.as_tensor(ctx.clean_labels) != sup.labels) & labeled, True
        self.register_buffer("wrong", wrong, persistent=False)

    def training_step(self, batch, progress):
        k, q = self.settings.k, self.settings.q
        p_label = label_probability(self.model(self.views(batch.x_lb)), batch.y_lb)
        loss = lq(p_label, q)
        if k > 0:
            self.choose_weights(progress.epochs_done)  # before the step, from readings every rank shares
            kept = self.keep[batch.idx_lb]
            loss = torch.where(kept, loss, lq(torch.full_like(p_label, k), q))  # the constant L_q(k): no gradient
            self.p_label[batch.idx_lb] = p_label.detach()
        loss = loss.mean()
        return loss, {"gce": loss.detach()}

    @torch.no_grad()
    def choose_weights(self, epochs_done: float) -> None:
        due = prunes_due(epochs_done, self.prune_start, self.prune_every)
        if due > int(self.prunes):
            self.keep.copy_(self.p_label > self.settings.k)
            self.prunes.fill_(due)

    def state_logs(self) -> dict[str, float]:
        if self.settings.k <= 0:
            return {}
        logs = {"kept": float(self.keep[self.labeled].float().mean())}
        pruned = self.labeled & ~self.keep
        if self.clean_known and pruned.any():
            logs["pruned_wrong"] = float(self.wrong[pruned].float().mean())  # share of the pruned whose label is wrong
        return logs

    def schedule(self):
        return {"prune_start": self.prune_start} if self.settings.k > 0 else {}
