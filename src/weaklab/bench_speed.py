"""`weaklab bench speed`: training throughput on synthetic images, next to the usual per-sample pipeline.

Two pipelines feed the same method, model, batch and optimizer (the trainer's own `optimize`):

- weaklab's: the whole training set on the device, batches gathered by index from the sampler's plan,
  augmented in a few batched kernels on the device (the trainer's `train_step`, unchanged);
- the usual one: per-sample PIL/NumPy transforms (reflect pad-crop, horizontal flip, Gaussian noise: the same
  weak views) in DataLoader workers, one set of views per sample per call the method makes, then copied to the
  device. The method consumes those ready-made views in the order it asks for them.

Throughput is the median of repeated timed windows after warm-up (the device is synchronised only at window
ends). A separate profiling pass splits a step into sampling, augmentation, forward+backward, optimizer and
EMA (after-step hooks) with a device synchronisation at each phase boundary — only there, never in training.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .config import resolve
from .core.task import Classification
from .data.host_store import make_store
from .data.store import DeviceStore, Normalizer
from .data.supervision import semi_supervised
from .engine.clock import NoClock, StepClock
from .engine.distributed import World
from .engine.experiment import Data, build_experiment, pick_device
from .engine.trainer import Trainer
from .errors import WeaklabError
from .methods import Batch

PHASES = ("sampling", "augmentation", "forward_backward", "gradient_sync", "optimizer", "ema", "state_sync", "bookkeeping")


def parse_batch(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*\+\s*(\d+)\s*", text)
    if not m or int(m[1]) < 1 or int(m[2]) < 1:
        raise WeaklabError(f"--batch expects LABELED+UNLABELED, e.g. 64+448, got {text!r}")
    return int(m[1]), int(m[2])


def synthetic_data(config, image_size: int, channels: int, classes: int, device: torch.device, seed: int = 0) -> Data:
    """Random uint8 images of the given shape: enough for a few batches, balanced random labels. The training
    split lives where data.store says (device, or host memory copied per batch)."""
    t = config.train
    n = 4 * (t.batch_labeled + t.batch_unlabeled)
    g = np.random.default_rng(seed)
    x = g.integers(0, 256, size=(n, channels, image_size, image_size), dtype=np.uint8)
    y = np.arange(n) % classes
    held = x[:64]
    norm = Normalizer.fit(x)
    per_class = math.ceil(t.batch_labeled / classes)
    return Data(
        name="synthetic", classes=[str(c) for c in range(classes)], sample_shape=(channels, image_size, image_size),
        flip=True, normalizer=norm, train=make_store(config.data.store, x, norm, device, x.nbytes), val=DeviceStore(held, norm, device),
        test=DeviceStore(held, norm, device), val_labels=torch.as_tensor(y[:64]), test_labels=torch.as_tensor(y[:64]),
        supervision=semi_supervised(y, classes, labels_per_class=per_class, seed=seed), train_labels_clean=torch.as_tensor(y),
        task=Classification(classes),
    )


# --- views proxies: count, time or replay the method's calls to its augmentation ---------------------------


class TimedViews:
    """Forwards to the real views; the time inside goes to `augmentation`, the time before to forward+backward."""

    def __init__(self, views, clock):
        self._views, self._clock = views, clock
        self.calls = 0

    def __call__(self, *args, **kwargs):
        return self._timed(self._views, *args, **kwargs)

    def _timed(self, fn, *args, **kwargs):
        self._clock.mark("forward_backward")
        out = fn(*args, **kwargs)
        self._clock.mark("augmentation")
        self.calls += len(out) if isinstance(out, list) else 1
        return out

    def __getattr__(self, name):
        attr = getattr(self._views, name)
        return (lambda *a, **k: self._timed(attr, *a, **k)) if callable(attr) else attr


class ReplayViews:
    """Hands the method the views the DataLoader workers made, one per call, in order."""

    def __init__(self, views_lb: torch.Tensor, views_ulb: torch.Tensor):
        self.lb, self.ulb, self.k = views_lb, views_ulb, 0  # (views, batch, C, H, W)

    def __call__(self, x, flips=None):
        k = self.k % self.lb.shape[0]
        self.k += 1
        if len(x) == len(self.lb[k]):
            return self.lb[k]
        if len(x) == len(self.ulb[k]):
            return self.ulb[k]
        return torch.cat([self.lb[k], self.ulb[k]])

    def many(self, x, n, share_flip=False):
        return [self(x) for _ in range(n)]


# --- the usual pipeline: per-sample transforms in DataLoader workers ----------------------------------------


class PerSampleViews(torch.utils.data.Dataset):
    """HWC uint8 images; each item is `views` independently augmented copies, made with PIL and NumPy."""

    def __init__(self, x_chw: np.ndarray, labels: np.ndarray, views: int, pad: int, flip: bool, noise: float, mean, std):
        self.x = np.ascontiguousarray(x_chw.transpose(0, 2, 3, 1))
        self.labels, self.views, self.pad, self.flip, self.noise = labels, views, pad, flip, noise
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)

    def __len__(self):
        return len(self.x)

    def _view(self, img, rng):
        from PIL import Image

        h, w = img.shape[:2]
        if self.pad:
            padded = np.pad(img, ((self.pad, self.pad), (self.pad, self.pad), (0, 0)), mode="reflect")
            pil = Image.fromarray(padded.squeeze(-1) if padded.shape[-1] == 1 else padded)
            dy, dx = rng.integers(0, 2 * self.pad + 1, size=2)
            pil = pil.crop((int(dx), int(dy), int(dx) + w, int(dy) + h))
        else:
            pil = Image.fromarray(img.squeeze(-1) if img.shape[-1] == 1 else img)
        if self.flip and rng.random() < 0.5:
            pil = pil.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        arr = np.asarray(pil, dtype=np.float32).reshape(h, w, -1).transpose(2, 0, 1)
        arr = (arr - self.mean) / self.std
        if self.noise:
            arr = arr + self.noise * rng.standard_normal(arr.shape, dtype=np.float32)
        return torch.from_numpy(np.ascontiguousarray(arr))

    def __getitem__(self, i):
        rng = np.random.default_rng()
        return torch.stack([self._view(self.x[i], rng) for _ in range(self.views)]), int(self.labels[i]), i


def _loader(ds, indices, batch, workers, pin):
    sampler = torch.utils.data.RandomSampler(torch.utils.data.Subset(ds, indices), replacement=True, num_samples=10**8)
    return iter(torch.utils.data.DataLoader(
        torch.utils.data.Subset(ds, indices), batch_size=batch, sampler=sampler, num_workers=workers,
        pin_memory=pin, drop_last=True, persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
    ))


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
    return {"steps_per_s": med, "steps_per_s_min": min(rates), "steps_per_s_max": max(rates),
            "samples_per_s": med * per_step, "windows": rates}


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


def speed(method: str, model: str, batch: str, image_size: int, *, channels: int = 3, classes: int = 10,
          device: str = "auto", precision: str = "auto", warmup: int = 2, windows: int = 5, steps: int = 5,
          profile_steps: int = 5, workers: int | None = None, usual: bool = True, compile: bool = False,
          overrides: dict | None = None, command: str = "") -> dict:
    """Measure both pipelines; returns the JSON record."""
    lb, ulb = parse_batch(batch)
    world = World.from_env(device)
    cfg = resolve(None, {"method.name": method, "model.name": model, "train.batch_labeled": lb,
                         "train.batch_unlabeled": ulb, "train.device": device, "train.precision": precision,
                         "train.progress": False, "train.compile": compile, **(overrides or {})})
    dev = pick_device(cfg.train.device)
    data = synthetic_data(cfg, image_size, channels, classes, dev)
    x = build_experiment(cfg, data=data)
    trainer = Trainer(x, Path(tempfile.mkdtemp(prefix="weaklab-bench-")), world)
    m = trainer.method
    per_step = (lb + ulb if m.uses_unlabeled else lb)  # global samples per optimizer step
    plans: dict[int, list] = {}

    def device_step():
        epoch = trainer.step // trainer.spe
        if epoch not in plans:
            plans.clear()
            plans[epoch] = trainer.epoch_plan(epoch)
        trainer.train_step(plans[epoch], epoch)

    real_views = m.views
    counter = m.views = TimedViews(real_views, StepClock(torch.device("cpu")))
    device_step()  # first step: count the views the method asks for (and warm up)
    m.views = real_views
    n_views = max(counter.calls, 1)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    ours = _summary(_windows(device_step, dev, max(warmup - 1, 0), windows, steps), per_step)
    ours["peak_memory_mb"] = _peak_memory_mb(dev)

    ours["host_syncs_per_step"] = _host_syncs(device_step, dev)
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

    record = {
        "method": method, "model": x.spec["name"], "batch": f"{lb}+{ulb}", "image_size": image_size,
        "channels": channels, "views_per_step": n_views, "device": _device_name(dev), "device_type": dev.type,
        "processes": world.size, "threads": torch.get_num_threads(), "store": type(data.train).__name__,
        "torch": torch.__version__, "precision": "bf16" if _bf16(cfg, dev) else "fp32",
        "channels_last": dev.type == "cuda" and cfg.train.channels_last is not False, "compile": compile,
        "optimizer": f"{cfg.train.optimizer} (foreach)", "weaklab": ours,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "command": command,
    }
    if usual:
        record["usual"] = _usual(trainer, data, cfg, dev, n_views, lb, ulb, per_step, warmup, windows, steps, workers)
        record["speedup"] = ours["samples_per_s"] / record["usual"]["samples_per_s"]
    world.close()
    return record


def _bf16(cfg, dev) -> bool:
    return cfg.train.precision == "bf16" or (cfg.train.precision == "auto" and dev.type == "cuda")


def _usual(trainer, data, cfg, dev, n_views, lb, ulb, per_step, warmup, windows, steps, workers) -> dict:
    """The same method and optimizer fed by per-sample transforms in DataLoader workers."""
    m = trainer.method
    workers = (os.cpu_count() or 1) if workers is None else workers
    raw = np.asarray(data.train.x.cpu() if torch.is_tensor(data.train.x) else data.train.x)
    mean, std = data.normalizer.mean.flatten().cpu().numpy(), data.normalizer.std.flatten().cpu().numpy()
    ds = PerSampleViews(raw, data.train_labels_clean.numpy(), n_views, cfg.views.translate,
                        bool(cfg.views.flip if cfg.views.flip is not None else data.flip), cfg.views.noise, mean, std)
    labeled = torch.nonzero(data.supervision.labeled).flatten().tolist()
    pin = dev.type == "cuda"
    it_lb = _loader(ds, labeled, lb // trainer.world.size, max(1, workers // 4) if workers else 0, pin)
    it_ulb = _loader(ds, list(range(len(ds))), ulb // trainer.world.size, workers, pin) if m.uses_unlabeled else None
    real_views = m.views

    def usual_step():
        v_lb, y_lb, i_lb = (t.to(dev, non_blocking=True) for t in next(it_lb))
        v_lb = v_lb.transpose(0, 1)  # (views, batch, C, H, W)
        batch = Batch(v_lb[0], y_lb, i_lb)
        v_ulb = v_lb
        if it_ulb is not None:
            v_ulb, _, i_ulb = (t.to(dev, non_blocking=True) for t in next(it_ulb))
            v_ulb = v_ulb.transpose(0, 1)
            batch.x_ulb, batch.idx_ulb = v_ulb[0], i_ulb
        if dev.type == "cuda" and trainer.cfg.channels_last is not False:
            v_lb, v_ulb = (v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v for v in (v_lb, v_ulb))
        m.views = ReplayViews(v_lb, v_ulb)
        trainer.clock.mark("sampling")
        trainer.optimize(batch, trainer.step // trainer.spe)

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    try:
        out = _summary(_windows(usual_step, dev, warmup, windows, steps), per_step)
    finally:
        m.views = real_views
    out["workers"] = workers
    out["peak_memory_mb"] = _peak_memory_mb(dev)
    return out


# --- output -------------------------------------------------------------------------------------------------

HEADER = (
    "| method | model | batch | size | device | procs | precision | steps/s (median, min–max) | samples/s | "
    "data+aug % | fwd+bwd % | opt % | EMA % | sync % | usual samples/s (workers) | speed-up | peak MB | date | command |"
)


def markdown_row(r: dict) -> str:
    w = r["weaklab"]
    pct = w.get("split_percent", {})
    usual = r.get("usual")
    usual_txt = f"{usual['samples_per_s']:.1f} ({usual['workers']})" if usual else "–"
    speedup = f"{r['speedup']:.2f}×" if "speedup" in r else "–"
    return (
        f"| {r['method']} | {r['model']} | {r['batch']} | {r['image_size']} | {r['device']} | {r['processes']} | "
        f"{r['precision']}{' compiled' if r.get('compile') else ''} | {w['steps_per_s']:.3g} ({w['steps_per_s_min']:.3g}–{w['steps_per_s_max']:.3g}) | "
        f"{w['samples_per_s']:.1f} | {w['data_and_augmentation_percent']:.1f} | {pct.get('forward_backward', 0):.1f} | "
        f"{pct.get('optimizer', 0):.1f} | {pct.get('ema', 0):.1f} | "
        f"{pct.get('gradient_sync', 0) + pct.get('state_sync', 0):.1f} | {usual_txt} | {speedup} | "
        f"{w['peak_memory_mb']:.0f} | {r['date']} | `{r['command']}` |"
    )


def write_row(path: Path, record: dict) -> None:
    """Add (or replace: same method, model, batch, size, device, processes, precision) a row in the speed table."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    begin, end = "<!-- speed:begin -->", "<!-- speed:end -->"
    row = markdown_row(record)
    key = row.split("|")[1:8]
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        body, tail = rest.split(end, 1)
        lines = [line for line in body.strip("\n").splitlines() if not (line.startswith("| ") and line.split("|")[1:8] == key)]
    else:
        head, tail, lines = text.rstrip() + "\n\n## Speed\n\n", "\n", []
    if not any(line.startswith("| method |") for line in lines):
        lines = [HEADER, "|" + "---|" * (HEADER.count("|") - 1), *lines]
    lines.append(row)
    path.write_text(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)


def save_record(out: Path, record: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    name = f"{record['method']}-{record['model']}-{record['batch'].replace('+', '_')}-{record['image_size']}-{record['device_type']}-p{record['processes']}.json"
    path = out / name
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
