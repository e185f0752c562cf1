"""Turn a Config into the pieces of a run: data on the device, views, sampler and the method."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import Config
from ..core.task import Classification
from ..data.datasets import load_source
from ..data.sampler import TwoStreamSampler
from ..data.splits import stratified_split
from ..data.host_store import make_store
from ..data.store import DeviceStore, Normalizer
from ..data.supervision import Supervision, semi_supervised
from ..data.views import Views
from ..errors import WeaklabError
from ..methods import Context, Method, method_class
from ..models import build_model


@dataclass
class Data:
    name: str
    classes: list[str]
    sample_shape: tuple[int, ...]
    flip: bool
    normalizer: Normalizer
    train: DeviceStore
    val: DeviceStore
    test: DeviceStore
    val_labels: torch.Tensor
    test_labels: torch.Tensor
    supervision: Supervision
    train_labels_clean: torch.Tensor

    def report(self) -> dict:
        return {
            "dataset": self.name,
            "num_classes": len(self.classes),
            "train": len(self.train),
            "val": len(self.val),
            "test": len(self.test),
            **self.supervision.report(),
        }


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise WeaklabError(f"train.device={name} but no CUDA device is available; use cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise WeaklabError(f"train.device={name!r} is not a device; use auto, cpu, cuda or cuda:N") from None


def build_data(config: Config, device: torch.device) -> Data:
    """Load the source, carve test (if not official) and validation splits, draw the labeled subset."""
    d = config.data
    src = load_source(d.dataset, d.root, d)
    known = np.flatnonzero(src.has_label)  # samples without a label never enter validation or test
    if src.test_x is None:
        rest, test = stratified_split(src.y[known], d.test_fraction, d.split_seed)
        if len(test) == 0:
            raise WeaklabError(f"{src.name} has no test split; set data.test_fraction above 0")
        rest, test = known[rest], known[test]
        test_x, test_y = src.x[test], src.y[test]
    else:
        rest, test_x, test_y = known, src.test_x, src.test_y
    fit, val = stratified_split(src.y[rest], d.val_fraction, d.split_seed + 1)
    if len(val) == 0:
        raise WeaklabError("the validation split is empty; set data.val_fraction above 0 (model selection needs it)")
    train_idx, val_idx = rest[fit], rest[val]
    y_train = src.y[train_idx]
    supervision = semi_supervised(
        y_train, src.num_classes, labels_per_class=d.labels_per_class, fraction=d.labeled_fraction, seed=config.seed
    )
    train_x, n_extra = _train_samples(src, train_idx, d.extra_unlabeled)
    if n_extra:  # samples with no label, appended after the labeled ones: unlabeled stream only
        supervision = supervision.with_unlabeled(n_extra)
        y_train = np.concatenate([y_train, np.full(n_extra, -1, dtype=y_train.dtype)])  # -1: label unknown
    normalizer = Normalizer.fit(train_x)
    if d.normalize == "zca":
        normalizer = normalizer.with_zca(train_x, d.zca_epsilon)
    elif d.normalize != "standard":
        raise WeaklabError(f"data.normalize must be standard or zca, got {d.normalize!r}")
    val_x = src.x[val_idx]
    total_bytes = train_x.nbytes + val_x.nbytes + test_x.nbytes
    return Data(
        name=src.name,
        classes=src.classes,
        sample_shape=src.sample_shape,
        flip=src.flip,
        normalizer=normalizer,
        train=make_store(d.store, train_x, normalizer, device, total_bytes),
        val=make_store(d.store, val_x, normalizer, device, total_bytes),
        test=make_store(d.store, test_x, normalizer, device, total_bytes),
        val_labels=torch.as_tensor(src.y[val_idx]),
        test_labels=torch.as_tensor(test_y),
        supervision=supervision,
        train_labels_clean=torch.as_tensor(y_train),
    )


def _train_samples(src, train_idx: np.ndarray, use_extra: bool | None) -> tuple[np.ndarray, int]:
    """Training samples: the labeled pool, then the source's unlabeled samples and (if asked) its extra split."""
    parts = [src.x[train_idx]]
    if src.unlabeled is not None:
        parts.append(src.x[src.unlabeled])
    if use_extra and src.extra_x is None:
        raise WeaklabError(
            f"data.extra_unlabeled is on but {src.name} has no extra unlabeled split here "
            f"(see `weaklab data info {src.name}`)"
        )
    if use_extra is None:
        use_extra = src.info.get("extra_by_default", True)
    if src.extra_x is not None and use_extra:
        parts.append(np.asarray(src.extra_x))
    if len(parts) == 1:
        return parts[0], 0
    return np.concatenate(parts), sum(len(p) for p in parts[1:])


def model_spec(config: Config, data: Data) -> dict:
    """Everything needed to rebuild the network without the data (saved in checkpoints)."""
    return {
        "name": config.model.name,
        "input_shape": list(data.sample_shape),
        "out_dim": len(data.classes),
        "dropout": config.model.dropout,
        "width": config.model.width,
    }


def make_network(spec: dict, heads: int = 1) -> torch.nn.Module:
    try:
        return build_model(
            spec["name"], input_shape=tuple(spec["input_shape"]), out_dim=spec["out_dim"], heads=heads,
            dropout=spec["dropout"], width=spec["width"],
        )
    except ValueError as e:
        raise WeaklabError(str(e)) from None


@dataclass
class Experiment:
    config: Config
    device: torch.device
    data: Data
    views: Views
    sampler: TwoStreamSampler
    method: Method
    spec: dict


def build_experiment(config: Config, data: Data | None = None) -> Experiment:
    """`data`: already built (e.g. the speed benchmark's synthetic images); None: loaded as the config says."""
    device = pick_device(config.train.device)
    torch.manual_seed(config.seed)
    data = build_data(config, device) if data is None else data
    flip = data.flip if config.views.flip is None else config.views.flip
    views = Views(config.views.translate, flip, config.views.noise, device, seed=config.seed)
    t = config.train
    labeled = torch.nonzero(data.supervision.labeled).flatten()
    sampler = TwoStreamSampler(labeled, torch.arange(len(data.train)), t.batch_labeled, t.batch_unlabeled, config.seed)
    spec = model_spec(config, data)
    ctx = Context(
        task=Classification(len(data.classes)),
        make_model=lambda heads=1: make_network(spec, heads),
        views=views,
        num_train=len(data.train),
        num_labeled=len(labeled),
        batch_labeled=t.batch_labeled,
        batch_unlabeled=t.batch_unlabeled,
        steps_per_epoch=sampler.steps_per_epoch,
        epochs=t.epochs,
        supervision=data.supervision,
        clean_labels=data.train_labels_clean,
    )
    method = method_class(config.method.name)(config.method, ctx).to(device)
    if device.type == "cuda" and config.train.channels_last is not False and len(data.sample_shape) == 3:
        method.to(memory_format=torch.channels_last)
    return Experiment(config, device, data, views, sampler, method, spec)
