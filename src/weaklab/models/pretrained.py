"""Load pretrained weights into a network by name, and say what loaded.

Accepts a torchvision-format state dict (`conv1.weight`, ..., `fc.bias`), a training checkpoint whose
tensors sit under `state_dict` (or `model`) and/or carry DataParallel's `module.` prefix, or a weaklab run's
checkpoint (its predicting network's backbone). A file name matches a
network name directly or under the `Network`'s `backbone.` prefix. Tensors without a matching name (a
torchvision file's `fc.*`: the weaklab heads replace it) are skipped. A tensor whose shape differs means the
file is another architecture (say ResNet-18 weights into ResNet-50, where BN vectors of 64 would still fit):
the whole file is refused, naming the tensors. One exception is adapted rather than refused: a colour first
conv for a 1-channel input is summed over its input channels (the usual grayscale conversion). Loading nothing
is an error too: the official SCN code silently loads nothing when the names do not match.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import WeaklabError

CONTAINERS = ("state_dict", "model", "model_state_dict", "net")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weight file, unwrapped from checkpoint containers, `module.` prefixes removed."""
    path = Path(path)
    if not path.is_file():
        raise WeaklabError(f"pretrained weights {path} do not exist; give the path of a .pth/.pt file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, corrupt, a pickle with code in it, or not a torch file at all
        raise WeaklabError(
            f"pretrained weights {path} are unreadable ({type(e).__name__}): the file is corrupt, "
            "not a torch file, or holds more than tensors (re-save it as a plain state_dict)"
        ) from None
    if isinstance(state, dict) and str(state.get("format", "")).startswith("weaklab-checkpoint-"):
        return _weaklab_backbone(state, path)
    while isinstance(state, dict) and not any(isinstance(v, torch.Tensor) for v in state.values()):
        inner = next((state[k] for k in CONTAINERS if isinstance(state.get(k), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict):
        raise WeaklabError(f"pretrained weights {path} hold a {type(state).__name__}, not a state_dict of tensors")
    tensors = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            while key.startswith("module."):
                key = key[len("module.") :]
            tensors[key] = value
    return tensors


def _weaklab_backbone(state: dict, path: Path) -> dict[str, torch.Tensor]:
    """A weaklab run's checkpoint: the backbone of the network it predicts with (its heads are for its own
    classes or targets, so the new run's heads start fresh)."""
    prefix = f"{state.get('predictor', 'model')}.backbone."
    tensors = {
        k[len(prefix) - len("backbone.") :]: v
        for k, v in state.get("method", {}).items()
        if k.startswith(prefix) and isinstance(v, torch.Tensor)
    }
    if not tensors:
        raise WeaklabError(f"pretrained weights {path}: this weaklab checkpoint holds no network backbone")
    return tensors


def load_pretrained(network: nn.Module, path: str | Path) -> dict:
    """Copy every tensor of `path` whose name and shape match into `network`; return the report.

    The report counts `loaded`, `skipped` (no such name in the network), `adapted` (colour first conv summed
    to one channel) and `mismatched` (always 0: any mismatch raises) tensors of the file, and `not_covered`
    network tensors left at their initial values.
    """
    tensors = read_state_dict(path)
    target = network.state_dict()
    matched, skipped, mismatched, adapted = {}, [], [], []
    for key, value in tensors.items():
        name = next((n for n in (key, "backbone." + key) if n in target), None)
        if name is None:
            skipped.append(key)
            continue
        if _colour_to_gray(value, target[name]):
            value = value.sum(1, keepdim=True)
            adapted.append(key)
        if target[name].shape != value.shape:
            mismatched.append(f"{key} {tuple(value.shape)} vs {tuple(target[name].shape)}")
        else:
            matched[name] = value
    if mismatched:
        raise WeaklabError(
            f"pretrained weights {path}: {len(mismatched)} tensors have another shape than this network's "
            f"({'; '.join(mismatched[:3])}{'; ...' if len(mismatched) > 3 else ''}): the file is another "
            "architecture; check model.name (nothing was loaded)"
        )
    if not matched:
        raise WeaklabError(
            f"pretrained weights {path}: none of the {len(tensors)} tensors fit this network: no names "
            f"matched (file has e.g. {', '.join(list(tensors)[:3]) or 'nothing'}; network expects e.g. "
            f"{', '.join(list(target)[:3])}); check model.name matches the file's architecture"
        )
    with torch.no_grad():
        for name, value in matched.items():
            target[name].copy_(value)
    loaded = list(matched)
    return {
        "path": str(path),
        "loaded": len(loaded),
        "skipped": len(skipped),
        "mismatched": len(mismatched),
        "not_covered": len(set(target) - set(loaded)),
        "adapted": len(adapted),
        "skipped_names": skipped,
        "mismatched_names": mismatched,
    }


def _colour_to_gray(value: torch.Tensor, target: torch.Tensor) -> bool:
    """A first conv of C input channels where the network has one (same kernels otherwise)."""
    return (
        value.ndim == 4
        and target.ndim == 4
        and target.shape[1] == 1
        and value.shape[1] > 1
        and value.shape[0] == target.shape[0]
        and value.shape[2:] == target.shape[2:]
    )


def describe(report: dict) -> str:
    """One line for the console."""
    line = (
        f"pretrained {report['path']}: loaded {report['loaded']} tensors ({report['adapted']} summed from colour "
        f"to 1 channel), skipped {report['skipped']} with no matching name, {report['mismatched']} of another "
        f"shape; {report['not_covered']} network tensors keep their initial values"
    )
    if report["skipped_names"]:
        line += f" (skipped: {', '.join(report['skipped_names'][:4])}{', ...' if report['skipped'] > 4 else ''})"
    if report["mismatched_names"]:
        line += f" (refused: {', '.join(report['mismatched_names'][:2])}{', ...' if report['mismatched'] > 2 else ''})"
    return line
