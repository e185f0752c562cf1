"""Host-resident samples, for data sets larger than the training device's memory (e.g. 100k faces at 224×224).

The same interface as DeviceStore: `store[idx]` gives a normalised batch on the device. The samples stay in host
memory, or in a memory-mapped .npy file read on demand (data/store/rows.py), so a data set larger than host memory
trains too. Before each epoch the trainer hands over the epoch's index plan (`look_ahead`); worker processes of
a torch DataLoader then read those batches ahead, in order, into pinned memory, and `store[idx]` copies the
next one to the device (non-blocking) and normalises it there; augmentation follows on the device as always.

A prefetched batch is served only when `idx` is exactly the plan row it was read for: the same storage, offset,
shape and strides as that row of the plan tensors the store keeps (so their memory cannot be reused by another
tensor). That test reads tensor metadata only, so it costs no device→host sync, unlike comparing index values.
Any other request (out of order, a different tensor with equal values) is gathered synchronously instead, so
no batch is ever served for the wrong rows.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator

import numpy as np
import torch

from ...errors import WeaklabError
from .device import DeviceStore, Normalizer
from .rows import Rows

MAX_DEFAULT_WORKERS = 4  # reading decoded uint8 rows is light work: a few processes keep a GPU fed
PREFETCH_PER_WORKER = 2  # batches each worker reads ahead


def _identity(t: torch.Tensor) -> tuple:
    """Which memory a tensor views: no device sync, unlike its values."""
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype, t.device)


def read_rows(rows: Rows, positions: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """The rows at `positions` as a host tensor of the store's dtype (in a worker, a thread or the caller)."""
    return torch.from_numpy(rows.take(positions)).to(dtype)


class _Gather(torch.utils.data.Dataset):
    """A batch of rows per key (an index array): what a worker reads. Only the Rows go to a worker, and a
    file-backed part of them travels as its path (see data/store/rows.py)."""

    def __init__(self, rows: Rows, dtype: torch.dtype):
        self.rows, self.dtype = rows, dtype

    def __getitem__(self, key: np.ndarray) -> torch.Tensor:
        return read_rows(self.rows, key, self.dtype)


class _Plan(torch.utils.data.Sampler):
    """The keys of the current epoch's batches; replaced by look_ahead, read by the (persistent) loader."""

    def __init__(self) -> None:
        self.keys: list[np.ndarray] = []

    def __iter__(self):
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)


class HostStore:
    def __init__(self, x, normalizer: Normalizer, device: torch.device, workers: int | None = None):
        if workers is None:
            workers = min(
                MAX_DEFAULT_WORKERS,
                len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
            )
        if workers < 0:
            raise WeaklabError(f"data.workers must be 0 or more, got {workers}")
        self.x = x
        self.rows = Rows.of(x)
        self.dtype = torch.uint8 if x.dtype == np.uint8 else torch.float32
        self.device = device
        self.normalizer = normalizer.to(device)
        self.workers = workers
        self.prefetched = self.gathered = 0  # batches served from the look-ahead / read synchronously
        self._plan = _Plan()
        self._loader: torch.utils.data.DataLoader | None = None
        self._batches: Iterator[torch.Tensor] | None = None  # the loader's pass over the plan
        self._expected: deque[tuple] = deque()  # identities of the plan rows the loader will yield, in order
        self._streams: list[torch.Tensor] = []  # kept alive: their memory identifies the rows

    def __len__(self) -> int:
        return len(self.rows)

    def pixel_max(self) -> float:
        return 255.0 if self.dtype == torch.uint8 else max(float(self.rows.max()), 1e-6)

    def _to_device(self, batch: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda" and not batch.is_pinned():
            batch = batch.pin_memory()
        return self.normalizer(batch.to(self.device, non_blocking=True))

    def _gather(self, rows: np.ndarray) -> torch.Tensor:
        return self._to_device(read_rows(self.rows, rows, self.dtype))

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        if self._expected and _identity(idx) == self._expected[0]:
            self._expected.popleft()
            self.prefetched += 1
            assert self._batches is not None  # started with the plan it reads
            return self._to_device(next(self._batches))
        self.gathered += 1
        return self._gather(idx.cpu().numpy())

    def look_ahead(self, plan: list[torch.Tensor], first_step: int, on_host: list[torch.Tensor] | None = None) -> None:
        """Start reading the batches of `plan` (each stream's rows, from `first_step`), in the order training asks
        for them: step by step, stream by stream. The keys come from `on_host` (the trainer's host copy of the
        plan); without it, from one device→host copy of the plan."""
        self._expected.clear()
        self._streams = list(plan)
        if self.workers == 0:
            return
        host = [p.cpu().numpy() for p in (plan if on_host is None else on_host)]
        steps = range(first_step, len(plan[0]))
        self._plan.keys = [h[i] for i in steps for h in host]
        for i in steps:
            for p in plan:
                row = p[i]
                self._expected.append(_identity(row))
        if self._loader is None:
            self._loader = torch.utils.data.DataLoader(
                _Gather(self.rows, self.dtype),
                sampler=self._plan,
                batch_size=None,
                num_workers=self.workers,
                pin_memory=self.device.type == "cuda",
                prefetch_factor=PREFETCH_PER_WORKER,
                persistent_workers=True,
                generator=torch.Generator(),  # its workers' seeds are drawn here, not from the run's global RNG
            )
        self._batches = iter(self._loader)  # persistent workers: a new pass drops what the last one left unread

    def close(self) -> None:
        """Stop the worker processes (a later look_ahead starts them again)."""
        self._expected.clear()
        self._batches = None
        loader, self._loader = self._loader, None
        if loader is not None:
            iterator = getattr(loader, "_iterator", None)  # torch's private handle on the persistent workers
            if iterator is not None:
                iterator._shutdown_workers()
                loader._iterator = None

    def batches(self, batch_size: int):
        """Consecutive normalised batches (evaluation). A thread reads the next batch from the file while the
        caller works on this one (NumPy releases the GIL while copying rows; page faults wait in that thread)."""
        from concurrent.futures import ThreadPoolExecutor

        n = len(self.rows)
        chunks = [np.arange(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
        if not chunks:
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(read_rows, self.rows, chunks[0], self.dtype)
            for k in range(len(chunks)):
                batch = ahead.result()
                if k + 1 < len(chunks):
                    ahead = pool.submit(read_rows, self.rows, chunks[k + 1], self.dtype)
                yield self._to_device(batch)


def store_kind(kind: str, device: torch.device, total_bytes: int) -> str:
    """`auto`: host only on a GPU whose memory the data set would fill more than half of."""
    if kind == "auto":
        big = device.type == "cuda" and total_bytes > 0.5 * torch.cuda.get_device_properties(device).total_memory
        return "host" if big else "device"
    return kind


def make_store(
    kind: str, x, normalizer: Normalizer, device: torch.device, total_bytes: int, workers: int | None = None
):
    """`device`: the whole split on the device; `host`: batches read from host memory or a memory-mapped file
    (`workers` processes reading ahead; None: min(4, CPU cores)); `auto`: see store_kind."""
    if store_kind(kind, device, total_bytes) == "device":
        return DeviceStore(x, normalizer, device)
    return HostStore(x, normalizer, device, workers)
