"""The demo and the quality benchmark: several methods on the embedded digits, compared on the same splits."""

from __future__ import annotations

import datetime
import json
import statistics
from pathlib import Path

import torch

from ..api import train
from ..config import resolve
from .report import cpu_device, mean_std, replace_section, summary_of

DEMO_RECIPE = Path(__file__).parents[1] / "recipes" / "digits.yaml"


def digits_config(
    method: str, seed: int, labels_per_class: int, out: Path, epochs: int | None, extra: dict | None = None
):
    """The digits recipe (shipped with the package) for one method and seed; `extra`: more dotted overrides."""
    overrides = {
        "method.name": method,
        "seed": seed,
        "data.labels_per_class": labels_per_class,
        "out": str(out),
        **(extra or {}),
    }
    if epochs is not None:
        overrides["train.epochs"] = epochs
    return resolve(DEMO_RECIPE, overrides)


def run_all(
    methods, seeds, labels_per_class, out: Path, epochs=None, fresh=True, extra: dict | None = None
) -> list[dict]:
    results = []
    for method in methods:
        for seed in seeds:
            run_dir = out / f"{method}-seed{seed}"
            print(f"training {method} (seed {seed}) ...", flush=True)
            run = train(digits_config(method, seed, labels_per_class, run_dir, epochs, extra), overwrite=fresh)
            results.append(summary_of(run))
    return results


def demo(out: Path, epochs: int | None = None) -> list[dict]:
    """Supervised-only vs Mean Teacher on digits with 5 labels per class; prints a table."""
    results = run_all(["supervised", "mean_teacher"], [0], 5, out, epochs)
    print()
    print(f"{'method':<16} {'test accuracy':>14} {'time':>8}")
    for s in results:
        print(f"{s['method']:<16} {s['test']['accuracy']:>14.4f} {s['wall_time_s']:>7.1f}s")
    print(f"\nrun directories (config, metrics.jsonl, summary.json, checkpoints, plots): {out}/")
    return results


def quality(methods, seeds, labels_per_class, out: Path, epochs=None, write: str | None = None) -> str:
    """Each method × seed on digits; a Markdown table of mean ± std test accuracy and time per run."""
    results = run_all(methods, seeds, labels_per_class, out, epochs)
    rows = []
    for method in methods:
        runs = [r for r in results if r["method"] == method]
        acc = [100 * r["test"]["accuracy"] for r in runs]
        times = [r["wall_time_s"] for r in runs]
        rows.append(
            (method, mean_std(acc), mean_std([100 * r["test"]["ece"] for r in runs]), f"{statistics.mean(times):.1f}")
        )
    (out / "results.json").write_text(json.dumps(results, indent=2))
    table = _table(rows, methods, seeds, labels_per_class, results)
    print(table)
    if write:
        replace_section(Path(write), table, "quality", new_file="# Benchmarks\n\n## Quality\n\n")
    return table


def _table(rows, methods, seeds, labels_per_class, results) -> str:
    s = results[0]
    epochs_note = f"{s['steps']} steps"
    lines = [
        "<!-- quality:begin -->",
        f"Digits (scikit-learn, 8×8), {labels_per_class} labels per class ({s['labels']['num_labeled']} labeled of "
        f"{s['labels']['train']} training images; validation {s['labels']['val']}, test {s['labels']['test']}), "
        f"model {s['model']}, {epochs_note}, seeds {', '.join(map(str, seeds))}; test metrics of the checkpoint "
        "selected on validation accuracy.",
        "",
        "| method | test accuracy % (mean ± std) | test ECE % | time per run (s) |",
        "|---|---|---|---|",
        *[f"| {m} | {a} | {e} | {t} |" for m, a, e, t in rows],
        "",
        f"Command: `weaklab bench quality --seeds {' '.join(map(str, seeds))} --write BENCHMARKS.md`; "
        f"device: {cpu_device()}, "
        f"torch {torch.__version__}; date: {datetime.date.today().isoformat()}.",
        "<!-- quality:end -->",
    ]
    return "\n".join(lines)
