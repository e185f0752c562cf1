"""Checkpoint files: only tensors and plain containers, written atomically, loaded with weights_only=True."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import WeaklabError

FORMAT = "weaklab-checkpoint-1"


def save(state: dict, path: Path) -> None:
    """Write to a temporary file, then rename: a kill during a save never leaves a broken file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load(path: Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise WeaklabError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated, corrupt, or a file that is no checkpoint at all
        raise WeaklabError(
            f"checkpoint {path} is unreadable ({type(e).__name__}); it is corrupt or not a weaklab checkpoint"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
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
