"""Device-resident samples: the whole split lives as one tensor on the training device.

Batches are gathered by index and normalised on the device, so the hot loop never touches Python per sample.
"""

from __future__ import annotations

import numpy as np
import torch

from .rows import Rows


class Normalizer:
    """Per-channel (images) or per-feature (tables) standardisation, fitted on training samples only, optionally
    followed by ZCA whitening (`zca` = (mean, W), see data/store/zca.py)."""

    def __init__(
        self,
        mean: torch.Tensor,
        std: torch.Tensor,
        zca: tuple[torch.Tensor, torch.Tensor] | None = None,
        value_range: tuple[float, float] | None = None,
    ):
        self.mean, self.std, self.zca = mean, std, zca
        # (min, max) of the raw training values, (0, 255) for 8-bit images: `weaklab predict` refuses inputs on
        # another scale (None: unknown, a checkpoint written before it was kept)
        self.value_range = value_range

    def with_zca(self, x: np.ndarray | Rows, epsilon: float) -> Normalizer:
        from .zca import fit_zca

        return Normalizer(self.mean, self.std, fit_zca(x, self, epsilon), self.value_range)

    @classmethod
    def fit(cls, x: np.ndarray | Rows, chunk: int = 4096) -> Normalizer:
        # In chunks: a float64 copy of a whole large uint8 dataset (e.g. STL-10's 105k images) would not fit.
        dims = (0, 2, 3) if x.ndim == 4 else (0,)
        total = sq = torch.zeros((), dtype=torch.float64)
        count, low, high = 0, float("inf"), -float("inf")
        for start in range(0, len(x), chunk):
            part = torch.as_tensor(np.asarray(x[start : start + chunk]), dtype=torch.float64)
            total = total + part.sum(dims)
            sq = sq + (part * part).sum(dims)
            count += part.numel() // part.shape[1]
            low, high = min(low, float(part.min())), max(high, float(part.max()))
        mean = total / count
        std = ((sq - count * mean * mean).clamp_min(0) / max(count - 1, 1)).sqrt()
        std = torch.where(std > 1e-8, std, torch.ones_like(std))  # constant pixels/features stay at zero
        shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
        # 8-bit images are on the 0-255 scale whatever the darkest and brightest training pixels were
        value_range = (0.0, 255.0) if x.dtype == np.uint8 else (low, high) if count else None
        return cls(mean.float().reshape(shape), std.float().reshape(shape), value_range=value_range)

    def to(self, device) -> Normalizer:
        zca = None if self.zca is None else (self.zca[0].to(device), self.zca[1].to(device))
        return Normalizer(self.mean.to(device), self.std.to(device), zca, self.value_range)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        z = (x.float() - self.mean) / self.std
        if self.zca is not None:
            from .zca import apply_zca

            z = apply_zca(z, *self.zca)
        return z

    def state_dict(self) -> dict:
        state = {"mean": self.mean.cpu(), "std": self.std.cpu()}
        if self.zca is not None:
            state["zca_mean"], state["zca_matrix"] = (t.cpu() for t in self.zca)
        if self.value_range is not None:
            state["value_range"] = torch.tensor(self.value_range, dtype=torch.float64)
        return state

    @classmethod
    def from_state_dict(cls, state: dict) -> Normalizer:
        zca = (state["zca_mean"], state["zca_matrix"]) if "zca_mean" in state else None
        value_range = state.get("value_range")  # absent in checkpoints written before it was kept
        low_high = None if value_range is None else (float(value_range[0]), float(value_range[1]))
        return cls(state["mean"], state["std"], zca, low_high)


class DeviceStore:
    """Raw samples on the device (uint8 stays uint8 to save memory) and their normaliser."""

    def __init__(self, x: np.ndarray, normalizer: Normalizer, device: torch.device):
        dtype = torch.uint8 if x.dtype == np.uint8 else torch.float32
        if not isinstance(x, np.ndarray) or not x.flags.writeable:  # a read-only memory map, lazy Rows: copy
            x = np.array(x)
        self.x = torch.as_tensor(np.ascontiguousarray(x), dtype=dtype).to(device)
        self.normalizer = normalizer.to(device)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        return self.normalizer(self.x[idx])

    def pixel_max(self) -> float:
        """The largest raw value (255 for uint8 images): where the views' intensity ops clip."""
        return 255.0 if self.x.dtype == torch.uint8 else max(float(self.x.max()), 1e-6)

    def look_ahead(self, plan: list[torch.Tensor], first_step: int, on_host: list[torch.Tensor] | None = None) -> None:
        """The batches training will ask for next (rows of each stream's plan from `first_step`; `on_host`: the
        same plan in host memory, where the caller has it): nothing to prepare when the samples are already on
        the device."""

    def close(self) -> None:
        """Nothing to stop (the host store stops its reading processes here)."""

    def batches(self, batch_size: int):
        """Normalised consecutive batches, for evaluation."""
        for start in range(0, len(self.x), batch_size):
            yield self.normalizer(self.x[start : start + batch_size])
