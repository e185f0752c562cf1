"""What a sweep leaves in its folder, rewritten after every trial: trials.csv and trials.md (one row per trial:
state, validation value, selected step, drawn values, time, run directory) and best.yaml, the best trial's
complete config, which `weaklab train --config best.yaml` trains again (with its own --out)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..config import resolve


def write_results(study, out: Path, metric: str, space: dict, base: dict) -> dict | None:
    """Write the tables and best.yaml into `out`; returns the best trial ({trial, value, step, params}) or None
    while no trial has completed."""
    trials = study.get_trials(deepcopy=False)
    # stopped trial -> its retry: queued by the sweep (Ctrl-C, SIGTERM) or by Optuna's heartbeat check (killed)
    retried = {
        origin: t.number
        for t in trials
        if (origin := t.user_attrs.get("retry_of", t.system_attrs.get("failed_trial"))) is not None
    }
    columns = ["trial", "state", f"val_{metric}", "step", *space, "seconds", "run_dir"]
    rows = [
        [
            t.number,
            _state(t, retried),
            t.value if t.state.name == "COMPLETE" else None,  # a pruned trial's value is its last report
            t.user_attrs.get("step"),
            *(t.params.get(key) for key in space),
            t.user_attrs.get("seconds"),
            t.user_attrs.get("run_dir"),
        ]
        for t in trials
    ]
    text = io.StringIO()
    csv.writer(text).writerows([columns, *[["" if v is None else v for v in row] for row in rows]])
    _write(out / "trials.csv", text.getvalue())
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    best = study.best_trial if complete else None
    direction = "higher" if study.direction.name == "MAXIMIZE" else "lower"
    head = f"Study `{study.study_name}`: validation {metric}, {direction} is better; " + (
        f"best: trial {best.number}." if best else "no trial has completed yet."
    )
    table = [columns, *[[_cell(v) for v in row] for row in rows]]
    lines = [head, "", "| " + " | ".join(table[0]) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in table[1:]]
    _write(out / "trials.md", "\n".join(lines) + "\n")
    if best is None:
        return None
    config = resolve(base, {**best.params, "out": None})
    header = (
        f"# The best trial of study {study.study_name}: trial {best.number}, validation {metric} {best.value:.6g} "
        f"at step {best.user_attrs.get('step')}.\n# Train it again with `weaklab train --config best.yaml --out DIR` "
        "(a flag or --set still overrides a key).\n"
    )
    saved = out / f".best.{os.getpid()}.yaml"  # the config's own YAML writer, then the header above it
    config.save(saved)
    body = saved.read_text()
    saved.unlink()
    _write(out / "best.yaml", header + body)
    return {"trial": best.number, "value": best.value, "step": best.user_attrs.get("step"), "params": best.params}


def _state(trial, retried: dict) -> str:
    state = trial.state.name.lower()
    if state == "pruned" and "diverged" in trial.user_attrs:
        return "diverged"
    if state == "pruned" and trial.intermediate_values:
        return f"pruned at step {max(trial.intermediate_values)}"
    if state == "fail" and trial.number in retried:
        return f"stopped (again as trial {retried[trial.number]})"
    return {"fail": "failed"}.get(state, state)


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a reader (or a second worker writing the same folder) never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
