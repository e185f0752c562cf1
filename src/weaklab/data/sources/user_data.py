"""A user's own data, its kind inferred from the path: .npz, CSV / Parquet tables, image folders, CSVs of image
paths, and the RAF-DB and FER2013 / FERPlus layouts. Every loader returns an ArraySource; a sample whose target is
missing (empty or NaN) is an error unless `missing_targets` is "unlabeled", and -1 in an .npz marks a sample unlabeled
on purpose. Bad input is a one-line WeaklabError, never a guess. Images are decoded with Pillow and resized once.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import WeaklabError
from ..store.rows import Rows
from .download import NpyWriter, atomic_write
from .source import ArraySource

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
TABLE_SUFFIXES = {".csv", ".parquet", ".npz"}
CACHE_VERSION = 1  # bump when decoding or resizing changes
DECODE_CHUNK = 512  # images decoded (and held in RAM) at a time when writing to the cache file


@dataclass
class Options:
    target_column: str | None = None
    task: str | None = None  # classification | regression | None (inferred)
    image_size: int | None = None
    bad_images: str = "error"  # error | skip
    missing_targets: str = "error"  # error | unlabeled: what an empty or NaN target means
    filename_target: str | None = None
    cache_dir: Path | None = None  # where decoded images are kept between runs (None: decode every run)

    @classmethod
    def from_config(cls, data) -> Options:
        if data is None:
            return cls()
        opts = cls(
            target_column=getattr(data, "target_column", None),
            task=getattr(data, "task", None),
            image_size=getattr(data, "image_size", None),
            bad_images=getattr(data, "bad_images", "error"),
            missing_targets=getattr(data, "missing_targets", "error"),
            filename_target=getattr(data, "filename_target", None),
        )
        root = getattr(data, "root", None)
        if root:
            opts.cache_dir = Path(root).expanduser() / ".weaklab-cache"
        return opts


def looks_like_path(name: str) -> bool:
    return os.sep in name or "/" in name or Path(name).suffix.lower() in TABLE_SUFFIXES or Path(name).exists()


def load_path(path: str, opts: Options) -> ArraySource:
    p = Path(path).expanduser()
    if not p.exists():
        raise WeaklabError(f"dataset path {p} does not exist")
    return enough_classes(_load_path(p, opts), str(p))


def _load_path(p: Path, opts: Options) -> ArraySource:
    if p.is_dir():
        if opts.filename_target:
            return image_filenames(p, opts)
        return image_folder(p, opts)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return npz(p, opts)
    if suffix == ".csv":
        header, rows = _read_csv(p)
        if "path" in header:
            return image_csv(p, header, rows, opts)
        return table(p, header, rows, opts)
    if suffix == ".parquet":
        header, rows = _read_parquet(p)
        return table(p, header, rows, opts)
    raise WeaklabError(f"{p}: unknown kind of data; use .npz, .csv, .parquet or an image folder")


# --- labels -------------------------------------------------------------------------------------------------


def _listing(names) -> str:
    return ", ".join(repr(n) for n in names)  # quoted: an empty name shows, a newline in one stays on the line


def _row(i: int) -> str:
    return f"row {i + 1}"


def _labels(
    values: list, opts: Options, where: str, row=_row, quiet: bool = False
) -> tuple[np.ndarray, list[str], np.ndarray, str, np.ndarray | None]:
    """(y, classes, unlabeled mask, task, candidate sets) from raw label cells; `row(i)` names cell i in messages.

    An empty or NaN cell is a missing target: an error, or (missing_targets "unlabeled") an unlabeled sample, said
    once unless quiet. A cell `a|b|c` is a candidate set (a partial label): its sample has no known label (it joins
    training only), and the returned N×C matrix holds its set (None where no cell is a set). A table with sets is
    a mix of kinds, so its empty cells are taken as unlabeled samples, and said so."""
    cells = ["" if v is None else str(v).strip() for v in values]
    is_set = np.array(["|" in c for c in cells], dtype=bool)
    missing = np.array([not s and _is_missing(c) for c, s in zip(cells, is_set)], dtype=bool)
    unlabeled = missing | is_set
    known = [c for c, u in zip(cells, unlabeled) if not u]
    if not known and not is_set.any():
        raise WeaklabError(f"{where}: no sample has a label")
    if is_set.any():
        opts = dataclasses.replace(opts, missing_targets="unlabeled")
        if opts.task == "regression":
            raise WeaklabError(
                f"{where}: {row(int(np.flatnonzero(is_set)[0]))} holds a candidate set ('a|b'), which is for classification"
            )
    _missing_targets(missing, opts, where, row, quiet)
    numbers = _as_numbers(known)
    if numbers is not None and not np.isfinite(numbers).all():
        i = int(np.flatnonzero(~unlabeled)[np.flatnonzero(~np.isfinite(numbers))[0]])
        raise WeaklabError(f"{where}: {row(i)} has the label {cells[i]!r}, not a finite number; fix or drop it")
    task = opts.task
    if task is None:  # integers (or text) are classes; any fractional number makes it a regression
        fractional = numbers is not None and (numbers != np.round(numbers)).any()
        task = "regression" if fractional and not is_set.any() else "classification"
    if task == "regression":
        if numbers is None:
            bad = next(c for c in known if _as_numbers([c]) is None)
            raise WeaklabError(f"{where}: regression targets must be numbers, found {bad!r}")
        y = np.zeros(len(cells), np.float32)
        y[~unlabeled] = numbers
        return y, [], unlabeled, task, None
    members = {int(i): [t.strip() for t in cells[i].split("|")] for i in np.flatnonzero(is_set)}
    for i, tokens in members.items():
        if any(not t for t in tokens):
            raise WeaklabError(
                f"{where}: {row(i)} has the candidate set {cells[i]!r} with an empty member; write it like 3|5|7"
            )
    # class names: the labels and the members of every set, as one vocabulary
    vocabulary = known + [t for tokens in members.values() for t in tokens]
    all_numbers = _as_numbers(vocabulary)
    if all_numbers is not None and (all_numbers == np.round(all_numbers)).all():
        canonical = {c: str(int(float(c))) for c in vocabulary}
        classes = [str(v) for v in sorted(set(int(v) for v in all_numbers))]
    else:
        flat = cells if not is_set.any() else [c if not s else "" for c, s in zip(cells, is_set)]
        _not_mixed(flat, unlabeled, where, row)
        canonical = {c: c for c in vocabulary}
        classes = sorted(set(vocabulary))
    index = {c: k for k, c in enumerate(classes)}
    y = np.zeros(len(cells), np.int64)
    y[~unlabeled] = [index[canonical[c]] for c in known]
    sets = None
    if members:
        sets = np.ones((len(cells), len(classes)), dtype=bool)
        for i, tokens in members.items():
            sets[i] = False
            sets[i, [index[canonical[t]] for t in tokens]] = True
    return y, classes, unlabeled, task, sets


def _index(i: int) -> str:
    return f"index {i}"


def _span(values: np.ndarray) -> str:
    shown = ", ".join(str(v) for v in values[:3])
    return shown + (f", ..., {values[-1]}" if len(values) > 3 else "")


def image_layout(x: np.ndarray, where: str, quiet: bool = False) -> np.ndarray:
    """Samples as the network takes them (N×C×H×W images, N×D features) from the layouts arrays of images come in:
    N×H×W grey images gain their channel; N×H×W×C (channels last: Keras, Pillow, OpenCV) is transposed, and said
    once. A 4-d array whose second axis could be channels (1, 3 or 4) is taken as channels first."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[3] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        if not quiet:
            print(
                f"weaklab: {where}: x has shape {tuple(x.shape)}, read as N×H×W×C (channels last) and "
                f"transposed to N×C×H×W",
                file=sys.stderr,
            )
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


def _is_missing(cell: str) -> bool:
    if not cell:
        return True
    try:
        return math.isnan(float(cell))
    except ValueError:
        return False


def _missing_targets(missing: np.ndarray, opts: Options, where: str, row, quiet: bool) -> None:
    """Missing targets are an error unless the user asked for them as unlabeled samples; then said once."""
    n = int(missing.sum())
    if not n:
        return
    rows = f"{n} row{'s have' if n > 1 else ' has'} no target (first: {row(int(np.flatnonzero(missing)[0]))})"
    if opts.missing_targets != "unlabeled":
        raise WeaklabError(
            f"{where}: {rows}; pass --missing-targets unlabeled to train on them as unlabeled samples, or fill them in"
        )
    if not quiet:
        print(f"weaklab: {where}: {rows}; they join training as unlabeled samples", file=sys.stderr)


def _not_mixed(cells: list[str], unlabeled: np.ndarray, where: str, row) -> None:
    """Class labels are all numbers or all names: one `cat` among 0..9 is a typo, not an eleventh class."""
    numeric = np.array([not u and _as_numbers([c]) is not None for c, u in zip(cells, unlabeled)])
    text = ~numeric & ~unlabeled
    if not numeric.any() or not text.any():
        return
    odd, kind, usual = (text, "text", "numbers") if text.sum() <= numeric.sum() else (numeric, "numbers", "text")
    values = list(dict.fromkeys(cells[i] for i in np.flatnonzero(odd)))
    shown = ", ".join(repr(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
    n = int(odd.sum())
    raise WeaklabError(
        f"{where}: {n} label{'s are' if n > 1 else ' is'} {kind} ({shown}; first: {row(int(np.flatnonzero(odd)[0]))}) "
        f"among {usual}; fix or drop {'them' if n > 1 else 'it'}, or give every class a name"
    )


def _as_numbers(cells: list[str]) -> np.ndarray | None:
    try:
        return np.array([float(c) for c in cells], dtype=np.float64)
    except ValueError:
        return None


def enough_classes(src: ArraySource, where: str) -> ArraySource:
    """Classification needs two classes among the labels: with one, every prediction is right and says nothing."""
    if src.task == "classification":
        present = np.unique(src.y[src.has_label])
        if len(present) < 2:
            only = src.classes[int(present[0])] if len(present) else "none"
            raise WeaklabError(
                f"{where}: classification needs at least 2 classes, found only {only!r}; add samples of another "
                f"class, or check the label column"
            )
    return src


def _source(x, y, classes, unlabeled, task, name, sets=None, **kw) -> ArraySource:
    return ArraySource(
        x=x,
        y=y,
        classes=classes,
        name=name,
        task=task,
        unlabeled=unlabeled if unlabeled is not None and unlabeled.any() else None,
        candidates=sets,
        **kw,
    )


def image_shape(value) -> tuple[int, int, int]:
    """C×H×W from "28x28", "3x32x32" or [1, 28, 28]; H×W is one grey channel."""
    parts = value.lower().replace("×", "x").split("x") if isinstance(value, str) else list(value)
    try:
        dims = [int(v) for v in parts]
    except (TypeError, ValueError):
        dims = []
    if len(dims) not in (2, 3) or min(dims) < 1:
        raise WeaklabError(f"data.image_shape must be H×W or C×H×W in pixels, like 28x28 or 3x32x32; got {value!r}")
    c, h, w = dims if len(dims) == 3 else [1, *dims]
    return c, h, w


def rows_as_images(src: ArraySource, shape) -> ArraySource:
    """Flat samples (a table's rows, an N×D array) as C×H×W images, each row read in NumPy's order (channel, then
    row, then column): a CSV of pixel columns trains a convolutional network with image views."""
    c, h, w = image_shape(shape)
    if len(src.sample_shape) != 1:
        shown = "×".join(map(str, src.sample_shape))
        raise WeaklabError(
            f"{src.name}: data.image_shape reads flat rows as images, but the samples are {shown} already"
        )
    if src.sample_shape[0] != c * h * w:
        raise WeaklabError(
            f"{src.name}: data.image_shape {c}×{h}×{w} holds {c * h * w} values, but each sample has "
            f"{src.sample_shape[0]} features"
        )

    def images(x):
        return None if x is None else np.asarray(x).reshape(len(x), c, h, w)

    return dataclasses.replace(src, x=images(src.x), test_x=images(src.test_x), extra_x=images(src.extra_x))


def keep_target_range(src: ArraySource, target_range) -> ArraySource:
    """Only the samples whose regression target lies in [low, high] (unlabeled samples are kept)."""
    if src.task != "regression":
        raise WeaklabError(f"data.target_range applies to regression targets, but {src.name} is a classification task")
    if len(target_range) != 2 or not target_range[0] <= target_range[1]:
        raise WeaklabError(f"data.target_range must be [low, high] with low <= high, got {target_range}")
    low, high = target_range

    def keep(y, unlabeled=None):
        inside = (y >= low) & (y <= high)
        return inside if unlabeled is None else inside | unlabeled

    k = keep(src.y, src.unlabeled)
    if not (k & src.has_label).any():
        raise WeaklabError(f"{src.name}: no target lies in {target_range}")
    test = {}
    if src.test_x is not None and src.test_y is not None:  # an ArraySource has both or neither
        kt = keep(src.test_y)
        test = {"test_x": Rows.of(src.test_x).select(np.flatnonzero(kt)), "test_y": src.test_y[kt]}
    return ArraySource(  # the kept rows as a lazy selection: a memory-mapped image cache is not copied
        x=Rows.of(src.x).select(np.flatnonzero(k)),
        y=src.y[k],
        classes=[],
        name=src.name,
        flip=src.flip,
        info=src.info,
        task="regression",
        unlabeled=None if src.unlabeled is None else src.unlabeled[k],
        extra_x=src.extra_x,
        **test,
    )


# --- arrays and tables --------------------------------------------------------------------------------------


def npz(path: Path, opts: Options) -> ArraySource:
    """`x` (N×D, or images N×C×H×W, N×H×W or N×H×W×C) and `y`: class indices (-1 marks an unlabeled sample), class
    names, or real targets; a NaN y is a missing target."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:
        raise WeaklabError(f"{path}: cannot read as a NumPy .npz file ({type(e).__name__}: {e})") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise WeaklabError(f"{path}: needs arrays named x and y, found {_listing(arrays) or 'none'}")
    return labeled_arrays(arrays["x"], arrays["y"], opts, str(path), path.stem, arrays.get("classes"))


def labeled_arrays(
    x: np.ndarray, y: np.ndarray, opts: Options, where: str, name: str, classes=None, quiet: bool = False
) -> ArraySource:
    """An .npz's `x` and `y` (or the same arrays given in memory, data/sources/arrays.py), checked as one: `y` holds
    class indices (-1: unlabeled; `classes` names them) or real targets (NaN: a missing target); `where` names the
    data in messages."""
    path = where  # the messages name the file, or what the caller passed
    if x.ndim == 0 or y.ndim != 1 or len(y) != len(x):
        raise WeaklabError(
            f"{path}: y must hold one value per sample of x (x has shape {x.shape}), got shape {y.shape}"
        )
    x = image_layout(x, path, quiet)
    if y.dtype.kind in "OUS":  # class names (or mixed cells): read as a table's label column
        if classes is not None:
            raise WeaklabError(f"{path}: y holds class names already; `classes` names class indices 0..C-1")
        labels, names, unlabeled, task, sets = _labels(list(y), opts, f"{path} y", _index, quiet)
        return _source(x, labels, names, unlabeled, task, name, sets)
    if y.dtype.kind not in "biuf":
        raise WeaklabError(
            f"{path}: y has dtype {y.dtype}; use integer class indices (named by a `classes` array) or real targets"
        )
    y = y.astype(np.int64) if y.dtype.kind == "b" else y
    is_float = y.dtype.kind == "f"
    if is_float and np.isinf(y).any():
        raise WeaklabError(
            f"{path}: y holds inf (first: {_index(int(np.flatnonzero(np.isinf(y))[0]))}); fix or drop it"
        )
    task = opts.task or ("regression" if is_float and (np.isfinite(y) & (y != np.round(y))).any() else "classification")
    unlabeled = np.isnan(y) if is_float else np.zeros(len(y), bool)
    if unlabeled.all() and len(y):
        raise WeaklabError(f"{path}: no sample has a label (y is all NaN)")
    _missing_targets(unlabeled, opts, f"{path} y", _index, quiet=quiet)
    if task == "classification":
        unlabeled |= np.where(np.isnan(y), False, y == -1) if is_float else (y == -1)
        if classes is not None:
            classes = [str(c) for c in classes]
        else:
            known = y[~unlabeled]
            top = int(known.max()) + 1 if len(known) else 0
            if top > max(len(y), 1000):  # indices this sparse are ids or a wrong column, not class indices
                raise WeaklabError(
                    f"{path}: label {top - 1} would make {top} classes for {len(y)} samples; y must hold class "
                    f"indices 0..C-1 (name them with a `classes` array)"
                )
            present = np.unique(known.astype(np.int64))
            classes = [str(c) for c in range(top)]
            if len(present) and present[0] >= 0 and len(present) < top:
                # labels such as 1..10: classes named by their values, as a table's label column is read
                classes = [str(c) for c in present]
                y = np.searchsorted(present, np.where(unlabeled, present[0], y))  # unlabeled: set to 0 below
                if not quiet:
                    print(
                        f"weaklab: {path}: y's labels ({_span(present)}) are not the class indices 0..{len(present) - 1}; "
                        f"read as {len(present)} classes named by their values (a `classes` array keeps indices)",
                        file=sys.stderr,
                    )
        y = np.where(unlabeled, 0, y)
    return _source(x, y, classes if task == "classification" else [], unlabeled, task, name)


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's byte-order mark
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise WeaklabError(f"{path}: cannot read as CSV ({e})") from None
    if not rows:
        raise WeaklabError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    twice = next((h for i, h in enumerate(header) if h in header[:i]), None)
    if twice is not None:
        raise WeaklabError(f"{path}: the header names column {twice!r} twice; give every column its own name")
    body = [r for r in rows[1:] if r]
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise WeaklabError(f"{path}: line {i + 2} has {len(r)} fields, the header has {len(header)}")
    return header, body


def _read_parquet(path: Path) -> tuple[list[str], list[list]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise WeaklabError(f"{path}: reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        t = pq.read_table(path)
    except Exception as e:
        raise WeaklabError(f"{path}: cannot read as Parquet ({type(e).__name__}: {e})") from None
    columns = [t.column(i).to_pylist() for i in range(t.num_columns)]
    return list(t.column_names), [list(r) for r in zip(*columns)]


def _target_column(header: list[str], opts: Options, path: Path) -> str:
    if opts.target_column:
        if opts.target_column not in header:
            raise WeaklabError(f"{path}: no column {opts.target_column!r}; columns are {_listing(header)}")
        return opts.target_column
    for name in ("label", "target", "y"):
        if name in header:
            return name
    raise WeaklabError(f"{path}: name the label or target column with --target-column (columns: {_listing(header)})")


def table(path: Path, header: list[str], rows: list[list], opts: Options) -> ArraySource:
    """Numeric feature columns plus one label/target column; an empty or NaN label is a missing target."""
    target = _target_column(header, opts, path)
    if not rows:
        raise WeaklabError(f"{path}: the table has no rows")
    t = header.index(target)
    features = [i for i in range(len(header)) if i != t]
    if not features:
        raise WeaklabError(f"{path}: no feature columns besides {target!r}")
    x = feature_matrix(path, header, rows, features)
    y, classes, unlabeled, task, sets = _labels([row[t] for row in rows], opts, f"{path} column {target!r}")
    return _source(x, y, classes, unlabeled, task, path.stem, sets)


def feature_matrix(path: Path | str, header: list[str], rows: list[list], features: list[int]) -> np.ndarray:
    """The `features` columns of a table's rows as float32 samples; a cell that is not a finite number (text, a
    missing value) is an error naming its column and row."""
    x = np.empty((len(rows), len(features)), np.float64)
    for r, row in enumerate(rows):
        for j, i in enumerate(features):
            try:
                x[r, j] = float(row[i])
            except (TypeError, ValueError, OverflowError):
                raise WeaklabError(
                    f"{path}: column {header[i]!r} row {r + 1} is {row[i]!r}, not a number; feature columns must "
                    f"be numeric (encode or drop it)"
                ) from None
    bad = ~(np.abs(x) <= np.finfo(np.float32).max)  # NaN, inf, or past float32, which the samples are kept in
    if bad.any():
        r, j = (int(k[0]) for k in np.nonzero(bad))
        raise WeaklabError(
            f"{path}: column {header[features[j]]!r} row {r + 1} is {rows[r][features[j]]!r}, not a finite number "
            f"(a missing value?); fill, impute or drop it"
        )
    return x.astype(np.float32)


# --- images -------------------------------------------------------------------------------------------------


class ImageReader:
    """Decodes image files with Pillow, converts to one mode and resizes once to one size (the configured side,
    or the first image's size). A file that fails to decode is an error, or skipped and reported."""

    def __init__(self, opts: Options):
        self.opts = opts
        self.size: tuple[int, int] | None = (opts.image_size, opts.image_size) if opts.image_size else None
        self.mode: str | None = None
        self.skipped: list[str] = []

    def read(self, path: Path) -> np.ndarray | None:
        from PIL import Image

        try:
            with Image.open(path) as opened:
                opened.load()
                if self.mode is None:
                    self.mode = "L" if opened.mode in ("L", "1", "I", "I;16", "F") else "RGB"
                img = opened.convert(self.mode)
                if self.size is None:
                    self.size = img.size
                if img.size != self.size:
                    img = img.resize(self.size, Image.Resampling.BILINEAR)
                a = np.asarray(img, dtype=np.uint8)
        except FileNotFoundError:
            raise WeaklabError(f"image {path} does not exist") from None
        except Exception as e:  # a corrupt file makes Pillow raise many types (OSError, EOFError, struct.error, ...)
            if self.opts.bad_images == "skip":
                self.skipped.append(str(path))
                return None
            raise WeaklabError(
                f"image {path} cannot be decoded ({type(e).__name__}); fix or remove it, or pass --bad-images skip "
                f"(or data.bad_images=skip in a recipe) to leave it out"
            ) from None
        return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)

    def read_all(self, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
        """Stacked N×C×H×W uint8 images and the mask of the paths that decoded; from the decoded-image cache
        when the same files (names, sizes, modification times) were decoded with the same options before."""
        key = self._cache_key(paths)
        if key is None or self.opts.cache_dir is None:  # no cache folder, or a file it cannot key
            return self._decode_all(paths)
        x_path, meta_path = self.opts.cache_dir / f"images-{key}.npy", self.opts.cache_dir / f"images-{key}.json"
        try:
            meta = json.loads(meta_path.read_text())
            x, ok = np.load(x_path, mmap_mode="r", allow_pickle=False), np.array(meta["ok"], dtype=bool)
            if len(ok) != len(paths):
                raise ValueError("cache entry does not match the file list")
            self.mode, self.size = ("L" if x.shape[1] == 1 else "RGB"), (x.shape[3], x.shape[2])  # as decoded
            skipped = [str(p) for p, good in zip(paths, ok) if not good]
            self.skipped += skipped
            self._report(skipped)
            return x, ok
        except (OSError, ValueError, KeyError):
            pass  # not cached yet (or unreadable): decode
        self.opts.cache_dir.mkdir(parents=True, exist_ok=True)
        ok = self._decode_to_file(paths, x_path)
        text = json.dumps({"ok": ok.tolist()})
        atomic_write(meta_path, lambda f: f.write(text.encode()))  # written last: marks the entry complete
        return np.load(x_path, mmap_mode="r", allow_pickle=False), ok

    def _cache_key(self, paths: list[Path]) -> str | None:
        if self.opts.cache_dir is None:
            return None
        h = hashlib.sha256(json.dumps([CACHE_VERSION, self.opts.image_size, self.opts.bad_images]).encode())
        try:
            for p in paths:
                st = p.stat()
                h.update(f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            return None  # a missing file: decoding will name it
        return h.hexdigest()[:32]

    @staticmethod
    def _report(skipped: list[str]) -> None:
        if skipped:
            print(f"weaklab: skipped {len(skipped)} unreadable images (first: {skipped[0]})", file=sys.stderr)

    def _decode_first(self, paths: list[Path]) -> list[np.ndarray | None]:
        """Decode until the first readable image, which fixes mode and size for the rest."""
        images: list[np.ndarray | None] = []
        while len(images) < len(paths) and (self.mode is None or self.size is None):
            images.append(self.read(paths[len(images)]))
        return images

    def _decode_chunks(self, paths: list[Path], start: int):
        """(offset, decoded images or None) for paths[start:], DECODE_CHUNK at a time. Pillow releases the GIL
        while decoding, so threads decode in parallel; map keeps the order."""
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            for at in range(start, len(paths), DECODE_CHUNK):
                yield at, list(pool.map(self.read, paths[at : at + DECODE_CHUNK]))

    def _finish(self, paths: list[Path], ok: np.ndarray) -> None:
        self.skipped.sort()
        if not ok.any():
            raise WeaklabError(f"none of the {len(paths)} images could be decoded")
        self._report([str(p) for p, good in zip(paths, ok) if not good])

    def _decode_all(self, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
        """All images stacked in RAM (no cache folder to write them to)."""
        images = self._decode_first(paths)
        for _, chunk in self._decode_chunks(paths, len(images)):
            images += chunk
        ok = np.array([im is not None for im in images], dtype=bool)
        self._finish(paths, ok)
        return np.stack([im for im in images if im is not None]), ok

    def _decode_to_file(self, paths: list[Path], x_path: Path) -> np.ndarray:
        """Decode into the .npy file `x_path` as the images come, never holding more than a chunk of them, so an
        image set larger than RAM can be decoded; the mask of the paths that decoded. Rows of skipped images are
        squeezed out as they come; if any were skipped, the filled rows are copied, in chunks, into a file of
        the right length."""
        first = self._decode_first(paths)
        ok = np.zeros(len(paths), dtype=bool)
        if self.mode is None:  # nothing decoded
            self._finish(paths, ok)
        assert self.size is not None  # fixed with the mode by the first decoded image
        channels = 1 if self.mode == "L" else 3
        shape = (channels, self.size[1], self.size[0])
        writer, filled = NpyWriter(x_path, (len(paths), *shape), np.uint8), 0
        try:
            for at, chunk in [(0, first), *self._decode_chunks(paths, len(first))]:
                for j, im in enumerate(chunk):
                    if im is not None:
                        writer.array[filled], ok[at + j], filled = im, True, filled + 1
            self._finish(paths, ok)
            if filled < len(paths):
                compact = NpyWriter(x_path, (filled, *shape), np.uint8)
                try:
                    for s in range(0, filled, DECODE_CHUNK):
                        e = min(s + DECODE_CHUNK, filled)
                        compact.array[s:e] = writer.array[s:e]
                except BaseException:
                    compact.abort()
                    raise
                writer.abort()
                writer = compact
            writer.close()
        except BaseException:
            writer.abort()
            raise
        return ok


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def image_folder(root: Path, opts: Options) -> ArraySource:
    """root/<class>/<image>: one sub-folder per class."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files, labels = [], []
    for c, name in enumerate(classes):
        found = _images_in(root / name)
        files += found
        labels += [c] * len(found)
    if not files:
        raise WeaklabError(
            f"{root}: no images found; expected root/<class>/<image> (PNG, JPEG), or pass a CSV of path,label"
        )
    empty = np.flatnonzero(np.bincount(labels, minlength=len(classes)) == 0)
    if len(empty):  # a class with no samples would still be a class the model predicts
        raise WeaklabError(
            f"{root / classes[empty[0]]}: class folder holds no images (PNG, JPEG, ...); remove it or add images"
        )
    reader = ImageReader(opts)
    x, ok = reader.read_all(files)
    y = np.array(labels)[ok]
    lost = np.flatnonzero(np.bincount(y, minlength=len(classes)) == 0)
    if len(lost):
        raise WeaklabError(
            f"{root / classes[lost[0]]}: none of the class's images could be decoded; fix them or remove the folder"
        )
    return ArraySource(x=x, y=y, classes=classes, name=root.name, info={"skipped_images": reader.skipped})


def parse_utkface(path: Path) -> float:
    """UTKFace names: age_gender_race_date.jpg.chip.jpg; the age is the first field."""
    head = path.name.split("_")[0]
    if not head.isdigit():
        raise WeaklabError(f"{path}: file name does not start with an age (UTKFace: age_gender_race_date.jpg)")
    return float(head)


def image_filenames(root: Path, opts: Options) -> ArraySource:
    """A folder of images whose regression target is read from each file name."""
    files = _images_in(root)
    if not files:
        raise WeaklabError(f"{root}: no images found")
    targets = [parse_utkface(f) for f in files]
    reader = ImageReader(opts)
    x, ok = reader.read_all(files)
    return ArraySource(
        x=x,
        y=np.array(targets, np.float32)[ok],
        classes=[],
        name=root.name,
        task="regression",
        info={"skipped_images": reader.skipped},
    )


def image_csv(path: Path, header: list[str], rows: list[list[str]], opts: Options) -> ArraySource:
    """A CSV of `path,label` (or `path,target`): paths relative to the CSV's folder; an empty label is a missing
    target."""
    target = _target_column([h for h in header if h != "path"], opts, path)
    p, t = header.index("path"), header.index(target)
    files = []
    for i, row in enumerate(rows):
        f = path.parent / row[p].strip()
        if not _is_file(f):
            raise WeaklabError(f"{path}: line {i + 2}: image {row[p]!r} does not exist (relative to {path.parent})")
        files.append(f.resolve())
    if not files:
        raise WeaklabError(f"{path}: the CSV lists no images")
    cells, where = [row[t] for row in rows], f"{path} column {target!r}"
    labels = _labels(cells, opts, where, row=_line)  # bad labels stop loading before any image is decoded
    reader = ImageReader(opts)
    x, ok = reader.read_all(files)
    if not ok.all():  # classes from the decoded images only
        labels = _labels([c for c, good in zip(cells, ok) if good], opts, where, row=_line, quiet=True)
    y, classes, unlabeled, task, sets = labels
    return _source(x, y, classes, unlabeled, task, path.stem, sets, info={"skipped_images": reader.skipped})


def _line(i: int) -> str:
    return f"line {i + 2}"  # the header is line 1


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL byte, names no file
        return False


# --- named layouts of a user's copy ---------------------------------------------------------------------------

RAFDB_CLASSES = ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral"]
FER2013_CLASSES = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
FERPLUS_CLASSES = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]


def load_layout(name: str, root, opts: Options) -> ArraySource:
    if root is None:
        raise WeaklabError(f"dataset {name} loads from your copy: pass --data-root DIR pointing at it")
    root = Path(root).expanduser()
    loader = {"rafdb": rafdb, "fer2013": fer2013, "ferplus": ferplus, "utkface": utkface}[name]
    return enough_classes(loader(root, opts), name)


def utkface(root: Path, opts: Options) -> ArraySource:
    """UTKFace: a folder of face images whose file names carry the age (`age_gender_race_date.jpg.chip.jpg`)."""
    if not root.is_dir():
        raise WeaklabError(f"UTKFace: {root} is not a folder; --data-root must be the folder of UTKFace images")
    return image_filenames(root, dataclasses.replace(opts, filename_target="utkface", task="regression"))


def rafdb(root: Path, opts: Options) -> ArraySource:
    """RAF-DB basic: EmoLabel/list_patition_label.txt (`train_00001.jpg 5`, labels 1-7) and
    Image/aligned/train_00001_aligned.jpg; `test_*` lines form the official test split."""
    listing = root / "EmoLabel" / "list_patition_label.txt"
    if not listing.is_file():
        raise WeaklabError(f"RAF-DB: {listing} is missing; --data-root must be the folder holding EmoLabel/ and Image/")
    splits: dict[str, tuple[list[Path], list[int]]] = {"train": ([], []), "test": ([], [])}
    for i, line in enumerate(listing.read_text().splitlines()):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= 7:
            raise WeaklabError(f"{listing}: line {i + 1} {line!r} is not `<name>.jpg <label 1-7>`")
        split = "test" if parts[0].startswith("test") else "train"
        stem = Path(parts[0]).stem
        image = root / "Image" / "aligned" / f"{stem}_aligned.jpg"
        if not image.is_file():
            raise WeaklabError(f"{listing}: line {i + 1}: image {image} does not exist")
        splits[split][0].append(image)
        splits[split][1].append(int(parts[1]) - 1)
    reader = ImageReader(opts)
    (x, okx), (tx, okt) = (reader.read_all(splits[s][0]) for s in ("train", "test"))
    return ArraySource(
        x=x,
        y=np.array(splits["train"][1])[okx],
        classes=RAFDB_CLASSES,
        name="rafdb",
        test_x=tx,
        test_y=np.array(splits["test"][1])[okt],
        info={"skipped_images": reader.skipped},
    )


def _fer_pixels(root: Path) -> tuple[Path, list[str], list[list[str]]]:
    path = root / "fer2013.csv"
    if not path.is_file():
        raise WeaklabError(f"FER2013: {path} is missing; --data-root must be the folder holding fer2013.csv")
    header, rows = _read_csv(path)
    for col in ("emotion", "pixels", "Usage"):
        if col not in header:
            raise WeaklabError(f"{path}: missing column {col!r} (columns: {_listing(header)})")
    return path, header, rows


def _fer_image(path: Path, line: int, pixels: str) -> np.ndarray:
    try:
        a = np.array(pixels.split(), dtype=np.int64)
    except ValueError:
        raise WeaklabError(f"{path}: line {line}: pixels are not space-separated integers") from None
    if a.size != 48 * 48 or a.min() < 0 or a.max() > 255:
        raise WeaklabError(f"{path}: line {line}: expected 2304 pixel values 0-255, found {a.size}")
    return a.astype(np.uint8).reshape(1, 48, 48)


def _fer_split(usage: str) -> str:
    # Training and PublicTest form the training pool (validation is carved from it); PrivateTest is the test.
    return "test" if usage == "PrivateTest" else "train"


def fer2013(root: Path, opts: Options) -> ArraySource:
    path, header, rows = _fer_pixels(root)
    e, px, u = header.index("emotion"), header.index("pixels"), header.index("Usage")
    out: dict[str, tuple[list[np.ndarray], list[int]]] = {"train": ([], []), "test": ([], [])}
    for i, row in enumerate(rows):
        if not row[e].strip().isdigit() or not 0 <= int(row[e]) <= 6:
            raise WeaklabError(f"{path}: line {i + 2}: emotion {row[e]!r} is not a label 0-6")
        s = out[_fer_split(row[u].strip())]
        s[0].append(_fer_image(path, i + 2, row[px]))
        s[1].append(int(row[e]))
    return _fer_source("fer2013", FER2013_CLASSES, out)


def ferplus(root: Path, opts: Options) -> ArraySource:
    """FER2013 pixels relabeled by FERPlus's ten annotators (fer2013new.csv): the majority emotion; images whose
    majority is `unknown` or `NF` (not a face), or with no votes, are dropped."""
    path, header, rows = _fer_pixels(root)
    votes_path = root / "fer2013new.csv"
    if not votes_path.is_file():
        raise WeaklabError(f"FERPlus: {votes_path} is missing; place the FERPlus vote file next to fer2013.csv")
    vheader, vrows = _read_csv(votes_path)
    columns = [*FERPLUS_CLASSES, "unknown", "NF"]
    missing = [c for c in columns if c not in vheader]
    if missing:
        raise WeaklabError(f"{votes_path}: missing vote columns {', '.join(missing)}")
    if len(vrows) != len(rows):
        raise WeaklabError(f"{votes_path}: {len(vrows)} rows but fer2013.csv has {len(rows)}; they must align")
    idx = [vheader.index(c) for c in columns]
    px, u = header.index("pixels"), header.index("Usage")
    out: dict[str, tuple[list[np.ndarray], list[int]]] = {"train": ([], []), "test": ([], [])}
    for i, (row, vrow) in enumerate(zip(rows, vrows)):
        try:
            votes = np.array([float(vrow[j] or 0) for j in idx])
        except ValueError:
            raise WeaklabError(f"{votes_path}: line {i + 2}: votes must be numbers") from None
        winner = int(votes.argmax())
        if votes.sum() == 0 or winner >= len(FERPLUS_CLASSES):
            continue
        s = out[_fer_split(row[u].strip())]
        s[0].append(_fer_image(path, i + 2, row[px]))
        s[1].append(winner)
    return _fer_source("ferplus", FERPLUS_CLASSES, out)


def _fer_source(name, classes, out) -> ArraySource:
    if not out["train"][0]:
        raise WeaklabError(f"{name}: no training images")
    test_x = test_y = None
    if out["test"][0]:
        test_x, test_y = np.stack(out["test"][0]), np.array(out["test"][1])
    return ArraySource(
        x=np.stack(out["train"][0]),
        y=np.array(out["train"][1]),
        classes=classes,
        name=name,
        flip=True,
        test_x=test_x,
        test_y=test_y,
    )
