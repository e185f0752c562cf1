"""Host-resident samples, for data sets larger than the training device's memory (e.g. 100k faces at 224×224).

The same interface as DeviceStore: `store[idx]` gives a normalised batch on the device. The samples stay in host
memory (or a memory-mapped cache file, read on demand); each batch is gathered there, copied to the device
through pinned memory and normalised and augmented on the device. Costs one index copy to the host per batch.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import WeaklabError
from .store import DeviceStore, Normalizer


class HostStore:
    def __init__(self, x: np.ndarray, normalizer: Normalizer, device: torch.device):
        self.x = x
        self.dtype = torch.uint8 if x.dtype == np.uint8 else torch.float32
        self.device = device
        self.normalizer = normalizer.to(device)

    def __len__(self) -> int:
        return len(self.x)

    def _to_device(self, rows: np.ndarray) -> torch.Tensor:
        batch = torch.from_numpy(np.ascontiguousarray(rows)).to(self.dtype)
        if self.device.type == "cuda":
            batch = batch.pin_memory()
        return self.normalizer(batch.to(self.device, non_blocking=True))

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        return self._to_device(self.x[idx.cpu().numpy()])

    def look_ahead(self, plan: list[torch.Tensor], first_step: int) -> None:
        pass  # batches are gathered on demand

    def batches(self, batch_size: int):
        for start in range(0, len(self.x), batch_size):
            yield self._to_device(self.x[start : start + batch_size])


def make_store(kind: str, x: np.ndarray, normalizer: Normalizer, device: torch.device, total_bytes: int):
    """`device`: the whole split on the device; `host`: batches copied from host memory; `auto`: host only on a
    GPU whose memory the data set would fill more than half of."""
    if kind == "auto":
        big = device.type == "cuda" and total_bytes > 0.5 * torch.cuda.get_device_properties(device).total_memory
        kind = "host" if big else "device"
    if kind == "device":
        return DeviceStore(x, normalizer, device)
    if kind == "host":
        return HostStore(x, normalizer, device)
    raise WeaklabError(f"data.store must be auto, device or host, got {kind!r}")
