"""A sweep's search space: dotted config keys and how each is drawn.

    train.lr:            {low: 0.0003, high: 0.03, log: true}   # a float setting: log-uniform
    method.threshold:    {low: 0.7, high: 0.98}                 # uniform
    train.batch_labeled: {low: 16, high: 64, step: 16}          # an int setting: integers
    method.evaluate:     {choices: [ema, student]}

A method's default space comes from its settings: the lr and weight decay every run has, and each of the
method's settings that has a row in SETTINGS below (its main weight or threshold). A weight is searched around
the run's own value (a recipe's lr 0.1 over [0.01, 1]), a share or threshold over a fixed range. A `--space`
YAML file edits the default: a key it gives replaces or adds that entry, `key: null` drops it. Every bound is
checked against the config's own types and intervals before a trial runs.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..config import Config, load_yaml, resolve
from ..engine.logger import flatten
from ..errors import WeaklabError


@dataclass(frozen=True)
class Around:
    """Log-uniform from `below` to `above` times the run's value (skipped where that value is 0)."""

    below: float
    above: float

    def entry(self, value) -> dict | None:
        return {"low": _round(value * self.below), "high": _round(value * self.above), "log": True} if value else None


@dataclass(frozen=True)
class Between:
    low: float
    high: float
    log: bool = False

    def entry(self, value) -> dict | None:
        return {"low": self.low, "high": self.high, "log": self.log}


TRAIN: dict[str, Around | Between] = {"train.lr": Around(0.1, 10), "train.weight_decay": Between(1e-6, 1e-3, log=True)}
# A method's settings by name: a method gets the rows of the settings it has (no method is named here).
SETTINGS: dict[str, Around | Between] = {
    "consistency_weight": Around(0.1, 3),  # Π-model, Temporal Ensembling, Mean Teacher: w_max
    "unlabeled_weight": Around(0.25, 4),  # the FixMatch family's λ_u, UCVME's w_ulb
    "lambda_max": Around(0.1, 10),  # PL-CR
    "fairness_weight": Around(0.1, 10),  # FreeMatch
    "threshold": Between(0.7, 0.98),  # FixMatch, FlexMatch: τ
    "n_sigma": Between(1.0, 3.0),  # SoftMatch
    "ensemble_momentum": Between(0.4, 0.8),  # Temporal Ensembling: α
    "q": Between(0.3, 1.0),  # GCE
    "beta": Between(0.5, 0.9),  # SCN: the high-importance share
    "margin2": Between(0.05, 0.4),  # SCN: the relabeling margin
}
NOT_SEARCHED = ("method.name", "out")  # another method's settings; where the trial's run is written
ENTRY_KEYS = ("low", "high", "log", "step", "choices")


def default_space(config: Config) -> dict[str, dict]:
    """The method's default space, around the values of `config` (the recipe and flags)."""
    values = flatten(config.to_dict(), sep=".")
    rows = [*TRAIN.items(), *((f"method.{name}", rule) for name, rule in SETTINGS.items())]
    space = {}
    for key, rule in rows:
        if key in values and (entry := rule.entry(values[key])) is not None:
            space[key] = entry
    return checked(space, config, "the default search space")


def load_space(config: Config, path: str | Path | None) -> dict[str, dict]:
    """The default space edited by the YAML file at `path` (None: the default as it is)."""
    space = default_space(config)
    if path is None:
        return space
    if not Path(path).is_file():
        raise WeaklabError(f"search space file {path} does not exist")
    edits = load_yaml(path)  # a mapping, or a one-line error
    for key, entry in edits.items():
        if entry is None:
            space.pop(str(key), None)
        else:
            space[str(key)] = entry
    if not space:
        raise WeaklabError(f"the search space in {path} is empty; give at least one key to search")
    return checked(space, config, f"search space {path}")


def suggest(trial, space: dict[str, dict]) -> dict:
    """The trial's value of each key: the overrides its run is resolved with."""
    params = {}
    for key, e in space.items():
        if "choices" in e:
            params[key] = trial.suggest_categorical(key, e["choices"])
        elif isinstance(e["low"], int):
            params[key] = trial.suggest_int(key, e["low"], e["high"], step=e.get("step") or 1, log=e["log"])
        else:
            params[key] = trial.suggest_float(key, e["low"], e["high"], step=e.get("step"), log=e["log"])
    return params


def describe(space: dict[str, dict]) -> str:
    """One line: `train.lr [0.0003, 0.03] log, method.evaluate {ema, student}`."""

    def one(e: dict) -> str:
        if "choices" in e:
            return "{" + ", ".join(map(str, e["choices"])) + "}"
        return (
            f"[{e['low']:g}, {e['high']:g}]"
            + (" log" if e["log"] else "")
            + (f" step {e['step']:g}" if e.get("step") else "")
        )

    return ", ".join(f"{key} {one(e)}" for key, e in space.items())


def to_yaml(space: dict[str, dict]) -> str:
    return yaml.safe_dump(space, sort_keys=False, default_flow_style=None)


def checked(space: dict, config: Config, where: str) -> dict[str, dict]:
    """Each entry in its plain form (bounds of the setting's own type; `log` given), or a one-line error."""
    base = config.to_dict()
    return {key: _entry(key, entry, base, config, f"{where}: {key}") for key, entry in space.items()}


def _entry(key: str, entry, base: dict, config: Config, where: str) -> dict:
    if key in NOT_SEARCHED:
        raise WeaklabError(f"{where} cannot be searched (one sweep searches one method, and writes its own runs)")
    if not isinstance(entry, dict) or not entry:
        raise WeaklabError(
            f"{where} must be a mapping such as {{low: 0.001, high: 0.1, log: true}} or {{choices: [a, b]}}"
        )
    unknown = [k for k in entry if k not in ENTRY_KEYS]
    if unknown:
        raise WeaklabError(f"{where} has unknown field {unknown[0]!r}; the fields are {', '.join(ENTRY_KEYS)}")
    if "choices" in entry:
        choices = entry["choices"]
        if set(entry) != {"choices"} or not isinstance(choices, list) or not choices:
            raise WeaklabError(f"{where}: give either a non-empty list of choices or low and high, not both")
        if any(isinstance(c, (list, dict)) for c in choices):
            raise WeaklabError(f"{where}: each choice must be one value (a number, a word, true/false or null)")
        for c in choices:
            _resolves(base, key, c, where)
        return {"choices": list(choices)}
    if "low" not in entry or "high" not in entry:
        raise WeaklabError(f"{where} needs low and high (or choices)")
    integer = _is_int_setting(config, key, where)
    low, high = (_number(entry[b], integer, f"{where}.{b}") for b in ("low", "high"))
    log, step = entry.get("log", False), entry.get("step")
    if not low < high:
        raise WeaklabError(f"{where}: low must be below high, got {low} and {high}")
    if not isinstance(log, bool):
        raise WeaklabError(f"{where}.log must be true or false, got {log!r}")
    if log and low <= 0:
        raise WeaklabError(f"{where}: a log scale needs low above 0, got {low}")
    if step is not None:
        step = _number(step, integer, f"{where}.step")
        if step <= 0 or log:
            raise WeaklabError(f"{where}.step must be above 0 and cannot go with log: true, got {step}")
    for bound in (low, high):
        _resolves(base, key, bound, where)
    return {"low": low, "high": high, "log": log, **({"step": step} if step is not None else {})}


def _resolves(base: dict, key: str, value, where: str) -> None:
    """The value passes the config's own checks (key, type, interval) for `key`."""
    try:
        resolve(base, {key: value})
    except WeaklabError as e:
        raise WeaklabError(f"{where}: {e}") from None


def _is_int_setting(config: Config, key: str, where: str) -> bool:
    """Whether `key` is an integer setting (searched over integers); an unknown key is a one-line error."""
    *path, name = key.split(".")
    node: object = config
    for part in path:
        node = getattr(node, part, None)
    hints = typing.get_type_hints(type(node)) if node is not None and hasattr(node, "__dataclass_fields__") else {}
    if name not in hints:
        _resolves(config.to_dict(), key, None, where)  # the config's own message, listing the valid keys
        raise WeaklabError(f"{where} is not a setting")
    options = typing.get_args(hints[name]) or (hints[name],)
    if int in options and float not in options:
        return True
    if float in options:
        return False
    raise WeaklabError(f"{where} is not a number setting: give its values as choices: [...]")


def _number(value, integer: bool, where: str):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WeaklabError(f"{where} must be a number, got {value!r}")
    if integer:
        if not float(value).is_integer():
            raise WeaklabError(f"{where} must be a whole number (an integer setting), got {value!r}")
        return int(value)
    return float(value)


def _round(x: float) -> float:
    """6 significant digits: 0.0003, not 0.00030000000000000003."""
    return float(f"{x:.6g}")
