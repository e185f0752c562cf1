"""Turn a Config into the pieces of a run: data on the device, views, sampler and the method."""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import Config, ViewsConfig
from ..core.task import Classification, Regression
from ..data.sources.datasets import load_source
from ..data.store.device import DeviceStore, Normalizer
from ..data.store.host import make_store, store_kind
from ..data.store.rows import Rows
from ..data.store.sampler import TwoStreamSampler
from ..data.supervision.build import build_supervision
from ..data.supervision.labeled import RegressionSupervision, Supervision
from ..data.supervision.splits import quantile_bins, stratified_split
from ..data.views.augment import POLICIES
from ..data.views.pipeline import Views, paper_strong_view
from ..errors import WeaklabError
from ..methods import Context, Method, check_fits, method_class
from ..models import Network, auto_model, build_model
from ..models.pretrained import describe, load_pretrained
from .optim import Schedule

REGRESSION_DROPOUT = 0.05  # UCVME's MC-dropout p


@dataclass
class Data:
    name: str
    classes: list[str]
    sample_shape: tuple[int, ...]
    flip: bool | None  # None: the data does not say whether a mirror keeps the meaning (no flip unless asked)
    normalizer: Normalizer
    train: DeviceStore
    val: DeviceStore
    test: DeviceStore
    val_labels: torch.Tensor
    test_labels: torch.Tensor
    supervision: Supervision | RegressionSupervision
    train_labels_clean: torch.Tensor
    val_candidates: torch.Tensor | None = None  # partial labels: the validation split's candidate sets
    regime: dict = field(default_factory=dict)  # what the supervision generator produced
    noise: dict | None = None  # what the label-noise generator produced (None: labels trusted)
    train_index: np.ndarray | None = None  # each training sample's row in the source data
    held_out: np.ndarray | None = None  # cross-validation: training samples whose labels this run never saw
    task: Classification | Regression | None = None  # what outputs mean; regression's holds the target normalisation

    def report(self) -> dict:
        return {
            "dataset": self.name,
            "num_classes": len(self.classes),
            "train": len(self.train),
            "val": len(self.val),
            "test": len(self.test),
            **self.supervision.report(),
            **self.regime,
            **(self.noise or {}),
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


def uses_channels_last(config: Config, device: torch.device) -> bool:
    """channels_last memory format for image networks: on by default on CUDA (faster convolutions with bf16), on
    any device when asked for (`train.channels_last: true`, e.g. to check results do not change on CPU)."""
    wanted = config.train.channels_last
    return wanted is True or (wanted is None and device.type == "cuda")


def uses_bf16(config: Config, device: torch.device) -> bool:
    """bf16 autocast: `auto` means on CUDA only (measured not to change results: docs/SCALING.md)."""
    precision = config.train.precision
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


def build_data(config: Config, device: torch.device) -> Data:
    """Load the source, carve test (if not official) and validation splits, draw the labeled subset."""
    d = config.data
    method, candidates = method_class(config.method.name), bool(d.partial or d.candidates_file)
    check_fits(method, candidates, dataset=d.dataset)  # what the config says is checked before anything loads
    src = load_source(d.dataset, d.root, d)
    table_sets = _table_sets(src, method, candidates)
    check_fits(method, candidates or table_sets is not None, src.task, src.name)
    regression = src.task == "regression"
    strata = quantile_bins if regression else (lambda y: y)  # regression splits stratify on target quantiles
    known = np.flatnonzero(src.has_label)  # samples without a label never enter validation or test
    use_extra = _use_extra(src, d.extra_unlabeled)
    total_bytes = sum(a.nbytes for a in (src.x, src.test_x, src.extra_x if use_extra else None) if a is not None)
    # Decided once, before any split is copied: the host store reads its splits lazily from the source's arrays
    # (memory-mapped caches), so a data set larger than host memory never gets copied into it.
    kind = store_kind(d.store, device, total_bytes)
    take = (lambda a, idx: Rows.of(a).select(idx)) if kind == "host" else (lambda a, idx: a[idx])
    if src.test_x is None:
        rest, test = stratified_split(strata(src.y[known]), d.test_fraction, d.split_seed)
        if len(test) == 0:
            raise WeaklabError(f"{src.name} has no test split; set data.test_fraction above 0")
        rest, test = known[rest], known[test]
        test_x, test_y = take(src.x, test), src.y[test]
    else:
        rest, test_x, test_y = known, src.test_x, src.test_y
    fit, val = stratified_split(strata(src.y[rest]), d.val_fraction, d.split_seed + 1)
    if len(val) == 0:
        raise WeaklabError("the validation split is empty; set data.val_fraction above 0 (model selection needs it)")
    train_idx, val_idx = rest[fit], rest[val]
    y_train = src.y[train_idx]
    known_of = build_supervision(
        d, src.y, src.classes, train_idx, val_idx, config.seed, regression, src.info.get("paths")
    )
    supervision = known_of.supervision
    train_x, n_extra = _train_samples(src, train_idx, use_extra, lazy=kind == "host")
    if n_extra:  # samples with no label, appended after the labeled ones: unlabeled stream only
        sets = _extra_candidates(src, table_sets, n_extra)
        supervision = (
            supervision.with_unlabeled(n_extra)
            if sets is None or not isinstance(supervision, Supervision)
            else supervision.with_unlabeled(n_extra, sets)
        )
        y_train = np.concatenate([y_train, np.full(n_extra, -1, dtype=y_train.dtype)])  # -1: label unknown
    normalizer = Normalizer.fit(train_x)
    if d.normalize == "zca":
        normalizer = normalizer.with_zca(train_x, d.zca_epsilon)
    val_x = take(src.x, val_idx)
    return Data(
        name=src.name,
        classes=src.classes,
        sample_shape=src.sample_shape,
        flip=src.flip,
        normalizer=normalizer,
        train=make_store(kind, train_x, normalizer, device, total_bytes, d.workers),
        val=make_store(kind, val_x, normalizer, device, total_bytes, workers=0),  # read in order: no look-ahead
        test=make_store(kind, test_x, normalizer, device, total_bytes, workers=0),
        val_labels=torch.as_tensor(src.y[val_idx]),
        test_labels=torch.as_tensor(test_y),
        supervision=supervision,
        train_labels_clean=torch.as_tensor(y_train),
        val_candidates=None if known_of.val_candidates is None else torch.as_tensor(known_of.val_candidates).to(device),
        regime=known_of.regime,
        noise=known_of.noise,
        train_index=train_idx,
        held_out=known_of.held_out,
        task=known_of.task,
    )


def _table_sets(src, method, generated: bool) -> np.ndarray | None:
    """A user table's per-row candidate sets where the method learns from them (partial-label methods, ILL); a
    method that learns from labels takes those rows as unlabeled, and says so."""
    if src.candidates is None:
        return None
    if generated:
        raise WeaklabError(
            f"{src.name} holds its own candidate sets ('a|b' cells); unset data.partial and data.candidates_file"
        )
    if method.learns_from_candidates() or method.supervision_kind == "mixed":
        return src.candidates
    n = int((~src.candidates.all(1)).sum())
    print(
        f"weaklab: {method.name} ignores the candidate sets of {n} samples (it takes them as unlabeled)",
        file=sys.stderr,
    )
    return None


def _extra_candidates(src, table_sets: np.ndarray | None, n_extra: int) -> np.ndarray | None:
    """Candidate sets of the rows appended after the labeled pool (the source's unlabeled rows, then its extra
    split): a table's sets where there are any, every class elsewhere."""
    if table_sets is None:
        return None
    rows = table_sets[np.flatnonzero(src.unlabeled)]
    return np.concatenate([rows, np.ones((n_extra - len(rows), rows.shape[1]), dtype=bool)])


def _use_extra(src, use_extra: bool | None) -> bool:
    """Whether the source's extra unlabeled split joins training (None: the dataset's default)."""
    if use_extra and src.extra_x is None:
        raise WeaklabError(
            f"data.extra_unlabeled is on but {src.name} has no extra unlabeled split here "
            f"(see `weaklab data info {src.name}`)"
        )
    if use_extra is None:
        use_extra = src.info.get("extra_by_default", True)
    return src.extra_x is not None and bool(use_extra)


def _train_samples(src, train_idx: np.ndarray, use_extra: bool, lazy: bool = False) -> tuple[np.ndarray | Rows, int]:
    """Training samples: the labeled pool, then the source's unlabeled samples and (if asked) its extra split;
    `lazy`: as Rows of the source's arrays, nothing copied."""
    parts: list[tuple[np.ndarray | Rows, np.ndarray | None]] = [(src.x, train_idx)]
    if src.unlabeled is not None:
        parts.append((src.x, np.flatnonzero(src.unlabeled)))
    if use_extra:
        parts.append((src.extra_x, None))
    n_extra = sum(len(a) if i is None else len(i) for a, i in parts[1:])
    if lazy:
        return Rows.concat([Rows.of(a) if i is None else Rows.of(a).select(i) for a, i in parts]), n_extra
    arrays = [np.asarray(a) if i is None else a[i] for a, i in parts]
    return (arrays[0] if len(arrays) == 1 else np.concatenate(arrays)), n_extra


def model_spec(config: Config, data: Data) -> dict:
    """Everything needed to rebuild the network without the data (saved in checkpoints)."""
    assert data.task is not None  # set by every builder of Data
    return {
        # "auto" resolved here, so summaries name the network and a checkpoint keeps it if the rule ever changes
        "name": auto_model(data.sample_shape) if config.model.name == "auto" else config.model.name,
        "input_shape": list(data.sample_shape),
        "out_dim": data.task.out_dim,
        "dropout": config.model.dropout,
        # Regression: every method's network gets UCVME's MC-dropout p, so a method and its baseline are the same
        # network (a method's own default, such as method.dropout, still comes first).
        "default_dropout": REGRESSION_DROPOUT if isinstance(data.task, Regression) else None,
        "width": config.model.width,
    }


def make_network(spec: dict, heads: int = 1, out_dim: int | None = None, dropout: float | None = None) -> Network:
    """The run's network; a method may ask for another output size (mean + log-variance) and give its own default
    dropout (UCVME's MC-dropout p), which applies only when the config leaves model.dropout unset."""
    try:
        return build_model(
            spec["name"],
            input_shape=tuple(spec["input_shape"]),
            out_dim=out_dim or spec["out_dim"],
            heads=heads,
            dropout=next((d for d in (spec["dropout"], dropout, spec.get("default_dropout")) if d is not None), None),
            width=spec["width"],
        )
    except ValueError as e:
        raise WeaklabError(str(e)) from None


def build_method(config: Config, spec: dict, context: dict, pretrained: bool = True) -> Method:
    """The run's method, built the one way for training (`build_experiment`) and for a saved run's predictions
    (`api.Run`). `context`: the Context fields but `make_model`; `pretrained`: load config.model.pretrained into
    each new network (not when a checkpoint's weights replace them anyway)."""
    weights = config.model.pretrained if pretrained else None
    reports: list[dict] = []

    def make_model(heads: int = 1, out_dim: int | None = None, dropout: float | None = None) -> Network:
        """A fresh network; a method may ask for another output size and give its own default dropout."""
        network = make_network(spec, heads, out_dim, dropout)
        if weights:
            report = load_pretrained(network, weights)
            if not reports:
                print(describe(report), flush=True)
            reports.append(report)
        return network

    from_pretrained = bool(config.model.pretrained)  # how the run was trained, also when its weights are loaded
    return method_class(config.method.name)(
        config.method, Context(make_model=make_model, pretrained=from_pretrained, **context)
    )


@dataclass
class Experiment:
    config: Config
    device: torch.device
    data: Data
    views: Views
    sampler: TwoStreamSampler
    method: Method
    spec: dict
    schedule: Schedule  # lr and Adam β1 over the run; its warm-up end is in the method's Context


def strong_view(kind: type[Method], data: Data, v: ViewsConfig) -> tuple[str, int]:
    """The strong view's policy and Cutout side: the user's where given, else the method's paper's policy, else the
    data's paper rule (paper_strong_view). None for a method that draws no strong view, where they would not run."""
    if not kind.draws_strong_views:
        if v.strong != "auto" or v.cutout is not None:
            warnings.warn(
                f"views.strong and views.cutout have no effect: {kind.name} draws no strong view", stacklevel=3
            )
        return "none", 0
    strong, cutout = paper_strong_view(data.name, data.sample_shape)
    if kind.strong_view is not None and len(data.sample_shape) == 3:  # the method's paper names its own policy
        strong = kind.strong_view
    return (strong if v.strong == "auto" else v.strong), (cutout if v.cutout is None else v.cutout)


def weak_view(kind: type[Method], data: Data, v: ViewsConfig) -> tuple[int, float]:
    """Translation in pixels and Gaussian input noise: the user's where given, else on images the method's paper's
    (Method.weak_view), else the Π-model / TE / Mean Teacher papers' ±2 pixels and 0.15. Flat features have no
    pixels to move: the noise is their only view, and summary.json records no translation."""
    translate, noise = 2, 0.15
    if len(data.sample_shape) != 3:
        if v.translate:
            warnings.warn("views.translate has no effect: the data are flat features, not images", stacklevel=3)
        return 0, (noise if v.noise is None else v.noise)
    if kind.weak_view is not None:
        share, noise = kind.weak_view
        translate = round(min(data.sample_shape[1:]) * share)
    return (translate if v.translate is None else v.translate), (noise if v.noise is None else v.noise)


def build_experiment(config: Config, data: Data | None = None) -> Experiment:
    """`data`: already built (e.g. the speed benchmark's synthetic images); None: loaded as the config says."""
    device = pick_device(config.train.device)
    torch.manual_seed(config.seed)
    data = build_data(config, device) if data is None else data
    flip = bool(data.flip) if config.views.flip is None else config.views.flip
    if flip and len(data.sample_shape) != 3:  # a mirror needs an image; say so rather than ignore the flag
        warnings.warn("views.flip (--flip) has no effect: the data are flat features, not images", stacklevel=2)
        flip = False
    v = config.views
    kind = method_class(config.method.name)
    strong, cutout = strong_view(kind, data, v)
    translate, noise = weak_view(kind, data, v)
    make_policy = POLICIES[strong]
    policy = make_policy(v) if make_policy else None
    low_high = v.erasing_area
    if len(low_high) != 2 or not 0 < low_high[0] <= low_high[1] <= 1:
        raise WeaklabError(f"views.erasing_area must be a [low, high] within (0, 1], got {low_high}")
    pixel_max = data.train.pixel_max()
    views = Views(
        translate,
        flip,
        noise,
        device,
        seed=config.seed,
        policy=policy,
        policy_name=strong,
        cutout=cutout,
        normalizer=data.train.normalizer,
        pixel_max=pixel_max,
        erasing=v.erasing,
        erasing_area=v.erasing_area,
    )
    t = config.train
    labeled = torch.nonzero(kind.labeled_rows(data.supervision)).flatten()
    everyone = torch.arange(len(data.train))
    # One stream, batch_labeled at a time, an epoch as many steps as a pass over every sample: the partial-label
    # methods (their informed samples: every sample unless some have no candidate set), and methods that read no
    # unlabeled stream when every sample has a label (noisy or full labels)
    if kind.single_stream or (not kind.uses_unlabeled and len(labeled) == len(everyone)):
        batch_unlabeled = t.batch_labeled
    else:
        batch_unlabeled = t.batch_unlabeled
    sampler = TwoStreamSampler(labeled, everyone, t.batch_labeled, batch_unlabeled, config.seed)
    spec = model_spec(config, data)

    schedule = Schedule(t, sampler.steps_per_epoch)
    context = dict(
        task=data.task,
        views=views,
        num_train=len(data.train),
        num_labeled=len(labeled),
        batch_labeled=t.batch_labeled,
        batch_unlabeled=batch_unlabeled,
        steps_per_epoch=sampler.steps_per_epoch,
        epochs=t.epochs,
        supervision=data.supervision,
        # labels taken as given: their true values are unknown, so nothing may score against them
        clean_labels=None if data.noise and data.noise["noise"] == "given" else data.train_labels_clean,
        warmup_epochs=schedule.warmup_end(),
    )
    method = build_method(config, spec, context).to(device)
    if uses_channels_last(config, device) and len(data.sample_shape) == 3:
        method.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit memory_format
    return Experiment(config, device, data, views, sampler, method, spec, schedule)
