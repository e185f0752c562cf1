"""A run directory has one writer: claimed with a lock before anything is written, released at the end.

The lock is an exclusive `flock` on `D/.lock`, which the kernel drops when its process dies, so a killed run
never blocks the next one; the file holds the writer's pid for the message a second writer gets. Claiming also
refuses what would lose or mix data: a folder that already holds a run (unless `overwrite`), a path below a
file, a folder inside the dataset's own folder (its outputs would be read as data next time). A run that fails
before its first checkpoint leaves nothing behind: there is nothing in it to resume.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import WeaklabError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are not protected from a second writer there
    fcntl = None  # type: ignore[assignment]

OUTPUTS_OF_A_RUN = ("checkpoints/last.pt", "summary.json", "metrics.jsonl")


@contextlib.contextmanager
def claimed(run_dir: Path, resume: bool = False, overwrite: bool = False, data_dirs=()) -> Iterator[None]:
    """Hold `run_dir` for one training (or resumed training) while the block runs."""
    run_dir = Path(run_dir)
    _check_place(run_dir, data_dirs)
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WeaklabError(f"cannot create the run directory {run_dir} ({e.strerror}); choose another --out") from None
    before = set(os.listdir(run_dir))
    started = False  # the lock was ours and the folder had room: only then is anything ours to take back
    try:
        with _lock(run_dir):
            if not resume:
                _make_room(run_dir, overwrite)
            started = True
            yield
    except BaseException:
        if started and not resume and not (run_dir / "checkpoints" / "last.pt").exists():
            _remove_new(run_dir, before, created)
        elif created and not started:
            with contextlib.suppress(OSError):
                run_dir.rmdir()
        raise


def _check_place(run_dir: Path, data_dirs) -> None:
    for parent in [run_dir, *run_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise WeaklabError(
                    f"the run directory {run_dir} would be below {parent}, which is a file; choose another --out"
                )
            break
    where = run_dir.resolve()
    for data in data_dirs:
        data = Path(data)
        if data.is_dir() and where.is_relative_to(data.resolve()):
            raise WeaklabError(
                f"the run directory {run_dir} is inside the dataset folder {data}: its outputs would be read as "
                "data by the next run; choose an --out outside it"
            )


@contextlib.contextmanager
def _lock(run_dir: Path) -> Iterator[None]:
    if fcntl is None:
        yield
        return
    path = run_dir / ".lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise WeaklabError(
                f"{run_dir} is in use by another weaklab run (pid {holder}); wait for it to finish or choose "
                "another --out"
            ) from None
        # the holder before us may have removed the file as it finished: lock the file that is there now
        if path.exists() and os.stat(path).st_ino == os.fstat(fd).st_ino:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held: a finished run leaves no lock file
        os.close(fd)


def _make_room(run_dir: Path, overwrite: bool) -> None:
    """Refuse a folder that holds a run; with `overwrite`, empty a run's folder first."""
    held = [name for name in OUTPUTS_OF_A_RUN if (run_dir / name).exists()]
    if not held:
        return
    if not overwrite:
        raise WeaklabError(
            f"{run_dir} already holds a run ({held[0]}); continue it with `weaklab resume {run_dir}`, replace it "
            "with --overwrite, or choose another --out"
        )
    for entry in run_dir.iterdir():
        if entry.name != ".lock":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def _remove_new(run_dir: Path, before: set[str], created: bool) -> None:
    """Take back what a failed start wrote (nothing to resume from); what was there before stays."""
    for name in set(os.listdir(run_dir)) - before - {".lock"}:
        entry = run_dir / name
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
    if created:
        with contextlib.suppress(OSError):
            run_dir.rmdir()  # only if empty
