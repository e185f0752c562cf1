"""`weaklab bench precision`: do bf16 autocast and channels_last change results beyond seed noise?

They are the CUDA defaults (`train.precision: auto`, `train.channels_last: None`) because they make convolutions
faster; this command earns that default. The same methods, seeds and splits are trained in fp32, in bf16
autocast, and in bf16 with channels_last, and the table shows each setting's test metric (mean ± std over seeds)
and the paired difference to fp32 (same seed, so the same splits, labeled subset and initial weights).

Classification methods run the digits quality recipe; `ucvme` runs the digits_rotation regression recipe at 10 %
labels (its log-variance heads are where reduced precision could bite).
"""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

import torch

from ..api import train
from .digits import digits_config
from .regression import regression_config
from .report import mean_std, replace_section, summary_of

SETTINGS = {
    "fp32": {"train.precision": "fp32", "train.channels_last": False},
    "bf16": {"train.precision": "bf16", "train.channels_last": False},
    "bf16 + channels_last": {"train.precision": "bf16", "train.channels_last": True},
}
REGRESSION = {"ucvme"}  # methods measured on digits_rotation rather than digits classification


def _config(method: str, seed: int, out: Path, extra: dict, device: str, epochs: int | None):
    extra = {**extra, "train.device": device}
    if method in REGRESSION:
        return regression_config(method, seed, 0.1, out, epochs, extra=extra)
    return digits_config(method, seed, 5, out, epochs, extra)


def _metric(method: str, summary: dict) -> float:
    """Test accuracy % (classification) or test MAE in degrees (regression)."""
    return summary["test"]["mae"] if method in REGRESSION else 100 * summary["test"]["accuracy"]


def precision(
    methods, seeds, out: Path, device: str = "auto", epochs: int | None = None, write: str | None = None
) -> str:
    from ..methods import method_class

    for method in methods:  # before hours of training: an unknown name fails now, with the list of names
        method_class(method)
    results: dict[tuple[str, str], list[dict]] = {}
    for method in methods:
        for name, overrides in SETTINGS.items():
            for seed in seeds:
                run_dir = out / f"{method}-{name.replace(' + ', '-')}-seed{seed}"
                print(f"training {method} in {name} (seed {seed}) ...", flush=True)
                run = train(_config(method, seed, run_dir, overrides, device, epochs), overwrite=True)
                results.setdefault((method, name), []).append(summary_of(run))
    marker = "precision" if first_device(results) == "cpu" else "precision-cuda"  # one table per kind of device
    table = _table(methods, seeds, results, device, marker)
    print(table)
    if write:
        replace_section(Path(write), table, marker, heading="Precision: bf16 autocast and channels_last vs fp32")
    return table


def first_device(results) -> str:
    return next(iter(results.values()))[0]["device"].split(":")[0]


def _table(methods, seeds, results, device: str, marker: str) -> str:
    first = next(iter(results.values()))[0]
    lines = [
        f"<!-- {marker}:begin -->",
        "Test accuracy % (digits, 5 labels per class) or test MAE ° (UCVME: digits_rotation, 10 % labels) of the "
        "checkpoint selected on validation; mean ± std over seeds, and the paired difference to fp32 (same seed).",
        "",
        "| method | metric | "
        + " | ".join(SETTINGS)
        + " | "
        + " | ".join(f"{name} − fp32" for name in list(SETTINGS)[1:])
        + " |",
        "|---|---|" + "---|" * (2 * len(SETTINGS) - 1),
    ]
    for method in methods:
        values = {name: [_metric(method, s) for s in results[(method, name)]] for name in SETTINGS}
        diffs = [mean_std([b - a for a, b in zip(values["fp32"], values[name])]) for name in list(SETTINGS)[1:]]
        lines.append(
            f"| {method} | {'MAE °' if method in REGRESSION else 'accuracy %'} | "
            + " | ".join(mean_std(values[name]) for name in SETTINGS)
            + " | "
            + " | ".join(diffs)
            + " |"
        )
    device_name = first.get("device", device)
    lines += [
        "",
        f"Command: `weaklab bench precision{'' if device == 'auto' else ' --device ' + device} --methods {' '.join(methods)} --seeds {' '.join(map(str, seeds))} "
        f"--write BENCHMARKS.md`; device: {device_name} ({platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads), torch {torch.__version__}; date: {datetime.date.today().isoformat()}.",
        f"<!-- {marker}:end -->",
    ]
    return "\n".join(lines)
