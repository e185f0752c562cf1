"""Checkpoint files: only tensors and plain containers, written atomically, loaded with weights_only=True.

A run keeps `last.pt` (where the loop is) and `best.pt` (the step selected on validation). A save writes a
temporary file and renames it, so a kill or a full disk during a save leaves the previous file as it was; a
`best.pt` is a second name (hard link) of the `last.pt` just written, so it costs no disk space or time.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import torch

from ..errors import WeaklabError

FORMAT = "weaklab-checkpoint-1"


def save(state: dict, path: Path) -> None:
    """Write `state` to `path` atomically; on failure remove the partial file and say what was kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save({"format": FORMAT, **state}, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:  # torch.save reports a full disk as RuntimeError from its writer
        _write_failed(tmp, path, e)


def link(source: Path, path: Path) -> None:
    """Make `path` the same checkpoint as `source` (a hard link; a copy where links are not supported)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:  # a file system without hard links
            shutil.copyfile(source, tmp)
        os.replace(tmp, path)
    except OSError as e:
        _write_failed(tmp, path, e)


def _write_failed(tmp: Path, path: Path, error: Exception) -> None:
    tmp.unlink(missing_ok=True)
    full = (isinstance(error, OSError) and error.errno == errno.ENOSPC) or "space" in str(error).lower()
    reason = (
        "the disk is full" if full else f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    )
    kept = f"the previous {path.name} is kept" if path.exists() else f"no {path.name} had been written yet"
    raise WeaklabError(
        f"could not write checkpoint {path} ({reason}); {kept}. Free space or fix the folder, then "
        f"`weaklab resume {path.parent.parent}`"
    ) from None


def load(path: Path, map_location="cpu", mmap: bool = False) -> dict:
    """A checkpoint's state; `mmap`: map the file instead of reading it (to look at a few entries)."""
    path = Path(path)
    if not path.is_file():
        raise WeaklabError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:  # truncated, corrupt, or a file that is no checkpoint at all
        raise WeaklabError(
            f"checkpoint {path} is unreadable ({type(e).__name__}); it is corrupt or not a weaklab checkpoint"
        ) from None
    found = state.get("format") if isinstance(state, dict) else None
    if isinstance(found, str) and found.startswith("weaklab-checkpoint-") and found != FORMAT:
        raise WeaklabError(
            f"{path} is a weaklab checkpoint of format {found!r}; this weaklab reads {FORMAT!r}: "
            "use the weaklab version that wrote it, or train again"
        )
    if found != FORMAT:
        raise WeaklabError(f"{path} is not a weaklab checkpoint")
    return state


def rng_state() -> dict:
    state: dict[str, torch.Tensor | list[torch.Tensor]] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
