"""Labeled and unlabeled streams with their own batch sizes; every batch carries sample indices.

An epoch is one pass over the unlabeled stream: a fresh permutation cut into fixed-size batches (the last one
filled from the permutation's start, so shapes stay static and every sample is seen at least once). The labeled
stream cycles through permutations of the labeled samples. Each epoch's plan depends only on (seed, epoch), so a
resumed run draws exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import math

import torch

from ...errors import WeaklabError


class TwoStreamSampler:
    def __init__(
        self, labeled: torch.Tensor, unlabeled: torch.Tensor, batch_labeled: int, batch_unlabeled: int, seed: int
    ):
        if len(labeled) == 0:
            raise WeaklabError("the labeled set is empty: give labels_per_class >= 1 or a positive labeled_fraction")
        if batch_labeled < 1 or batch_unlabeled < 1:
            raise WeaklabError("train.batch_labeled and train.batch_unlabeled must be at least 1")
        self.labeled, self.unlabeled = labeled.cpu(), unlabeled.cpu()
        self.batch_labeled, self.batch_unlabeled, self.seed = batch_labeled, batch_unlabeled, seed
        self.steps_per_epoch = max(1, math.ceil(len(unlabeled) / batch_unlabeled))

    def epoch(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Index plans for one epoch: (steps×batch_labeled, steps×batch_unlabeled), on the CPU."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        steps = self.steps_per_epoch
        ulb = self.unlabeled[torch.randperm(len(self.unlabeled), generator=g)]
        ulb = _cycle(ulb, steps * self.batch_unlabeled)
        lb_needed = steps * self.batch_labeled
        rounds = math.ceil(lb_needed / len(self.labeled))
        lb = torch.cat([self.labeled[torch.randperm(len(self.labeled), generator=g)] for _ in range(rounds)])
        return lb[:lb_needed].view(steps, -1), ulb.view(steps, -1)


def _cycle(x: torch.Tensor, n: int) -> torch.Tensor:
    return x.repeat(math.ceil(n / len(x)))[:n]
