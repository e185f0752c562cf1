"""Model zoo: a table of backbones for images and flat features (name → builder, the inputs it suits, its default
dropout), each wrapped in a multi-head `Network`.

May import: torch and its own modules only."""

import math
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .cnn13 import CNN13
from .lenet import LeNet
from .mlp import MLP
from .network import Network
from .resnet import ResNet, resnet18, resnet50
from .small_cnn import SmallCNN
from .wrn import WRN

# The papers' 0.5 sits in 128-channel layers; in a 32-wide network it drowns the signal of few labels (measured on
# the 8×8 digits, BENCHMARKS.md, and on 28×28 digits: docs/SCHEDULES.md).
SMALL_CNN_DROPOUT = 0.2


@dataclass(frozen=True)
class Model:
    """One entry of the model table: how to build the backbone and what it suits."""

    build: Callable[[tuple[int, ...], float, int | None], nn.Module]  # (input shape, dropout, width) -> backbone
    inputs: str  # image: (C, H, W) only | any: flattens whatever it gets
    dropout: float  # default dropout
    min_side: int = 1  # smallest image side it takes
    width: int | None = None  # default width where it can be set; None: the architecture fixes its widths


def _width(width: int | None) -> int:
    """The width `build_model` passes to a model that takes one: the caller's, else the entry's default."""
    assert width is not None
    return width


MODELS: dict[str, Model] = {
    "cnn13": Model(lambda s, p, w: CNN13(s[0], dropout=p), "image", 0.5, min_side=32),  # Π/TE/MT's ConvNet
    "wrn28_2": Model(lambda s, p, w: WRN(s[0], depth=28, widen=2, dropout=p), "image", 0.0),
    "small_cnn": Model(
        lambda s, p, w: SmallCNN(s[0], width=_width(w), dropout=p), "image", SMALL_CNN_DROPOUT, min_side=4, width=32
    ),
    "mlp": Model(lambda s, p, w: MLP(math.prod(s), width=_width(w), dropout=p), "any", 0.5, width=256),
    "lenet": Model(lambda s, p, w: LeNet(s[0], s[1:], dropout=p), "image", 0.0, min_side=16),
    "wrn34_10": Model(lambda s, p, w: WRN(s[0], depth=34, widen=10, dropout=p), "image", 0.0),
    "resnet18": Model(lambda s, p, w: resnet18(s[0], dropout=p), "image", 0.0),
    "resnet50": Model(lambda s, p, w: resnet50(s[0], dropout=p), "image", 0.0),
}


def auto_model(input_shape: tuple[int, ...]) -> str:
    """Pick a default model name from the per-sample input shape."""
    if len(input_shape) == 1:
        return "mlp"
    if len(input_shape) == 3:
        return "cnn13" if min(input_shape[1:]) >= 32 else "small_cnn"
    raise ValueError(f"cannot pick a model for input shape {tuple(input_shape)}: expected (D,) or (C, H, W)")


def build_model(
    name: str,
    *,
    input_shape: tuple[int, ...],
    out_dim: int,
    heads: int = 1,
    dropout: float | None = None,
    width: int | None = None,
) -> Network:
    """Build model `name` (one of MODELS, or "auto") for inputs of per-sample shape `input_shape`.

    `dropout=None` and `width=None` mean the model's own defaults. Returns a `Network`
    whose forward gives (B, out_dim) logits, or a tuple of them when heads > 1.
    """
    input_shape = tuple(input_shape)
    if name == "auto":
        name = auto_model(input_shape)
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)} or 'auto'")
    if out_dim < 1 or heads < 1:
        raise ValueError(f"out_dim and heads must be >= 1, got out_dim={out_dim}, heads={heads}")
    if dropout is not None and not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if width is not None and width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    model = MODELS[name]
    if width is not None and model.width is None:  # fail loudly rather than ignore a width the architecture fixes
        adjustable = " and ".join(n for n, m in MODELS.items() if m.width is not None)
        raise ValueError(f"{name} has fixed widths; width applies only to {adjustable}")
    if model.inputs == "image":
        if len(input_shape) != 3:
            raise ValueError(
                f"{name} is an image model and needs input_shape (C, H, W), got {input_shape}; "
                "use 'mlp' for flat features"
            )
        h, w = input_shape[1:]
        if min(h, w) < model.min_side:
            smaller = "" if name == "small_cnn" else "; use small_cnn for smaller images"
            side = model.min_side
            raise ValueError(f"{name} needs images of at least {side}x{side}, got {h}x{w}{smaller}")
    backbone = model.build(input_shape, model.dropout if dropout is None else dropout, width or model.width)
    return Network(backbone, out_dim, heads)


__all__ = ["MODELS", "Model", "Network", "ResNet", "auto_model", "build_model"]
