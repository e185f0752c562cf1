"""What `weaklab predict` reads: a NumPy array, or images (one file, a folder, a CSV list of paths).

Images are decoded the way training decoded them (Pillow, one colour mode); an image of another size than the
run's input is an error unless `resize` (then bilinear, as training resized), so a photo is never silently
squashed. Inputs on another scale than the training data (0-255 PNGs into a run trained on 0-16 arrays) are
refused by `check_scale`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import WeaklabError
from .user_data import IMAGE_SUFFIXES, ImageReader, Options, _images_in, _read_csv


def load_inputs(
    path: Path, input_shape: tuple[int, ...], bad_images: str = "error", resize: bool = False
) -> tuple[np.ndarray, list[str]]:
    """(samples, names): the names are row numbers for arrays, file paths for images. `resize`: images of another
    size than the run's input are resized to it (otherwise an error)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise WeaklabError(f"input {path} does not exist")
    suffix = path.suffix.lower()
    if path.is_file() and suffix in (".npy", ".npz"):
        x = _array(path)
        fitted = in_layout(x, input_shape)
        x = x if fitted is None else fitted  # None: the run's own check names the shape it expects
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
    return _images(files, input_shape, bad_images, resize)


def _array(path: Path) -> np.ndarray:
    try:
        data = np.load(path, allow_pickle=False)
        if hasattr(data, "files"):
            if "x" not in data.files:
                raise WeaklabError(f"{path} holds arrays {', '.join(data.files)}; predict needs one named `x`")
            data = data["x"]  # read here: an object array fails now, inside the try
    except WeaklabError:
        raise
    except Exception as e:
        raise WeaklabError(f"cannot read {path} as a NumPy .npy/.npz file ({type(e).__name__}: {e})") from None
    if data.size == 0:
        raise WeaklabError(f"{path} holds no samples (its array has shape {data.shape})")
    return data


def in_layout(x: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray | None:
    """`x` as N samples of the run's `input_shape` (C×H×W or D), from N samples or one, images channels first or
    last (N×H×W×C), grey ones with or without their channel axis, or flat rows of C·H·W values (read as
    `data.image_shape` reads them), as training reads them; None if none fits."""
    layouts = {tuple(input_shape): lambda a: a}
    if len(input_shape) == 3:
        c, h, w = input_shape
        layouts.setdefault((h, w, c), lambda a: a.transpose(0, 3, 1, 2))
        layouts.setdefault((c * h * w,), lambda a: a.reshape(len(a), c, h, w))
        if c == 1:
            layouts.setdefault((h, w), lambda a: a[:, None])
    for shape, to_run in layouts.items():
        if x.shape[1:] == shape:
            return to_run(x)
    for shape, to_run in layouts.items():
        if x.shape == shape:
            return to_run(x[None])
    return None


def check_scale(x: np.ndarray, trained: tuple[float, float] | None, input_shape: tuple[int, ...]) -> None:
    """Refuse image inputs whose values lie on another scale than the training data's raw `trained` (min, max):
    largest magnitude above 1.5x the training one, or below a tenth of it. Skipped where the range is unknown (runs
    saved before it was kept), for feature tables (a new row may rightly lie outside the training range), and for
    constant or non-finite inputs (no scale to read; the run's own checks speak for non-finite values)."""
    if trained is None or len(input_shape) != 3 or not np.issubdtype(x.dtype, np.number) or x.size == 0:
        return
    low, high = float(x.min()), float(x.max())
    scale, expected = max(abs(low), abs(high)), max(abs(trained[0]), abs(trained[1]))
    if not np.isfinite(scale) or low == high or expected == 0:
        return
    if not expected / 10 <= scale <= 1.5 * expected:
        raise WeaklabError(
            f"the inputs range from {low:g} to {high:g}, but this run was trained on values from {trained[0]:g} "
            f"to {trained[1]:g}; give inputs on the training data's scale"
        )


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


def _images(
    files: list[Path], input_shape: tuple[int, ...], bad_images: str, resize: bool
) -> tuple[np.ndarray, list[str]]:
    if len(input_shape) != 3:
        raise WeaklabError(
            f"this run was trained on feature vectors of length {input_shape[0]}, not images; pass a .npy array"
        )
    channels, height, width = input_shape
    reader = ImageReader(Options(bad_images=bad_images))
    reader.mode, reader.size = ("L" if channels == 1 else "RGB"), (width, height)
    if channels not in (1, 3):
        raise WeaklabError(f"this run expects {channels}-channel inputs; images decode to 1 (grey) or 3 (RGB)")
    if not resize:
        _check_sizes(files, (width, height))
    decoded = [(f, reader.read(f)) for f in files]
    kept = [(str(f), im) for f, im in decoded if im is not None]
    if reader.skipped:
        print(f"weaklab: skipped {len(reader.skipped)} unreadable images (first: {reader.skipped[0]})")
    if not kept:
        raise WeaklabError(f"none of the {len(files)} images could be decoded")
    return np.stack([im for _, im in kept]), [name for name, _ in kept]


def _check_sizes(files: list[Path], size: tuple[int, int]) -> None:
    """Every image is `size` (width, height), read from the file headers; a file that cannot be opened is left to
    the decoder, which stops or skips it as --bad-images says."""
    from PIL import Image

    wrong = []
    for f in files:
        try:
            with Image.open(f) as im:
                if im.size != size:
                    wrong.append((f, im.size))
        except Exception:
            continue
    if wrong:
        (first, (w, h)), (width, height) = wrong[0], size
        if len(wrong) == 1:
            raise WeaklabError(
                f"{first} is {w}×{h} pixels but this run takes {width}×{height} images; pass --resize to resize it"
            )
        raise WeaklabError(
            f"{len(wrong)} of {len(files)} images are not {width}×{height} pixels, this run's input size (first: "
            f"{first}, {w}×{h}); pass --resize to resize them"
        )
