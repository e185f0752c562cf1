"""The standard benchmarks: official files and checksums, and a converter from each official format to the cache.

Each dataset is a list of parts (SVHN's `extra` is optional); a part is converted once, from verified files, into
uint8 arrays `cache/<split>_x.npy` (N×C×H×W) and int64 `cache/<split>_y.npy`, then loaded memory-mapped.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import WeaklabError
from .download import Cache, RemoteFile, dataset_dir, fetch, md5sum, missing_files_message
from .source import ArraySource

_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
_KMNIST = ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",)
_IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _idx_files(mirrors: tuple[str, ...], md5s: tuple[str, str, str, str]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(n, tuple(m + n for m in mirrors), h) for n, h in zip(_IDX_NAMES, md5s))


# Published MD5 checksums (the ones torchvision also verifies against).
FILES = {
    "cifar10": (
        RemoteFile(
            "cifar-10-python.tar.gz",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
            "c58f30108f718f92721af3b95e74349a",
        ),
    ),
    "cifar100": (
        RemoteFile(
            "cifar-100-python.tar.gz",
            ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
            "eb9058c3a382ffc7106e4002c42a8d85",
        ),
    ),
    "svhn": (
        RemoteFile(
            "train_32x32.mat",
            ("http://ufldl.stanford.edu/housenumbers/train_32x32.mat",),
            "e26dedcc434d2e4c54c9b2d4a06d8373",
        ),
        RemoteFile(
            "test_32x32.mat",
            ("http://ufldl.stanford.edu/housenumbers/test_32x32.mat",),
            "eb5a983be6a315427106f1b164d9cef3",
        ),
    ),
    "svhn_extra": (
        RemoteFile(
            "extra_32x32.mat",
            ("http://ufldl.stanford.edu/housenumbers/extra_32x32.mat",),
            "a93ce644f1a588dc4d68dda5feec44a7",
        ),
    ),
    "stl10": (
        RemoteFile(
            "stl10_binary.tar.gz",
            ("http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",),
            "91f7769df0f17e558f3565bffb0c7dfb",
        ),
    ),
    "mnist": _idx_files(
        _MNIST_MIRRORS,
        (
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ),
    ),
    "fashion_mnist": _idx_files(
        _FASHION,
        (
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79",
            "bb300cfdad3c16e7a12a480ee83cd310",
        ),
    ),
    "kmnist": _idx_files(
        _KMNIST,
        (
            "bdb82020997e1d708af4cf47b453dcf7",
            "e144d726b3acfaa3e44228e80efcd344",
            "5c965bf0a639b31b8f53240b1b52f4d7",
            "7320c461ea6c1c855c0b718fb2a4b134",
        ),
    ),
}


# --- readers of the official formats -----------------------------------------------------------------------


def _numpy_globals() -> dict:
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    import _codecs

    allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _codecs.encode,  # how Python 3 writes bytes at pickle protocol 2
    }
    for package in ("numpy.core", "numpy._core"):  # files pickled under numpy 1 or 2
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer  # type: ignore[attr-defined]  # private
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """Admits only dicts, lists, strings, numbers and NumPy arrays: a pickle naming anything else is refused."""

    ALLOWED = _numpy_globals()

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def read_pickled_batch(data: bytes, where: str) -> dict:
    """A CIFAR python batch (a pickled dict) read with the restricted unpickler; keys become str."""
    try:
        obj = _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as e:
        raise WeaklabError(f"{where}: not a valid CIFAR python batch ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict):
        raise WeaklabError(f"{where}: expected a pickled dict, found {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _tar_members(path: Path) -> tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]:
    try:
        tar = tarfile.open(path, "r:gz")
        return tar, {m.name: m for m in tar.getmembers() if m.isfile()}
    except (tarfile.TarError, OSError, EOFError) as e:
        raise WeaklabError(f"{path}: not a readable tar.gz archive ({e}); delete it and download again") from None


def _member(tar, members, name: str, path: Path):
    if name not in members:
        raise WeaklabError(f"{path}: archive has no member {name}; is it the official file?")
    try:
        return tar.extractfile(members[name])
    except (tarfile.TarError, OSError, EOFError) as e:
        raise WeaklabError(f"{path}: cannot read {name} ({e}); delete the archive and download again") from None


def _read_member(tar, members, name: str, path: Path) -> bytes:
    try:
        return _member(tar, members, name, path).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise WeaklabError(f"{path}: archive is truncated or corrupt while reading {name} ({e})") from None


def _cifar_batches(
    path: Path,
    folder: str,
    batches: dict[str, list[str]],
    label_key: str,
    cache: Cache,
    extra_keys: tuple[str, ...] = (),
) -> None:
    tar, members = _tar_members(path)
    with tar:
        for split, names in batches.items():
            xs, ys = [], []
            extras: dict[str, list[np.ndarray]] = {k: [] for k in extra_keys}
            for name in names:
                where = f"{path.name}:{folder}/{name}"
                batch = read_pickled_batch(_read_member(tar, members, f"{folder}/{name}", path), where)
                for key in ("data", label_key, *extra_keys):
                    if key not in batch:
                        raise WeaklabError(f"{where}: batch has no {key!r} entry")
                data = np.asarray(batch["data"])
                if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
                    raise WeaklabError(f"{where}: data is {data.dtype} {data.shape}, expected uint8 N×3072")
                xs.append(data.reshape(-1, 3, 32, 32))
                ys.append(np.asarray(batch[label_key], dtype=np.int64))
                for k in extra_keys:
                    extras[k].append(np.asarray(batch[k], dtype=np.int64))
                if len(ys[-1]) != len(xs[-1]):
                    raise WeaklabError(f"{where}: {len(xs[-1])} images but {len(ys[-1])} labels")
            cache.save(f"{split}_x", np.concatenate(xs))
            cache.save(f"{split}_y", np.concatenate(ys))
            for k, v in extras.items():
                cache.save(f"{split}_{k}", np.concatenate(v))


def _cifar_meta(path: Path, name: str, keys: tuple[str, ...]) -> dict:
    tar, members = _tar_members(path)
    with tar:
        meta = read_pickled_batch(_read_member(tar, members, name, path), f"{path.name}:{name}")
    if any(k not in meta for k in keys):
        raise WeaklabError(f"{path.name}:{name}: missing {', '.join(k for k in keys if k not in meta)}")
    return {k: [str(c) for c in meta[k]] for k in keys}


def convert_cifar10(files: dict[str, Path], cache: Cache) -> dict:
    path = files["cifar-10-python.tar.gz"]
    meta = _cifar_meta(path, "cifar-10-batches-py/batches.meta", ("label_names",))
    batches = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    _cifar_batches(path, "cifar-10-batches-py", batches, "labels", cache)
    return {"classes": meta["label_names"]}


def convert_cifar100(files: dict[str, Path], cache: Cache) -> dict:
    path = files["cifar-100-python.tar.gz"]
    meta = _cifar_meta(path, "cifar-100-python/meta", ("fine_label_names", "coarse_label_names"))
    _cifar_batches(
        path,
        "cifar-100-python",
        {"train": ["train"], "test": ["test"]},
        "fine_labels",
        cache,
        extra_keys=("coarse_labels",),
    )
    return {"classes": meta["fine_label_names"], "coarse_classes": meta["coarse_label_names"]}


def _read_svhn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:
        raise WeaklabError(f"{path}: not a readable MATLAB .mat file ({type(e).__name__}: {e})") from None
    if "X" not in mat or "y" not in mat:
        raise WeaklabError(
            f"{path}: expected arrays X and y, found {', '.join(k for k in mat if not k.startswith('__'))}"
        )
    x, y = mat["X"], mat["y"].reshape(-1).astype(np.int64)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise WeaklabError(f"{path}: X has shape {x.shape} for {len(y)} labels, expected 32×32×3×N")
    if ((y < 1) | (y > 10)).any():
        raise WeaklabError(f"{path}: labels must be 1..10 (10 is the digit 0)")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1), dtype=np.uint8), y % 10  # label 10 means digit 0


def convert_svhn(files: dict[str, Path], cache: Cache) -> dict:
    for split in ("train", "test"):
        x, y = _read_svhn(files[f"{split}_32x32.mat"])
        cache.save(f"{split}_x", x)
        cache.save(f"{split}_y", y)
    return {"classes": [str(d) for d in range(10)]}


def convert_svhn_extra(files: dict[str, Path], cache: Cache) -> dict:
    x, _ = _read_svhn(files["extra_32x32.mat"])  # labels dropped: used as extra unlabeled data
    cache.save("extra_x", x)
    return {}


STL_IMAGE = 3 * 96 * 96


def convert_stl10(files: dict[str, Path], cache: Cache) -> dict:
    path = files["stl10_binary.tar.gz"]
    tar, members = _tar_members(path)
    with tar:
        names = _read_member(tar, members, "stl10_binary/class_names.txt", path).decode().split()
        for split, has_labels in (("train", True), ("test", True), ("unlabeled", False)):
            member = f"stl10_binary/{split}_X.bin"
            if member not in members:
                raise WeaklabError(f"{path}: archive has no member {member}; is it the official file?")
            size = members[member].size
            if size % STL_IMAGE:
                raise WeaklabError(f"{path}:{member}: size {size} is not a whole number of 96×96×3 images")
            n = size // STL_IMAGE
            out = "extra" if split == "unlabeled" else split
            _copy_stl_images(tar, members, member, path, n, cache, f"{out}_x")
            if has_labels:
                y = np.frombuffer(_read_member(tar, members, f"stl10_binary/{split}_y.bin", path), np.uint8)
                if len(y) != n or ((y < 1) | (y > 10)).any():
                    raise WeaklabError(f"{path}:{split}_y.bin: expected {n} labels in 1..10, found {len(y)}")
                cache.save(f"{out}_y", y.astype(np.int64) - 1)
    return {"classes": names}


def _copy_stl_images(tar, members, member: str, path: Path, n: int, cache: Cache, name: str) -> None:
    """Stream images in blocks into a memory-mapped .npy (the unlabeled split is 2.7 GB)."""
    stream = _member(tar, members, member, path)
    writer = cache.writer(name, (n, 3, 96, 96))
    try:
        block = 1000
        for start in range(0, n, block):
            k = min(block, n - start)
            raw = stream.read(k * STL_IMAGE)
            if len(raw) != k * STL_IMAGE:
                raise WeaklabError(f"{path}:{member}: archive is truncated")
            # stored column-major per channel: transpose to row-major H×W
            writer.array[start : start + k] = np.frombuffer(raw, np.uint8).reshape(k, 3, 96, 96).transpose(0, 1, 3, 2)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        writer.abort()
        raise WeaklabError(f"{path}: archive is truncated or corrupt while reading {member} ({e})") from None
    except BaseException:
        writer.abort()
        raise
    writer.close()


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST family), gzip-compressed: unsigned bytes with a big-endian header."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise WeaklabError(f"{path}: not a readable gzip file ({e})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise WeaklabError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(dims)):
        raise WeaklabError(f"{path}: IDX header says {dims} but the file holds {len(data) - header} bytes; truncated?")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _idx_converter(classes: list[str]) -> Callable[[dict[str, Path], Cache], dict]:
    def convert(files: dict[str, Path], cache: Cache) -> dict:
        for split, prefix in (("train", "train"), ("test", "t10k")):
            x = read_idx(files[f"{prefix}-images-idx3-ubyte.gz"])
            y = read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"]).astype(np.int64)
            if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                raise WeaklabError(f"{prefix} IDX files: images {x.shape} do not match labels {y.shape}")
            cache.save(f"{split}_x", x[:, None])
            cache.save(f"{split}_y", y)
        return {"classes": classes}

    return convert


# --- the registry of benchmarks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    files: tuple[RemoteFile, ...]
    convert: Callable[[dict[str, Path], Cache], dict]
    required: bool = True


@dataclass(frozen=True)
class Benchmark:
    name: str
    parts: dict[str, Part]
    flip: bool  # horizontal flip keeps the meaning
    extra_by_default: bool = True  # join the extra unlabeled split to training unless told otherwise
    description: str = ""


BENCHMARKS = {
    "cifar10": Benchmark(
        "cifar10",
        {"main": Part(FILES["cifar10"], convert_cifar10)},
        flip=True,
        description="CIFAR-10: 50,000 train / 10,000 test 32×32 colour images, 10 classes",
    ),
    "cifar100": Benchmark(
        "cifar100",
        {"main": Part(FILES["cifar100"], convert_cifar100)},
        flip=True,
        description="CIFAR-100: 50,000 / 10,000 32×32 images, 100 fine classes (20 coarse)",
    ),
    "svhn": Benchmark(
        "svhn",
        {
            "main": Part(FILES["svhn"], convert_svhn),
            "extra": Part(FILES["svhn_extra"], convert_svhn_extra, required=False),
        },
        flip=False,
        extra_by_default=False,
        description="SVHN: 73,257 train / 26,032 test 32×32 digits; 531,131 extra (unlabeled here)",
    ),
    "stl10": Benchmark(
        "stl10",
        {"main": Part(FILES["stl10"], convert_stl10)},
        flip=True,
        description="STL-10: 5,000 train / 8,000 test 96×96 images, 10 classes, 100,000 unlabeled",
    ),
    "mnist": Benchmark(
        "mnist",
        {"main": Part(FILES["mnist"], _idx_converter([str(d) for d in range(10)]))},
        flip=False,
        description="MNIST: 60,000 / 10,000 28×28 handwritten digits",
    ),
    "fashion_mnist": Benchmark(
        "fashion_mnist",
        {"main": Part(FILES["fashion_mnist"], _idx_converter(_FASHION_CLASSES))},
        flip=True,
        description="Fashion-MNIST: 60,000 / 10,000 28×28 clothing images, 10 classes",
    ),
    "kmnist": Benchmark(
        "kmnist",
        {"main": Part(FILES["kmnist"], _idx_converter(["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]))},
        flip=False,
        description="Kuzushiji-MNIST: 60,000 / 10,000 28×28 cursive Japanese characters, 10 classes",
    ),
}


def prepare(
    name: str, root, *, download: bool = False, parts: tuple[str, ...] | None = None, progress: bool = False
) -> Cache:
    """Make sure the cache of `name` is built: verify (and, if allowed, download) files, convert once.

    `parts=None`: the required parts, plus optional ones whose files are present (or all parts when downloading).
    """
    bench = _benchmark(name)
    folder = dataset_dir(root, name)
    cache = Cache(folder)
    for part_name, part in bench.parts.items():
        if parts is not None and part_name not in parts:
            continue
        if _part_done(cache, part_name):
            continue
        missing = [f for f in part.files if not (folder / f.name).is_file()]
        if missing and not download:
            if not part.required and parts is None:
                continue  # an optional part that is not there: go on without it
            raise WeaklabError(
                missing_files_message(name, folder, missing) + f" (or run `weaklab data download {name} --root {root}`)"
            )
        files = {f.name: fetch(f, folder, download=download, progress=progress) for f in part.files}
        meta = part.convert(files, cache)
        cache.finish_part(part_name, {**meta, "md5": {f.name: f.md5 for f in part.files}})
    return cache


def _part_done(cache: Cache, part: str) -> bool:
    return cache.part_meta(part) is not None


def _benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise WeaklabError(f"unknown benchmark {name!r}; available: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def load_benchmark(name: str, root) -> ArraySource:
    """The benchmark as an ArraySource over memory-mapped cache arrays (built on first use)."""
    bench = _benchmark(name)
    cache = prepare(name, root)
    meta = cache.part_meta("main")
    assert meta is not None  # prepare built the main part
    splits = cache.available()
    info = {"description": bench.description, "cache": str(cache.dir), "extra_by_default": bench.extra_by_default}
    if "coarse_classes" in meta:
        info["coarse_classes"] = meta["coarse_classes"]
        info["coarse_labels"] = cache.load("train_coarse_labels")
    return ArraySource(
        x=cache.load("train_x"),
        y=cache.load("train_y"),
        classes=meta["classes"],
        name=name,
        flip=bench.flip,
        test_x=cache.load("test_x"),
        test_y=cache.load("test_y"),
        info=info,
        extra_x=cache.load("extra_x") if "extra_x" in splits else None,
    )


def status(name: str, root) -> dict:
    """What is on disk for `name`: each official file's presence and checksum, and the cached splits."""
    bench = _benchmark(name)
    folder = dataset_dir(root, name)
    cache = Cache(folder)
    files = {}
    for part in bench.parts.values():
        for f in part.files:
            path = folder / f.name
            if not path.is_file():
                state = "missing" + ("" if part.required else " (optional)")
            else:
                state = "ok" if md5sum(path) == f.md5 else "CHECKSUM MISMATCH"
            files[f.name] = state
    return {
        "dataset": name,
        "folder": str(folder),
        "files": files,
        "converted": [p for p in bench.parts if _part_done(cache, p)],
    }
