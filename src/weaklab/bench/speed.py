"""`weaklab bench speed`: training throughput on synthetic images, next to the usual per-sample pipeline.

Two pipelines feed the same method, model, batch and optimizer (the trainer's own `optimize`):

- weaklab's: the whole training set on the device (or, with `--store host`, memory-mapped from a file and copied
  per batch), batches gathered by index from the sampler's plan, augmented in a few batched kernels on the
  device (the trainer's `train_step`, unchanged);
- the usual one (bench/usual.py): per-sample PIL/NumPy transforms in DataLoader workers — the same weak views
  (reflect pad-crop, horizontal flip, Gaussian noise) and strong views (AutoAugment / RandAugment policy, Cutout)
  — one per call the method makes, of the kind it asked for, then copied to the device. The method consumes
  those ready-made views in the order it asks for them.

The synthetic data fits the method: classification labels (semi-supervised, all given for noisy-label methods,
candidate sets for partial-label ones) or real regression targets.

Throughput is the median of repeated timed windows after warm-up (the device is synchronised only at window
ends). A separate profiling pass splits a step into sampling, augmentation, forward+backward, optimizer and
EMA (after-step hooks) with a device synchronisation at each phase boundary — only there, never in training.

One more, untimed step runs under PyTorch's FLOP counter (matrix products and convolutions, forward and backward):
its FLOPs times the measured steps/s, over the device's dense bf16 peak, is the fraction of the roofline a
pipeline reaches.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..config import resolve
from ..data.store.device import DeviceStore, Normalizer
from ..data.store.host import make_store
from ..data.supervision.build import build_supervision
from ..engine.clock import NoClock, StepClock
from ..engine.distributed import World
from ..engine.experiment import Data, build_experiment, pick_device, uses_bf16, uses_channels_last
from ..engine.trainer import Trainer
from ..errors import WeaklabError
from ..methods import Batch, method_class
from .usual import PREFETCH, PerSampleViews, ReplayViews, loader

PHASES = (
    "sampling",
    "augmentation",
    "forward_backward",
    "gradient_sync",
    "optimizer",
    "ema",
    "state_sync",
    "bookkeeping",
)


def parse_batch(text: str) -> tuple[int, int]:
    """LABELED+UNLABELED, or one number for methods that read one stream (partial labels, SCN): then the
    unlabeled batch is the same number, unused by them."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:\+\s*(\d+)\s*)?", text)
    if not m or int(m[1]) < 1 or (m[2] is not None and int(m[2]) < 1):
        raise WeaklabError(f"--batch expects LABELED+UNLABELED, e.g. 64+448 (or one number), got {text!r}")
    return int(m[1]), int(m[2] or m[1])


TASKS = ("auto", "classification", "regression")


def pick_task(method_cls, method_settings, task: str = "auto") -> str:
    """The task of the synthetic data: `auto` gives regression to methods that learn only regression (UCVME) or
    are set up for it (supervised with method.heteroscedastic), classification to the others."""
    if task not in TASKS:
        raise WeaklabError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    if task == "auto":
        wants_variance = bool(getattr(method_settings, "heteroscedastic", False))
        return "regression" if wants_variance or method_cls.tasks == ("regression",) else method_cls.tasks[0]
    if task not in method_cls.tasks:
        raise WeaklabError(
            f"{method_cls.name} learns {' or '.join(method_cls.tasks)}, not {task}; "
            f"drop --task or pick {method_cls.tasks[0]}"
        )
    return task


def synthetic_data(
    config,
    image_size: int,
    channels: int,
    classes: int,
    device: torch.device,
    seed: int = 0,
    task: str = "classification",
    supervision: str = "semi_supervised",
    store_dir: Path | None = None,
) -> Data:
    """Random uint8 images of the given shape, enough for a few batches, with what the method learns from:

    - classification, `supervision` semi_supervised: balanced labels, about one labeled batch of them kept;
      noisy: every label given and untrusted (data.noise, default "given", at data.noise_rate);
      partial: every sample a candidate set (data.partial generator, default plcr, at data.partial_rate);
      mixed: about one labeled batch of untrusted candidate sets (pico, labels "given"), the rest unlabeled;
    - regression: real targets, about one labeled batch known (quantile-balanced), the Regression task fitted on
      the labeled targets only, as build_data does.

    The training split lives where data.store says; `host` serves it from a memory-mapped .npy file written in
    `store_dir`, as a data set larger than memory would be."""
    t, d = config.train, config.data
    n = 4 * (t.batch_labeled + t.batch_unlabeled)
    g = np.random.default_rng(seed)
    x = g.integers(0, 256, size=(n, channels, image_size, image_size), dtype=np.uint8)
    y = np.arange(n) % classes
    names = [str(c) for c in range(classes)]
    norm = Normalizer.fit(x)
    # the data section that gives this supervision on the synthetic labels, built as training builds it
    only = {
        "labels_per_class": None,
        "labeled_fraction": None,
        "partial": None,
        "candidates_file": None,
        "noise": "none",
    }
    if task == "regression":
        y = g.uniform(0.0, 100.0, size=n).astype(np.float32)
        names = []
        d = dataclasses.replace(d, **{**only, "labeled_fraction": min(1.0, t.batch_labeled / n)})
    elif supervision == "partial":
        d = dataclasses.replace(d, **{**only, "partial": d.partial or "plcr"})
    elif supervision == "noisy":
        d = dataclasses.replace(d, **{**only, "noise": d.noise if d.noise != "none" else "given"})
    elif supervision == "mixed":  # every kind at once: a labeled subset of untrusted candidate sets, the rest unlabeled
        kinds = {"partial": d.partial or "pico", "noise": d.noise if d.noise != "none" else "given"}
        d = dataclasses.replace(d, **{**only, "labels_per_class": math.ceil(t.batch_labeled / classes), **kinds})
    else:
        d = dataclasses.replace(d, **{**only, "labels_per_class": math.ceil(t.batch_labeled / classes)})
    everyone = np.arange(n)
    known_of = build_supervision(d, y, names, everyone, everyone[:64], seed, regression=task == "regression")
    train_x = x
    if d.store == "host":
        if store_dir is None:
            raise WeaklabError("data.store=host needs a folder for the memory-mapped training split")
        np.save(store_dir / "train.npy", x)
        train_x = np.load(store_dir / "train.npy", mmap_mode="r")
    held = x[:64]
    return Data(
        name="synthetic",
        classes=names,
        sample_shape=(channels, image_size, image_size),
        flip=True,
        normalizer=norm,
        train=make_store(d.store, train_x, norm, device, x.nbytes, d.workers),
        val=DeviceStore(held, norm, device),
        test=DeviceStore(held, norm, device),
        val_labels=torch.as_tensor(y[:64]),
        test_labels=torch.as_tensor(y[:64]),
        supervision=known_of.supervision,
        train_labels_clean=torch.as_tensor(y),
        regime=known_of.regime,
        noise=known_of.noise,
        task=known_of.task,
    )


# --- views proxies: count, time or replay the method's calls to its augmentation ---------------------------


class TimedViews:
    """Forwards to the real views; the time inside goes to `augmentation`, the time before to forward+backward.
    Records the kind of every view asked for (weak, or strong from `strong`), in order."""

    def __init__(self, views, clock) -> None:
        self._views, self._clock = views, clock
        self.kinds: list[str] = []

    def __call__(self, *args, **kwargs):
        return self._timed(self._views, "weak", *args, **kwargs)

    def _timed(self, fn, kind, *args, **kwargs):
        self._clock.mark("forward_backward")
        out = fn(*args, **kwargs)
        self._clock.mark("augmentation")
        self.kinds += [kind] * (len(out) if isinstance(out, list) else 1)
        return out

    def __getattr__(self, name):
        attr = getattr(self._views, name)
        kind = "strong" if name == "strong" else "weak"
        return (lambda *a, **k: self._timed(attr, kind, *a, **k)) if callable(attr) else attr


# --- timing -----------------------------------------------------------------------------------------------


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _windows(step, device, warmup: int, windows: int, steps: int) -> list[float]:
    """steps/s of each timed window, after `warmup` untimed steps."""
    for _ in range(warmup):
        step()
    _sync(device)
    rates = []
    for _ in range(windows):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        rates.append(steps / (time.perf_counter() - start))
    return rates


def _summary(rates: list[float], per_step: int) -> dict:
    med = statistics.median(rates)
    return {
        "steps_per_s": med,
        "ms_per_step": 1000 / med,
        "steps_per_s_min": min(rates),
        "steps_per_s_max": max(rates),
        "samples_per_s": med * per_step,
        "windows": rates,
    }


def _host_syncs(step, device: torch.device) -> int | None:
    """CUDA: how many operations in one step made the host wait for the device (sync debug mode); should be 0."""
    if device.type != "cuda":
        return None
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def _count_flops(step) -> tuple[int | None, str]:
    """FLOPs of one training step (forward + backward, as the counter sees them: matrix products, convolutions,
    attention), and a note where they could not be counted. The benchmark goes on either way."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter:
            step()
    except Exception as e:  # an op the counter cannot follow must not lose the timings
        return None, f"FLOPs not counted: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    flops = counter.get_total_flops()
    if flops <= 0:  # e.g. compiled kernels, which the counter does not see
        return None, "FLOPs not counted: the FLOP counter saw no matrix product or convolution"
    return flops, ""


# Dense bf16 peaks (TFLOP/s, no sparsity) by CUDA device name, most specific first: the roofline's ceiling.
PEAK_BF16_TFLOPS = (
    (r"H200", 989.0),
    (r"H100.*PCIe", 756.0),
    (r"H100.*(SXM|HBM3)", 989.0),
    (r"A100", 312.0),
)


def peak_tflops(device_name: str, device_type: str, given: float | None = None) -> float | None:
    """The peak the roofline fraction divides by: `given` (--peak-tflops), else the table's for a known CUDA
    device, else None (a CPU, an unknown GPU)."""
    if given is not None:
        return given
    if device_type != "cuda":
        return None
    return next((tflops for pattern, tflops in PEAK_BF16_TFLOPS if re.search(pattern, device_name)), None)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model or platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} threads"


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; the process's peak RSS


def speed(
    method: str,
    model: str,
    batch: str,
    image_size: int,
    *,
    channels: int = 3,
    classes: int = 10,
    device: str = "auto",
    precision: str = "auto",
    warmup: int = 2,
    windows: int = 5,
    steps: int = 5,
    profile_steps: int = 5,
    workers: int | Sequence[int] | None = None,
    usual: bool = True,
    compile: bool = False,
    task: str = "auto",
    store: str | None = None,
    overrides: dict | None = None,
    command: str = "",
    peak: float | None = None,
) -> dict:
    """Measure both pipelines; returns the JSON record. `workers`: the usual pipeline's DataLoader workers, one
    count or several (each measured in turn; the first gives `usual` and `speedup`), default the CPU count.
    `peak`: the device's peak TFLOP/s for the roofline fraction (default: PEAK_BF16_TFLOPS on CUDA)."""
    lb, ulb = parse_batch(batch)
    world = World.from_env(device)
    settings = {
        "method.name": method,
        "model.name": model,
        "train.batch_labeled": lb,
        "train.batch_unlabeled": ulb,
        "train.device": device,
        "train.precision": precision,
        "train.progress": False,
        "train.compile": compile,
        **(overrides or {}),
    }
    if store is not None:
        settings["data.store"] = store
    cfg = resolve(None, settings)
    method_cls = method_class(cfg.method.name)
    task = pick_task(method_cls, cfg.method, task)
    dev = pick_device(cfg.train.device)
    scratch = Path(tempfile.mkdtemp(prefix="weaklab-bench-"))  # the trainer's run folder, the host store's file
    try:
        data = synthetic_data(
            cfg,
            image_size,
            channels,
            classes,
            dev,
            task=task,
            supervision=method_cls.supervision_kind,
            store_dir=scratch,
        )
        x = build_experiment(cfg, data=data)
        trainer = Trainer(x, scratch / "run", world)
        kernel = "fused" if trainer.optimizer.defaults.get("fused") else "foreach"
        counts = [os.cpu_count() or 1] if workers is None else [workers] if isinstance(workers, int) else workers
        measured = _measure(
            trainer, cfg, data, dev, lb, ulb, warmup, windows, steps, profile_steps, usual, list(dict.fromkeys(counts))
        )
    finally:
        world.close()
        shutil.rmtree(scratch, ignore_errors=True)
    name = _device_name(dev)
    _add_roofline(measured, peak_tflops(name, dev.type, peak))
    return {
        "method": method,
        "model": x.spec["name"],
        "image_size": image_size,
        "batch": f"{lb}+{ulb}" if x.method.uses_unlabeled else str(lb),  # what a step reads: one stream or two
        "channels": channels,
        "task": task,
        "supervision": method_cls.supervision_kind,
        "device": name,
        "device_type": dev.type,
        "processes": world.size,
        "threads": torch.get_num_threads(),
        "store": "device" if isinstance(data.train, DeviceStore) else "host",
        "store_class": type(data.train).__name__,
        "torch": torch.__version__,
        "precision": "bf16" if uses_bf16(cfg, dev) else "fp32",
        "channels_last": uses_channels_last(cfg, dev),
        "compile": compile,
        "optimizer": f"{cfg.train.optimizer} ({kernel})",
        "views": x.views.describe(),  # what ran, as summary.json records it
        **measured,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
    }


def _measure(trainer, cfg, data, dev, lb, ulb, warmup, windows, steps, profile_steps, usual, counts) -> dict:
    m = trainer.method
    # global samples per optimizer step: both streams where the method reads the unlabeled one (UCVME: 32 + 32),
    # the labeled stream otherwise (for partial-label methods that stream is every sample, batch_labeled a step)
    per_step = lb + ulb if m.uses_unlabeled else lb
    plans: dict[int, list] = {}

    def device_step():
        epoch = trainer.step // trainer.spe
        if epoch not in plans:
            plans.clear()
            plans[epoch] = trainer.epoch_plan(epoch)
        trainer.train_step(plans[epoch], epoch)

    real_views = m.views
    counter = m.views = TimedViews(real_views, StepClock(torch.device("cpu")))
    device_step()  # first step: record the views the method asks for (and warm up)
    m.views = real_views
    kinds = counter.kinds or ["weak"]
    # weaklab's windows: alone, or alternated with the usual pipeline's (below)
    ours_rates = [] if usual else _windows(device_step, dev, max(warmup - 1, 0), windows, steps)
    paired: dict[int, tuple[dict, list[float]]] = {}
    for n in counts if usual else []:
        paired[n] = _usual(trainer, data, cfg, dev, kinds, lb, ulb, per_step, warmup, windows, steps, n, device_step)
        ours_rates += paired[n][1]
    ours = _summary(ours_rates, per_step)
    ours["host_syncs_per_step"] = _host_syncs(device_step, dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    clock = trainer.clock = StepClock(dev)
    m.views = TimedViews(real_views, clock)
    clock.start()
    for _ in range(profile_steps):
        device_step()
    trainer.clock, m.views = NoClock(), real_views
    total = sum(clock.totals.values())
    split = {p: clock.totals.get(p, 0.0) / max(profile_steps, 1) for p in PHASES}
    ours["split_s"] = split
    ours["split_percent"] = {p: 100 * v * profile_steps / total for p, v in split.items()} if total else {}
    ours["data_and_augmentation_percent"] = sum(ours["split_percent"].get(p, 0.0) for p in ("sampling", "augmentation"))
    # The data side alone: how many samples a second sampling + augmentation could deliver if the model were free.
    data_s = split["sampling"] + split["augmentation"]
    ours["data_only_samples_per_s"] = per_step / data_s if data_s > 0 else None
    ours["peak_memory_mb"] = _peak_memory_mb(dev)
    flops, note = _count_flops(device_step)  # one more step, untimed: the counter slows every op down

    record = {
        "samples_per_step": per_step,
        "views_per_step": len(kinds),
        "view_kinds": {k: kinds.count(k) for k in ("weak", "strong") if k in kinds},
        "flops_per_step": flops,
        **({"flops_note": note} if note else {}),
        "weaklab": ours,
    }
    if usual:
        # each worker count in turn, in the order given; the first is `usual`, the one the table's speed-up uses.
        # A speed-up compares the windows alternated with that count's, so that the machine's drift falls on both.
        by_workers = {}
        for n, (out, ours_windows) in paired.items():
            out["weaklab_alternated_steps_per_s"] = statistics.median(ours_windows)
            out["speedup"] = out["weaklab_alternated_steps_per_s"] / out["steps_per_s"]
            by_workers[str(n)] = out
        record["usual_by_workers"] = by_workers
        record["usual"] = by_workers[str(counts[0])]
        record["speedup"] = record["usual"]["speedup"]
    return record


def _add_roofline(record: dict, peak: float | None) -> None:
    """FLOPs per step × steps/s over the peak, for weaklab and each usual worker count (None where unknown)."""
    flops = record["flops_per_step"]
    record["peak_tflops"] = peak
    for pipeline in [record["weaklab"], *record.get("usual_by_workers", {}).values()]:
        fraction = None if flops is None or not peak else flops * pipeline["steps_per_s"] / (peak * 1e12)
        pipeline["roofline_fraction"] = fraction


def _loader_rate(it_lb, it_ulb, per_step: int, batches: int, workers: int) -> float:
    """Samples/s the workers deliver with no model to feed: the usual pipeline's ceiling on this machine. The
    batches they read ahead while the model ran are drawn first, untimed."""

    def draw():
        next(it_lb)
        if it_ulb is not None:
            next(it_ulb)

    for _ in range(PREFETCH * max(workers, 1)):
        draw()
    start = time.perf_counter()
    for _ in range(batches):
        draw()
    return batches * per_step / (time.perf_counter() - start)


def _usual(
    trainer, data, cfg, dev, kinds, lb, ulb, per_step, warmup, windows, steps, workers, ours_step
) -> tuple[dict, list[float]]:
    """The same method and optimizer fed by per-sample transforms in DataLoader workers (bench/usual.py): each
    sample's views made in the order and of the kinds (weak, strong) the method asked for on its first step.

    Its windows alternate with windows of weaklab's step (`ours_step`), each pipeline first in every other pair: a
    CPU's step time drifts by tens of per cent over a run's first minutes (measured: 6.9 s to 5.3 s per Mean
    Teacher WRN-28-2 step on 2 cores, BENCHMARKS.md), so timing one pipeline after the other credits the second
    with the drift. Returns the usual pipeline's summary and weaklab's alternated rates."""
    m, views = trainer.method, trainer.x.views
    raw = np.asarray(data.train.x.cpu() if torch.is_tensor(data.train.x) else data.train.x)
    mean, std = data.normalizer.mean.flatten().cpu().numpy(), data.normalizer.std.flatten().cpu().numpy()
    ds = PerSampleViews(raw, kinds, views.translate, views.flip, views.noise, mean, std, views.policy, views.cutout)
    sampler = trainer.x.sampler  # the same streams the trainer samples (partial labels: every sample, one stream)
    pin = dev.type == "cuda"
    if m.uses_unlabeled:
        it_lb = loader(
            ds, sampler.labeled.tolist(), lb // trainer.world.size, max(1, workers // 4) if workers else 0, pin
        )
        it_ulb = loader(ds, sampler.unlabeled.tolist(), ulb // trainer.world.size, workers, pin)
    else:
        it_lb, it_ulb = loader(ds, sampler.labeled.tolist(), lb // trainer.world.size, workers, pin), None
    real_views = m.views

    def usual_step():
        v_lb, i_lb = (t.to(dev, non_blocking=True) for t in next(it_lb))
        v_lb = v_lb.transpose(0, 1)  # (views, batch, C, H, W)
        batch = Batch(v_lb[0], trainer.labels[i_lb], i_lb)  # labels as the trainer encodes them (regression too)
        v_ulb = v_lb
        if it_ulb is not None:
            v_ulb, i_ulb = (t.to(dev, non_blocking=True) for t in next(it_ulb))
            v_ulb = v_ulb.transpose(0, 1)
            batch.x_ulb, batch.idx_ulb = v_ulb[0], i_ulb
        if uses_channels_last(trainer.x.config, dev):
            v_lb, v_ulb = (v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v for v in (v_lb, v_ulb))
        m.views = ReplayViews(kinds, v_lb, v_ulb)
        trainer.clock.mark("sampling")
        try:
            trainer.optimize(batch, trainer.step // trainer.spe)
        finally:
            m.views = real_views  # weaklab's own steps alternate with these

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    ours_rates: list[float] = []
    rates: list[float] = []
    try:
        for _ in range(warmup):
            ours_step()
            usual_step()
        for i in range(windows):  # A B B A ...: a steady drift favours neither, as it would the one timed second
            pair = [(ours_step, ours_rates), (usual_step, rates)]
            for step, into in pair if i % 2 == 0 else pair[::-1]:
                into += _windows(step, dev, 0, 1, steps)
        out = _summary(rates, per_step)
    finally:
        m.views = real_views
    out["data_only_samples_per_s"] = _loader_rate(it_lb, it_ulb, per_step, max(windows * steps, 3), workers)
    out["workers"] = workers
    out["peak_memory_mb"] = _peak_memory_mb(dev)
    return out, ours_rates


# --- output -------------------------------------------------------------------------------------------------

HEADER = (
    "| method | model | batch | size | device | procs | precision | store | steps/s (median, min–max) | ms/step | "
    "samples/s | roofline % | data+aug % | fwd+bwd % | opt % | EMA % | sync % | usual samples/s (workers) | "
    "speed-up | data alone samples/s: weaklab / usual | peak MB | date | command |"
)
KEY_COLUMNS = 8  # method ... store: a new row replaces the row with the same first eight cells


def markdown_row(r: dict) -> str:
    w = r["weaklab"]
    pct = w.get("split_percent", {})
    usual = r.get("usual")
    # every worker count measured, the first (the one `usual` and `speedup` hold) first; older records hold one
    by_workers = list(r.get("usual_by_workers", {str(usual["workers"]): usual} if usual else {}).values())
    usual_txt = " / ".join(f"{u['samples_per_s']:.1f} ({u['workers']})" for u in by_workers) or "–"
    speedups = [u.get("speedup", r.get("speedup")) for u in by_workers]
    speedup = " / ".join(f"{x:.2f}×" for x in speedups if x is not None) or "–"
    alone = [w.get("data_only_samples_per_s"), (usual or {}).get("data_only_samples_per_s")]
    alone_txt = " / ".join("–" if v is None else f"{v:.0f}" for v in alone)
    roofline = w.get("roofline_fraction")
    return (
        f"| {r['method']} | {r['model']} | {r['batch']} | {r['image_size']} | {r['device']} | {r['processes']} | "
        f"{r['precision']}{' compiled' if r.get('compile') else ''} | {r.get('store', 'device')} | "
        f"{w['steps_per_s']:.3g} ({w['steps_per_s_min']:.3g}–{w['steps_per_s_max']:.3g}) | "
        f"{1000 / w['steps_per_s']:.1f} | {w['samples_per_s']:.1f} | "
        f"{'–' if roofline is None else f'{100 * roofline:.3g}'} | "
        f"{w['data_and_augmentation_percent']:.1f} | {pct.get('forward_backward', 0):.1f} | "
        f"{pct.get('optimizer', 0):.1f} | {pct.get('ema', 0):.1f} | "
        f"{pct.get('gradient_sync', 0) + pct.get('state_sync', 0):.1f} | {usual_txt} | {speedup} | {alone_txt} | "
        f"{w['peak_memory_mb']:.0f} | {r['date']} | `{r['command']}` |"
    )


def summary_lines(r: dict) -> list[str]:
    """The headline numbers in words: each pipeline's steps/s and ms/step, the data share, FLOPs and roofline."""

    def rate(p: dict) -> str:
        roofline = p.get("roofline_fraction")
        share = "" if roofline is None else f", {100 * roofline:.3g} % of the roofline"
        return f"{p['steps_per_s']:.3g} steps/s, {p['ms_per_step']:.1f} ms/step{share}"

    w = r["weaklab"]
    lines = [f"weaklab: {rate(w)}; data + augmentation {w['data_and_augmentation_percent']:.1f} % of the step"]
    for n, u in r.get("usual_by_workers", {}).items():
        lines.append(f"usual, {n} worker{'' if n == '1' else 's'}: {rate(u)}; weaklab's speed-up {u['speedup']:.2f}×")
    flops, peak = r.get("flops_per_step"), r.get("peak_tflops")
    lines.append(
        (f"FLOPs per step: {flops / 1e9:.4g} GFLOP" if flops else r.get("flops_note", "FLOPs not counted"))
        + ("; peak unknown, no roofline (--peak-tflops)" if peak is None else f"; peak {peak:g} TFLOP/s")
    )
    return lines


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _upgrade(rows: list[str], old_header: str) -> list[str]:
    """Rows of an older table layout in today's columns, matched by column name. A column the old table lacked
    gets what held then (every row before the store column used the device store) or "–"."""
    old = _cells(old_header)
    then = {"store": "device"}
    upgraded = []
    for line in rows:
        by_name = dict(zip(old, _cells(line)))
        upgraded.append("| " + " | ".join(by_name.get(c, then.get(c, "–")) for c in _cells(HEADER)) + " |")
    return upgraded


def write_row(path: Path, record: dict) -> None:
    """Add (or replace: same method, model, batch, size, device, processes, precision, store) a row in the speed
    table."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    begin, end = "<!-- speed:begin -->", "<!-- speed:end -->"
    row = markdown_row(record)
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        body, tail = rest.split(end, 1)
        lines = body.strip("\n").splitlines()
        header = next((line for line in lines if line.startswith("| method |")), HEADER)
        rows = [line for line in lines if line.startswith("| ") and line is not header]
        if header != HEADER:
            rows = _upgrade(rows, header)
        rows = [line for line in rows if _cells(line)[:KEY_COLUMNS] != _cells(row)[:KEY_COLUMNS]]
    else:
        head, tail, rows = text.rstrip() + "\n\n## Speed\n\n", "\n", []
    lines = [HEADER, "|" + "---|" * (HEADER.count("|") - 1), *rows, row]
    path.write_text(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)


def save_record(out: Path, record: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    store = "-host" if record.get("store") == "host" else ""
    name = (
        f"{record['method']}-{record['model']}-{record['batch'].replace('+', '_')}-{record['image_size']}-"
        f"{record['device_type']}-p{record['processes']}{store}.json"
    )
    path = out / name
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
