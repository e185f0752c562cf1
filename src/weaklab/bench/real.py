"""`weaklab bench quality --dataset D`: methods at the defaults a user gets, beside scikit-learn's semi-supervised
estimators on the same split, several seeds: test metric mean ± std, wall time, and how soon each run passes the
best scikit-learn peer (time to accuracy).

Any dataset `weaklab train` reads works: a name, or a user's file such as the real 28×28 images that
`benchmarks/real_data.py` writes from pip packages. Extra settings (`--set data.noise=symmetric`) go to every run.
Runs go to OUT/<the table's key>/<method>-seed<N>, so benchmarks of different regimes can run at once; a run folder
that another writer holds stops the benchmark with the lock's message instead of being cleared under it.
"""

from __future__ import annotations

import datetime
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from ..api import train
from ..config import resolve
from ..core.task import Regression
from .report import cpu_device, mean_std, replace_section, summary_of


def peer_estimators() -> dict:
    """What a user tries first, name -> (estimator factory, fitted on the labeled samples only): a linear model on
    the labeled samples, then scikit-learn's two semi-supervised estimators on every sample (unlabeled ones −1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier

    return {
        "LogisticRegression (labeled only)": (lambda: LogisticRegression(max_iter=2000), True),
        "LabelSpreading (knn, k=7)": (lambda: LabelSpreading(kernel="knn", n_neighbors=7), False),
        "SelfTrainingClassifier (LogisticRegression)": (
            lambda: SelfTrainingClassifier(LogisticRegression(max_iter=2000)),
            False,
        ),
    }


def peer_split(config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(train x, train y with −1 where hidden, test x, test y): the split and labeled subset weaklab draws for this
    config, inputs normalised as weaklab normalises them, flattened. None where the peers do not apply
    (regression targets, candidate sets)."""
    from ..engine.experiment import build_data, pick_device

    data = build_data(config, pick_device("cpu"))
    if isinstance(data.task, Regression) or data.val_candidates is not None:
        return None
    flat = lambda store: np.concatenate([b.cpu().numpy().reshape(len(b), -1) for b in store.batches(1024)])  # noqa: E731
    y = data.supervision.labels.cpu().numpy().copy()
    y[~data.supervision.labeled.cpu().numpy()] = -1  # scikit-learn's mark of an unlabeled sample
    return flat(data.train), y, flat(data.test), data.test_labels.cpu().numpy()


def run_peers(config) -> list[dict]:
    split = peer_split(config)
    if split is None:
        return []
    x, y, xt, yt = split
    labeled = y >= 0
    results = []
    for name, (make, labeled_only) in peer_estimators().items():
        start = time.perf_counter()
        model = make().fit(x[labeled], y[labeled]) if labeled_only else make().fit(x, y)
        accuracy = float((model.predict(xt) == yt).mean())
        results.append(
            {
                "method": name,
                "seed": config.seed,
                "test": {"accuracy": accuracy},
                "wall_time_s": time.perf_counter() - start,
            }
        )
    return results


def time_to(run_dir: Path, metric: str, target: float, higher_is_better: bool) -> float | None:
    """Seconds of training until the first evaluation whose validation `metric` passes `target`; None: never."""
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        value = record.get("val", {}).get(metric)
        if value is not None and (value >= target if higher_is_better else value <= target):
            return record["time"]
    return None


def real_quality(
    dataset: str,
    methods,
    seeds,
    out: Path,
    labels_per_class: int | None = None,
    epochs: int | None = None,
    overrides: dict | None = None,
    peers: bool = True,
    write: str | None = None,
) -> str:
    base = {"data.dataset": dataset, "train.progress": False, **(overrides or {})}
    if labels_per_class is not None:
        base["data.labels_per_class"] = labels_per_class
    if epochs is not None:
        base["train.epochs"] = epochs
    key = "quality-" + _key(dataset, labels_per_class, overrides, epochs)
    out = out / key  # one folder per table: benchmarks of other regimes can run beside it
    results, peer_results = [], []
    for seed in seeds:
        if peers:
            # the peers read only the split; resolved with a method being run, since the config is checked against
            # its method and `supervised` does not take candidate sets
            peer_results += run_peers(resolve(None, {**base, "method.name": methods[0], "seed": seed}))
        for method in methods:
            run_dir = out / f"{method}-seed{seed}"
            print(f"training {method} (seed {seed}) ...", flush=True)
            config = resolve(None, {**base, "method.name": method, "seed": seed, "out": str(run_dir)})
            summary = dict(summary_of(train(config, overwrite=True)))
            summary["run_dir"] = str(run_dir)
            results.append(summary)
    (out / "results.json").write_text(json.dumps({"runs": results, "peers": peer_results}, indent=2))
    table = _table(key, dataset, methods, seeds, results, peer_results, labels_per_class, epochs, overrides, write)
    print(table)
    if write:
        replace_section(Path(write), table, key, heading=key)
    return table


def _key(dataset: str, labels_per_class: int | None, overrides: dict | None, epochs: int | None = None) -> str:
    """The table's marker in the Markdown file: the dataset, its regime and the run length, so that one file holds
    them all."""
    o = overrides or {}
    parts = [Path(dataset).stem]
    if labels_per_class is not None:
        parts.append(f"{labels_per_class}-per-class")
    if "data.labeled_fraction" in o:
        parts.append(f"labeled-{o['data.labeled_fraction']}")
    if o.get("data.noise") not in (None, "none"):
        parts.append(f"{o['data.noise']}-{o.get('data.noise_rate', '')}")
    if o.get("data.partial"):
        parts.append(f"partial-{o.get('data.partial_rate', '')}")
    if epochs is not None:
        parts.append(f"{epochs}-epochs")
    return "-".join(str(p) for p in parts).replace("_", "-").lower()


def _table(key, dataset, methods, seeds, results, peer_results, labels_per_class, epochs, overrides, write) -> str:
    regression = results[0]["task"]["kind"] == "regression"
    metric, higher = ("mae", False) if regression else ("accuracy", True)
    scale, unit = (1, "") if regression else (100, " %")
    peer_names = list(dict.fromkeys(p["method"] for p in peer_results))
    best_peer = (
        max((statistics.mean(p["test"]["accuracy"] for p in peer_results if p["method"] == n), n) for n in peer_names)
        if peer_names and not regression
        else None
    )
    s = results[0]
    labels = s["labels"]
    given = "candidate sets" if "partial" in labels else f"{labels.get('num_labeled', labels['train'])} labeled"
    head = (
        f"{Path(dataset).name}: {labels['train']} training samples ({given}), validation {labels['val']}, "
        f"test {labels['test']}; model {s['model']} ({s['parameters']:,} parameters), {s['steps']} steps "
        f"({s['schedule'].get('epochs', epochs)} epochs); seeds {', '.join(map(str, seeds))}. Test {metric}{unit} of "
        "the checkpoint selected on validation, mean ± std over seeds; time is wall time per run."
    )
    passes = "time to pass the best peer on validation (s)"
    lines = [
        f"<!-- {key}:begin -->",
        head,
        "",
        f"| method | test {metric}{unit} | time per run (s) |" + (f" {passes} |" if best_peer else ""),
        "|---|---|---|" + ("---|" if best_peer else ""),
    ]
    for method in methods:
        runs = [r for r in results if r["method"] == method]
        row = (
            f"| {method} | {mean_std([scale * r['test'][metric] for r in runs])} | "
            f"{statistics.mean(r['wall_time_s'] for r in runs):.0f} |"
        )
        if best_peer:
            times = [time_to(Path(r["run_dir"]), metric, best_peer[0], higher) for r in runs]
            passed = [t for t in times if t is not None]
            row += f" {statistics.mean(passed):.0f} ({len(passed)}/{len(runs)} runs) |" if passed else " never |"
        lines.append(row)
    for name in peer_names:
        runs = [p for p in peer_results if p["method"] == name]
        lines.append(
            f"| scikit-learn {name} | {mean_std([100 * p['test']['accuracy'] for p in runs])} | "
            f"{statistics.mean(p['wall_time_s'] for p in runs):.1f} |" + (" |" if best_peer else "")
        )
    flags = (
        (f" --labels-per-class {labels_per_class}" if labels_per_class is not None else "")
        + (f" --epochs {epochs}" if epochs is not None else "")
        + "".join(f" --set {k}={v}" for k, v in (overrides or {}).items())
    )
    lines += [
        "",
        f"Command: `weaklab bench quality --dataset {dataset}{flags} --methods {' '.join(methods)} --seeds "
        f"{' '.join(map(str, seeds))}" + (f" --write {write}" if write else "") + f"`; device: {cpu_device()}, "
        f"torch {torch.__version__}; date: {datetime.date.today().isoformat()}.",
        f"<!-- {key}:end -->",
    ]
    return "\n".join(lines)
