"""One run's section of the report: configuration, effective schedule, summary metrics with the selected step,
curves, and its task's views (classification: reliability and confusion; regression: predicted vs true with ±2σ
and coverage; noisy labels: the label-issue gallery; partial labels: candidate sets and how the targets shrank)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import yaml

from . import html, panels
from .collect import RunRecord, default_settings, flatten, top_label_issues
from .recompute import Reloaded, too_costly

COVERAGE_LEVELS = [round(0.05 * i, 2) for i in range(1, 20)] + [0.99]


def run_section(record: RunRecord, anchor: str, recompute: str = "auto", top: int = 24) -> str:
    """`recompute`: auto (only where cheap) | always | never: whether views the run directory does not hold are
    recomputed from the run's predictions; `top`: label issues in the gallery."""
    s = record.summary
    parts = [
        f'<h2 id="{anchor}">{html.esc(record.name)}</h2>',
        f'<p class="muted">run directory <code>{html.esc(record.directory)}</code>; {html.esc(record.labels_text)}</p>',
        '<div class="side">',
        f"<div><h3>Summary</h3>{html.key_values(summary_metrics(s))}</div>",
        f"<div><h3>Effective schedule</h3>{html.key_values(s.get('schedule') or {})}</div>",
        f"<div><h3>Labels</h3>{html.key_values(_short(flatten(s.get('labels') or {})))}</div>",
        "</div>",
        configuration(record),
        "<h3>Curves</h3>",
    ]
    if record.metrics:
        parts.append(html.grid([html.image(p, t) for t, p in panels.run_curves(record.metrics, record.selected_step)]))
    else:
        parts.append(html.note("metrics.jsonl holds no evaluation: no curves to draw"))
    reloaded, why = _reload(record, recompute)
    parts.append(_guarded("the task's views", lambda: task_views(record, reloaded, why)))
    if record.noisy:
        parts.append(_guarded("the label-issue gallery", lambda: label_issue_gallery(record, reloaded, why, top)))
    if record.partial:
        parts.append(_guarded("the candidate sets", lambda: partial_views(record, reloaded, why)))
    return "\n".join(parts)


def _guarded(what: str, view: Callable[[], str]) -> str:
    """A view that fails on this run (an input the checkpoint refuses, …) is a note; the page is still written."""
    try:
        return view()
    except Exception as e:
        return html.note(f"{what} left out: could not be computed ({type(e).__name__}: {e})")


def summary_metrics(summary: dict) -> dict:
    selected = dict(summary.get("selected") or {})
    out = {"selected step": selected.pop("step", None), **selected}
    out.update({f"test {k}": v for k, v in (summary.get("test") or {}).items()})
    for key in ("steps", "model", "parameters", "wall_time_s", "device", "torch"):
        if key in summary:
            out[key] = summary[key]
    return out


def _short(pairs: dict) -> dict:
    """Long lists (per-class counts) cut to their first values."""
    return {
        k: (f"{v[:10]} … ({len(v)} values)" if isinstance(v, list) and len(v) > 10 else v) for k, v in pairs.items()
    }


def configuration(record: RunRecord) -> str:
    """The settings that differ from weaklab's defaults for this method, and the whole config.yaml folded."""
    flat = flatten(record.config)
    defaults = default_settings(record.method) or {}  # a method this version does not know: the file only
    changed = {k: v for k, v in flat.items() if k in defaults and defaults[k] != v and k != "out"}
    text = yaml.safe_dump(record.config, sort_keys=False)
    return (
        "<h3>Configuration</h3>"
        + (html.key_values(changed) if changed else html.note("every setting at its default"))
        + f"<details><summary>config.yaml ({len(flat)} settings)</summary><pre>{html.esc(text)}</pre></details>"
    )


def _reload(record: RunRecord, recompute: str) -> tuple[Reloaded | None, str]:
    """The run with its data rebuilt, or None and the one line saying why not."""
    if recompute == "never":
        return None, "not recomputed (--recompute never)"
    why = too_costly(record) if recompute == "auto" else None
    if why:
        return None, why
    try:
        return Reloaded(record.directory), ""
    except Exception as e:  # the data moved, an older checkpoint, …: the page is still written, with the reason
        return None, f"could not be recomputed from the run's predictions ({type(e).__name__}: {e})"


def task_views(record: RunRecord, reloaded: Reloaded | None, why: str) -> str:
    if record.kind == "regression":
        title, names = "Regression: predicted vs true, coverage", "predicted vs true (±2σ) and coverage curve"
    else:
        title, names = "Classification: reliability and confusion", "reliability diagram and confusion matrix"
    head = f"<h3>{title}</h3>"
    if reloaded is None:
        return head + html.note(f"{names} left out: the test predictions are {why}")
    targets = reloaded.test_targets()
    if record.kind == "regression":
        columns = reloaded.test_regression()
        std = columns["total_std"]
        if not np.isfinite(std).all():
            return head + html.note(f"{names} left out: the run recorded no predictive spread")
        observed = [_coverage(columns["prediction"], std, targets, level) for level in COVERAGE_LEVELS]
        figures = [
            html.image(
                panels.predicted_vs_true(columns["prediction"], std, targets),
                "predicted vs true",
                "predicted mean with a ±2σ band against the true target",
            ),
            html.image(
                panels.coverage(COVERAGE_LEVELS, observed),
                "coverage curve",
                "share of test targets inside the central interval, by its nominal level",
            ),
        ]
    else:
        probs = reloaded.test_probs()
        figures = [
            html.image(panels.reliability(probs, targets), "reliability diagram"),
            html.image(panels.confusion(probs, targets, reloaded.run.classes), "confusion matrix"),
        ]
    caption = "test split, selected checkpoint" + (
        "; σ: the total predictive spread (aleatoric + epistemic), as weaklab predict reports it"
        if record.kind == "regression"
        else ""
    )
    return head + html.grid(figures) + f'<p class="muted">{html.esc(caption)}</p>'


def _coverage(mean: np.ndarray, std: np.ndarray, targets: np.ndarray, level: float) -> float:
    import torch

    from ..core.regression_metrics import coverage

    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    return coverage(t(mean), t(std), t(targets), level)


def label_issue_gallery(record: RunRecord, reloaded: Reloaded | None, why: str, top: int) -> str:
    """The most suspicious training labels (label_issues.csv), with the given and suggested label and the score
    (the margin p_given − max other p: negative where the model prefers another class)."""
    head = f"<h3>Noisy labels: the top {top} label issues</h3>"
    rows = top_label_issues(record.directory, top)
    if rows is None:
        return head + html.note("label_issues.csv left out: this run wrote none")
    has_clean = "clean_label" in rows[0] if rows else False
    samples = None
    if reloaded is not None:
        samples = reloaded.train_samples([int(r["index"]) for r in rows])
        if samples.ndim != 4 or samples.shape[1] not in (1, 3):
            samples = None
            why = "the samples are not images"
    if samples is None:
        header = ["rank", "row", "given", "suggested", "margin", "importance"] + (["true"] if has_clean else [])
        cells = [
            [
                html.esc(r[k])
                for k in ("suspicion_rank", "index", "given_label", "suggested_label", "margin", "importance")
            ]
            + ([html.esc(r["clean_label"])] if has_clean else [])
            for r in rows
        ]
        return head + html.note(f"images left out: {why}") + html.table(header, cells)
    low, high = float(samples.min()), float(samples.max())
    items = []
    for row, sample in zip(rows, samples):
        lines = [
            f"#{row['suspicion_rank']} (row {row['index']})",
            f"given {row['given_label']} → suggested {row['suggested_label']}",
            f"score (margin) {row['margin']}" + (f"; α {row['importance']}" if row["importance"] else ""),
        ]
        if has_clean:
            lines.append(f"true {row['clean_label']}")
        caption = "".join(f"{html.esc(line)}<br>" for line in lines)
        png = panels.thumbnail(sample, low, high)
        alt = html.esc(f"training sample {row['index']}")
        items.append(
            f'<figure><img src="data:image/png;base64,{png}" alt="{alt}"><figcaption>{caption}</figcaption></figure>'
        )
    note = "label_issues.csv: most suspicious first (lowest margin); the full ranking and probabilities are in the run directory"
    return head + f'<div class="gallery">{"".join(items)}</div><p class="muted">{html.esc(note)}</p>'


def partial_views(record: RunRecord, reloaded: Reloaded | None, why: str) -> str:
    """Candidate-set sizes, and how far the method's per-sample targets narrowed inside them."""
    head = "<h3>Partial labels: candidate sets and targets</h3>"
    if reloaded is None:
        return head + html.note(f"candidate-set sizes and targets left out: the candidate sets are {why}")
    candidates = reloaded.candidates()
    if candidates is None:
        return head + html.note("this run has no candidate sets")
    sizes = candidates.sum(1)
    figures = [html.image(panels.candidate_sizes(sizes), "candidate-set sizes")]
    table = reloaded.target_table()
    text = ""
    if table is None:
        text = html.note(f"{record.method} keeps no per-sample target table: there is no shrinking to show")
    else:
        name, targets = table
        p = np.clip(targets, 1e-12, 1)
        effective = np.exp(-(p * np.log(p)).sum(1))
        figures.append(html.image(panels.target_shrink(sizes, effective, name), "how the targets shrank"))
        clean = reloaded.train_clean_labels()
        known = clean >= 0
        line = f"mean effective target size {effective.mean():.2f} (candidate sets: {sizes.mean():.2f})"
        if known.any():
            right = (targets.argmax(1) == clean)[known].mean()
            line += f"; the target's top class is the true label for {100 * right:.1f}% of the training samples"
        text = f'<p class="muted">{html.esc(line)}</p>'
    return head + html.grid(figures) + text
