"""A lazy view of chosen rows of (memory-mapped) arrays: a training split without a copy of the data set.

`Rows([(array, index), ...])` stands for `np.concatenate([array[index], ...])` but reads nothing until asked:
slicing or fancy indexing returns an ndarray of just those rows, read in file order. Splits of a data set larger
than host memory are built this way (engine/experiment.py) for the host store, which reads batches from it.

Pickled (to a DataLoader worker started by spawn), a part that is a region of a .npy file travels as its path
and offset and is memory-mapped again on the other side; only parts held in RAM travel as arrays.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence

import numpy as np


def file_region(a: np.ndarray) -> tuple[str, int] | None:
    """(file name, byte offset) when `a` is a C-contiguous stretch of a memory-mapped file, else None."""
    if not a.flags.c_contiguous:
        return None
    root = a
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not isinstance(root, np.memmap) or not isinstance(root.base, mmap.mmap) or root.filename is None:
        return None
    start = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return str(root.filename), root.offset + start


def _reopen(filename: str, offset: int, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.memmap(filename, dtype=np.dtype(dtype), mode="r", offset=offset, shape=shape)


class _Mapped:
    """Pickles a file-backed array as the recipe to map it again."""

    def __init__(self, a: np.ndarray):
        self.a = a

    def __reduce__(self):
        region = file_region(self.a)
        if region is None:
            return _Mapped, (self.a,)
        return _remap, (*region, self.a.dtype.str, self.a.shape)


def _remap(filename, offset, dtype, shape) -> _Mapped:
    return _Mapped(_reopen(filename, offset, dtype, shape))


class Rows:
    """Rows of arrays (index None: all of them), concatenated. Indexing gives ndarrays; np.asarray(rows) reads
    everything (use it only where everything fits)."""

    def __init__(self, parts: Sequence[tuple[np.ndarray, np.ndarray | None]]):
        if not parts:
            raise ValueError("Rows needs at least one part")
        self._parts = [(_Mapped(a), None if i is None else np.asarray(i, dtype=np.int64)) for a, i in parts]
        first = parts[0][0]
        self.dtype, self.sample_shape = first.dtype, tuple(first.shape[1:])
        for a, _ in parts:
            if a.dtype != self.dtype or tuple(a.shape[1:]) != self.sample_shape:
                raise ValueError("the parts of Rows must share dtype and sample shape")
        lengths = [len(a.a) if i is None else len(i) for a, i in self._parts]
        self._ends = np.cumsum(lengths)

    @classmethod
    def of(cls, x) -> Rows:
        """`x` as Rows (an array: all of its rows)."""
        return x if isinstance(x, Rows) else cls([(x, None)])

    @classmethod
    def concat(cls, many: list) -> Rows:
        """Rows (or arrays) one after the other, still reading nothing."""
        return cls([(mapped.a, index) for rows in map(cls.of, many) for mapped, index in rows._parts])

    def select(self, positions) -> Rows:
        """The rows at `positions` (in that order) as Rows: indices composed, nothing read. A selection of a
        selection still points into the original (memory-mapped) arrays."""
        positions = np.asarray(positions, dtype=np.int64)
        if positions.size and positions.min() < 0:
            raise IndexError(f"row index out of range for {len(self)} rows")
        part, rows = self._locate(positions)
        runs = np.flatnonzero(np.diff(part)) + 1  # a new part wherever consecutive positions change part
        pieces = (
            [(self._parts[part[at[0]]][0].a, rows[at]) for at in np.split(np.arange(len(rows)), runs)]
            if len(rows)
            else []
        )
        return Rows(pieces or [(self._parts[0][0].a, np.zeros(0, dtype=np.int64))])

    def _locate(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(part, row of that part's array) of each position; negative positions count from the end."""
        positions = np.asarray(positions, dtype=np.int64)
        n = len(self)
        if positions.size and (positions.min() < -n or positions.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        positions = np.where(positions < 0, positions + n, positions)
        part = np.searchsorted(self._ends, positions, side="right")
        rows = positions - np.concatenate([[0], self._ends[:-1]])[part]
        for p in np.unique(part):
            index = self._parts[p][1]
            if index is not None:
                at = part == p
                rows[at] = index[rows[at]]
        return part, rows

    def __len__(self) -> int:
        return int(self._ends[-1])

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.sample_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.sample_shape)

    @property
    def nbytes(self) -> int:
        return len(self) * int(np.prod(self.sample_shape, dtype=np.int64)) * self.dtype.itemsize

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            return self.take(np.arange(*key.indices(len(self))))
        if np.ndim(key) == 0:
            return self.take(np.array([key]))[0]
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (len(self),):
                raise IndexError(f"a boolean mask over {len(self)} rows has shape {key.shape}")
            key = np.flatnonzero(key)
        return self.take(key)

    def take(self, positions: np.ndarray) -> np.ndarray:
        """The rows at `positions` (any order, repeats allowed), each part read in ascending row order."""
        part, rows = self._locate(positions)
        out = np.empty((len(rows), *self.sample_shape), self.dtype)
        for p in np.unique(part):
            at = np.flatnonzero(part == p)
            order = np.argsort(rows[at], kind="stable")  # ascending: sequential reads of a file
            out[at[order]] = self._parts[p][0].a[rows[at][order]]
        return out

    def __array__(self, dtype=None, copy=None):
        a = self[:]
        return a if dtype is None else a.astype(dtype)

    def max(self, chunk: int = 4096):
        """The largest value, read in chunks."""
        return max(self[s : s + chunk].max() for s in range(0, len(self), chunk))
