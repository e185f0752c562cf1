"""`weaklab sweep`: a hyperparameter search on Optuna, one ordinary run per trial (docs/SWEEPS.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .overrides import add_run_flags, add_set, config_overrides, run_flags


def add_parsers(sub) -> None:
    s = sub.add_parser(
        "sweep",
        help="search hyperparameters on Optuna: one run per trial, judged on validation",
        description="Search a method's hyperparameters: each trial trains one run in OUT/trial-NNNN and is judged on "
        "its selected checkpoint's validation metric (never test); a pruner stops runs that fall behind. Writes "
        "OUT/best.yaml (for weaklab train --config), OUT/trials.csv and OUT/trials.md. The same command again "
        "continues the study; with a shared --storage, each machine running it is a worker. Needs "
        "pip install 'weaklab[sweep]'.",
    )
    add_run_flags(s)
    s.add_argument(
        "--trials",
        type=int,
        default=20,
        help="the study's total of finished trials; a continued study runs what is missing (default: %(default)s)",
    )
    s.add_argument("--timeout", type=float, metavar="S", help="start no new trial after S seconds (default: no limit)")
    s.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage, e.g. postgresql://user:password@host/db shared by several machines "
        "(default: SQLite in OUT/study.db)",
    )
    s.add_argument("--study-name", help="the study in the storage (default: <method>-<dataset>)")
    s.add_argument(
        "--space",
        metavar="FILE",
        help="YAML edits of the search space: KEY: {low, high, log} or {choices: [...]}, KEY: null drops a key "
        "(default: the method's space; see --print-space)",
    )
    s.add_argument("--print-space", action="store_true", help="print the search space as YAML and exit")
    s.add_argument(
        "--pruning",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stop trials whose validation falls below the median of earlier trials at the same step (default: on)",
    )
    s.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: from the recipe / config, else auto)")
    s.add_argument(
        "--out", help="folder of the sweep: trial runs, study.db, results (default: runs/sweep-<method>-<dataset>)"
    )
    s.add_argument("--quiet", action="store_true", help="no per-step progress in the trials; sets train.progress=false")
    add_set(s)
    s.set_defaults(func=cmd_sweep, continue_hint="run the same `weaklab sweep` command again")


def cmd_sweep(args) -> int:
    from ..config import resolve
    from ..sweep import Sweep, run_sweep
    from ..sweep.space import describe, load_space, to_yaml

    flags = {
        **run_flags(args),
        "train.device": args.device,
        "train.progress": False if args.quiet else None,
    }
    config = resolve(args.config, config_overrides(args, flags))
    if args.print_space:
        space = load_space(config, args.space)
        print(f"# weaklab sweep --method {config.method.name}: {describe(space)}")
        print(to_yaml(space), end="")
        return 0
    out = Path(args.out or f"runs/sweep-{config.method.name}-{Path(config.data.dataset).stem}")
    sweep = Sweep(
        config,
        args.trials,
        out,
        storage=args.storage,
        study_name=args.study_name,
        space_file=args.space,
        timeout=args.timeout,
        pruning=args.pruning,
    )
    run_sweep(sweep)
    return 0
