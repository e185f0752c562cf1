"""What the partial-label methods share: they train on each sample with a candidate set S_i, from S_i.

A sample without one (every class a candidate: unlabeled) tells them nothing; their papers have none, and in a
stream of mostly such samples PL-CR's consistency to its own predictions is all that acts on most rows and it
collapses (BENCHMARKS.md). They read one stream of the informed samples; ILL reads both kinds.

The candidate matrix comes from the run's supervision (`Context.supervision`); it is a non-persistent buffer (data,
not state: it is rebuilt from the config on resume, so it does not bloat checkpoints).
"""

from __future__ import annotations

import torch

from .base import Method


class PartialLabelMethod(Method):
    uses_unlabeled = False
    single_stream = True
    tasks = ("classification",)
    supervision_kind = "partial"
    # PL-CR's paper pads and crops by 4 pixels of 28 or 32 and adds no input noise; its baselines meet the same view
    weak_view = (1 / 8, 0.0)
    candidates: torch.Tensor  # buffer: N×C bool

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        self.register_buffer("candidates", ctx.supervision.candidates.clone(), persistent=False)

    def uniform_over_candidates(self) -> torch.Tensor:
        """The N×C table every re-weighting method starts from: 1/|S_i| on each candidate."""
        s = self.candidates.float()
        return s / s.sum(1, keepdim=True)
