"""Turn a Config into the pieces of a run: data on the device, views, sampler and the method."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import Config
from ..core.task import Classification, Regression
from ..data.datasets import load_source
from ..data.sampler import TwoStreamSampler
from ..data.splits import quantile_bins, stratified_split
from ..data.store import DeviceStore, Normalizer
from ..data.supervision import RegressionSupervision, Supervision, semi_supervised, semi_supervised_regression
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
    supervision: Supervision | RegressionSupervision
    train_labels_clean: torch.Tensor
    task: Classification | Regression  # what outputs mean; regression's holds the target normalisation

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
    src = load_source(d.dataset, d.root)
    regression = src.task == "regression"
    strata = quantile_bins if regression else (lambda y: y)  # regression splits stratify on target quantiles
    if src.test_x is None:
        rest, test = stratified_split(strata(src.y), d.test_fraction, d.split_seed)
        if len(test) == 0:
            raise WeaklabError(f"{src.name} has no test split; set data.test_fraction above 0")
        test_x, test_y = src.x[test], src.y[test]
    else:
        rest, test_x, test_y = np.arange(len(src.y)), src.test_x, src.test_y
    fit, val = stratified_split(strata(src.y[rest]), d.val_fraction, d.split_seed + 1)
    if len(val) == 0:
        raise WeaklabError("the validation split is empty; set data.val_fraction above 0 (model selection needs it)")
    train_idx, val_idx = rest[fit], rest[val]
    y_train = src.y[train_idx]
    if regression:
        supervision = semi_supervised_regression(
            y_train, labels_per_class=d.labels_per_class, fraction=d.labeled_fraction, seed=config.seed
        )
        task = Regression.fit(y_train[supervision.has_target.numpy()])  # labeled training targets only
    else:
        supervision = semi_supervised(
            y_train, src.num_classes, labels_per_class=d.labels_per_class, fraction=d.labeled_fraction, seed=config.seed
        )
        task = Classification(src.num_classes)
    normalizer = Normalizer.fit(src.x[train_idx])
    return Data(
        name=src.name,
        classes=src.classes,
        sample_shape=src.sample_shape,
        flip=src.flip,
        normalizer=normalizer,
        train=DeviceStore(src.x[train_idx], normalizer, device),
        val=DeviceStore(src.x[val_idx], normalizer, device),
        test=DeviceStore(test_x, normalizer, device),
        val_labels=torch.as_tensor(src.y[val_idx]),
        test_labels=torch.as_tensor(test_y),
        supervision=supervision,
        train_labels_clean=torch.as_tensor(y_train),
        task=task,
    )


def model_spec(config: Config, data: Data) -> dict:
    """Everything needed to rebuild the network without the data (saved in checkpoints)."""
    return {
        "name": config.model.name,
        "input_shape": list(data.sample_shape),
        "out_dim": data.task.out_dim,
        "dropout": config.model.dropout,
        "width": config.model.width,
    }


def make_network(spec: dict, heads: int = 1, out_dim: int | None = None, dropout: float | None = None) -> torch.nn.Module:
    """The run's network; a method may ask for another output size (mean + log-variance) and give its own default
    dropout (UCVME's MC-dropout p), which applies only when the config leaves model.dropout unset."""
    try:
        return build_model(
            spec["name"], input_shape=tuple(spec["input_shape"]), out_dim=out_dim or spec["out_dim"], heads=heads,
            dropout=spec["dropout"] if spec["dropout"] is not None else dropout, width=spec["width"],
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


def build_experiment(config: Config) -> Experiment:
    device = pick_device(config.train.device)
    torch.manual_seed(config.seed)
    data = build_data(config, device)
    flip = data.flip if config.views.flip is None else config.views.flip
    views = Views(config.views.translate, flip, config.views.noise, device, seed=config.seed)
    t = config.train
    labeled = torch.nonzero(data.supervision.labeled).flatten()
    sampler = TwoStreamSampler(labeled, torch.arange(len(data.train)), t.batch_labeled, t.batch_unlabeled, config.seed)
    spec = model_spec(config, data)
    ctx = Context(
        task=data.task,
        make_model=lambda heads=1, out_dim=None, dropout=None: make_network(spec, heads, out_dim, dropout),
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
