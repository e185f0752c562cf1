"""Model zoo: backbones for images and flat features, wrapped in a multi-head `Network`."""
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
MODELS = ("cnn13", "wrn28_2", "small_cnn", "mlp", "lenet", "wrn34_10", "resnet18", "resnet50")
IMAGE_MODELS = ("cnn13", "wrn28_2", "small_cnn", "lenet", "wrn34_10", "resnet18", "resnet50")


def auto_model(input_shape: tuple[int, ...]) -> str:
    """Pick a default model name from the per-sample input shape."""
    if len(input_shape) == 1:
        return "mlp"
    if len(input_shape) == 3:
        return "cnn13" if min(input_shape[1:]) >= 32 else "small_cnn"
    raise ValueError(f"cannot pick a model for input shape {tuple(input_shape)}: expected (D,) or (C, H, W)")


def build_model(name: str, *, input_shape: tuple[int, ...], out_dim: int, heads: int = 1,
                dropout: float | None = None, width: int | None = None) -> Network:
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
    # fail loudly rather than silently ignore a width the architecture fixes
    if width is not None and name in ("cnn13", "wrn28_2", "lenet", "wrn34_10", "resnet18", "resnet50"):
        raise ValueError(f"{name} has fixed widths; width applies only to small_cnn and mlp")

    if name in IMAGE_MODELS:
        if len(input_shape) != 3:
            raise ValueError(f"{name} is an image model and needs input_shape (C, H, W), got {input_shape}; "
                             "use 'mlp' for flat features")
        c, h, w = input_shape
        if name == "cnn13" and min(h, w) < 32:
            raise ValueError(f"cnn13 needs images of at least 32x32, got {h}x{w}; use small_cnn for smaller images")
        # two 2x2 max-pools need at least 4 pixels per side
        if name == "small_cnn" and min(h, w) < 4:
            raise ValueError(f"small_cnn needs images of at least 4x4, got {h}x{w}")
        if name == "lenet" and min(h, w) < 16:
            raise ValueError(f"lenet needs images of at least 16x16, got {h}x{w}; use small_cnn for smaller images")

    if name == "cnn13":
        backbone = CNN13(c, dropout=0.5 if dropout is None else dropout)
    elif name == "wrn28_2":
        backbone = WRN(c, depth=28, widen=2, dropout=0.0 if dropout is None else dropout)
    elif name == "wrn34_10":
        backbone = WRN(c, depth=34, widen=10, dropout=0.0 if dropout is None else dropout)
    elif name == "lenet":
        backbone = LeNet(c, (h, w), dropout=0.0 if dropout is None else dropout)
    elif name in ("resnet18", "resnet50"):
        make = resnet18 if name == "resnet18" else resnet50
        backbone = make(c, dropout=0.0 if dropout is None else dropout)
    elif name == "small_cnn":
        backbone = SmallCNN(c, width=width or 32, dropout=SMALL_CNN_DROPOUT if dropout is None else dropout)
    else:
        d = 1
        for s in input_shape:
            d *= s
        backbone = MLP(d, width=width or 256, dropout=0.5 if dropout is None else dropout)
    return Network(backbone, out_dim, heads)


__all__ = ["MODELS", "Network", "CNN13", "WRN", "SmallCNN", "MLP", "LeNet", "ResNet", "resnet18", "resnet50", "auto_model", "build_model"]
