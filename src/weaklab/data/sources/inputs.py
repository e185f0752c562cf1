"""What `weaklab predict` reads: a NumPy array, or images (one file, a folder, a CSV list of paths).

Images are decoded and resized to the run's input shape the way training decoded them (Pillow, one colour mode,
bilinear resize), so a model trained on a folder of photos predicts on another folder of photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import WeaklabError
from .user_data import IMAGE_SUFFIXES, ImageReader, Options, _images_in, _read_csv


def load_inputs(path: Path, input_shape: tuple[int, ...], bad_images: str = "error") -> tuple[np.ndarray, list[str]]:
    """(samples, names): the names are row numbers for arrays, file paths for images."""
    path = Path(path).expanduser()
    if not path.exists():
        raise WeaklabError(f"input {path} does not exist")
    suffix = path.suffix.lower()
    if path.is_file() and suffix in (".npy", ".npz"):
        x = _array(path)
        return x, [str(i) for i in range(len(x) if x.ndim > len(input_shape) else 1)]
    if path.is_dir():
        files = _images_in(path)
        if not files:
            raise WeaklabError(f"{path}: no images found (PNG, JPEG, ... in the folder or its sub-folders)")
    elif suffix in IMAGE_SUFFIXES:
        files = [path]
    elif suffix == ".csv":
        files = _listed(path)
    else:
        raise WeaklabError(
            f"{path}: predict reads a .npy / .npz array, an image, a folder of images or a CSV with a `path` column"
        )
    return _images(files, input_shape, bad_images)


def _array(path: Path) -> np.ndarray:
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:
        raise WeaklabError(f"cannot read {path} as a NumPy .npy/.npz file ({type(e).__name__}: {e})") from None
    if hasattr(data, "files"):
        if "x" not in data.files:
            raise WeaklabError(f"{path} holds arrays {', '.join(data.files)}; predict needs one named `x`")
        data = data["x"]
    return data


def _listed(path: Path) -> list[Path]:
    """The `path` column of a CSV (the same layout as a training CSV; other columns are ignored)."""
    header, rows = _read_csv(path)
    if "path" not in header:
        raise WeaklabError(f"{path}: a CSV of images needs a header with a `path` column")
    column = header.index("path")
    files = []
    for line, row in enumerate(rows, start=2):
        if not row[column].strip():
            raise WeaklabError(f"{path}: line {line} has no image path")
        files.append((path.parent / row[column].strip()).resolve())
    if not files:
        raise WeaklabError(f"{path}: the CSV lists no images")
    return files


def _images(files: list[Path], input_shape: tuple[int, ...], bad_images: str) -> tuple[np.ndarray, list[str]]:
    if len(input_shape) != 3:
        raise WeaklabError(
            f"this run was trained on feature vectors of length {input_shape[0]}, not images; pass a .npy array"
        )
    channels, height, width = input_shape
    reader = ImageReader(Options(bad_images=bad_images))
    reader.mode, reader.size = ("L" if channels == 1 else "RGB"), (width, height)
    if channels not in (1, 3):
        raise WeaklabError(f"this run expects {channels}-channel inputs; images decode to 1 (grey) or 3 (RGB)")
    decoded = [(f, reader.read(f)) for f in files]
    kept = [(str(f), im) for f, im in decoded if im is not None]
    if reader.skipped:
        print(f"weaklab: skipped {len(reader.skipped)} unreadable images (first: {reader.skipped[0]})")
    if not kept:
        raise WeaklabError(f"none of the {len(files)} images could be decoded")
    return np.stack([im for _, im in kept]), [name for name, _ in kept]
