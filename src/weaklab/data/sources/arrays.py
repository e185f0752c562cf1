"""Samples given in memory (NumPy arrays, torch tensors, pandas or polars DataFrames) as an ArraySource, checked by
the code that checks the files they stand for, so the messages are the same: arrays as an .npz's x and y
(`user_data.labeled_arrays`), a frame of feature columns and a label column as a CSV table (`user_data.table`), a
frame with one column of arrays (images, or feature vectors) as a CSV of images. pandas, polars and torch are never
imported here: a value is recognised by the modules its caller has already loaded.

A run trained from memory keeps its data: `staged` holds the source until the run has claimed its directory, and
its first load writes it there as data.npz (candidate sets as candidates.npy), the files the run's config.yaml
names, so `resume` and `Run.evaluate` read it back as they read a user's file.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ...errors import WeaklabError
from .download import atomic_write
from .source import ArraySource
from .user_data import (
    Options,
    _labels,
    _source,
    _target_column,
    enough_classes,
    feature_matrix,
    image_layout,
    labeled_arrays,
    table,
)

DATA_FILE, CANDIDATES_FILE = "data.npz", "candidates.npy"


def from_memory(x, y=None, opts: Options | None = None, classes=None, quiet: bool = False) -> ArraySource:
    """`x` with `y` (class indices, -1 unlabeled, named by `classes`; class names; or real targets, NaN missing), or
    a DataFrame `x` that holds its labels in a column (as a table file: `target_column`, else label/target/y)."""
    opts = opts or Options()
    if is_frame(x):
        source = _frame(x, y, opts, classes, quiet)
    else:
        if y is None:
            raise WeaklabError(
                "give y (the labels or targets) with the samples x, or x as a DataFrame with a label column"
            )
        source = _arrays(as_array(x, "x"), y, opts, "arrays", classes, quiet)
    return enough_classes(source, source.name)


def is_frame(value) -> bool:
    return _instance(value, "pandas", "DataFrame") or _instance(value, "polars", "DataFrame")


def as_array(value, what: str) -> np.ndarray:
    """A NumPy array of `value`: an array or a list as it is, a tensor copied to host memory, a Series' values."""
    if _instance(value, "torch", "Tensor"):
        torch = sys.modules["torch"]
        value = value.detach().cpu()
        return (value.float() if value.dtype == torch.bfloat16 else value).numpy()  # NumPy has no bfloat16
    if is_frame(value):
        raise WeaklabError(f"{what} is a DataFrame; give it as one column (a Series) or an array")
    if _instance(value, "pandas", "Series") or _instance(value, "polars", "Series"):
        return value.to_numpy()
    try:
        return np.asarray(value)
    except ValueError as e:  # ragged nested lists
        raise WeaklabError(f"{what} cannot be read as one array ({e}); give rows of one length") from None


def inputs(x, input_shape: tuple[int, ...]) -> np.ndarray:
    """Samples to predict on as one array: arrays, lists and tensors as `as_array` reads them; a DataFrame by its
    columns: one column of arrays, or (a feature-vector run) one numeric column per feature, in the training order."""
    if not is_frame(x):
        return as_array(x, "x")
    header, columns = _columns(x)
    held = [i for i, c in enumerate(columns) if _holds_arrays(c)]
    if held:
        return _stack(columns[held[0]], f"DataFrame column {header[held[0]]!r}")
    if len(input_shape) != 1:
        shape = "×".join(map(str, input_shape))
        raise WeaklabError(f"this run takes {shape} images; give a DataFrame with one column of image arrays")
    if len(header) != input_shape[0]:
        raise WeaklabError(
            f"the DataFrame has {len(header)} columns but this run takes {input_shape[0]} features; give the feature "
            f"columns only, in the training order (drop the label column)"
        )
    rows = [list(r) for r in zip(*[_cells(c) for c in columns])]
    return feature_matrix("DataFrame", header, rows, list(range(len(header))))


def stand_in_labels(sets: np.ndarray, seed: int) -> np.ndarray:
    """A label inside each candidate set, drawn with `seed` (a singleton's is exact): where only sets are known, the
    splits are stratified on these and test metrics read them, while training sees only the sets."""
    draw = np.random.default_rng(seed).random(sets.shape) * np.asarray(sets, dtype=bool)
    return draw.argmax(1)


@contextlib.contextmanager
def staged(
    source: ArraySource, run_dir: Path, candidates: np.ndarray | None = None
) -> Iterator[tuple[str, str | None]]:
    """Hold `source` for the run about to start in `run_dir`; yields the paths its config names (data file, and the
    candidate sets' file or None). Written at the first load (`take`), once the run holds its directory: before
    that, the directory may be another run's, or be emptied by `overwrite`."""
    folder = Path(run_dir).expanduser().resolve()
    data, sets = str(folder / DATA_FILE), (str(folder / CANDIDATES_FILE) if candidates is not None else None)
    _STAGED[data] = (source, candidates, sets)
    try:
        yield data, sets
    finally:
        _STAGED.pop(data, None)


def take(name: str) -> ArraySource | None:
    """The staged source a run's config names, written to its files on this first load; None if none is staged."""
    entry = _STAGED.pop(name, None)
    if entry is None:
        return None
    source, candidates, sets = entry
    save(source, Path(name))
    if candidates is not None and sets is not None:
        atomic_write(Path(sets), lambda f: np.save(f, np.asarray(candidates, dtype=np.uint8)))
    return source


def save(source: ArraySource, path: Path) -> None:
    """`source` as an .npz that `user_data.npz` reads back into the same source (given the run's data.task)."""
    x = np.asarray(source.x)
    if source.task == "regression":
        y = np.where(source.has_label, source.y, np.nan)
        atomic_write(path, lambda f: np.savez(f, x=x, y=y))
    else:
        y, classes = np.where(source.has_label, source.y, -1), np.array(source.classes, dtype=str)
        atomic_write(path, lambda f: np.savez(f, x=x, y=y, classes=classes))


# --- internals -------------------------------------------------------------------------------------------

# data file path -> (source, candidate sets, their file): the runs being started from memory in this process
_STAGED: dict[str, tuple[ArraySource, np.ndarray | None, str | None]] = {}


def _instance(value, module: str, name: str) -> bool:
    loaded = sys.modules.get(module)  # not loaded: the value cannot be one of its types
    return loaded is not None and isinstance(value, getattr(loaded, name))


def _arrays(x: np.ndarray, y, opts: Options, where: str, classes, quiet: bool) -> ArraySource:
    y = as_array(y, "y")
    if y.ndim == 1 and y.dtype == object:  # pandas' NA and NaT among names are missing labels, as None is
        y = np.array([_cell(v) for v in y], dtype=object)
    return labeled_arrays(x, y, opts, where, where, classes, quiet)


def _frame(frame, y, opts: Options, classes, quiet: bool) -> ArraySource:
    where = "DataFrame"
    if y is None and classes is not None:
        raise WeaklabError(f"{where}: `classes` names the class indices of y; a label column names its own")
    header, columns = _columns(frame)
    held = [i for i, c in enumerate(columns) if _holds_arrays(c)]
    if len(held) > 1:
        listed = ", ".join(repr(header[i]) for i in held)
        raise WeaklabError(f"{where}: columns {listed} all hold arrays; give one column of images (or feature vectors)")
    if held:
        x = _stack(columns[held[0]], f"{where} column {header[held[0]]!r}")
        if y is not None:
            return _arrays(x, y, opts, where, classes, quiet)
        target = _target_column([h for i, h in enumerate(header) if i != held[0]], opts, Path(where))
        cells = _cells(columns[header.index(target)])
        labels, names, unlabeled, task, sets = _labels(cells, opts, f"{where} column {target!r}", quiet=quiet)
        return _source(x, labels, names, unlabeled, task, where, sets)
    rows = [list(r) for r in zip(*[_cells(c) for c in columns])]
    if y is None:
        return table(Path(where), header, rows, opts)  # `where` stands for the file's path in the messages
    if not rows:
        raise WeaklabError(f"{where}: the table has no rows")
    return _arrays(feature_matrix(where, header, rows, list(range(len(header)))), y, opts, where, classes, quiet)


def _columns(frame) -> tuple[list[str], list[np.ndarray]]:
    """Column names and values of a pandas or polars DataFrame (by position: pandas allows repeated names)."""
    if _instance(frame, "pandas", "DataFrame"):
        header = [str(c) for c in frame.columns]
        columns = [frame.iloc[:, i].to_numpy() for i in range(frame.shape[1])]
    else:
        header = [str(c) for c in frame.columns]
        columns = [s.to_numpy() for s in frame.get_columns()]
    if not header:
        raise WeaklabError("the DataFrame has no columns")
    twice = next((h for i, h in enumerate(header) if h in header[:i]), None)
    if twice is not None:
        raise WeaklabError(f"DataFrame: it names column {twice!r} twice; give every column its own name")
    return header, columns


def _holds_arrays(column: np.ndarray) -> bool:
    """A column whose cells are arrays (images, vectors): polars' Array columns come as one N×... array."""
    if column.ndim > 1:
        return True
    if column.dtype != object:
        return False
    first = next((v for v in column if not _missing(v)), None)
    return first is not None and not isinstance(first, (str, bytes)) and np.ndim(as_array(first, "a cell")) > 0


def _stack(column: np.ndarray, where: str) -> np.ndarray:
    """One sample per cell, stacked: cells H×W are grey images (one channel added), C×H×W images, or D features."""
    if column.ndim == 1:
        cells = []
        for r, v in enumerate(column):
            if _missing(v):
                raise WeaklabError(f"{where}: row {r + 1} holds no array; fill or drop it")
            cells.append(as_array(v, f"{where} row {r + 1}"))
            if cells[-1].shape != cells[0].shape:
                raise WeaklabError(
                    f"{where}: row {r + 1} has shape {cells[-1].shape}, row 1 {cells[0].shape}; every sample must "
                    f"have one shape (resize the images first)"
                )
        if not cells:
            raise WeaklabError(f"{where}: the table has no rows")
        column = np.stack(cells)
    return image_layout(column, where)


def _missing(v) -> bool:
    """An empty cell: None, NaN, or pandas' NA / NaT."""
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(v, (float, np.floating)) and bool(np.isnan(v))


def _cell(v):
    return None if _missing(v) else v


def _cells(column: np.ndarray) -> list:
    """A column's cells as Python values; an empty cell is NaN, which a feature refuses as a missing value and a
    label column reads as a missing target, as in a CSV file."""
    return [float("nan") if _missing(v) else v for v in column.tolist()]
