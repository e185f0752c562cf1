"""Markdown pieces shared by the benchmark commands: "mean ± std" cells, the command and device a table was
measured with, and replacing a marked section."""

from __future__ import annotations

import os
import platform
import re
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..api import Run


def summary_of(run: Run | None) -> dict:
    """The summary of a run a benchmark trained: one process trains, so `train` returns the finished run."""
    assert run is not None and run.summary is not None
    return run.summary


def threads_prefix() -> str:
    """`OMP_NUM_THREADS=N ` where the benchmark ran with it set, else nothing: the written command is the one run."""
    n = os.environ.get("OMP_NUM_THREADS")
    return f"OMP_NUM_THREADS={n} " if n else ""


def cpu_device() -> str:
    """The CPU a table was measured on and the threads torch used, e.g. `x86_64 CPU (2 threads)`."""
    import torch

    n = torch.get_num_threads()
    return f"{platform.processor() or platform.machine()} CPU ({n} thread{'' if n == 1 else 's'})"


def mean_std(values, digits: int = 2, skip_missing: bool = False) -> str:
    """ "mean ± std" over seeds; "—" where a value is undefined (None or NaN, e.g. ρ without a variance head).

    `skip_missing` drops the undefined values first (a relabel precision where nothing was relabeled)."""
    values = list(values)
    if skip_missing:
        values = [v for v in values if v is not None]
    if not values or any(v is None or v != v for v in values):
        return "—"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {std:.{digits}f}"


def replace_section(
    path: Path, table: str, name: str, heading: str | None = None, new_file: str = "# Benchmarks\n"
) -> None:
    """Put `table` between `<!-- name:begin -->` and `<!-- name:end -->` in `path`, replacing what was there;
    where the markers are absent, append it (under `## heading` if given) to the file, or to `new_file`."""
    text = path.read_text() if path.exists() else new_file
    pattern = re.compile(rf"<!-- {name}:begin -->.*?<!-- {name}:end -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: table, text)
    else:
        text = text.rstrip() + "\n\n" + (f"## {heading}\n\n" if heading else "") + table + "\n"
    path.write_text(text)
