"""What every method is: a small module that owns its networks, its per-sample state and its losses.

The engine owns the loop (sampling, optimizer, schedules, checkpoints); a method only says what one training
step computes, what happens after the optimizer steps and at the end of an epoch, and which network predicts.
Per-sample state is kept in registered buffers, so it travels in checkpoints with the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from ..config import METHOD_SETTINGS, MethodSettings
from ..core.label_issues import write_label_issues
from ..core.ramps import sigmoid_rampup
from ..core.span import Run, tick
from ..core.task import Classification, Regression
from ..data.supervision.labeled import Supervision
from ..data.views.pipeline import Views
from ..errors import WeaklabError
from ..models.network import Network


@dataclass
class Context:
    """What a method may know about the run it is part of."""

    task: Classification | Regression
    make_model: Callable[..., Network]  # make_model(heads=1, out_dim=None, dropout=None) -> a fresh network
    views: Views
    num_train: int  # samples the indices in a batch point into
    num_labeled: int
    batch_labeled: int
    batch_unlabeled: int
    steps_per_epoch: int
    epochs: int
    supervision: Supervision | None = None  # what is known of each training sample (candidates, trust flags)
    clean_labels: torch.Tensor | None = None  # true training labels, for reports only (never for training)
    warmup_epochs: float = 0.0  # where the lr warm-up ends (SCN relabels only after it)
    pretrained: bool = False  # the networks start from pretrained weights (model.pretrained), as in most papers

    @property
    def run(self) -> Run:
        """The run that schedule lengths (core/span.py) are read against."""
        return Run(self.epochs, self.steps_per_epoch)


@dataclass
class Batch:
    """Normalised, not yet augmented inputs with their indices into the training set."""

    x_lb: torch.Tensor
    y_lb: torch.Tensor
    idx_lb: torch.Tensor
    x_ulb: torch.Tensor | None = None
    idx_ulb: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return len(self.x_lb) + (0 if self.x_ulb is None else len(self.x_ulb))

    def all_x(self) -> torch.Tensor:
        """Labeled then unlabeled samples in one tensor: one forward pass, one set of BatchNorm statistics."""
        return self.x_lb if self.x_ulb is None else torch.cat([self.x_lb, self.x_ulb])

    def all_idx(self) -> torch.Tensor:
        return self.idx_lb if self.idx_ulb is None else torch.cat([self.idx_lb, self.idx_ulb])


@dataclass
class Progress:
    step: int  # optimizer steps taken before this one
    epoch: int  # 0-based
    steps_per_epoch: int

    @property
    def epochs_done(self) -> float:
        """Continuous epoch counter, for per-step ramps."""
        return self.step / self.steps_per_epoch


# Every method by name, in the order their modules are imported. A class with its own `name` registers itself
# when it is defined (`Method.__init_subclass__`): adding a method is adding its file to methods/.
METHODS: dict[str, type[Method]] = {}


class Method(nn.Module):
    name: ClassVar[str]
    Settings: ClassVar[type[MethodSettings]]
    # A method whose code reads its own settings declares `settings: Settings` before `Settings = Settings`, so the
    # annotation names its module's settings dataclass.
    settings: MethodSettings
    description: ClassVar[str]
    uses_unlabeled: ClassVar[bool] = True
    # One stream of the informed samples (a label or a candidate set), batch_labeled at a time, and an epoch as many
    # steps as a pass over every training sample (the partial-label methods: their papers have no unlabeled data)
    single_stream: ClassVar[bool] = False
    # What the method accepts, checked when an experiment is built (`check_fits`): the tasks it learns (the first
    # is its default), and its supervision: semi_supervised (some labels known) | noisy (every label given, some may
    # be wrong) | partial (a candidate set per sample) | mixed (any of them in one run: ILL). Every kind but partial
    # and mixed learns from labels.
    tasks: ClassVar[tuple[str, ...]] = ("classification", "regression")
    supervision_kind: ClassVar[str] = "semi_supervised"
    draws_strong_views: ClassVar[bool] = False  # calls Views.strong (PL-CR, the FixMatch family, ILL)
    # the strong view's policy on images when views.strong is auto (None: the data's paper rule, paper_strong_view)
    strong_view: ClassVar[str | None] = None
    # the weak view of the method's paper where views.translate / views.noise are unset: translation as a share of
    # the image side and Gaussian input noise. None: the Π-model / TE / Mean Teacher papers' (2 pixels, 0.15)
    weak_view: ClassVar[tuple[float, float] | None] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:  # a concrete method, not a shared base such as ConsistencyMethod
            METHODS[cls.name] = cls
            METHOD_SETTINGS[cls.name] = cls.Settings

    @classmethod
    def learns_from_candidates(cls) -> bool:
        return cls.supervision_kind == "partial"

    @classmethod
    def fits(cls, candidates: bool, task: str | None = None) -> bool:
        """Whether the method learns from data with (or without) candidate sets, for `task` (None: any)."""
        kinds_fit = cls.supervision_kind == "mixed" or cls.learns_from_candidates() == candidates
        return kinds_fit and (task is None or task in cls.tasks)

    @classmethod
    def labeled_rows(cls, supervision) -> torch.Tensor:
        """The rows of the labeled stream: samples with exactly one label (mixed and partial: a label or a set)."""
        return supervision.informed if cls.supervision_kind in ("mixed", "partial") else supervision.labeled

    @classmethod
    def supervision_notes(cls, supervision) -> list[str]:
        """One line for each kind of information in the run that the method does not use as such."""
        if not isinstance(supervision, Supervision) or cls.supervision_kind == "mixed":
            return []
        unlabeled, untrusted = int(supervision.unlabeled.sum()), int(supervision.untrusted.sum())
        notes = []
        if unlabeled and cls.learns_from_candidates():  # a set of every class says nothing to learn from
            notes.append(f"{cls.name} ignores the {unlabeled} unlabeled samples (a candidate set of every class)")
        elif unlabeled and not cls.uses_unlabeled:
            notes.append(f"{cls.name} ignores the {unlabeled} unlabeled samples (it reads no unlabeled stream)")
        if untrusted and cls.supervision_kind == "partial":
            notes.append(f"{cls.name} takes the {untrusted} untrusted candidate sets to hold the true label")
        elif untrusted and cls.supervision_kind == "semi_supervised":
            notes.append(
                f"{cls.name} takes the {untrusted} untrusted labels as correct (it does not model label noise)"
            )
        if notes and unlabeled and untrusted:  # it misses one of the two kinds, and one method reads both
            notes.append("ill learns from the untrusted labels and the unlabeled samples together")
        elif unlabeled and cls.learns_from_candidates():
            notes.append("ill learns from the candidate sets and the unlabeled samples together")
        return notes

    def length_notes(self) -> list[str]:
        """One line where this run is too short for a part of the method that cannot scale with it."""
        return []

    # Per-sample buffers that training_step writes at the batch's rows: name -> "labeled" | "unlabeled" | "all"
    # (which indices). Under torchrun the engine gathers those rows from every rank after each step.
    sample_state: ClassVar[dict[str, str]] = {}
    # Float buffers of running statistics that training_step updates from the batch (EMAs of confidences): under
    # torchrun the engine averages them over the ranks after each step.
    averaged_state: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: MethodSettings, ctx: Context):
        super().__init__()
        self.settings, self.ctx, self.task, self.views = settings, ctx, ctx.task, ctx.views
        self.model = ctx.make_model()

    def training_step(self, batch: Batch, progress: Progress) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss to minimise and the scalars to log (tensors; the engine averages them without syncing)."""
        raise NotImplementedError

    def after_optimizer_step(self, progress: Progress) -> None:
        """Runs after every optimizer step (Mean Teacher's EMA)."""

    def on_epoch_end(self, epoch: int) -> None:
        """Runs after the last step of each epoch (Temporal Ensembling's Z update)."""

    def state_logs(self) -> dict[str, float]:
        """Scalars about per-sample state, added to each evaluation record (SCN: labels changed since the last)."""
        return {}

    def on_train_end(self, run_dir: Path, data) -> None:
        """Runs once after training with the selected checkpoint loaded; `data` is the run's engine Data.

        Default: where labels are untrusted (noisy-label regime), write label_issues.csv from the predictor's
        class probabilities on the training samples; nothing otherwise.
        """
        untrusted = getattr(self.ctx.supervision, "untrusted", None)  # regression supervision has no such flag
        if untrusted is not None and bool(untrusted.any()):
            write_label_report(self, run_dir, data)

    def predictor(self) -> Network:
        """The network whose outputs are evaluated and predicted with."""
        return self.model

    @torch.no_grad()
    def predict_summary(self, x: torch.Tensor) -> torch.Tensor:
        """What is evaluated for a batch of normalised inputs (the method is in eval mode): class probabilities,
        or [mean, aleatoric var, epistemic var] for regression. Default: one plain forward of the predictor;
        methods that predict by sampling (UCVME's MC dropout) override this."""
        return self.task.predictive(self.predictor().logits(x)[None])

    def trainable_parameters(self):
        return self.model.parameters()

    def lr_scales(self) -> dict:
        """Trainable parameters whose lr is the schedule's times a factor (parameter -> factor); none by default."""
        return {}

    def length(self, key: str, overrun: str | None = None) -> float:
        """The schedule length setting `key` in epochs of this run (core/span.py); `overrun`: the warning's words
        where an explicit length is longer than the run."""
        return self.ctx.run.epochs_of(getattr(self.settings, key), f"method.{key}", overrun)

    def schedule(self) -> dict[str, float]:
        """The method's effective schedule in epochs of this run, for the start-of-run report."""
        return {}


def method_class(name: str) -> type[Method]:
    if name not in METHODS:
        raise WeaklabError(f"unknown method {name!r}; available: {', '.join(METHODS)}")
    return METHODS[name]


def check_fits(method: type[Method], candidates: bool, task: str | None = None, dataset: str = "the data") -> None:
    """A one-line error where the method cannot learn from the data: what it needs, what the data has, and the
    methods that would fit."""
    if method.fits(candidates, task):
        return
    fitting = ", ".join(name for name, m in METHODS.items() if m.fits(candidates, task)) or "none"
    if method.learns_from_candidates() != candidates:
        needs = "candidate sets (partial labels)" if method.learns_from_candidates() else "labels"
        has = "has candidate sets" if candidates else "has labels and no candidate sets"
        fix = "give data.partial or data.candidates_file, or " if method.learns_from_candidates() else ""
        mismatch = f"learns from {needs}, but {dataset} {has}"
    else:
        mismatch, fix = f"learns {' or '.join(method.tasks)}, but {dataset} is a {task} task", ""
    raise WeaklabError(f"method {method.name} {mismatch}; {fix}choose a method that fits: {fitting}")


@dataclass
class ConsistencySettings(MethodSettings):
    """Settings shared by the consistency methods (Π-model, Temporal Ensembling, Mean Teacher)."""

    consistency_weight: float = 100.0  # w_max
    rampup: float | str = "80/300"  # Gaussian ramp-up length (core/span.py): 80 of the paper's 300 epochs
    # The weight is recomputed once per `ramp_every` and is 0 in the first one (Π/TE: once per epoch of 300, w = 0
    # in epoch 1); 0: every step, from the first (Mean Teacher's code).
    ramp_every: float | str = "1/300"
    scale_by_labeled_fraction: bool = True  # w_max × labeled share of a batch (the paper's M/N)


class ConsistencyMethod(Method):
    """A method with a ramped consistency weight w(t)."""

    settings: ConsistencySettings

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        self.rampup = self.length("rampup", "the consistency weight never reaches its maximum")
        self.ramp_every = self.length("ramp_every")

    def weight(self, batch: Batch, epochs_done: float) -> float:
        s = self.settings
        t = tick(epochs_done, self.ramp_every)
        if self.ramp_every > 0 and t < self.ramp_every:
            return 0.0
        share = len(batch.x_lb) / batch.size if s.scale_by_labeled_fraction else None
        return consistency_weight(s.consistency_weight, self.rampup, t, share)

    def schedule(self) -> dict[str, float]:
        out = {"consistency_rampup_end": self.rampup}
        if self.ramp_every > 0:
            out["consistency_off_until"] = self.ramp_every
        return out


def consistency_weight(w_max: float, rampup_epochs: float, epoch: float, labeled_share: float | None) -> float:
    """w(t) = w_max · exp(-5 (1 - t/T)²), w_max optionally scaled by the labeled share of the data in a batch.

    The Π/TE paper scales w_max by M/N, the share of labeled samples in its mixed batches; with separate labeled
    and unlabeled streams that share is batch_labeled / (batch_labeled + batch_unlabeled).
    """
    scale = 1.0 if labeled_share is None else labeled_share
    return w_max * scale * sigmoid_rampup(epoch, rampup_epochs)


@torch.no_grad()
def write_label_report(
    method: Method, run_dir: Path, data, current: torch.Tensor | None = None, importance: torch.Tensor | None = None
) -> Path:
    """label_issues.csv for the labeled training samples, from the predictor's eval-mode probabilities."""
    model = method.predictor()
    was_training = model.training
    model.eval()
    probs = torch.cat([model.logits(x).float().softmax(-1) for x in data.train.batches(1024)]).cpu().numpy()
    model.train(was_training)
    sup = method.ctx.supervision
    assert sup is not None  # a report on labels needs the run's supervision
    rows = sup.labeled.cpu().numpy()
    pick = lambda t: None if t is None else t.detach().cpu().numpy()[rows]  # noqa: E731
    clean = method.ctx.clean_labels
    index = data.train_index[rows] if data.train_index is not None else None
    return write_label_issues(
        run_dir,
        probs[rows],
        sup.labels.cpu().numpy()[rows],
        list(data.classes),
        current=pick(current),
        importance=pick(importance),
        clean=pick(clean),
        source_index=index,
    )
