"""Fetch official dataset files, verify their published checksums, and cache conversions as uint8 .npy files.

Layout under a data root: `ROOT/<dataset>/<official file>` (downloaded, or placed there by hand) and
`ROOT/<dataset>/cache/<split>_x.npy` etc. A file is used only after its MD5 matched the published one. Downloads
go to `<file>.part` and resume with an HTTP Range request; every write goes to a temporary name and is renamed
into place, so nothing half-written is ever taken for a finished file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import WeaklabError

CHUNK = 1 << 20
CACHE_FORMAT = 1  # bump when a converter's output changes; older caches are then rebuilt


@dataclass(frozen=True)
class RemoteFile:
    """One official file: its name on disk, the addresses to try in order, its published MD5."""

    name: str
    urls: tuple[str, ...]
    md5: str


def md5sum(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def dataset_dir(root: str | Path | None, dataset: str) -> Path:
    if root is None:
        raise WeaklabError(f"dataset {dataset} needs a data root: pass --data-root DIR (or set data.root)")
    return Path(root).expanduser() / dataset


def verified(path: Path, file: RemoteFile) -> bool:
    """True when `path` exists and matches the published checksum."""
    return path.is_file() and md5sum(path) == file.md5


def fetch(file: RemoteFile, folder: Path, *, download: bool = True, progress: bool = False) -> Path:
    """The verified local copy of `file` in `folder`, downloading (or resuming) it when allowed.

    A copy already there (downloaded earlier or put there by hand) is accepted once its checksum matches; one
    that does not match is an error naming it, never silently replaced.
    """
    path = folder / file.name
    if path.is_file():
        actual = md5sum(path)
        if actual != file.md5:
            raise WeaklabError(
                f"{path} has MD5 {actual}, but the published checksum is {file.md5}: the file is corrupt, "
                f"truncated or a different version; delete it and download again"
            )
        return path
    if not download:
        raise WeaklabError(f"{path} is missing; run `weaklab data download` or place the file there by hand")
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / (file.name + ".part")
    errors = []
    for url in file.urls:
        try:
            _download(url, part, progress)
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
            continue
        actual = md5sum(part)
        if actual != file.md5:
            part.unlink()  # a bad download must not be resumed from
            errors.append(f"{url}: downloaded file has MD5 {actual}, expected {file.md5}")
            continue
        os.replace(part, path)
        return path
    raise WeaklabError(
        f"could not download {file.name} ({'; '.join(errors)}); offline, download it elsewhere and place it at "
        f"{path} (md5 {file.md5}), then run the command again"
    )


def _download(url: str, part: Path, progress: bool) -> None:
    """Append the rest of `url` to `part`, asking only for the missing bytes when the server allows."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "weaklab"})
    if have and not url.startswith("file:"):
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as e:
        if have and e.code == 416:
            return  # nothing left to send: the partial file is already complete (the checksum decides)
        raise
    with response:
        status = getattr(response, "status", None)
        if have and status == 206:
            mode = "ab"  # the server sent only what was missing
        else:
            mode, have = "wb", 0  # no resume support (or file URL): start over
        total = response.headers.get("Content-Length")
        total = int(total) + have if total else None
        with open(part, mode) as out:
            done = have
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                done += len(block)
                if progress and total:
                    print(f"\r{part.name[:-5]}: {done / 1e6:.1f} / {total / 1e6:.1f} MB", end="", flush=True)
        if progress and total:
            print()


def missing_files_message(dataset: str, folder: Path, files: list[RemoteFile]) -> str:
    """One line telling an offline user which files to place where by hand."""
    wanted = "; ".join(f"{f.name} (md5 {f.md5}) from {f.urls[0]}" for f in files)
    return f"{dataset}: files missing in {folder}. Download them by hand and place them there: {wanted}"


# --- the converted cache ---------------------------------------------------------------------------------


class Cache:
    """Converted arrays of one dataset in `folder/cache/`. A part counts as converted only once its marker
    `<part>.json` exists, and the marker is written last, so an interrupted conversion is simply redone."""

    def __init__(self, folder: Path):
        self.dir = folder / "cache"

    def part_meta(self, part: str) -> dict | None:
        try:
            meta = json.loads((self.dir / f"{part}.json").read_text())
        except (OSError, ValueError):
            return None
        return meta if meta.get("format") == CACHE_FORMAT else None

    def finish_part(self, part: str, meta: dict) -> None:
        text = json.dumps({"format": CACHE_FORMAT, **meta}, indent=1)
        atomic_write(self.dir / f"{part}.json", lambda f: f.write(text.encode()))

    def available(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("*.npy"))

    def load(self, name: str, mmap: bool = True) -> np.ndarray:
        path = self.dir / f"{name}.npy"
        try:
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise WeaklabError(f"cache file {path} is unreadable ({e}); delete {self.dir} to rebuild it") from None

    def save(self, name: str, array: np.ndarray) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.dir / f"{name}.npy", lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False))

    def writer(self, name: str, shape: tuple[int, ...], dtype=np.uint8) -> NpyWriter:
        self.dir.mkdir(parents=True, exist_ok=True)
        return NpyWriter(self.dir / f"{name}.npy", shape, dtype)


class NpyWriter:
    """Fill a large .npy file piece by piece (e.g. STL-10's 100k unlabeled images) without holding it in memory."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype):
        self.path = path
        fd, self.tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(fd)
        self.array = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=dtype, shape=shape)

    def close(self) -> None:
        self.array.flush()
        del self.array
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        del self.array
        Path(self.tmp).unlink(missing_ok=True)


def atomic_write(path: Path, write: Callable) -> None:
    """Write through `write(file)` to a temporary name in the same folder, then rename into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
