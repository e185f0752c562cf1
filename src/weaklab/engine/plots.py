"""Loss and metric curves from metrics.jsonl, as PNG files in the run's plots/ folder."""

from __future__ import annotations

from pathlib import Path

from .logger import read_metrics

SCHEDULES = ("lr", "consistency_weight")  # drawn on schedule.png, not with the losses
ACCURACY_LIKE = ("accuracy", "covering_rate", "approx_accuracy")  # one plot: true-label and label-free accuracies


def draw(run_dir: Path) -> list[Path]:
    """Draw `plots/loss.png` (every loss term), `plots/schedule.png` (lr and consistency weight) and
    `plots/<metric>.png` (validation curves, with train-side curves of the same name, e.g. target_accuracy)."""
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
    for key in records[-1]["train"]:
        if key in SCHEDULES or "accuracy" in key:
            continue
        ax.plot(steps, [r["train"].get(key, float("nan")) for r in records], label=key)
    ax.set(xlabel="step", ylabel="loss", title="training losses")
    ax.set_yscale("symlog", linthresh=1e-3)
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
        for name in (ACCURACY_LIKE if metric == "accuracy" else (metric,)):
            if name in records[-1]["val"]:
                ax.plot(steps, [r["val"].get(name, float("nan")) for r in records], label=f"validation {name}")
        for key in records[-1]["train"]:
            if key.endswith(metric) and key not in SCHEDULES:
                ax.plot(steps, [r["train"].get(key, float("nan")) for r in records], label=f"train {key}")
        ax.set(xlabel="step", ylabel=metric, title=f"validation {metric}")
        ax.legend()
        written.append(_save(fig, out_dir / f"{metric}.png"))
    return written


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
