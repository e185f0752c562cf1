"""Loss and metric curves from metrics.jsonl, and the plots of the test predictions a task asks for
(`task.test_plots`), as PNG files in the run's plots/ folder."""

from __future__ import annotations

from pathlib import Path

from .logger import read_metrics

SCHEDULES = ("lr", "consistency_weight")  # drawn on schedule.png, not with the losses
ACCURACY_LIKE = ("accuracy", "covering_rate", "approx_accuracy")  # one plot: true-label and label-free accuracies


def draw(run_dir: Path, selected: int | None = None) -> list[Path]:
    """Draw `plots/loss.png` (every loss term), `plots/schedule.png` (lr and consistency weight) and
    `plots/<metric>.png` (validation curves, with train-side curves of the same name, e.g. target_accuracy);
    `selected`: the step chosen on validation so far, marked on the loss and metric plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run_dir)
    if not records:
        return []
    out_dir = Path(run_dir) / "plots"
    out_dir.mkdir(exist_ok=True)
    steps = [r["step"] for r in records]
    written = []

    fig, ax = plt.subplots(figsize=(6, 4))
    total = [r["train"].get("loss", float("nan")) for r in records]
    for key in records[-1]["train"]:
        if key in SCHEDULES or key == "unlabeled_weight" or "accuracy" in key:
            continue
        curve = [r["train"].get(key, float("nan")) for r in records]
        if key != "loss" and curve == total:
            continue  # the only term: the same curve as the total loss
        ax.plot(steps, curve, label=key)
    ax.set(xlabel="step", ylabel="loss", title="training losses")
    ax.set_yscale("symlog", linthresh=1e-3)
    _mark(ax, selected)
    ax.legend()
    written.append(_save(fig, out_dir / "loss.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, [r.get("lr", float("nan")) for r in records], label="lr")
    for key in SCHEDULES[1:]:
        if key in records[-1]["train"]:
            ax.plot(steps, [r["train"].get(key, float("nan")) for r in records], label=key)
    ax.set(xlabel="step", title="schedules")
    ax.legend()
    written.append(_save(fig, out_dir / "schedule.png"))

    val_metrics = list(records[-1].get("val", {}))
    for metric in val_metrics:
        if metric in ACCURACY_LIKE[1:] and "accuracy" in val_metrics:
            continue  # drawn with accuracy
        fig, ax = plt.subplots(figsize=(6, 4))
        for name in ACCURACY_LIKE if metric == "accuracy" else (metric,):
            if name in records[-1]["val"]:
                ax.plot(steps, [r["val"].get(name, float("nan")) for r in records], label=f"validation {name}")
        for key in records[-1]["train"]:
            if key.endswith(metric) and key not in SCHEDULES:
                ax.plot(steps, [r["train"].get(key, float("nan")) for r in records], label=f"train {key}")
        ax.set(xlabel="step", ylabel=metric, title=f"validation {metric}")
        _mark(ax, selected)
        ax.legend()
        written.append(_save(fig, out_dir / f"{metric}.png"))
    return written


def _mark(ax, selected: int | None) -> None:
    if selected is not None:
        ax.axvline(selected, color="gray", linestyle=":", label=f"selected (step {selected})")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def draw_test(run_dir: Path, task, summaries, targets, reference=None) -> list[Path]:
    """The plots of the test predictions that the task asks for (`task.test_plots`, names in TEST_PLOTS), as
    `plots/<name>.png`. `summaries`: the test predictions as the task evaluates them; `reference`: the validation
    (summaries, targets) its test metrics were fitted on, or None."""
    names = tuple(task.test_plots)
    unknown = [n for n in names if n not in TEST_PLOTS]
    if unknown:
        raise ValueError(f"{type(task).__name__}.test_plots names {', '.join(unknown)}; known: {', '.join(TEST_PLOTS)}")
    if not names:
        return []
    import matplotlib

    matplotlib.use("Agg")
    out_dir = Path(run_dir) / "plots"
    out_dir.mkdir(exist_ok=True)
    return [TEST_PLOTS[name](out_dir / f"{name}.png", task, summaries, targets, reference) for name in names]


def _regression_predictions(task, summaries, targets, reference):
    """Decoded [mean, aleatoric var, epistemic var] (original units), targets, and the homoscedastic noise
    variance fitted on `reference` (None where the network has a variance head or no reference is given)."""
    decoded, targets = task.decode(summaries.float().cpu()).double(), targets.double().cpu()
    return decoded, targets, task._noise_var(reference)


def predicted_vs_true(path: Path, task, summaries, targets, reference=None) -> Path:
    """Regression: test means with ±1 total std error bars against the true targets."""
    import matplotlib.pyplot as plt

    from ..core.regression_metrics import total_variance

    decoded, targets, noise_var = _regression_predictions(task, summaries, targets, reference)
    std = total_variance(decoded, noise_var, targets).sqrt()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.errorbar(targets.numpy(), decoded[:, 0].numpy(), yerr=std.numpy(), fmt="o", ms=2, alpha=0.5, elinewidth=0.5)
    low, high = float(targets.min()), float(targets.max())
    ax.plot([low, high], [low, high], "k--", lw=1)
    ax.set(xlabel="true target", ylabel="predicted mean (± 1 std)", title="test: predicted vs true")
    return _save(fig, path)


def coverage(path: Path, task, summaries, targets, reference=None) -> Path:
    """Regression: observed coverage of the central interval against its nominal level (the diagonal is calibrated)."""
    import matplotlib.pyplot as plt

    from ..core.regression_metrics import coverage_curve

    decoded, targets, noise_var = _regression_predictions(task, summaries, targets, reference)
    levels, observed = coverage_curve(decoded, targets, noise_var)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(levels, observed, "o-", label="observed")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
    ax.set(xlabel="nominal level of the central interval", ylabel="share of test targets inside", title="test coverage")
    ax.legend()
    return _save(fig, path)


TEST_PLOTS = {"predicted_vs_true": predicted_vs_true, "coverage": coverage}  # a task's test_plots name these
