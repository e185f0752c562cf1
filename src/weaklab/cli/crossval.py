"""`weaklab crossval-probs`: out-of-sample class probabilities by K-fold cross-validation."""

from __future__ import annotations

from pathlib import Path

from ..errors import WeaklabError
from .overrides import add_run_flags, add_set, config_overrides, run_flags


def add_parsers(sub) -> None:
    cv = sub.add_parser(
        "crossval-probs",
        help="out-of-sample class probabilities by K-fold cross-validation",
        description="Train K runs, each with one fold of the training labels hidden, and write "
        "pred_probs_out_of_sample.npy (cleanlab's pred_probs layout) and label_issues.csv.",
    )
    add_run_flags(cv)
    cv.add_argument("--folds", type=int, default=5, help="K, the number of folds and runs (default: %(default)s)")
    cv.add_argument("--out", required=True, help="directory for the K runs and the results")
    add_set(cv)
    cv.set_defaults(func=cmd_crossval_probs)


def cmd_crossval_probs(args) -> int:
    from ..config import resolve
    from ..engine.crossval import crossval_probs

    overrides = config_overrides(args, run_flags(args))
    if args.folds < 2:
        raise WeaklabError(f"--folds must be at least 2, got {args.folds}")
    crossval_probs(resolve(args.config, overrides), args.folds, Path(args.out))
    return 0
