"""The usual data pipeline that `weaklab bench speed` compares with: per-sample PIL/NumPy transforms in DataLoader
workers, the way torchvision-style code augments one image at a time.

It makes the same views weaklab makes on the device in batched kernels (data/views/pipeline.py, data/views/augment.py):

- weak: reflect pad-crop, horizontal flip, Gaussian input noise (after normalising);
- strong: flip, pad-crop, then the AutoAugment / RandAugment policy on the 8-bit PIL image (Pillow's ImageOps,
  ImageEnhance and affine transforms: the reference implementations of both policies are PIL-based, and the
  batched ops follow PIL's definitions), then normalising and Cutout (zero = the mean).

Each item is every view the method asks for in one step (`kinds`, e.g. weak, strong, strong for PL-CR), in that
order, plus the sample's index. The policy's sub-policies, probabilities and magnitudes are read from the batched
policy object the run's Views holds, so both pipelines draw from one definition.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps

from ..data.views import augment
from ..errors import WeaklabError

FILL = 128  # AutoAugment's grey fill, as data/views/augment.py

# name -> op(image, magnitude, fill); magnitudes as data/augment.magnitude gives them (pixels, degrees, factors)
PIL_OPS = {
    "ShearX": lambda img, m, fill: img.transform(
        img.size, Image.Transform.AFFINE, (1, m, 0, 0, 1, 0), Image.Resampling.NEAREST, fillcolor=fill
    ),
    "ShearY": lambda img, m, fill: img.transform(
        img.size, Image.Transform.AFFINE, (1, 0, 0, m, 1, 0), Image.Resampling.NEAREST, fillcolor=fill
    ),
    "TranslateX": lambda img, m, fill: img.transform(
        img.size, Image.Transform.AFFINE, (1, 0, m, 0, 1, 0), Image.Resampling.NEAREST, fillcolor=fill
    ),
    "TranslateY": lambda img, m, fill: img.transform(
        img.size, Image.Transform.AFFINE, (1, 0, 0, 0, 1, m), Image.Resampling.NEAREST, fillcolor=fill
    ),
    "Rotate": lambda img, m, fill: img.rotate(m, Image.Resampling.NEAREST, fillcolor=fill),
    "Color": lambda img, m, fill: ImageEnhance.Color(img).enhance(m),
    "Contrast": lambda img, m, fill: ImageEnhance.Contrast(img).enhance(m),
    "Brightness": lambda img, m, fill: ImageEnhance.Brightness(img).enhance(m),
    "Sharpness": lambda img, m, fill: ImageEnhance.Sharpness(img).enhance(m),
    "Posterize": lambda img, m, fill: ImageOps.posterize(img, int(round(m))),
    "Solarize": lambda img, m, fill: ImageOps.solarize(img, m),
    "AutoContrast": lambda img, m, fill: ImageOps.autocontrast(img),
    "Equalize": lambda img, m, fill: ImageOps.equalize(img),
    "Invert": lambda img, m, fill: ImageOps.invert(img),
    "Identity": lambda img, m, fill: img,
}


def pil_op(name: str, img: Image.Image, level: float, sign: float) -> Image.Image:
    """Op `name` at a level in [0, 1] (with the sign for the signed ops) on one PIL image."""
    m = float(augment.magnitude(name, level, sign, (img.height, img.width)))
    fill = FILL if img.mode == "L" else (FILL,) * len(img.getbands())
    return PIL_OPS[name](img, m, fill)


class PilPolicy:
    """The run's batched policy (augment.AutoAugment or augment.RandAugment), applied to one PIL image at a time."""

    def __init__(self, policy):
        if isinstance(policy, augment.AutoAugment):
            self.subpolicies = [
                [(augment.NAMES[int(o)], float(p), float(lvl)) for o, p, lvl in zip(ops, probs, levels)]
                for ops, probs, levels in zip(policy.ops, policy.probs, policy.levels)
            ]
            self.rand_n = 0
        elif isinstance(policy, augment.RandAugment):
            self.subpolicies = None
            self.rand_n, self.level = policy.n, float(policy.level)
            self.choices = [augment.NAMES[int(c)] for c in policy.choices]
        else:
            raise WeaklabError(f"the usual pipeline has no per-sample version of the policy {type(policy).__name__}")

    def __call__(self, img: Image.Image, rng: np.random.Generator) -> Image.Image:
        if self.subpolicies is not None:  # AutoAugment: one sub-policy, each of its ops with its probability
            for name, prob, level in self.subpolicies[rng.integers(len(self.subpolicies))]:
                if rng.random() < prob:
                    img = pil_op(name, img, level, _sign(rng))
            return img
        for _ in range(self.rand_n):  # RandAugment: n uniformly drawn ops at magnitude m
            img = pil_op(self.choices[rng.integers(len(self.choices))], img, self.level, _sign(rng))
        return img


def _sign(rng) -> float:
    return -1.0 if rng.random() < 0.5 else 1.0


def cutout(arr: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Zero (the normalised mean) a size×size square at a random centre of a C×H×W array, clipped at the borders."""
    if size <= 0:
        return arr
    h, w = arr.shape[-2:]
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    half = size // 2
    arr[:, max(cy - half, 0) : max(cy - half + size, 0), max(cx - half, 0) : max(cx - half + size, 0)] = 0.0
    return arr


class PerSampleViews(torch.utils.data.Dataset):
    """C×H×W uint8 images; item i is (the views of sample i in the order of `kinds`, i), made with PIL and NumPy."""

    def __init__(
        self,
        x_chw: np.ndarray,
        kinds: list[str],
        pad: int,
        flip: bool,
        noise: float,
        mean,
        std,
        policy=None,
        cutout: int = 0,
    ):
        if any(k not in ("weak", "strong") for k in kinds):
            raise WeaklabError(f"view kinds must be weak or strong, got {kinds}")
        self.x = np.ascontiguousarray(np.asarray(x_chw).transpose(0, 2, 3, 1))
        if "strong" in kinds and policy is not None and self.x.shape[-1] not in (1, 3):
            raise WeaklabError(
                f"the per-sample strong policy needs 1 or 3 channels (PIL images), got {self.x.shape[-1]}"
            )
        self.kinds, self.pad, self.flip, self.noise, self.cutout = list(kinds), pad, flip, noise, cutout
        self.policy = PilPolicy(policy) if policy is not None else None
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)

    def __len__(self):
        return len(self.x)

    def _crop_flip(self, img: np.ndarray, rng) -> Image.Image:
        h, w = img.shape[:2]
        if self.pad:
            padded = np.pad(img, ((self.pad, self.pad), (self.pad, self.pad), (0, 0)), mode="reflect")
            pil = Image.fromarray(padded.squeeze(-1) if padded.shape[-1] == 1 else padded)
            dy, dx = rng.integers(0, 2 * self.pad + 1, size=2)
            pil = pil.crop((int(dx), int(dy), int(dx) + w, int(dy) + h))
        else:
            pil = Image.fromarray(img.squeeze(-1) if img.shape[-1] == 1 else img)
        if self.flip and rng.random() < 0.5:
            pil = pil.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return pil

    def _normalised(self, pil: Image.Image, shape) -> np.ndarray:
        arr = np.asarray(pil, dtype=np.float32).reshape(shape).transpose(2, 0, 1)
        return (arr - self.mean) / self.std

    def weak(self, img: np.ndarray, rng) -> torch.Tensor:
        arr = self._normalised(self._crop_flip(img, rng), img.shape)
        if self.noise:
            arr = arr + self.noise * rng.standard_normal(arr.shape, dtype=np.float32)
        return torch.from_numpy(np.ascontiguousarray(arr))

    def strong(self, img: np.ndarray, rng) -> torch.Tensor:
        pil = self._crop_flip(img, rng)
        if self.policy is not None:
            pil = self.policy(pil, rng)
        arr = cutout(self._normalised(pil, img.shape), self.cutout, rng)
        return torch.from_numpy(np.ascontiguousarray(arr))

    def __getitem__(self, i):
        rng = np.random.default_rng()
        img = self.x[i]
        return torch.stack([self.weak(img, rng) if k == "weak" else self.strong(img, rng) for k in self.kinds]), i


class ReplayViews:
    """Stands in for the method's Views: hands it the views the DataLoader workers made, one per call, in order,
    checking that each call asks for the kind (weak or strong) recorded on the first step."""

    def __init__(self, kinds: list[str], views_lb: torch.Tensor, views_ulb: torch.Tensor):
        self.kinds, self.lb, self.ulb, self.k = kinds, views_lb, views_ulb, 0  # (views, batch, C, H, W)

    def _next(self, x, kind: str) -> torch.Tensor:
        k = self.k % len(self.kinds)
        if self.kinds[k] != kind:
            raise WeaklabError(
                f"the method asked for a {kind} view where its first step asked for a {self.kinds[k]} "
                f"one (call {k + 1}); the usual pipeline replays the first step's pattern"
            )
        self.k += 1
        if len(x) == len(self.lb[k]):
            return self.lb[k]
        if len(x) == len(self.ulb[k]):
            return self.ulb[k]
        return torch.cat([self.lb[k], self.ulb[k]])

    def __call__(self, x, flips=None):
        return self._next(x, "weak")

    def strong(self, x):
        return self._next(x, "strong")

    def many(self, x, n, share_flip=False):
        return [self(x) for _ in range(n)]


PREFETCH = 4  # batches each DataLoader worker reads ahead


def loader(ds, indices, batch: int, workers: int, pin: bool):
    """An endless iterator of shuffled batches of `ds` restricted to `indices` (with replacement)."""
    subset = torch.utils.data.Subset(ds, indices)
    sampler = torch.utils.data.RandomSampler(subset, replacement=True, num_samples=10**8)
    return iter(
        torch.utils.data.DataLoader(
            subset,
            batch_size=batch,
            sampler=sampler,
            num_workers=workers,
            pin_memory=pin,
            drop_last=True,
            persistent_workers=workers > 0,
            prefetch_factor=PREFETCH if workers else None,
        )
    )
