"""Loss and metric curves from metrics.jsonl, as PNG files in the run's plots/ folder."""

from __future__ import annotations

from pathlib import Path

from .logger import read_metrics


def draw(run_dir: Path) -> list[Path]:
    """Draw `plots/loss.png` (every loss term) and `plots/<metric>.png` (train-side and validation curves)."""
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
        if key == "consistency_weight" or key == "lr":
            continue
        ax.plot(steps, [r["train"].get(key, float("nan")) for r in records], label=key)
    ax.set(xlabel="step", ylabel="loss", title="training losses")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.legend()
    written.append(_save(fig, out_dir / "loss.png"))

    for metric in records[-1].get("val", {}):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(steps, [r["val"].get(metric, float("nan")) for r in records], label=f"validation {metric}")
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
