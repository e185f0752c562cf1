"""The methods: one file each. A method registers itself by defining its class (`Method.__init_subclass__`), so
every module of this package is imported here and adding a method needs no edit elsewhere.

May import: config, errors, core, models, data.supervision and data.views (what a method is given); never the engine."""

from __future__ import annotations

import importlib
import pkgutil

from .base import METHODS, Batch, Context, Method, Progress, check_fits, method_class

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
# listed by family: the supervised baseline, semi-supervised, noisy labels, partial labels, mixed, regression only
_FAMILIES = ("semi_supervised", "noisy", "partial", "mixed")
_listed = sorted(
    METHODS.items(),
    key=lambda item: (
        item[0] != "supervised",
        _FAMILIES.index(item[1].supervision_kind),
        item[1].tasks == ("regression",),
        item[0],
    ),
)
METHODS.clear()
METHODS.update(_listed)


__all__ = ["METHODS", "Batch", "Context", "Method", "Progress", "check_fits", "method_class"]
