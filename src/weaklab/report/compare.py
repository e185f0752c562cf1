"""Several runs side by side: runs whose configs differ only in the seed are one row (mean ± std over seeds), rows
on the same data are one group (one table, overlaid curves)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from . import html, panels
from .collect import RunRecord, default_settings, flatten

# Settings that say where or how visibly a run ran, not what it learned: runs differing only here are seeds of one row
IGNORED = {"seed", "out", "train.progress", "train.device", "train.plot_redraws", "data.root", "data.workers"}


@dataclass
class Row:
    label: str
    runs: list[RunRecord] = field(default_factory=list)


@dataclass
class Group:
    title: str
    rows: list[Row] = field(default_factory=list)

    @property
    def runs(self) -> list[RunRecord]:
        return [r for row in self.rows for r in row.runs]


def _settings(record: RunRecord) -> dict:
    return {k: v for k, v in flatten(record.config).items() if k not in IGNORED}


def _key(settings: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in settings.items()))


def group_runs(runs: list[RunRecord]) -> list[Group]:
    """Groups by data (every data.* setting), rows by every other setting; in the order the runs came."""
    by_data: dict[tuple, dict[tuple, list[RunRecord]]] = {}
    for run in runs:
        s = _settings(run)
        data = {k: v for k, v in s.items() if k.startswith("data.")}
        by_data.setdefault(_key(data), {}).setdefault(_key(s), []).append(run)
    data_settings = [dict(k) for k in by_data]
    varying = {k for d in data_settings for k in d if any(e.get(k) != d[k] for e in data_settings)}
    defaults = default_settings() or {}
    groups = []
    for rows in by_data.values():
        first = next(iter(rows.values()))[0]
        d = _settings(first)
        shown = sorted(k for k in varying - {"data.dataset"} if k in d and d[k] != defaults.get(k))
        extra = ", ".join(f"{k.removeprefix('data.')}={d[k]}" for k in shown)  # where the groups' data differ
        title = first.summary["dataset"] + (f" ({extra})" if extra else "") + f": {first.labels_text}"
        groups.append(Group(title, [Row(label, members) for label, members in _labels(rows)]))
    return groups


def _labels(rows: dict[tuple, list[RunRecord]]) -> list[tuple[str, list[RunRecord]]]:
    """Each row named by its method, plus the settings that tell it apart from the group's other rows (a method's
    own settings only against rows of the same method)."""
    settings = [_settings(members[0]) for members in rows.values()]
    out = []
    for s, members in zip(settings, rows.values()):
        method = s.get("method.name", members[0].method)
        peers = [o for o in settings if o is not s]
        differs = []
        for k, v in s.items():
            if k == "method.name" or not any(o.get(k) != v for o in peers):
                continue
            if k.startswith("method.") and not any(o.get("method.name") == method and o.get(k) != v for o in peers):
                continue
            if not k.startswith("method.") and not any(k in o for o in peers):
                continue
            differs.append(f"{k}={v}")
        out.append((method + (f" ({', '.join(differs)})" if differs else ""), members))
    return out


def _mean_std(values: list) -> str:
    values = [v for v in values if isinstance(v, (int, float))]
    if not values:
        return "—"
    if len(values) == 1:
        return html.number(float(values[0]))
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"


def comparison_table(group: Group) -> str:
    metrics = list(dict.fromkeys(k for run in group.runs for k in (run.summary.get("test") or {})))
    header = ["method", "runs (seeds)", *[f"test {m}" for m in metrics], "selected step", "time per run (s)"]
    rows = []
    for row in group.rows:
        seeds = ", ".join(str(r.summary["seed"]) for r in row.runs)
        rows.append(
            [
                html.esc(row.label),
                html.esc(f"{len(row.runs)} ({seeds})"),
                *[_mean_std([(r.summary.get("test") or {}).get(m) for r in row.runs]) for m in metrics],
                _mean_std([r.selected_step for r in row.runs]),
                _mean_std([r.summary.get("wall_time_s") for r in row.runs]),
            ]
        )
    return html.table(header, rows, numeric_from=2)


def overlaid_curves(group: Group) -> list[str]:
    """Training loss and every validation metric, each run a line, one colour per row; dots: selected steps."""
    figures = []
    val_keys = list(dict.fromkeys(k for run in group.runs for r in run.metrics for k in r.get("val", {})))
    for side, key in [("train", "loss")] + [("val", k) for k in val_keys]:
        curves: list[panels.Curve] = []
        for colour, row in enumerate(group.rows):
            for run in row.runs:
                points = {r["step"]: r[side][key] for r in run.metrics if r.get(side, {}).get(key) is not None}
                if not points:
                    continue
                step = run.selected_step
                selected = (step, points[step]) if side == "val" and step is not None and step in points else None
                curves.append((row.label, colour, list(points), list(points.values()), selected))
        if curves:
            title = "training loss" if side == "train" else f"validation {key}"
            figures.append(html.image(panels.overlay(curves, title), title))
    return figures


def comparison_section(groups: list[Group]) -> str:
    parts = [
        "<h2 id=comparison>Comparison</h2>",
        '<p class="muted">Runs that differ only in their seed are one row (mean ± std over seeds); rows on the same '
        "data are one group. Curves: one line per run, one colour per row; dots mark each run's selected step.</p>",
    ]
    for group in groups:
        parts += [f"<h3>{html.esc(group.title)}</h3>", comparison_table(group)]
        if len(group.runs) > 1:  # one run's curves are in its own section
            parts.append(html.grid(overlaid_curves(group)))
    return "\n".join(parts)
