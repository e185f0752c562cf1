"""Schedule lengths, read relative to the run: the one rule every ramp, warm-up, decay and start uses.

A length is written as
    "80/300"          80 epochs of a 300-epoch run: a share of the run, in the paper's own numbers
    "25%" or "1/4"    a share of the run
    "10 epochs", 10   epochs, explicit (a plain number is epochs)
    "500 steps"       optimizer steps, explicit
Shares are the defaults: at the paper's length they give the paper's epochs exactly, and a run thirty times
shorter gets the same shape thirty times faster. Explicit epochs or steps stay what they say.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Literal

from ..errors import WeaklabError

_SHARE = re.compile(r"^\s*([0-9.]+)\s*/\s*([0-9.]+)\s*$")
_PERCENT = re.compile(r"^\s*([0-9.]+)\s*%\s*$")
_UNIT = re.compile(r"^\s*([0-9.]+)\s*(epochs?|steps?)\s*$")
# What `parse` reads a length as: a share (a, b) of the run, or a number of epochs or steps
Length = tuple[Literal["share"], tuple[float, float]] | tuple[Literal["epochs", "steps"], float]
HELP = "a number of epochs, 'N epochs', 'N steps', or a share of the run such as '80/300' or '25%'"


@dataclass(frozen=True)
class Run:
    """The run a length is read against."""

    epochs: float
    steps_per_epoch: int

    @property
    def steps(self) -> int:
        return int(self.epochs * self.steps_per_epoch)

    def epochs_of(self, length, key: str = "a schedule length", overrun: str | None = None) -> float:
        """The length in (fractional) epochs of this run. `overrun`: what goes wrong when an explicit length is
        longer than the run, said in a one-line warning naming `key` (a share always fits)."""
        parsed = parse(length, key)
        if parsed[0] == "share":
            a, b = parsed[1]
            return a * self.epochs / b  # multiply first: 80 * 300 / 300 is exactly 80
        kind, value = parsed
        epochs = value / self.steps_per_epoch if kind == "steps" else value
        if overrun and epochs > self.epochs:
            warnings.warn(
                f"{key}={length!r} is {epochs:g} epochs but the run has {self.epochs:g}: {overrun}. "
                f"Give it as a share of the run instead (e.g. '{min(epochs / max(self.epochs, 1e-9), 1.0):.0%}').",
                stacklevel=3,
            )
        return epochs

    def steps_of(self, length, key: str = "a schedule length") -> float:
        return self.epochs_of(length, key) * self.steps_per_epoch


def parse(length, key: str) -> Length:
    """("share", (a, b)) | ("epochs", e) | ("steps", s); a one-line error naming `key` otherwise."""
    if isinstance(length, bool):
        raise WeaklabError(f"{key} must be {HELP}, got {length!r}")
    if isinstance(length, (int, float)):
        if not math.isfinite(length) or length < 0:
            raise WeaklabError(f"{key} must be {HELP} (not negative), got {length!r}")
        return "epochs", float(length)
    text = str(length)
    if m := _SHARE.match(text):
        a, b = _number(m[1], key), _number(m[2], key)
        if b <= 0 or a > b:
            raise WeaklabError(f"{key}={text!r}: a share a/b needs 0 <= a <= b and b > 0 (e.g. '80/300')")
        return "share", (a, b)
    if m := _PERCENT.match(text):
        p = _number(m[1], key)
        if p > 100:
            raise WeaklabError(f"{key}={text!r}: a share of the run is at most 100%")
        return "share", (p, 100.0)
    if m := _UNIT.match(text):
        return ("steps" if m[2].startswith("step") else "epochs"), _number(m[1], key)
    raise WeaklabError(f"{key} must be {HELP}, got {text!r}")


def _number(text: str, key: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise WeaklabError(f"{key} must be {HELP}, got {text!r}") from None


def tick(t: float, unit: float) -> float:
    """t rounded down to whole units: a ramp the paper evaluates once per epoch is evaluated once per `unit`
    (one paper-epoch of this run), so at the paper's length it is per epoch, exactly."""
    if unit <= 0:
        return t
    return math.floor(t / unit + 1e-9) * unit
