"""The run configuration: typed sections, resolved from defaults < recipe file < command line.

A resolved `Config` is written to every run directory as `config.yaml`; loading that file reproduces the run.
Method settings live under `method:` beside the method's `name`, and each method declares its own settings
dataclass, so an unknown key is caught and the error lists the keys that method accepts.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .core import span
from .errors import WeaklabError

LENGTH = float | str  # the type of a schedule length (core/span.py)

# The allowed values of each choice, declared once: the config checks them when it is resolved (before any data
# loads), and the modules that act on a choice read their list from here.
NoiseKind = Literal["none", "given", "symmetric", "uniform", "asymmetric", "pairflip", "transition"]
PartialGenerator = Literal["plcr", "pico", "pico_hierarchical"]
ModelName = Literal["auto", "cnn13", "wrn28_2", "small_cnn", "mlp", "lenet", "wrn34_10", "resnet18", "resnet50"]
StrongView = Literal["auto", "none", "autoaugment_cifar10", "autoaugment_svhn", "randaugment", "randaugment_random"]
LrSchedule = Literal["gaussian", "cosine", "fixmatch_cosine", "step", "constant", "exponential"]
CompileMode = Literal["default", "reduce-overhead", "max-autotune"]  # torch.compile's; reduce-overhead: CUDA graphs
Tracking = Literal["none", "mlflow"]  # where a run is mirrored besides its directory (engine/tracking.py)


def within(default, interval: str):
    """A number setting with its allowed interval in the usual notation: `within(0.7, "(0, 1]")`."""
    return field(default=default, metadata={"interval": interval})


def choices(hint) -> tuple:
    """The values a Literal type allows, also inside a union with None (a choice that may be left unset)."""
    return tuple(a for o in _options(hint) if typing.get_origin(o) is Literal for a in typing.get_args(o))


def field_choices(section, key: str) -> tuple:
    """The values the choice setting `key` of a config section allows: `field_choices(DataConfig, "task")`."""
    return choices(typing.get_type_hints(section)[key])


@dataclass
class DataConfig:
    dataset: str = "digits"
    root: str | None = None  # where downloaded or user datasets live
    labels_per_class: int | None = None  # balanced labeled subset of K per class ...
    labeled_fraction: float | None = within(None, "(0, 1]")  # ... or this fraction of each class; neither: all labeled
    val_fraction: float = within(0.1, "[0, 1)")  # carved from the training data, stratified
    test_fraction: float = within(0.2, "[0, 1)")  # used only where the dataset ships no test split
    split_seed: int = 0  # fixes the test/validation carve across runs; `seed` draws the labeled subset
    extra_unlabeled: bool | None = None  # add the extra unlabeled split (None: STL-10 yes, SVHN extra no)
    target_column: str | None = None  # user tables / CSVs: the label or target column (default: label/target)
    # user data: classification | regression (None: inferred)
    task: Literal["classification", "regression"] | None = None
    # user images are resized once to this side (None: the first image's size)
    image_size: int | None = within(None, "[1, inf)")
    # flat samples (a table's rows, an N×D array) read as images C×H×W, or H×W for grey ones: "28x28", [1, 28, 28]
    image_shape: str | list | None = None
    # user tables / CSVs: a row whose target is empty or NaN: error (default) | unlabeled (keep it, without a label)
    missing_targets: Literal["error", "unlabeled"] = "error"
    bad_images: Literal["error", "skip"] = "error"  # an image that fails to decode: error | skip (skip and report)
    # targets parsed from image file names: utkface (age, first field)
    filename_target: Literal["utkface"] | None = None
    target_range: list | None = None  # regression: keep samples with targets in [low, high] (UTKFace: [21, 60])
    # standard (per channel) | zca (then ZCA whitening: TE/Π CIFAR-10 preprocessing)
    normalize: Literal["standard", "zca"] = "standard"
    zca_epsilon: float = 0.01  # added to the covariance eigenvalues (unit-variance scale) before whitening
    # device (whole split on the device) | host (batches copied from host memory) | auto
    store: Literal["auto", "device", "host"] = "auto"
    # candidate-set generator: plcr | pico | pico_hierarchical (None: not partial)
    partial: PartialGenerator | None = None
    partial_rate: float = within(0.1, "[0, 1]")  # q: probability that each wrong class joins a candidate set
    candidates_file: str | None = None  # a user's candidate sets: .csv (index|path, labels) or N×C 0/1 .npy/.npz
    candidates_complete: bool = True  # the user's sets hold the true label: checked where labels are known
    # Noisy labels (data/supervision/noise.py): none (trusted) | given (labels as they are, all untrusted) | symmetric (to a
    # random different class, the SCN protocol) | uniform (may keep the class) | asymmetric | pairflip | transition
    noise: NoiseKind = "none"
    noise_rate: float = within(0.0, "[0, 1]")  # share of labels made wrong (per mapped class for asymmetric / pairflip)
    noise_mapping: str | list | None = None  # asymmetric: cifar10 | digits | ["truck->automobile", ...]
    noise_matrix: str | list | None = None  # transition: C×C rows P(noisy | clean), or a .npy / .csv path
    noise_seed: int | None = None  # None: the run's seed
    # K: hide fold `cv_fold` of the training labels (`weaklab crossval-probs` sets these)
    cv_folds: int | None = within(None, "[2, inf)")
    cv_fold: int = 0
    # host store: processes reading batches ahead (0: none; None: min(4, CPU cores))
    workers: int | None = within(None, "[0, inf)")


@dataclass
class ModelConfig:
    name: ModelName = "auto"  # auto: by the input (models/__init__.py::auto_model)
    dropout: float | None = within(None, "[0, 1)")  # None: the model's own default
    width: int | None = within(None, "[1, inf)")
    pretrained: str | None = None  # weight file (torchvision layout, `module.` prefix or `state_dict` nesting)


@dataclass
class ViewsConfig:
    # random translation in pixels, by reflect-padding and cropping; None: the method's paper's (Method.weak_view:
    # 2 for Π / TE / Mean Teacher and every method that names none, an eighth of the side for the partial-label ones)
    translate: int | None = within(None, "[0, inf)")
    flip: bool | None = None  # horizontal flip; None: as the dataset says (off for digits)
    # std of Gaussian input noise, in normalised input units; None: the method's paper's (0.15; none for partial labels)
    noise: float | None = within(None, "[0, inf)")
    # strong views (PL-CR, the FixMatch family): auto is the method's paper's for the data (Method.strong_view, else
    # data/views/pipeline.py::paper_strong_view)
    strong: StrongView = "auto"
    # strong views: side of the zeroed square (0: none; None: auto, with `strong`)
    cutout: int | None = within(None, "[0, inf)")
    randaugment_n: int = 2  # RandAugment: ops per image
    randaugment_m: int = 10  # RandAugment: magnitude on a 0..30 scale
    erasing: float = within(0.0, "[0, 1]")  # weak views: probability of random erasing (SCN's recipe: 0.5)
    erasing_area: list = field(default_factory=lambda: [0.02, 0.33])  # erased share of the image, [low, high]


@dataclass
class TrainConfig:
    epochs: int = within(300, "[1, inf)")  # an epoch is one pass over the unlabeled stream
    batch_labeled: int = within(32, "[1, inf)")
    batch_unlabeled: int = within(96, "[1, inf)")
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = within(0.003, "(0, inf)")
    momentum: float = 0.9  # sgd
    nesterov: bool = True  # sgd
    weight_decay: float = within(0.0, "[0, inf)")
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    lr_schedule: LrSchedule = "gaussian"
    # Schedule lengths (core/span.py): a share of the run ("80/300": 80 epochs of the paper's 300, "25%"), or
    # explicit epochs (a number, "10 epochs") or steps ("500 steps"). Shares scale with --epochs.
    lr_rampup: float | str = "80/300"  # Gaussian ramp-up of the lr (gaussian and cosine schedules)
    lr_rampdown: float | str = "50/300"  # gaussian: lr and Adam beta1 ramp down over the end of the run
    rampdown_beta1: float = 0.5  # Adam beta1 at the end of the ramp-down
    lr_milestones: list = field(default_factory=list)  # step schedule: lengths where lr *= lr_gamma
    lr_gamma: float = 0.1  # step: factor at each milestone; exponential: factor per lr_decay_every
    lr_decay_every: float | str = 1.0  # exponential: the interval of one lr_gamma factor (SCN: 1 of its 70 epochs)
    grad_clip: float | None = None  # max gradient norm
    eval_every: int | None = None  # steps between evaluations; None: once per epoch
    plot_redraws: int = 10  # times the plots are redrawn during a run (0: only at the end)
    selection_metric: str | None = None  # validation metric choosing best.pt; None: the task's (accuracy)
    # where validation accuracy ties, the lower validation NLL wins (nll), or the earliest checkpoint (none: the
    # rule of the tables measured before 2026-12-08)
    selection_tiebreak: Literal["nll", "none"] = "nll"
    log_every: int = within(50, "[1, inf)")  # steps between loss checks (NaN / explosion) and progress-bar updates
    max_loss: float = 1.0e4  # a loss above this counts as exploded
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16
    channels_last: bool | None = None  # None: on for CUDA; true: on any device
    progress: bool = True  # progress bar on a terminal
    compile: bool = False  # torch.compile the method's networks (measured: docs/SCALING.md)
    # CUDA: cuDNN times its convolution algorithms on the first batches and keeps the fastest for the run's fixed
    # shapes (results may then differ from another run in the last bits)
    cudnn_benchmark: bool = True
    compile_mode: CompileMode = "default"
    sync_batchnorm: bool = False  # torchrun: BatchNorm statistics over the global batch, not each rank's share
    # none | mlflow: params, every evaluation's metrics, the summary and plots to MLflow (docs/TRACKING.md); TensorBoard
    # events are written whenever tensorboard is installed, whatever this says
    tracking: Tracking = "none"


@dataclass
class MethodSettings:
    """Base of every method's settings; `name` selects the method."""

    name: str = "supervised"


# Each method's settings class by method name. A method fills this when its class is defined (methods/base.py:
# Method.__init_subclass__), so the config reads every method's settings without importing a method.
METHOD_SETTINGS: dict[str, type[MethodSettings]] = {}


def method_settings(name) -> type[MethodSettings]:
    if not isinstance(name, str) or name not in METHOD_SETTINGS:
        raise WeaklabError(f"unknown method {name!r}; available: {', '.join(METHOD_SETTINGS)}")
    return METHOD_SETTINGS[name]


@dataclass
class Config:
    method: MethodSettings = field(default_factory=MethodSettings)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    views: ViewsConfig = field(default_factory=ViewsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    out: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.dump(self.to_dict(), Dumper=_Dumper, sort_keys=False))


SECTIONS = {"data": DataConfig, "model": ModelConfig, "views": ViewsConfig, "train": TrainConfig}
TOP_LEVEL = ("method", *SECTIONS, "seed", "out")
# Keys renamed when schedules became lengths relative to the run; an old number still means epochs, so configs
# saved by earlier versions (and their runs' resume) read as before.
RENAMED = {
    "train": {"lr_rampup_epochs": "lr_rampup", "rampdown_epochs": "lr_rampdown"},
    "method": {
        "rampup_epochs": "rampup",
        "relabel_start_epoch": "relabel_start",
        "unlabeled_rampup_epochs": "unlabeled_rampup",
    },
}


def resolve(file: str | Path | dict | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Build a Config from a recipe (path or dict) and dotted overrides; later sources win.

    `overrides` maps dotted keys to values, e.g. {"train.lr": 0.01, "method.name": "pi_model"}.
    """
    tree: dict = {}
    if isinstance(file, dict):
        tree = _deep_copy(file)
    elif file is not None:
        tree = load_yaml(file)
    for key, value in (overrides or {}).items():
        _set_dotted(tree, key, value)
    return from_dict(tree)


def from_dict(tree: dict) -> Config:
    """Validate a nested dict against the schema; unknown keys raise a WeaklabError listing valid ones."""
    if not isinstance(tree, dict):
        raise WeaklabError(f"a config must be a mapping of sections, got {type(tree).__name__}")
    _check_keys(tree, TOP_LEVEL, "")
    method_tree = tree.get("method") or {}
    if isinstance(method_tree, str):
        method_tree = {"name": method_tree}
    if not isinstance(method_tree, dict):
        raise WeaklabError(f"config section 'method' must be a method name or a mapping, got {method_tree!r}")
    cls = method_settings(method_tree.get("name", MethodSettings.name))
    config = Config(method=_build(cls, method_tree, "method"))
    for section, section_cls in SECTIONS.items():
        setattr(config, section, _build(section_cls, tree.get(section) or {}, section))
    if "seed" in tree:
        config.seed = _coerce(tree["seed"], int, "seed")
    if "out" in tree:
        config.out = _coerce(tree["out"], str | None, "out")
    return config


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise WeaklabError(f"config file {path} does not exist")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise WeaklabError(
            f"config file {path} is not a YAML text file (it is not UTF-8); pass a recipe .yaml"
        ) from None
    try:
        tree = read_yaml(text) or {}
    except ValueError as e:
        raise WeaklabError(f"config file {path} is not valid YAML: {_first_line(e)}") from None
    if not isinstance(tree, dict):
        raise WeaklabError(f"config file {path} must hold a mapping of sections (method, data, ...)")
    return tree


def read_yaml(text: str) -> Any:
    """YAML text with YAML 1.2 numbers (`1e-4` is a float, `010` is ten); a malformed text raises ValueError."""
    try:
        return yaml.load(text, Loader=_Loader)
    except Exception as e:  # YAMLError, and what PyYAML's constructors raise on odd tags (`!!timestamp x`)
        raise ValueError(_first_line(e)) from None


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value` from the command line; the value is read as YAML (so 1e-4, true, null, [1, 2] work)."""
    if "=" not in text:
        raise WeaklabError(f"--set expects key=value (e.g. train.lr=0.01), got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = read_yaml(raw) if raw.strip() else None
    except ValueError:  # not YAML (e.g. `a: b: c`): the text itself, which the schema then judges
        value = raw
    return key.strip(), value


def valid_keys(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


# --- internals -------------------------------------------------------------------------------------------

# PyYAML follows YAML 1.1, where `1e-4` is a string, `010` is octal and `1:30` is 90; recipes, `--set` values and
# saved configs are read (and written) with YAML 1.2's core-schema numbers instead, and dates stay strings.
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class _Loader(yaml.SafeLoader):
    pass


class _Dumper(yaml.SafeDumper):  # the same resolvers: a string that reads back as a number gets quoted
    pass


def _int(loader, node) -> int:
    text = loader.construct_scalar(node)
    base = {"0o": 8, "0x": 16}.get(text[:2], 10)
    return int(text[2:] if base != 10 else text, base)


for _cls in (_Loader, _Dumper):
    _cls.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT, "tag:yaml.org,2002:timestamp")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _cls.add_implicit_resolver(_INT, _INT_RE, list("-+0123456789"))  # before float: `1` is an int
    _cls.add_implicit_resolver(_FLOAT, _FLOAT_RE, list("-+.0123456789"))
_Loader.add_constructor(_INT, _int)


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _deep_copy(tree: dict) -> dict:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in tree.items()}


def _set_dotted(tree: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    if parts[0] not in TOP_LEVEL:
        raise WeaklabError(f"unknown config key {key!r}; top-level keys are: {', '.join(TOP_LEVEL)}")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if isinstance(child, str) and part == "method":  # `method: mean_teacher` shorthand
            child = {"name": child}
        if not isinstance(child, dict):
            child = {}
        node[part] = child
        node = child
    node[parts[-1]] = value


def _renamed(values: dict, renames: dict, where: str) -> dict:
    out = dict(values)
    for old, new in renames.items():
        if old in out:
            if new in out:
                raise WeaklabError(f"{where}.{old} is the old name of {where}.{new}; give only {where}.{new}")
            out[new] = out.pop(old)
    return out


def _check_keys(tree: dict, allowed, where: str) -> None:
    unknown = [k for k in tree if k not in allowed]
    if unknown:
        place = f" in section '{where}'" if where else ""
        raise WeaklabError(
            f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}{place}; "
            f"valid keys are: {', '.join(allowed)}"
        )


def _build(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise WeaklabError(f"config section '{where}' must be a mapping, got {values!r}")
    values = _renamed(values, RENAMED.get(where, {}), where)
    _check_keys(values, valid_keys(cls), where if where != "method" else f"method ({cls.name})")
    hints = typing.get_type_hints(cls)
    intervals = {f.name: f.metadata["interval"] for f in dataclasses.fields(cls) if "interval" in f.metadata}
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    for k, v in kwargs.items():
        if k in intervals and v is not None:
            _check_interval(v, intervals[k], f"{where}.{k}")
    for k, v in kwargs.items():  # schedule lengths are checked now, before any data is loaded
        if hints[k] == LENGTH:
            span.parse(v, f"{where}.{k}")
        elif k == "lr_milestones":
            for m in v:
                span.parse(m, f"{where}.{k}")
    return cls(**kwargs)


def _options(hint) -> tuple:
    """The alternatives of a union type (`X | None`, `Optional[X]`); `(hint,)` for any other type."""
    return typing.get_args(hint) if typing.get_origin(hint) in (types.UnionType, typing.Union) else (hint,)


def _coerce(value: Any, hint, key: str) -> Any:
    """Check a value against a field's type; ints are accepted where floats are expected."""
    options = _options(hint)
    if value is None:
        if type(None) in options:
            return None
        raise WeaklabError(f"config key {key} may not be empty (null)")
    allowed = choices(hint)
    if allowed:
        if value in allowed:
            return value
        raise WeaklabError(
            f"config key {key} must be one of {', '.join(map(str, allowed))}"
            f"{' or null' if type(None) in options else ''}, got {value!r}"
        )
    for option in options:
        if option is type(None):
            continue
        base = typing.get_origin(option) or option
        if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if base is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if base is int and isinstance(value, float) and value.is_integer():  # `1e3` is a YAML 1.2 float
            return int(value)
        if base is bool and isinstance(value, bool):
            return value
        if base is str and isinstance(value, str):
            return value
        if base is list and isinstance(value, (list, tuple)):
            return list(value)
    names = " or ".join("null" if o is type(None) else getattr(o, "__name__", str(o)) for o in options)
    raise WeaklabError(f"config key {key} expects {names}, got {value!r}")


def _check_interval(value: float, interval: str, key: str) -> None:
    """`value` within `interval`, written "[0, 1)" (brackets: closed, parentheses: open, inf: unbounded)."""
    low, high = (float(x) for x in interval[1:-1].split(","))
    above = value > low if interval[0] == "(" else value >= low
    below = value < high if interval[-1] == ")" else value <= high
    if not (above and below):
        if high == float("inf"):  # a lower bound only: say it in words
            bound = f"above {low:g}" if interval[0] == "(" else f"at least {low:g}"
            raise WeaklabError(f"config key {key} must be {bound}, got {value!r}")
        raise WeaklabError(f"config key {key} must be in {interval}, got {value!r}")
