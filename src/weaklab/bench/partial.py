"""`weaklab bench partial`: CC, RC, PRODEN and PL-CR on the embedded digits with generated candidate sets, several
partial rates and seeds, same splits, network, views and steps; and `weaklab bench augment`: the strong
augmentation's time per batch, against kornia where it is installed."""

from __future__ import annotations

import datetime
import json
import platform
import shutil
import statistics
import time
from pathlib import Path

import torch

from ..api import train
from ..config import load_yaml, resolve
from .report import cpu_device, mean_std, replace_section, summary_of, threads_prefix

RECIPE = Path(__file__).parents[1] / "recipes" / "digits-partial.yaml"
METHODS = ["cc", "rc", "proden", "plcr"]
REFERENCE = "supervised"  # true labels, same network and steps: the ceiling


def partial_config(method: str, rate: float, seed: int, out: Path, epochs: int | None):
    """The digits-partial recipe for one method, partial rate and seed (method settings only for PL-CR)."""
    tree = load_yaml(RECIPE)
    epochs = epochs or tree["train"]["epochs"]
    tree["train"]["epochs"] = epochs
    tree["train"]["lr_milestones"] = [epochs // 2, (3 * epochs) // 4]
    tree["train"]["batch_unlabeled"] = tree["train"]["batch_labeled"]  # same steps per epoch for the reference
    tree["method"] = {"name": method}
    if method == "plcr":
        tree["method"]["rampup"] = "100/200"  # the paper ramps λ over the first half (100 of 200 epochs)
    if method == REFERENCE:  # every true label, selected on validation accuracy
        del tree["data"]["partial"], tree["data"]["partial_rate"], tree["train"]["selection_metric"]
    else:
        tree["data"]["partial_rate"] = rate
    return resolve(tree, {"seed": seed, "out": str(out), "train.progress": False, "train.plot_redraws": 0})


def partial(methods, rates, seeds, out: Path, epochs=None, write: str | None = None, reference=True) -> str:
    results = []
    for rate in rates:
        for method in methods:
            for seed in seeds:
                results.append(_run(method, rate, seed, out / f"q{rate}" / f"{method}-seed{seed}", epochs))
    if reference:
        for seed in seeds:
            results.append(_run(REFERENCE, None, seed, out / "supervised" / f"seed{seed}", epochs))
    (out / "results.json").write_text(json.dumps(results, indent=2))
    figure = _curves(out, methods, rates[len(rates) // 2], seeds[0])
    command = (
        f"{threads_prefix()}weaklab bench partial --seeds {' '.join(map(str, seeds))} --rates "
        f"{' '.join(map(str, rates))} --methods {' '.join(methods)}"
        + (f" --epochs {epochs}" if epochs else "")
        + ("" if reference else " --no-reference")
        + (f" --write {write}" if write else "")
    )
    table = _table(results, methods, rates, seeds, figure, command)
    print(table)
    if write:
        replace_section(Path(write), table, "partial")
        _keep_plots(
            Path(write).parent / "benchmarks" / "partial",
            figure,
            out / f"q{rates[len(rates) // 2]}" / f"plcr-seed{seeds[0]}",
        )
    return table


def _keep_plots(dest: Path, figure: Path, run_dir: Path) -> None:
    """The comparison figure and one PL-CR run's own plots, small PNGs beside the Markdown file."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(figure, dest / figure.name)
    for name in ("loss.png", "accuracy.png", "schedule.png"):
        if (run_dir / "plots" / name).exists():
            shutil.copy(run_dir / "plots" / name, dest / f"plcr-{name}")


def _run(method, rate, seed, run_dir: Path, epochs) -> dict:
    print(f"training {method} (q={rate}, seed {seed}) ...", flush=True)
    summary = summary_of(train(partial_config(method, rate, seed, run_dir, epochs), overwrite=True))
    return {**summary, "rate": rate, "run_dir": str(run_dir)}


def _curves(out: Path, methods, rate, seed) -> Path:
    """Validation accuracy (true labels, for the report) and approximated accuracy of each method, one run each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..engine.logger import read_metrics

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for method in methods:
        records = read_metrics(out / f"q{rate}" / f"{method}-seed{seed}")
        epochs = [r["epoch"] for r in records]
        axes[0].plot(epochs, [100 * r["val"]["accuracy"] for r in records], label=method)
        axes[1].plot(epochs, [100 * r["val"]["approx_accuracy"] for r in records], label=method)
    axes[0].set(xlabel="epoch", ylabel="%", title=f"validation accuracy (true labels), q={rate}")
    axes[1].set(xlabel="epoch", ylabel="%", title="validation approximated accuracy (no true labels)")
    for ax in axes:
        ax.set_ylim(50, 100)
        ax.legend()
    fig.tight_layout()
    path = out / f"partial-curves-q{rate}.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _table(results, methods, rates, seeds, figure: Path, command: str) -> str:
    first = next(r for r in results if r["method"] != REFERENCE)
    labels = first["labels"]
    header = "| method | " + " | ".join(f"q = {q}: test acc. % | s/run" for q in rates) + " |"
    lines = [
        "<!-- partial:begin -->",
        f"Digits (scikit-learn, 8×8; {labels['train']} training, {labels['val']} validation, {labels['test']} test "
        f"images), candidate sets from PL-CR's generator (each wrong class with probability q, at least 2 candidates; "
        f"validation sets from the same generator). Model {first['model']}, {first['steps']} steps (batch 64), SGD with "
        f"step decay; checkpoint selected on validation *approximated accuracy* (no true labels). Mean ± std over "
        f"seeds {', '.join(map(str, seeds))}.",
        "",
        header,
        "|---|" + "---|---|" * len(rates),
    ]
    for method in methods:
        cells = []
        for q in rates:
            runs = [r for r in results if r["method"] == method and r["rate"] == q]
            cells += [
                mean_std([100 * r["test"]["accuracy"] for r in runs]),
                f"{statistics.mean(r['wall_time_s'] for r in runs):.1f}",
            ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    sizes = []
    for q in rates:
        r = next(r for r in results if r["rate"] == q)
        sizes.append(f"q = {q}: {r['labels']['partial']['train']['avg_candidates']:.2f}")
    lines += ["", "Average candidate-set size (training): " + "; ".join(sizes) + "."]
    ref = [r for r in results if r["method"] == REFERENCE]
    if ref:
        lines.append(
            f"Reference, every true label (supervised, same network, views and steps, selected on validation accuracy): "
            f"{mean_std([100 * r['test']['accuracy'] for r in ref])} %."
        )
    lines += [
        "",
        f"Command: `{command}`; device: {cpu_device()}, shared with other jobs: times are wall-clock and only "
        f"roughly comparable; torch {torch.__version__}; date: {datetime.date.today().isoformat()}. Curves of one run per method: "
        f"`benchmarks/partial/{figure.name}`; one PL-CR run's loss, accuracy and schedule plots: `benchmarks/partial/plcr-*.png`.",
        "<!-- partial:end -->",
    ]
    return "\n".join(lines)


def augment_timing(batch: int = 448, size: int = 32, repeats: int = 5) -> str:
    """Milliseconds per call on a batch×3×size×size batch, and how many distinct outputs 64 copies of one image get."""
    from ..data.views import augment

    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    copies = x[:1].expand(64, 3, size, size).contiguous()
    g = torch.Generator().manual_seed(0)

    def timed(f) -> float:
        f(x)
        start = time.perf_counter()
        for _ in range(repeats):
            f(x)
        return 1000 * (time.perf_counter() - start) / repeats

    def distinct(f) -> int:
        return len({tuple(o.flatten().tolist()) for o in f(copies)})

    aa, ra = augment.AutoAugment(augment.CIFAR10_POLICY), augment.RandAugment(2, 10)
    rows = [
        ("weaklab AutoAugment (CIFAR-10 policy)", lambda v: aa(v, g)),
        ("weaklab RandAugment (n=2, m=10)", lambda v: ra(v, g)),
        ("weaklab Cutout 16", lambda v: augment.random_cutout(v, 16, g)),
    ]
    try:
        import kornia.augmentation.auto as auto

        rows += [
            ("kornia AutoAugment('cifar10')", auto.AutoAugment("cifar10")),
            ("kornia RandAugment(n=2, m=10)", auto.RandAugment(n=2, m=10)),
        ]
    except ImportError:
        pass
    lines = [
        f"| op | ms per {batch}×3×{size}×{size} batch | distinct outputs from 64 copies of one image |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {timed(f):.1f} | {distinct(f)} |" for name, f in rows]
    lines.append(
        f"\n{platform.machine()} CPU, {torch.get_num_threads()} thread(s), torch {torch.__version__}, "
        f"{datetime.date.today().isoformat()}; command: `weaklab bench augment`."
    )
    text = "\n".join(lines)
    print(text)
    return text
