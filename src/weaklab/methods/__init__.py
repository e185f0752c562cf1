"""The method registry: name -> class. A method registers by being listed here."""

from __future__ import annotations

from ..errors import WeaklabError
from .base import Batch, Context, Method, Progress
from .cc import CC
from .gce import GCE
from .mean_teacher import MeanTeacher
from .pi_model import PiModel
from .plcr import PLCR
from .proden import PRODEN
from .rc import RC
from .scn import SCN
from .supervised import Supervised
from .temporal_ensembling import TemporalEnsembling
from .ucvme import UCVME

METHODS: dict[str, type[Method]] = {m.name: m for m in (Supervised, PiModel, TemporalEnsembling, MeanTeacher)}
METHODS.update({m.name: m for m in (SCN, GCE)})  # noisy labels
METHODS.update({m.name: m for m in (PLCR, PRODEN, CC, RC)})  # partial labels
METHODS[UCVME.name] = UCVME  # regression with uncertainty


def method_class(name: str) -> type[Method]:
    if name not in METHODS:
        raise WeaklabError(f"unknown method {name!r}; available: {', '.join(METHODS)}")
    return METHODS[name]


def settings_class(name: str):
    return method_class(name).Settings


__all__ = ["METHODS", "Batch", "Context", "Method", "Progress", "method_class", "settings_class"]
