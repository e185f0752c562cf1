"""Loss bookkeeping without host synchronisation: running sums and a NaN/explosion tripwire, on the device.

The engine reads them (one sync) only every `log_every` steps and at evaluations.
"""

from __future__ import annotations

import torch

from ..errors import TrainingDiverged


class LossMonitor:
    def __init__(self, device, max_loss: float):
        self.device, self.max_loss = device, max_loss
        self.bad_step = torch.tensor(-1, device=device)
        self.bad_values: torch.Tensor | None = None
        self.names: list[str] = []
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, torch.Tensor | float] = {}
        self.last: dict[str, float] = {}
        self.count = 0

    def update(self, step: int, loss: torch.Tensor, logs: dict) -> None:
        tensors = {"loss": loss.detach().float(), **{k: v.float() for k, v in logs.items() if torch.is_tensor(v)}}
        for k, v in tensors.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.last.update({k: float(v) for k, v in logs.items() if not torch.is_tensor(v)})
        self.count += 1
        # Remember the first step whose loss was not finite or exploded, with its terms.
        values = torch.stack(list(tensors.values()))
        bad = ~torch.isfinite(values[0]) | (values[0].abs() > self.max_loss)
        first = bad & (self.bad_step < 0)
        self.bad_step = torch.where(first, torch.tensor(step, device=self.device), self.bad_step)
        if self.bad_values is None or self.bad_values.shape != values.shape:
            self.bad_values = values
        else:
            self.bad_values = torch.where(first, values, self.bad_values)
        self.names = list(tensors)

    def check(self, steps_per_epoch: int, last_good: str) -> None:
        """Raise TrainingDiverged naming the first bad step and its loss terms."""
        step = int(self.bad_step)
        if step < 0:
            return
        assert self.bad_values is not None  # recorded with the bad step
        terms = ", ".join(f"{n}={v:.4g}" for n, v in zip(self.names, self.bad_values.tolist()))
        raise TrainingDiverged(
            f"training diverged at step {step} (epoch {step // steps_per_epoch}): {terms}. {last_good} "
            f"Try a lower train.lr or set train.grad_clip."
        )

    def running_loss(self) -> float | None:
        """The mean loss since the last reset (one host sync), None before the first step."""
        return float(self.sums["loss"]) / self.count if self.count else None

    def averages(self) -> dict[str, float]:
        out = {k: float(v) / max(self.count, 1) for k, v in self.sums.items()}
        out.update(self.last)
        return out
