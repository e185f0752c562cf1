"""What a running training says about itself: a bar on a terminal, a plain line every 30 s elsewhere.

Without a terminal (CI, nohup, a notebook's subprocess, output sent to a file) a bar draws nothing useful, and a
run that prints nothing for half an hour looks hung; so there it writes one line to stderr at most every
`interval` seconds: step / total, epoch, running loss, the last validation metric, and the time left.
"""

from __future__ import annotations

import sys
import time


class ProgressReport:
    def __init__(self, total: int, initial: int, steps_per_epoch: int, enabled: bool, interval: float = 30.0):
        self.total, self.spe, self.interval = total, steps_per_epoch, interval
        self.enabled = enabled
        self.terminal = enabled and sys.stderr.isatty()
        self.start_step, self.started = initial, time.monotonic()
        self.next_line = self.started + interval
        self.validation = ""
        self.bar = None
        if self.terminal:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=False)

    def step(self, step: int, running_loss) -> None:
        """After each optimizer step; `running_loss()` is called only when a line is written (it syncs)."""
        if self.bar is not None:
            self.bar.update(1)
            return
        if not self.enabled or time.monotonic() < self.next_line:
            return
        now = time.monotonic()
        self.next_line = now + self.interval
        rate = (step - self.start_step) / max(now - self.started, 1e-9)
        left = (self.total - step) / rate if rate > 0 else float("inf")
        loss = running_loss()
        parts = [
            f"step {step}/{self.total}",
            f"epoch {step / self.spe:.1f}",
            *([f"loss {loss:.4g}"] if loss is not None else []),
            *([self.validation] if self.validation else []),
            f"{_duration(left)} left",
        ]
        print("weaklab: " + ", ".join(parts), file=sys.stderr, flush=True)

    def evaluated(self, loss: float, metric: str, value: float) -> None:
        self.validation = f"val {metric} {value:.4g}"
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}", val=f"{value:.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    minutes, s = divmod(int(seconds + 0.5), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s" if m else f"{s}s"
