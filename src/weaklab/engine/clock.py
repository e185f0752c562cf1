"""Where a training step's time goes, for `weaklab bench speed`. Training uses NoClock: no timing, no syncs.

The trainer calls `clock.mark(phase)` at the end of each phase of a step; a StepClock adds the time since the
previous mark to that phase. On CUDA it synchronises the device first (kernels run asynchronously), which is
why it exists only in the benchmark's profiling mode.
"""

from __future__ import annotations

import time
from collections import defaultdict

import torch


class NoClock:
    def mark(self, phase: str) -> None:
        pass


class StepClock:
    def __init__(self, device: torch.device):
        self.device = device
        self.totals: dict[str, float] = defaultdict(float)
        self.last: float | None = None

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def start(self) -> None:
        self.last = self._now()

    def mark(self, phase: str) -> None:
        now = self._now()
        if self.last is not None:
            self.totals[phase] += now - self.last
        self.last = now

    def reset(self) -> None:
        self.totals.clear()
        self.last = None
