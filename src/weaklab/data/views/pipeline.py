"""Batched augmentation on the training device, with per-sample random parameters.

No per-sample Python: each op is a few tensor kernels over the whole batch. The random generator lives on the
device and its state is checkpointed, so resumed runs see the same views.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from . import augment


def random_translate(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to ±pad pixels: reflect-pad, then crop at a random per-sample offset."""
    if pad <= 0:
        return x
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (b, 1, 1), device=x.device, generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b, 1, 1), device=x.device, generator=generator)
    rows = (dy + torch.arange(h, device=x.device).view(1, h, 1)).expand(b, h, w)
    cols = (dx + torch.arange(w, device=x.device).view(1, 1, w)).expand(b, h, w)
    batch = torch.arange(b, device=x.device).view(b, 1, 1).expand(b, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def flip_mask(batch: int, device, generator: torch.Generator) -> torch.Tensor:
    """Which samples to mirror (probability 1/2 each)."""
    return torch.rand(batch, device=device, generator=generator) < 0.5


def horizontal_flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)


def gaussian_noise(x: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)


def paper_strong_view(dataset: str, sample_shape: tuple[int, ...]) -> tuple[str, int]:
    """The strong view PL-CR's paper uses for such data: (policy, Cutout side in pixels).

    Colour images: AutoAugment (SVHN's policy on SVHN, CIFAR-10's elsewhere) + Cutout 16 (SVHN 20) at 32×32; grey
    images (Fashion/Kuzushiji-MNIST): Cutout 16 at 28×28, no AutoAugment. Other sides scale the square (half the
    side); flat features have no strong view beyond the weak one.
    """
    if len(sample_shape) != 3:
        return "none", 0
    channels, side = sample_shape[0], min(sample_shape[1:])
    cutout = 16 if 28 <= side <= 32 else side // 2
    if channels != 3:
        return "none", cutout
    if dataset == "svhn":
        return "autoaugment_svhn", round(cutout * 20 / 16)
    return "autoaugment_cifar10", cutout


class Views:
    """The weak stochastic views of the Π-model / Temporal Ensembling / Mean Teacher papers:
    translation, optional horizontal flip, Gaussian input noise. Flat features get the noise only."""

    def __init__(
        self,
        translate: int,
        flip: bool,
        noise: float,
        device,
        seed: int,
        policy=None,
        cutout: int = 0,
        policy_name: str = "none",
        normalizer=None,
        pixel_max: float = 1.0,
        erasing: float = 0.0,
        erasing_area: Sequence[float] = (0.02, 0.33),
    ):
        self.translate, self.flip, self.noise = translate, flip, noise
        self.erasing, self.erasing_area = erasing, tuple(erasing_area)  # random erasing in the weak view (SCN)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        # strong views: a policy on [0, 1] pixels (AutoAugment, RandAugment) and Cutout, after flip + translation
        self.policy, self.cutout, self.normalizer, self.pixel_max = policy, cutout, normalizer, pixel_max
        self.policy_name = policy_name if policy is not None else "none"

    def describe(self) -> dict:
        """The views this run draws, defaults resolved (flip by the data, the strong view by the method and its
        paper; none where the method draws no strong view): for summary.json."""
        keys = ("translate", "flip", "noise", "erasing", "cutout")
        return {**{k: getattr(self, k) for k in keys}, "strong": self.policy_name}

    def __call__(self, x: torch.Tensor, flips: torch.Tensor | None = None) -> torch.Tensor:
        """One view of every sample; pass `flips` to share the flip decision between views."""
        if x.ndim == 4:
            if self.flip:
                flips = flip_mask(len(x), x.device, self.generator) if flips is None else flips
                x = horizontal_flip(x, flips)
            x = random_translate(x, self.translate, self.generator)
            x = augment.random_erasing(x, self.erasing, self.erasing_area, self.generator)
        return gaussian_noise(x, self.noise, self.generator)

    def strong(self, x: torch.Tensor) -> torch.Tensor:
        """A strong view: flip + translation, then the policy on pixels in [0, 1], then Cutout (zero = the mean)."""
        if x.ndim != 4:
            return self(x)
        if self.flip:
            x = horizontal_flip(x, flip_mask(len(x), x.device, self.generator))
        x = random_translate(x, self.translate, self.generator)
        if self.policy is not None:
            n = self.normalizer
            with torch.autocast(x.device.type, enabled=False):  # pixel ops and affine grids in fp32, even under bf16
                pixels = ((x.float() * n.std + n.mean) / self.pixel_max).clamp(0, 1)
                x = (self.policy(pixels, self.generator) * self.pixel_max - n.mean) / n.std
        return augment.random_cutout(x, self.cutout, self.generator)

    def many(self, x: torch.Tensor, n: int, share_flip: bool = False) -> list[torch.Tensor]:
        """`n` independent views; with `share_flip` they mirror the same samples (Π-model on CIFAR)."""
        flips = flip_mask(len(x), x.device, self.generator) if share_flip and self.flip and x.ndim == 4 else None
        return [self(x, flips) for _ in range(n)]

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
