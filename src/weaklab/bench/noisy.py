"""`weaklab bench noisy`: CE, GCE and SCN (both relabel variants) on the embedded digits under label noise.

Every method gets the same data, network, views and number of steps; only the loss (and SCN's relabeling)
differs. Test accuracy is of the checkpoint selected on the (clean) validation split; relabel precision and
recall are read from each run's label_issues.csv (the selected checkpoint's label state).
"""

from __future__ import annotations

import csv
import datetime
import json
import statistics
from pathlib import Path

import torch

from ..api import train
from ..config import resolve
from .report import cpu_device, mean_std, replace_section, summary_of, threads_prefix

# name -> (method overrides)
METHODS: dict[str, dict[str, object]] = {
    "ce": {"method.name": "supervised"},
    "gce": {"method.name": "gce"},
    "scn": {"method.name": "scn", "method.relabel": "all", "method.relabel_against": "stored"},  # official code
    "scn-low": {"method.name": "scn", "method.relabel": "low", "method.relabel_against": "stored"},
    "scn-paper": {"method.name": "scn", "method.relabel": "low", "method.relabel_against": "given"},  # both as written
    "scn-norelabel": {"method.name": "scn", "method.relabel": "none"},
    "scn-norr": {"method.name": "scn", "method.rank_regularization": False},
    "scn-plain": {"method.name": "scn", "method.relabel_view": "plain"},
}
# name -> (noise kind, rate)
CONDITIONS = {
    "clean": ("none", 0.0),
    "sym20": ("symmetric", 0.2),
    "sym40": ("symmetric", 0.4),
    "asym40": ("asymmetric", 0.4),
}
# The digits setting: every label given, SCN's optimiser and schedule, a small CNN trained from scratch.
BASE = {
    "data.dataset": "digits",
    "data.noise_mapping": "digits",  # 1↔7, 3→8, 5→6, 4→9 (used by asym40)
    "model.name": "small_cnn",
    "model.width": 16,
    "model.dropout": 0.2,
    # No augmentation: on 8×8 digits it gave CE its best accuracy under noise, and SCN relabels from
    # training-mode predictions, which ±2 px shifts + input noise make unreliable (measured, see BENCHMARKS.md).
    "views.translate": 0,
    "views.noise": 0.0,
    "train.epochs": 15,
    "train.batch_labeled": 64,
    "train.batch_unlabeled": 64,  # an epoch = one pass over the training set
    "train.optimizer": "adam",
    "train.lr": 0.003,
    "train.weight_decay": 1.0e-4,
    "train.lr_schedule": "exponential",
    "train.lr_gamma": 0.9,
    "train.progress": False,
    "method.relabel_start": 5,
    "method.relabel_view": "augmented",  # the tables were measured with the paper's relabel forward (scn-plain: eval)
}


def config_for(method: str, condition: str, seed: int, out: Path, extra: dict | None = None):
    kind, rate = CONDITIONS[condition]
    overrides = {**BASE, **METHODS[method], "data.noise": kind, "data.noise_rate": rate, "seed": seed, "out": str(out)}
    overrides.update(extra or {})
    if not method.startswith("scn"):  # SCN's settings do not apply to the other methods
        overrides = {k: v for k, v in overrides.items() if not k.startswith("method.") or k == "method.name"}
    return resolve(None, overrides)


def relabel_stats(run_dir: Path) -> dict:
    """At the end of training (last checkpoint): how many labels SCN changed, relabel precision (changed labels
    that are now the true one) and recall (wrong given labels that are now the true one)."""
    from ..engine import checkpoint

    rows = list(csv.DictReader((run_dir / "label_issues.csv").open()))
    if not rows or "clean_label" not in rows[0]:
        return {}
    # does α single out wrong labels? share of wrong given labels among the 30 % lowest α (selected checkpoint)
    by_alpha = sorted(rows, key=lambda r: float(r["importance"]))[: int(0.3 * len(rows))]
    low_alpha_wrong = sum(r["given_label"] != r["clean_label"] for r in by_alpha) / max(1, len(by_alpha))
    last = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    labels, names = last["method"]["labels"].tolist(), last["classes"]
    current = [names[labels[int(r["index"])]] for r in rows]  # the CSV names classes; the buffer holds indices
    given = [r["given_label"] for r in rows]
    clean = [r["clean_label"] for r in rows]
    changed = [i for i in range(len(rows)) if current[i] != given[i]]
    wrong = [i for i in range(len(rows)) if given[i] != clean[i]]
    return {
        "low_alpha_wrong": low_alpha_wrong,
        "changed": len(changed),
        "precision": sum(current[i] == clean[i] for i in changed) / len(changed) if changed else None,
        "recall": sum(current[i] == clean[i] for i in wrong) / len(wrong) if wrong else None,
    }


@torch.no_grad()
def final_test_accuracy(run_dir: Path) -> float:
    """Test accuracy of the last checkpoint (end of training), beside the validation-selected one.

    Validation labels are clean here, so selecting on them stops cross-entropy before it memorises the noise;
    the last checkpoint shows what each loss does without that help.
    """
    from ..api import Run
    from ..engine import checkpoint
    from ..engine.experiment import build_data, make_network

    run = Run(run_dir)
    state = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    model = make_network(state["model_spec"]).eval()
    prefix = state["predictor"] + "."
    model.load_state_dict({k[len(prefix) :]: v for k, v in state["method"].items() if k.startswith(prefix)})
    data = build_data(run.config, torch.device("cpu"))
    predicted = torch.cat([model(x).argmax(1) for x in data.test.batches(1024)])
    return float((predicted == data.test_labels).float().mean())


def run(
    methods, conditions, seeds, out: Path, write: str | None = None, extra: dict | None = None, reuse: bool = False
) -> str:
    results = []
    for condition in conditions:
        for method in methods:
            for seed in seeds:
                run_dir = out / f"{condition}-{method}-seed{seed}"
                if reuse and (run_dir / "summary.json").is_file():
                    summary = json.loads((run_dir / "summary.json").read_text())
                else:
                    print(f"training {method} on digits {condition} (seed {seed}) ...", flush=True)
                    summary = summary_of(train(config_for(method, condition, seed, run_dir, extra), overwrite=True))
                results.append(
                    {
                        "method": method,
                        "condition": condition,
                        "seed": seed,
                        "summary": summary,
                        "final_accuracy": final_test_accuracy(run_dir),
                        "relabel": relabel_stats(run_dir) if method.startswith("scn") else {},
                    }
                )
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    table = _table(results, methods, conditions, seeds, extra, out, write)
    print(table)
    if write:
        replace_section(Path(write), table, "noisy", heading="Noisy labels: CE, GCE and SCN on digits")
    return table


def _table(results, methods, conditions, seeds, extra, out: Path, write: str | None) -> str:
    def cell(method, condition, get):
        return mean_std(
            [get(r) for r in results if r["method"] == method and r["condition"] == condition], 1, skip_missing=True
        )

    acc = lambda r: 100 * r["summary"]["test"]["accuracy"]  # noqa: E731
    prec = lambda r: None if r["relabel"].get("precision") is None else 100 * r["relabel"]["precision"]  # noqa: E731
    rec = lambda r: None if r["relabel"].get("recall") is None else 100 * r["relabel"]["recall"]  # noqa: E731
    s = results[0]["summary"]
    realised = {
        c: mean_std(
            [100 * (r["summary"]["labels"].get("noise_rate_realised") or 0) for r in results if r["condition"] == c],
            1,
            skip_missing=True,
        )
        for c in conditions
    }
    head = "| method | " + " | ".join(f"{c} ({realised[c]} % wrong)" for c in conditions) + " | time per run (s) |"
    lines = [
        "<!-- noisy:begin -->",
        f"Digits (scikit-learn, 8×8), every training label given ({s['labels']['train']} training images; clean "
        f"validation {s['labels']['val']}, test {s['labels']['test']}), model {s['model']} (width 16, dropout 0.2), "
        f"{s['steps']} steps (15 epochs of batch 64), Adam 0.003, wd 1e-4, ExponentialLR 0.9/epoch, no augmentation; "
        f"SCN relabels from epoch 5; seeds {', '.join(map(str, seeds))}. Conditions: symmetric noise to a random "
        "other class (SCN protocol) at 20 / 40 %, asymmetric 40 % with the digits map 1↔7, 3→8, 5→6, 4→9; "
        "the realised share of wrong labels is in the header.",
        "",
        "Test accuracy % (mean ± std over seeds; checkpoint selected on validation accuracy):",
        "",
        head,
        "|---|" + "---|" * len(conditions) + "---|",
    ]
    for m in methods:
        times = [r["summary"]["wall_time_s"] for r in results if r["method"] == m]
        lines.append(
            f"| {m} | " + " | ".join(cell(m, c, acc) for c in conditions) + f" | {statistics.mean(times):.1f} |"
        )
    final = lambda r: 100 * r["final_accuracy"]  # noqa: E731
    lines += [
        "",
        "Test accuracy % of the *last* checkpoint (no selection on the clean validation split):",
        "",
        head.replace(" time per run (s) |", ""),
        "|---|" + "---|" * len(conditions),
    ]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(cell(m, c, final) for c in conditions) + " |")
    scns = [m for m in methods if m.startswith("scn")]
    if scns and any(CONDITIONS[c][1] > 0 for c in conditions):
        low = lambda r: 100 * r["relabel"]["low_alpha_wrong"] if "low_alpha_wrong" in r["relabel"] else None  # noqa: E731
        lines += [
            "",
            "Does the importance α single out wrong labels? Share of wrong given labels among the 30 % of "
            "training samples with the lowest α (selected checkpoint; the header gives the base rate) (%):",
            "",
            "| method | " + " | ".join(conditions) + " |",
            "|---|" + "---|" * len(conditions),
        ]
        for m in scns:
            lines.append(f"| {m} | " + " | ".join(cell(m, c, low) for c in conditions) + " |")
    relabelers = [m for m in methods if m.startswith("scn") and m != "scn-norelabel"]
    if relabelers:
        lines += [
            "",
            "Relabeling at the end of training: labels changed (count), precision = share of changed labels that "
            "are now the true one, recall = share of wrong given labels that are now the true one (%):",
            "",
            "| method | " + " | ".join(f"{c}: changed; precision / recall" for c in conditions) + " |",
            "|---|" + "---|" * len(conditions),
        ]
        changed = lambda r: r["relabel"].get("changed")  # noqa: E731
        for m in relabelers:
            lines.append(
                f"| {m} | "
                + " | ".join(f"{cell(m, c, changed)}; {cell(m, c, prec)} / {cell(m, c, rec)}" for c in conditions)
                + " |"
            )
    flags = " ".join(f"--set {k}={v}" for k, v in (extra or {}).items())
    threads = threads_prefix().strip()
    lines += [
        "",
        f"Command: `weaklab bench noisy --seeds {' '.join(map(str, seeds))} --methods {' '.join(methods)} "
        f"--conditions {' '.join(conditions)}{' ' + flags if flags else ''} --out {out}"
        f"{' --write ' + Path(write).name if write else ''}`"
        f"{' with ' + threads if threads else ''}; device: {cpu_device()}, "
        f"torch {torch.__version__}; date: {datetime.date.today().isoformat()}. Times are wall-clock on a machine shared "
        "with other jobs (load ≈ 3 on 2 cores): indicative only.",
        "<!-- noisy:end -->",
    ]
    return "\n".join(lines)
