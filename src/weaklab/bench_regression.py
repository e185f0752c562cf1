"""`weaklab bench regression`: semi-supervised regression baselines vs UCVME on the embedded digits_rotation task.

Every method gets the same data, splits, labeled subsets, network, views, optimizer and number of steps (the
shipped recipe); only the method differs. Test metrics are those of the checkpoint selected on validation MSE.
"""

from __future__ import annotations

import datetime
import json
import platform
import shutil
import statistics
from pathlib import Path

import torch

from .api import train
from .bench import _replace_section
from .config import resolve

RECIPE = Path(__file__).parent / "recipes" / "digits_rotation.yaml"

# Variant name -> (label, config overrides). The consistency weights are the papers' w_max divided by 10: the
# papers' weights were set for a softmax MSE over classes, and on this task they let consistency swamp the
# labeled loss (measured: Mean Teacher 5.27° MAE at w_max 100, 4.66° at 10; see BENCHMARKS.md).
VARIANTS = {
    "supervised": ("supervised (MSE)", {"method.name": "supervised"}),
    "supervised_nll": ("supervised (Gaussian NLL)", {"method.name": "supervised", "method.heteroscedastic": True}),
    "pi_model": ("Π-model", {"method.name": "pi_model", "method.consistency_weight": 10.0}),
    "temporal_ensembling": ("Temporal Ensembling", {"method.name": "temporal_ensembling", "method.consistency_weight": 3.0}),
    "mean_teacher": ("Mean Teacher", {"method.name": "mean_teacher", "method.consistency_weight": 10.0}),
    "ucvme": ("UCVME", {"method.name": "ucvme"}),
}
DEFAULT_VARIANTS = ["supervised", "supervised_nll", "mean_teacher", "temporal_ensembling", "ucvme"]


def regression_config(variant: str, seed: int, fraction: float, out: Path, epochs: int | None = None, extra: dict | None = None):
    overrides = {**VARIANTS[variant][1], "seed": seed, "data.labeled_fraction": fraction, "out": str(out)}
    if epochs is not None:
        overrides["train.epochs"] = epochs
    return resolve(RECIPE, {**overrides, **(extra or {})})


def regression(variants, seeds, fractions, out: Path, epochs=None, write: str | None = None, extra: dict | None = None) -> str:
    results = []
    for fraction in fractions:
        for variant in variants:
            for seed in seeds:
                run_dir = out / f"{variant}-{fraction:g}-seed{seed}"
                if run_dir.exists():
                    shutil.rmtree(run_dir)
                print(f"training {variant} ({fraction:.0%} labels, seed {seed}) ...", flush=True)
                summary = train(regression_config(variant, seed, fraction, run_dir, epochs, extra)).summary
                results.append({**summary, "variant": variant, "fraction": fraction})
    (out / "results.json").write_text(json.dumps(results, indent=2))
    table = _table(results, variants, seeds, fractions, epochs, extra, write)
    print(table)
    if write:
        _replace_section(Path(write), table, "regression")
    return table


def _mean_std(values, digits: int) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {std:.{digits}f}"


def _table(results, variants, seeds, fractions, epochs, extra, write=None) -> str:
    s = results[0]
    lines = [
        "<!-- regression:begin -->",
        f"digits_rotation (scikit-learn's 8×8 digits, each rotated by a random angle in ±45°; target: the angle in "
        f"degrees): {s['labels']['train']} training, {s['labels']['val']} validation, {s['labels']['test']} test "
        f"images; model {s['model']}, {s['steps']} steps; seeds {', '.join(map(str, seeds))}; test metrics "
        "(mean ± std over seeds) of the checkpoint selected on validation MSE. NLL: Gaussian, in degrees; coverage "
        "of the central 90% interval; ρ: Spearman correlation of predicted std and |error| (methods without a "
        "variance head use one validation-fitted std for every sample, so ρ is undefined).",
        "",
        "| labels | method | MAE ° | R² % | NLL | coverage@90 % | ρ(std, abs err) | time per run (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fraction in fractions:
        for variant in variants:
            runs = [r for r in results if r["variant"] == variant and r["fraction"] == fraction]
            t = [r["test"] for r in runs]
            rho = [x["std_error_spearman"] for x in t]
            rho_text = "—" if any(v != v for v in rho) else _mean_std(rho, 2)
            lines.append(
                f"| {fraction:.0%} ({runs[0]['labels']['num_labeled']}) | {VARIANTS[variant][0]} | "
                f"{_mean_std([x['mae'] for x in t], 2)} | {_mean_std([100 * x['r2'] for x in t], 1)} | "
                f"{_mean_std([x['nll'] for x in t], 3)} | {_mean_std([100 * x['coverage'] for x in t], 1)} | "
                f"{rho_text} | {statistics.mean(r['wall_time_s'] for r in runs):.1f} |"
            )
    command = f"weaklab bench regression --seeds {' '.join(map(str, seeds))} --fractions {' '.join(f'{f:g}' for f in fractions)}"
    if epochs is not None:
        command += f" --epochs {epochs}"
    if list(variants) != DEFAULT_VARIANTS:
        command += " --methods " + " ".join(variants)
    command += "".join(f" --set {k}={v}" for k, v in (extra or {}).items()) + (f" --write {write}" if write else "")
    lines += [
        "",
        f"Command: `OMP_NUM_THREADS=1 {command}`; device: {platform.processor() or platform.machine()} CPU "
        f"({torch.get_num_threads()} thread), torch {torch.__version__}; date: {datetime.date.today().isoformat()}.",
        "<!-- regression:end -->",
    ]
    return "\n".join(lines)
