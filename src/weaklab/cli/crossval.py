"""`weaklab crossval-probs`: out-of-sample class probabilities by K-fold cross-validation."""

from __future__ import annotations

from pathlib import Path

from ..errors import WeaklabError
from .overrides import config_overrides


def add_parsers(sub) -> None:
    cv = sub.add_parser(
        "crossval-probs",
        help="out-of-sample class probabilities by K-fold cross-validation",
        description="Train K runs, each with one fold of the training labels hidden, and write "
        "pred_probs_out_of_sample.npy (cleanlab's pred_probs layout) and label_issues.csv.",
    )
    cv.add_argument("--config", help="recipe YAML file")
    cv.add_argument("--method")
    cv.add_argument("--dataset")
    cv.add_argument("--data-root")
    cv.add_argument("--seed", type=int)
    cv.add_argument("--folds", type=int, default=5)
    cv.add_argument("--out", required=True, help="directory for the K runs and the results")
    cv.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)"
    )
    cv.set_defaults(func=cmd_crossval_probs)


def cmd_crossval_probs(args) -> int:
    from ..config import resolve
    from ..engine.crossval import crossval_probs

    flags = {"method.name": args.method, "data.dataset": args.dataset, "data.root": args.data_root, "seed": args.seed}
    overrides = config_overrides(args, flags)
    if args.folds < 2:
        raise WeaklabError(f"--folds must be at least 2, got {args.folds}")
    crossval_probs(resolve(args.config, overrides), args.folds, Path(args.out))
    return 0
