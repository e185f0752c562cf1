"""The report's figures, drawn with matplotlib and returned as base64 PNG text to inline in the page (a file that
needs nothing beside it: no network, no image files)."""

from __future__ import annotations

import base64
import io

import numpy as np

SIZE = (5.2, 3.6)  # inches; at DPI, one figure is a grid cell of the page
DPI = 80
SCHEDULES = ("consistency_weight", "unlabeled_weight")  # train-side values that are schedules, not losses


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # no display: figures are only ever encoded
    import matplotlib.pyplot as plt

    return plt


def png(fig) -> str:
    """The figure as base64 PNG text; the figure is closed."""
    plt = _plt()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _series(records: list[dict], side: str, key: str) -> list[float]:
    return [_number(r.get(side, {}).get(key)) for r in records]


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _line(n: int) -> str:
    """Points marked where there are few of them (a run of one evaluation is one dot, not an empty plot)."""
    return ".-" if n <= 40 else "-"


def _mark(ax, selected: int | None) -> None:
    if selected is not None:
        ax.axvline(selected, color="gray", linestyle=":", label=f"selected (step {selected})")


def run_curves(records: list[dict], selected: int | None) -> list[tuple[str, str]]:
    """(title, PNG) per curve of one run's metrics.jsonl: every loss term, the schedules, every validation metric
    (beside the train-side value of the same name) and the method's state; `selected` marked."""
    plt = _plt()
    steps = [r["step"] for r in records]
    train_keys = list(dict.fromkeys(k for r in records for k in r.get("train", {})))
    val_keys = list(dict.fromkeys(k for r in records for k in r.get("val", {})))
    out = []

    losses = [k for k in train_keys if k not in SCHEDULES and "accuracy" not in k]
    fig, ax = plt.subplots(figsize=SIZE)
    for key in losses:
        curve = _series(records, "train", key)
        if key != "loss" and curve == _series(records, "train", "loss"):
            continue  # the only term: the same curve as the total
        ax.plot(steps, curve, _line(len(steps)), label=key)
    ax.set(xlabel="step", ylabel="loss", title="training losses")
    ax.set_yscale("symlog", linthresh=1e-3)
    _mark(ax, selected)
    ax.legend(fontsize=8)
    out.append(("training losses (every term)", png(fig)))

    fig, ax = plt.subplots(figsize=SIZE)
    ax.plot(steps, [_number(r.get("lr")) for r in records], _line(len(steps)), color="C0", label="lr")
    ax.set(xlabel="step", ylabel="lr", title="schedules")
    weights = [k for k in SCHEDULES if k in train_keys]
    if weights:  # on their own axis: a weight of 25 would flatten an lr of 0.003
        right = ax.twinx()
        for i, key in enumerate(weights, 1):
            right.plot(steps, _series(records, "train", key), _line(len(steps)), color=f"C{i}", label=key)
        right.set_ylabel("weight")
        right.legend(fontsize=8, loc="lower right")
    ax.legend(fontsize=8, loc="upper left")
    out.append(("schedules", png(fig)))

    for metric in val_keys:
        fig, ax = plt.subplots(figsize=SIZE)
        ax.plot(steps, _series(records, "val", metric), _line(len(steps)), label=f"validation {metric}")
        for key in train_keys:
            if key.endswith(metric) and key not in SCHEDULES:
                ax.plot(steps, _series(records, "train", key), _line(len(steps)), label=f"train {key}")
        ax.set(xlabel="step", ylabel=metric, title=f"validation {metric}")
        _mark(ax, selected)
        ax.legend(fontsize=8)
        out.append((f"validation {metric}", png(fig)))

    state_keys = list(dict.fromkeys(k for r in records for k in r.get("state", {})))
    for key in state_keys:
        fig, ax = plt.subplots(figsize=SIZE)
        ax.plot(steps, _series(records, "state", key), _line(len(steps)))
        ax.set(xlabel="step", ylabel=key, title=f"method state: {key}")
        _mark(ax, selected)
        out.append((f"method state: {key}", png(fig)))
    return out


# one run's line on an overlay: (label, colour index, steps, values, its selected (step, value) or None)
Curve = tuple[str, int, list[int], list[float], tuple[int, float] | None]


def overlay(curves: list[Curve], title: str) -> str:
    """Several runs' curves on one axis: (label, colour index, steps, values, selected point or None) each; runs
    of one colour (seeds of one method) share one legend entry."""
    plt = _plt()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, ax = plt.subplots(figsize=SIZE)
    labelled = set()
    for label, colour, steps, values, selected in curves:
        c = colours[colour % len(colours)]
        ax.plot(steps, values, _line(len(steps)), color=c, alpha=0.8, label=None if colour in labelled else label)
        labelled.add(colour)
        if selected is not None:
            ax.plot(*selected, "o", color=c, ms=5)
    ax.set(xlabel="step", title=title)
    if "loss" in title:
        ax.set_yscale("symlog", linthresh=1e-3)
    ax.legend(fontsize=8)
    return png(fig)


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> str:
    """Accuracy against confidence in equal-width bins (the diagonal is calibrated), with each bin's share."""
    plt = _plt()
    confidence, correct = probs.max(1), probs.argmax(1) == labels
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    acc = np.bincount(which, weights=correct, minlength=bins) / np.maximum(count, 1)
    conf = np.bincount(which, weights=confidence, minlength=bins) / np.maximum(count, 1)
    ece = float((np.abs(acc - conf) * count).sum() / len(labels))
    centres = (np.arange(bins) + 0.5) / bins
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    ax.bar(centres[count > 0], acc[count > 0], width=1 / bins, edgecolor="black", alpha=0.7, label="accuracy")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
    for x, n in zip(centres, count):
        if n:
            ax.text(x, 0.02, str(n), ha="center", fontsize=7, rotation=90)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (max probability)", ylabel="accuracy")
    ax.set_title(f"test reliability (ECE {ece:.3f}; counts per bin)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return png(fig)


def confusion(probs: np.ndarray, labels: np.ndarray, classes: list[str]) -> str:
    """Test confusion matrix, each true class's row as shares; counts written in where classes are few."""
    plt = _plt()
    k = probs.shape[1]
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (labels, probs.argmax(1)), 1)
    shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    if k <= 20:
        ticks = [str(c)[:8] for c in classes]
        ax.set(xticks=range(k), yticks=range(k))
        ax.set_xticklabels(ticks, rotation=90, fontsize=7)
        ax.set_yticklabels(ticks, fontsize=7)
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    colour = "white" if shares[i, j] > 0.5 else "black"
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=6, color=colour)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title(f"test confusion matrix (accuracy {np.trace(matrix) / matrix.sum():.3f})", fontsize=10)
    return png(fig)


def predicted_vs_true(prediction: np.ndarray, std: np.ndarray, targets: np.ndarray) -> str:
    """Regression: test means with ±2σ bars (total: aleatoric + epistemic) against the true targets."""
    plt = _plt()
    inside = float((np.abs(prediction - targets) <= 2 * std).mean())
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.errorbar(targets, prediction, yerr=2 * std, fmt="o", ms=2, alpha=0.5, elinewidth=0.5)
    low, high = float(targets.min()), float(targets.max())
    ax.plot([low, high], [low, high], "k--", lw=1)
    ax.set(xlabel="true target", ylabel="predicted mean ± 2σ")
    ax.set_title(f"test: predicted vs true ({100 * inside:.0f}% inside ±2σ)", fontsize=10)
    return png(fig)


def coverage(levels: list[float], observed: list[float]) -> str:
    """Regression: observed coverage of the central interval against its nominal level (diagonal: calibrated)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    ax.plot(levels, observed, "o-", ms=3, label="observed")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="nominal level of the central interval", ylabel="share of test targets")
    ax.set_title("test coverage / calibration", fontsize=10)
    ax.legend(fontsize=8)
    return png(fig)


def candidate_sizes(sizes: np.ndarray) -> str:
    """Partial labels: how many training samples have each candidate-set size."""
    plt = _plt()
    values, counts = np.unique(sizes, return_counts=True)
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    ax.bar(values, counts, width=0.8)
    ax.set(xlabel="candidate-set size |S|", ylabel="training samples")
    ax.set_title(f"candidate sets (mean size {sizes.mean():.2f})", fontsize=10)
    return png(fig)


def target_shrink(sizes: np.ndarray, effective: np.ndarray, name: str) -> str:
    """Partial labels: per candidate-set size, the learned targets' effective size exp(entropy) (quartiles) beside
    where every target starts, uniform over its set (effective size |S|)."""
    plt = _plt()
    values = np.unique(sizes)
    groups = [effective[sizes == v] for v in values]
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    ax.plot(values, values, "k--", lw=1, label="at the start: uniform over S")
    ax.plot(values, [np.median(g) for g in groups], "o-", label="selected checkpoint: median")
    ax.fill_between(
        values, [np.quantile(g, 0.25) for g in groups], [np.quantile(g, 0.75) for g in groups], alpha=0.3, label="IQR"
    )
    ax.set(xlabel="candidate-set size |S|", ylabel="effective target size exp(H)", ylim=(0, None))
    ax.set_title(f"how the targets shrank (the method's `{name}`)", fontsize=10)
    ax.legend(fontsize=8)
    return png(fig)


def thumbnail(sample: np.ndarray, low: float, high: float) -> str:
    """One image sample (C×H×W, C = 1 or 3) as a PNG at its own resolution; the page scales it up."""
    plt = _plt()
    image = sample[0] if sample.shape[0] == 1 else np.moveaxis(sample, 0, -1)
    image = (image.astype(np.float32) - low) / max(high - low, 1e-12)
    buffer = io.BytesIO()
    if image.ndim == 2:
        plt.imsave(buffer, np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1, format="png")
    else:
        plt.imsave(buffer, np.clip(image[..., :3], 0, 1), format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
