"""Catch host synchronisation in the hot path, on any device.

On CUDA a value read back to the host (`.item()`, `float(t)`, `if t:`), a data-dependent shape (`nonzero`, boolean
-mask indexing, `unique`) or a copy to the CPU makes the host wait for every queued kernel, which serialises the
step. On CPU nothing waits, so these calls go unnoticed there: `host_syncs()` records each one made from weaklab's
own code (PyTorch's internals are not ours to change) with the line that made it, so a test can fail on a CPU
machine. On CUDA it also turns on PyTorch's own detector (`torch.cuda.set_sync_debug_mode`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

PACKAGE = str(Path(__file__).resolve().parents[1])  # .../weaklab: calls from its files are the ones recorded

# Tensor methods that read a value back or give a shape that depends on values.
READS = ("item", "tolist", "cpu", "numpy", "nonzero", "argwhere", "masked_select", "unique", "bincount")
CASTS = {"__bool__": "bool(tensor)", "__float__": "float(tensor)", "__int__": "int(tensor)"}  # `if t:`, float(t)
FUNCTIONS = ("nonzero", "argwhere", "masked_select", "unique", "bincount")  # the same, as torch.* functions
# functions that check their result on the host: one_hot (class range), linalg.inv (singularity)
CHECKED = ((torch.nn.functional, "one_hot"), (torch.linalg, "inv"))


def _is_mask(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(torch.is_tensor(i) and i.dtype == torch.bool and i.dim() > 0 for i in items)


@contextlib.contextmanager
def host_syncs(scope: str = PACKAGE) -> Iterator[list[str]]:
    """Yield a list that fills with "what at file:line" for every host sync asked for inside by code in the files
    under `scope` (weaklab's own)."""
    found: list[str] = []

    def record(what: str) -> None:
        frame = sys._getframe(2)
        where = frame.f_code.co_filename
        if where.startswith(scope) and not where.endswith("sync_guard.py"):
            found.append(f"{what} at {Path(where).name}:{frame.f_lineno}")

    def wrap(name, original, check=None):
        def guarded(*args, **kwargs):
            if check is None or check(*args, **kwargs):
                record(name)
            return original(*args, **kwargs)

        return guarded

    saved: list[tuple[object, str, object]] = []  # (owner, name, its own attribute or None where inherited)

    def patch(owner, name, replacement) -> None:
        saved.append((owner, name, vars(owner).get(name)))
        setattr(owner, name, replacement)

    for name in READS:
        patch(torch.Tensor, name, wrap(f".{name}()", getattr(torch.Tensor, name)))
    for name, what in CASTS.items():
        patch(torch.Tensor, name, wrap(what, getattr(torch.Tensor, name)))
    for name in FUNCTIONS:
        patch(torch, name, wrap(f"torch.{name}()", getattr(torch, name)))
    for module, name in CHECKED:
        patch(module, name, wrap(f"{module.__name__}.{name}()", getattr(module, name)))
    # torch.where(mask) with one argument is nonzero
    patch(torch, "where", wrap("torch.where(mask)", torch.where, lambda *a, **k: len(a) + len(k) == 1))
    patch(
        torch.Tensor, "__getitem__", wrap("boolean-mask indexing", torch.Tensor.__getitem__, lambda t, i: _is_mask(i))
    )
    patch(
        torch.Tensor,
        "__setitem__",
        wrap(
            "boolean-mask assignment of a tensor",
            torch.Tensor.__setitem__,
            lambda t, i, v: _is_mask(i) and torch.is_tensor(v) and v.numel() > 1,
        ),
    )
    cuda = torch.cuda.is_available()
    mode = torch.cuda.get_sync_debug_mode() if cuda else 0
    try:
        if cuda:
            torch.cuda.set_sync_debug_mode("error")
        yield found
    finally:
        if cuda:
            torch.cuda.set_sync_debug_mode(mode)
        for owner, name, original in reversed(saved):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
