"""The whole report: a contents list, the comparison (two runs or more), one section per run; and the benchmark
page (a bench table, with the comparison of the runs it trained). One self-contained HTML file each."""

from __future__ import annotations

from pathlib import Path

from ..errors import WeaklabError
from . import html
from .collect import RunRecord, find_runs
from .compare import comparison_section, group_runs
from .markdown import to_html
from .run_view import run_section


def write_report(paths: list[str | Path], out: str | Path, recompute: str = "auto", top: int = 24) -> Path:
    """Write the report of every finished run at or below `paths` to `out`; returns its path."""
    out = _target(out)
    runs, skipped = find_runs(paths)
    body = [_contents(runs)]
    body += [html.note(line) for line in skipped]
    if len(runs) > 1:
        body.append(comparison_section(group_runs(runs)))
    body += [run_section(run, f"run-{i}", recompute, top) for i, run in enumerate(runs, 1)]
    title = "weaklab report: " + (runs[0].name if len(runs) == 1 else f"{len(runs)} runs")
    out.write_text(html.page(title, "\n".join(body)), encoding="utf-8")
    return out


def write_bench_page(markdown: str, out: str | Path, title: str, runs_dir: Path | None = None) -> Path:
    """A benchmark's table as HTML, followed by the comparison of the finished runs under `runs_dir` (their
    curves; `weaklab report RUNS_DIR` gives each run's own section)."""
    out = _target(out)
    body = [to_html(markdown, base=Path.cwd())]
    runs: list[RunRecord] = []
    if runs_dir is not None and runs_dir.is_dir():
        try:
            runs, _ = find_runs([runs_dir])
        except WeaklabError:  # no finished run there (speed records are no runs)
            runs = []
    if runs:
        body.append(comparison_section(group_runs(runs)))
        body.append(
            f'<p class="muted">Each run in full: <code>weaklab report {html.esc(runs_dir)} --html FILE</code></p>'
        )
    out.write_text(html.page(title, "\n".join(body)), encoding="utf-8")
    return out


def _target(out: str | Path) -> Path:
    out = Path(out)
    if out.is_dir():
        raise WeaklabError(f"--html {out} is a folder; give the path of the .html file to write")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _contents(runs: list[RunRecord]) -> str:
    items = ['<li><a href="#comparison">Comparison</a></li>'] if len(runs) > 1 else []
    items += [
        f'<li><a href="#run-{i}">{html.esc(r.name)}</a> <code>{html.esc(r.directory.name)}</code></li>'
        for i, r in enumerate(runs, 1)
    ]
    return f"<ul>{''.join(items)}</ul>"
