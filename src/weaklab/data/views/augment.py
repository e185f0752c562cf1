"""Strong augmentation as batched tensor ops with per-sample random choices: AutoAugment (CIFAR-10 and SVHN
policies), RandAugment and Cutout.

Images are float B×C×H×W in [0, 1]. Every sample draws its own sub-policy / ops, probabilities, signs and Cutout
box from a device generator. On a GPU each op runs on the whole batch and each sample keeps its own op's result, so
no shape depends on the draws (no host sync); on a CPU each op runs once on the samples that chose it. Ops follow
PIL's definitions (the reference implementations of AutoAugment and RandAugment are PIL-based): nearest resampling
and grey fill (128) for the geometric ops, 8-bit quantisation for Posterize, Solarize and Equalize, PIL's blend
for the enhance ops.

Why not kornia: its AutoAugment draws one sub-policy per call and its RandAugment one set of ops per call (both
`get_forward_sequence` sample once for the whole batch), while the papers draw per image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

FILL = 128 / 255  # AutoAugment's grey fill for pixels that shear / translate / rotate bring in

# --- the 14 ops: op(x, magnitude) with a per-sample magnitude in the op's own units ----------------------------


def _affine(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Warp each image with its 2×3 pixel-space matrix `a` mapping output pixel (col, row) to input pixel."""
    b, _, h, w = x.shape
    a3 = torch.cat([a, torch.tensor([0.0, 0.0, 1.0], device=x.device).expand(b, 1, 3)], 1)
    # pixel (col, row) ↔ grid_sample's [-1, 1] coordinates, both ways written out (an inverse would check for
    # singularity: a host sync on a GPU)
    to_norm = torch.tensor([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1], [0, 0, 1]], device=x.device)
    from_norm = torch.tensor([[w / 2, 0, (w - 1) / 2], [0, h / 2, (h - 1) / 2], [0, 0, 1]], device=x.device)
    theta = to_norm @ a3 @ from_norm
    grid = F.affine_grid(theta[:, :2], list(x.shape), align_corners=False)
    ones = torch.ones_like(x[:, :1])
    warped = F.grid_sample(torch.cat([x, ones], 1), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    inside = warped[:, -1:]
    return warped[:, :-1] + (1 - inside) * FILL


def _matrix(m: torch.Tensor, entries: dict) -> torch.Tensor:
    """Per-sample 2×3 matrices: the identity with `entries` ((row, col) → a value per sample)."""
    a = torch.eye(2, 3, device=m.device).repeat(len(m), 1, 1)
    for (i, j), v in entries.items():
        a[:, i, j] = v
    return a


# The geometric ops as their matrices (magnitude m per sample, image size h×w): apply_ops warps once for all.
# PIL shears about pixel corners, not centres: hence the m/2 shift in index coordinates.
def _shear_x(m, h, w):
    return _matrix(m, {(0, 1): m, (0, 2): m / 2})


def _shear_y(m, h, w):
    return _matrix(m, {(1, 0): m, (1, 2): m / 2})


def _translate_x(m, h, w):  # m in pixels
    return _matrix(m, {(0, 2): m})


def _translate_y(m, h, w):
    return _matrix(m, {(1, 2): m})


def _rotate(m, h, w):  # m in degrees, about the image centre
    t = m * math.pi / 180
    cos, sin = torch.cos(t), torch.sin(t)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    return torch.stack([torch.stack([cos, -sin, cx - cos * cx + sin * cy], 1),
                        torch.stack([sin, cos, cy - sin * cx - cos * cy], 1)], 1)  # fmt: skip


def _warp_op(matrix):
    def op(x, m):
        return _affine(x, matrix(torch.as_tensor(m, device=x.device).float().expand(len(x)), *x.shape[-2:]))

    return op


shear_x, shear_y = _warp_op(_shear_x), _warp_op(_shear_y)
translate_x, translate_y, rotate = _warp_op(_translate_x), _warp_op(_translate_y), _warp_op(_rotate)
GEOMETRY = {"ShearX": _shear_x, "ShearY": _shear_y, "TranslateX": _translate_x, "TranslateY": _translate_y,
            "Rotate": _rotate}  # fmt: skip


def _grey(x):
    if x.shape[1] != 3:
        return x
    return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def _blend(degenerate, x, factor):
    """PIL's ImageEnhance: degenerate + factor · (x - degenerate), clipped."""
    return (degenerate + factor.view(-1, 1, 1, 1) * (x - degenerate)).clamp(0, 1)


def _bytes(x):
    return (x * 255).round()


def brightness(x, m):
    return _blend(torch.zeros_like(x), x, m)


def color(x, m):
    return _blend(_grey(x).expand_as(x), x, m)


def contrast(x, m):
    mean = _bytes(_grey(x)).mean((1, 2, 3), keepdim=True).round() / 255
    return _blend(mean.expand_as(x), x, m)


def sharpness(x, m):
    c = x.shape[1]
    kernel = torch.tensor([[1.0, 1, 1], [1, 5, 1], [1, 1, 1]], device=x.device) / 13
    smooth = F.conv2d(x, kernel.expand(c, 1, 3, 3), groups=c)
    degenerate = x.clone()
    degenerate[..., 1:-1, 1:-1] = smooth  # PIL leaves the border pixels as they are
    return _blend(degenerate, x, m)


def auto_contrast(x, m=None):
    lo, hi = x.amin((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
    return torch.where(hi > lo, (x - lo) / (hi - lo).clamp_min(1e-8), x)


def equalize(x, m=None):
    """PIL's histogram equalisation, per image and channel: lut[i] = (cdf_before(i) + step // 2) // step."""
    b, c, h, w = x.shape
    v = _bytes(x).long().view(b * c, h * w)
    hist = torch.zeros(b * c, 256, device=x.device, dtype=torch.long).scatter_add_(1, v, torch.ones_like(v))
    last = 255 - (hist.flip(1) > 0).long().argmax(1)  # highest value present
    step = (h * w - hist.gather(1, last[:, None])[:, 0]) // 255
    cdf_before = hist.cumsum(1) - hist
    lut = ((cdf_before + (step // 2)[:, None]) // step.clamp_min(1)[:, None]).clamp(0, 255)
    out = lut.gather(1, v).float() / 255
    return torch.where((step > 0)[:, None], out, v.float() / 255).view(b, c, h, w)


def invert(x, m=None):
    return 1 - x


def solarize(x, m):  # m: threshold 0..256; pixels at or above it are inverted
    return torch.where(_bytes(x) >= m.view(-1, 1, 1, 1), 1 - x, x)


def posterize(x, m):  # m: bits kept, 4..8
    keep = 2 ** (8 - m.round()).view(-1, 1, 1, 1)
    return torch.div(_bytes(x), keep, rounding_mode="floor") * keep / 255


def identity(x, m=None):
    return x


# name -> (op, magnitude of a level v in [0, 1], whether the magnitude takes a random sign)
OPS = {
    "ShearX": (shear_x, lambda v, size: 0.3 * v, True),
    "ShearY": (shear_y, lambda v, size: 0.3 * v, True),
    "TranslateX": (translate_x, lambda v, size: 150 / 331 * size[1] * v, True),
    "TranslateY": (translate_y, lambda v, size: 150 / 331 * size[0] * v, True),
    "Rotate": (rotate, lambda v, size: 30 * v, True),
    "Color": (color, lambda v, size: 0.9 * v, True),  # factor 1 ± 0.9 v
    "Contrast": (contrast, lambda v, size: 0.9 * v, True),
    "Brightness": (brightness, lambda v, size: 0.9 * v, True),
    "Sharpness": (sharpness, lambda v, size: 0.9 * v, True),
    "Posterize": (posterize, lambda v, size: 8 - 4 * v, False),
    "Solarize": (solarize, lambda v, size: 256 - 256 * v, False),
    "AutoContrast": (auto_contrast, lambda v, size: v, False),
    "Equalize": (equalize, lambda v, size: v, False),
    "Invert": (invert, lambda v, size: v, False),
    "Identity": (identity, lambda v, size: v, False),
}
ENHANCE = ("Color", "Contrast", "Brightness", "Sharpness")  # their magnitude is a factor around 1
NAMES = list(OPS)


def magnitude(name: str, level: torch.Tensor | float, sign: torch.Tensor | float, size) -> torch.Tensor | float:
    """The op's argument for a level in [0, 1] (AutoAugment: level/9; RandAugment: M/30)."""
    _, scale, signed = OPS[name]
    m = scale(level, size)
    if signed:
        m = m * sign
    return 1 + m if name in ENHANCE else m


# On a CPU nothing waits for a host read, and running each op on only the samples that chose it is about ten times
# less work; on a GPU each such selection is a host sync, so every op runs on the whole batch instead. Both give
# the same images (tests/test_augment.py); the sync tests turn this off to check the GPU path on a CPU.
GROUP_ON_CPU = True


def apply_ops(x: torch.Tensor, op_ids: torch.Tensor, level: torch.Tensor, sign: torch.Tensor, active: torch.Tensor):
    """Apply to each sample b the op NAMES[op_ids[b]] at level[b] where active[b]."""
    op_ids = torch.where(active, op_ids, NAMES.index("Identity"))
    if GROUP_ON_CPU and x.device.type == "cpu":
        return _apply_grouped(x, op_ids, level, sign)
    return _apply_everywhere(x, op_ids, level, sign)


def _apply_grouped(x, op_ids, level, sign):
    """Each op on the samples that chose it (data-dependent shapes)."""
    x = x.clone()
    for k, name in enumerate(NAMES):
        idx = torch.nonzero(op_ids == k).flatten()
        if len(idx) and name != "Identity":
            x[idx] = OPS[name][0](x[idx], magnitude(name, level[idx], sign[idx], x.shape[-2:]))
    return x


def _apply_everywhere(x, op_ids, level, sign):
    """Every op on the whole batch, each sample keeping its own op's result (torch.where): no shape depends on the
    draws. The geometric ops cost one warp together: each sample's matrix is its op's (the identity for others)."""
    size = x.shape[-2:]
    matrix = torch.eye(2, 3, device=x.device).expand(len(x), 2, 3)
    for name, geometry in GEOMETRY.items():
        chosen = (op_ids == NAMES.index(name)).view(-1, 1, 1)
        matrix = torch.where(chosen, geometry(magnitude(name, level, sign, size), *size), matrix)
    warped = torch.tensor([n in GEOMETRY for n in NAMES], device=x.device)[op_ids]  # a gather: no sync
    out = torch.where(warped.view(-1, 1, 1, 1), _affine(x, matrix), x)
    for k, name in enumerate(NAMES):
        if name in GEOMETRY or name == "Identity":
            continue
        out = torch.where((op_ids == k).view(-1, 1, 1, 1), OPS[name][0](x, magnitude(name, level, sign, size)), out)
    return out


def _random_sign(b, device, generator):
    return torch.where(torch.rand(b, device=device, generator=generator) < 0.5, -1.0, 1.0)


# --- policies ----------------------------------------------------------------------------------------------

# AutoAugment (Cubuk et al., 2019), learned sub-policies: two (op, probability, level 0..9) each.
CIFAR10_POLICY = [
    (("Invert", 0.1, 7), ("Contrast", 0.2, 6)), (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
    (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)), (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.5, 8), ("Equalize", 0.9, 2)), (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
    (("Color", 0.4, 3), ("Brightness", 0.6, 7)), (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
    (("Equalize", 0.6, 5), ("Equalize", 0.5, 1)), (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
    (("Color", 0.7, 7), ("TranslateX", 0.5, 8)), (("Equalize", 0.3, 7), ("AutoContrast", 0.4, 8)),
    (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)), (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
    (("Solarize", 0.5, 2), ("Invert", 0.0, 3)), (("Equalize", 0.2, 0), ("AutoContrast", 0.6, 0)),
    (("Equalize", 0.2, 8), ("Equalize", 0.6, 4)), (("Color", 0.9, 9), ("Equalize", 0.6, 6)),
    (("AutoContrast", 0.8, 4), ("Solarize", 0.2, 8)), (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
    (("Solarize", 0.4, 5), ("AutoContrast", 0.9, 3)), (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.9, 2), ("Solarize", 0.8, 3)), (("Equalize", 0.8, 8), ("Invert", 0.1, 3)),
    (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, 1)),
]  # fmt: skip

SVHN_POLICY = [
    (("ShearX", 0.9, 4), ("Invert", 0.2, 3)), (("ShearY", 0.9, 8), ("Invert", 0.7, 5)),
    (("Equalize", 0.6, 5), ("Solarize", 0.6, 6)), (("Invert", 0.9, 3), ("Equalize", 0.6, 3)),
    (("Equalize", 0.6, 1), ("Rotate", 0.9, 3)), (("ShearX", 0.9, 4), ("AutoContrast", 0.8, 3)),
    (("ShearY", 0.9, 8), ("Invert", 0.4, 5)), (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
    (("Invert", 0.9, 6), ("AutoContrast", 0.8, 3)), (("Equalize", 0.6, 3), ("Rotate", 0.9, 3)),
    (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)), (("ShearY", 0.8, 8), ("Invert", 0.7, 4)),
    (("Equalize", 0.9, 5), ("TranslateY", 0.6, 6)), (("Invert", 0.9, 4), ("Equalize", 0.6, 7)),
    (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)), (("Invert", 0.8, 5), ("TranslateY", 0.0, 2)),
    (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)), (("Invert", 0.6, 4), ("Rotate", 0.8, 4)),
    (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)), (("ShearX", 0.1, 6), ("Invert", 0.6, 5)),
    (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)), (("ShearY", 0.8, 4), ("Invert", 0.8, 8)),
    (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)), (("ShearY", 0.8, 5), ("AutoContrast", 0.7, 3)),
    (("ShearX", 0.7, 2), ("Invert", 0.1, 5)),
]  # fmt: skip

# RandAugment (Cubuk et al., 2020): N ops drawn uniformly per image from these 14, all at magnitude M (0..30).
RANDAUGMENT_OPS = ["Identity", "AutoContrast", "Equalize", "Rotate", "Solarize", "Color", "Posterize", "Contrast",
                   "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY"]  # fmt: skip


class AutoAugment:
    """Per image: one of the policy's sub-policies; each of its two ops applies with its own probability."""

    def __init__(self, policy):
        self.ops = torch.tensor([[NAMES.index(op) for op, _, _ in sub] for sub in policy])
        self.probs = torch.tensor([[p for _, p, _ in sub] for sub in policy])
        self.levels = torch.tensor([[lvl / 9 for _, _, lvl in sub] for sub in policy])

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, dev = len(x), x.device
        ops, probs, levels = self.ops.to(dev), self.probs.to(dev), self.levels.to(dev)
        sub = torch.randint(len(ops), (b,), device=dev, generator=generator)
        for slot in range(2):
            active = torch.rand(b, device=dev, generator=generator) < probs[sub, slot]
            sign = _random_sign(b, dev, generator)
            x = apply_ops(x, ops[sub, slot], levels[sub, slot], sign, active)
        return x


class RandAugment:
    """Per image: n ops drawn uniformly (with replacement) from RANDAUGMENT_OPS, each at magnitude m of 30; with
    `random_magnitude`, each op's magnitude is drawn per image uniformly from (0, m/30] (FixMatch's variant)."""

    def __init__(self, n: int = 2, m: int = 10, random_magnitude: bool = False):
        self.n, self.level, self.random_magnitude = n, m / 30, random_magnitude
        self.choices = torch.tensor([NAMES.index(op) for op in RANDAUGMENT_OPS])

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, dev = len(x), x.device
        everyone = torch.ones(b, dtype=torch.bool, device=dev)
        for _ in range(self.n):
            pick = torch.randint(len(self.choices), (b,), device=dev, generator=generator)
            level = torch.full((b,), self.level, device=dev)
            if self.random_magnitude:
                level = level * (1 - torch.rand(b, device=dev, generator=generator))  # (0, m/30]
            x = apply_ops(x, self.choices.to(dev)[pick], level, _random_sign(b, dev, generator), everyone)
        return x


def zero_boxes(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, height, width) -> torch.Tensor:
    """Zero (the normalised mean) one rectangle per image: rows [top, top + height), columns [left, left + width),
    clipped at the borders; each argument is a per-image tensor or one number for all."""
    h, w = x.shape[-2:]
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    top, left, height, width = (torch.as_tensor(v, device=x.device).view(-1, 1, 1) for v in (top, left, height, width))
    box = (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)
    return x.masked_fill(box[:, None], 0.0)


def cutout(x: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """Zero a size×size square centred at each sample's (row, col), clipped at the borders (DeVries & Taylor)."""
    half = size // 2
    return zero_boxes(x, centres[:, 0] - half, centres[:, 1] - half, size, size)


def random_cutout(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    if size <= 0:
        return x
    h, w = x.shape[-2:]
    centres = torch.stack([torch.randint(0, h, (len(x),), device=x.device, generator=generator),
                           torch.randint(0, w, (len(x),), device=x.device, generator=generator)], 1)  # fmt: skip
    return cutout(x, centres, size)


def random_erasing(
    x: torch.Tensor,
    p: float,
    area: Sequence[float],
    generator: torch.Generator,
    aspect: tuple[float, float] = (0.3, 3.3),
) -> torch.Tensor:
    """Random erasing (Zhong et al., AAAI 2020): with probability p, zero (the normalised mean) one rectangle
    per image, its area a uniform share of the image in `area` and its aspect ratio log-uniform in `aspect`."""
    if p <= 0:
        return x
    b, (h, w), dev = len(x), x.shape[-2:], x.device
    share = area[0] + (area[1] - area[0]) * torch.rand(b, device=dev, generator=generator)
    log_aspect = torch.empty(b, device=dev).uniform_(math.log(aspect[0]), math.log(aspect[1]), generator=generator)
    eh = (share * h * w * log_aspect.exp()).sqrt().round().clamp(1, h).long()
    ew = (share * h * w / log_aspect.exp()).sqrt().round().clamp(1, w).long()
    top = (torch.rand(b, device=dev, generator=generator) * (h - eh + 1)).long()
    left = (torch.rand(b, device=dev, generator=generator) * (w - ew + 1)).long()
    erase = torch.rand(b, device=dev, generator=generator) < p
    return zero_boxes(x, top, left, eh * erase, ew * erase)  # a box of height 0 erases nothing


POLICIES = {
    "none": None,
    "autoaugment_cifar10": lambda cfg: AutoAugment(CIFAR10_POLICY),
    "autoaugment_svhn": lambda cfg: AutoAugment(SVHN_POLICY),
    "randaugment": lambda cfg: RandAugment(cfg.randaugment_n, cfg.randaugment_m),
    # FixMatch's strong view: 2 ops, each at a random magnitude up to 20 of 30 (translation up to 0.3 of the side,
    # as FixMatch's own range; rotation 20°, shear 0.2), so a digit is moved, never pushed off its canvas
    "randaugment_random": lambda cfg: RandAugment(cfg.randaugment_n, 20, random_magnitude=True),
}
