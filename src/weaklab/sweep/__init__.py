"""Hyperparameter sweeps on Optuna (`weaklab sweep`): each trial is an ordinary run, judged on validation only.

study.py (the study: storage, trials, retries, pruning) · space.py (the search space: defaults from a method's
settings, a YAML file's edits) · results.py (trials.csv, trials.md, best.yaml). Optuna is optional
(`pip install weaklab[sweep]`) and imported only when a sweep runs.

May import: config, errors and the engine; the CLI imports this package, nothing else does.
"""

from __future__ import annotations

from .. import methods  # noqa: F401  (the methods fill the config's settings table: method.* keys resolve)
from .study import Sweep, run_sweep

__all__ = ["Sweep", "run_sweep"]
