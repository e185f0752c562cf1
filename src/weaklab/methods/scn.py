"""Self-Cure Network (Wang, Peng, Yang, Meng, Qiao, CVPR 2020): learning from noisy labels.

    f      = backbone(view(x))                       per sample feature
    α      = sigmoid(w_α · f + b_α)                  importance
    z      = α · (W f + b)                           logit-weighted: α never changes the arg-max
    L      = CE(z, y) + max(0, δ1 − (mean α_high − mean α_low))     high = top ⌊βB⌋ of the batch by α
    from epoch 10 of 70 (`relabel_start`, a share of the run) and never before the lr warm-up ends, with p = softmax(z):
        if max_j p_j − p_y > δ2, the stored label of the sample becomes argmax p
        (paper, the default: only samples of the batch's low-importance group; official code: every sample)
        y: the given label (paper's equation, the default: y' = l_max if P_max − P_gtInd > δ2 else l_org, so a
        wrong relabel is undone once the network stops disagreeing with the given label) or the label stored so
        far (official code: relabels accumulate). With both of the paper's choices the equation is read at every
        visit: a sample outside the low group gets l_org back (keeping its relabel there measured worse)
The paper's two choices are the defaults: trained from scratch on real 28×28 images they measured as good as the
official code's rule or far better; on 8×8 digits the official rule is better (docs/METHODS.md).

The stored labels are a buffer, so they are in every checkpoint and a resumed run continues with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..config import MethodSettings, within
from .base import Method, write_label_report


@dataclass
class Settings(MethodSettings):
    name: str = "scn"
    beta: float = within(0.7, "[0, 1]")  # share of each batch in the high-importance group
    margin1: float = 0.15  # δ1: the gap wanted between the two groups' mean importance (paper, batch 1024)
    margin1_batch_scaled: bool = False  # δ1 − 0.02·log2(1024/B): 0.15 at batch 1024, 0.07 at 64 (authors' advice)
    rank_regularization: bool = True  # ablation: false drops L_RR
    # low (paper) | all (official code) | none (ablation): which samples may be relabeled; see docs/METHODS.md
    relabel: Literal["all", "low", "none"] = "low"
    relabel_start: float | str = "10/70"  # relabel from here on (core/span.py): epoch 10 of the paper's 70
    margin2: float = 0.2  # δ2: relabel when max_j p_j − p_label exceeds it
    # the label p_label is read at: given (paper) | stored (official code: the current, possibly relabeled one)
    relabel_against: Literal["stored", "given"] = "given"
    # augmented: the training forward (paper, code; measured better from scratch:
    # docs/SCHEDULES.md) | plain: an extra eval-mode forward of the un-augmented sample (no dropout, BN statistics)
    relabel_view: Literal["augmented", "plain"] = "augmented"


def split_size(batch: int, beta: float) -> int:
    """⌊β·B⌋, the size of the high-importance group (robust to 0.7·30 = 20.999…)."""
    return math.floor(beta * batch + 1e-9)


def rank_regularization(alpha: torch.Tensor, beta: float, margin: float) -> torch.Tensor:
    """max(0, δ1 − (mean of the top ⌊βB⌋ α − mean of the rest)); 0 when either group is empty."""
    high = split_size(len(alpha), beta)
    if high == 0 or high == len(alpha):
        return alpha.sum() * 0.0
    ranked = alpha.sort(descending=True).values
    return F.relu(margin - (ranked[:high].mean() - ranked[high:].mean()))


def low_importance(alpha: torch.Tensor, beta: float) -> torch.Tensor:
    """Mask of the batch's low-importance group: all but the top ⌊βB⌋ by α."""
    low = torch.ones_like(alpha, dtype=torch.bool)
    low[alpha.argsort(descending=True)[: split_size(len(alpha), beta)]] = False
    return low


def relabel_rule(probs: torch.Tensor, labels: torch.Tensor, margin: float, eligible: torch.Tensor) -> torch.Tensor:
    """New labels: argmax p where max p − p_label > δ2 for eligible samples; the old label elsewhere."""
    p_max, best = probs.max(1)
    p_label = probs.gather(1, labels[:, None]).squeeze(1)
    return torch.where(eligible & (p_max - p_label > margin), best, labels)


class SCN(Method):
    name = "scn"
    settings: Settings
    Settings = Settings
    description = "Self-Cure Network: importance-weighted logits, rank regularisation, relabeling (noisy labels)"
    uses_unlabeled = False
    tasks = ("classification",)
    supervision_kind = "noisy"

    # written in training_step at the batch's rows: gathered across ranks, so every rank counts every relabel
    sample_state = {"labels": "labeled", "events": "labeled"}
    labels: torch.Tensor  # buffers (see __init__)
    given: torch.Tensor
    clean: torch.Tensor
    events: torch.Tensor
    events_logged: torch.Tensor

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        self.importance = nn.Linear(self.model.backbone.out_features, 1)
        given = ctx.supervision.labels if ctx.supervision is not None else torch.full((ctx.num_train,), -1)
        self.register_buffer("labels", given.clone())  # the current (relabeled) labels: checkpointed
        self.register_buffer("given", given.clone(), persistent=False)
        clean = ctx.clean_labels if ctx.clean_labels is not None else torch.full_like(given, -1)
        self.register_buffer("clean", torch.as_tensor(clean).clone(), persistent=False)  # reports only
        self.clean_known = ctx.clean_labels is not None
        # relabel events so far, per sample: changed, corrected (to the clean label), corrupted (away from it).
        # Per sample rather than three totals, so under torchrun the engine gathers them like the labels.
        self.register_buffer("events", torch.zeros(len(given), 3, dtype=torch.long))
        # the totals at the last log
        self.register_buffer("events_logged", torch.zeros(3, dtype=torch.long))
        b = ctx.batch_labeled
        # relabel only once the network is trained a little: not before the lr warm-up ends
        self.relabel_from = max(self.length("relabel_start"), ctx.warmup_epochs)
        self.margin1 = (
            max(0.0, settings.margin1 - 0.02 * math.log2(1024 / b))
            if settings.margin1_batch_scaled
            else settings.margin1
        )

    def forward_weighted(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(α-weighted logits, α) of a batch."""
        feature = self.model.features(x)
        alpha = torch.sigmoid(self.importance(feature)).squeeze(1).float()
        return alpha[:, None] * self.model.heads[0](feature).float(), alpha

    def training_step(self, batch, progress):
        s = self.settings
        logits, alpha = self.forward_weighted(self.views(batch.x_lb))
        labels = self.labels[batch.idx_lb]
        ce = F.cross_entropy(logits, labels)
        rr = rank_regularization(alpha, s.beta, self.margin1) if s.rank_regularization else ce.new_zeros(())
        if s.relabel != "none" and progress.epochs_done >= self.relabel_from:
            if s.relabel_view == "plain":
                logits, alpha = self.forward_plain(batch.x_lb)
            self.relabel(batch.idx_lb, logits.detach().softmax(1), labels, alpha.detach())
        return ce + rr, {
            "cross_entropy": ce.detach(),
            "rank_regularization": rr.detach(),
            "importance": alpha.detach().mean(),
        }

    @torch.no_grad()
    def relabel(self, idx: torch.Tensor, probs: torch.Tensor, labels: torch.Tensor, alpha: torch.Tensor) -> None:
        eligible = (
            low_importance(alpha, self.settings.beta)
            if self.settings.relabel == "low"
            else torch.ones_like(labels, dtype=torch.bool)
        )
        reference = self.given[idx] if self.settings.relabel_against == "given" else labels
        new = relabel_rule(probs, reference, self.settings.margin2, eligible)
        changed = new != labels
        clean = self.clean[idx]
        self.events.index_add_(
            0, idx, torch.stack([changed, changed & (new == clean), changed & (labels == clean)], 1).long()
        )
        self.labels[idx] = new

    def schedule(self):
        return {"relabel_start": self.relabel_from}

    def state_logs(self) -> dict[str, float]:
        totals = self.events.sum(0)
        delta = (totals - self.events_logged).tolist()
        self.events_logged.copy_(totals)
        labeled = self.given >= 0
        logs = {"relabeled": delta[0], "differ_from_given": int((self.labels != self.given)[labeled].sum())}
        if self.clean_known:
            logs.update(
                relabel_corrected=delta[1],
                relabel_corrupted=delta[2],
                label_accuracy=float((self.labels == self.clean)[labeled].float().mean()),
            )
        return logs

    def on_train_end(self, run_dir, data) -> None:
        alpha = torch.cat([self.forward_plain(x)[1] for x in data.train.batches(1024)])
        write_label_report(self, run_dir, data, current=self.labels, importance=alpha)

    @torch.no_grad()
    def forward_plain(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(α-weighted logits, α) in eval mode (no dropout, BatchNorm running statistics), no gradient."""
        was_training = self.training
        self.eval()
        out = self.forward_weighted(x)
        self.train(was_training)
        return out

    def trainable_parameters(self):
        return self.parameters()  # the network and the importance head
