"""The one path from command-line flags and `--set KEY=VALUE` to the dotted config overrides, and the flags that
`train`, `crossval-probs` and `sweep` share (a flag left out keeps the recipe's value, so their help says so)."""

from __future__ import annotations

RECIPE = "default: from the recipe / config"


def from_recipe(section, key: str) -> str:
    """Help text for a flag that overrides config key `key`: the recipe's value, else the config's default."""
    import dataclasses

    default = next(f.default for f in dataclasses.fields(section) if f.name == key)
    return f"{RECIPE}, else {default}"


def add_run_flags(p) -> None:
    """--config, --method, --dataset, --data-root, --epochs, --noise, --noise-rate, --partial, --partial-rate,
    --partial-noise, --seed, --tracking (see run_flags)."""
    from ..config import Config, DataConfig, TrainConfig, field_choices

    p.add_argument("--config", metavar="FILE", help="recipe YAML file (default: none, the built-in defaults)")
    p.add_argument("--method", help=f"method name, see `weaklab methods` ({RECIPE}, else supervised)")
    p.add_argument(
        "--dataset",
        help=f"dataset name (see `weaklab data list`) or a path to your data ({from_recipe(DataConfig, 'dataset')})",
    )
    p.add_argument("--data-root", help=f"where the dataset files live ({RECIPE})")
    p.add_argument(
        "--epochs",
        type=int,
        help=f"passes over the unlabeled stream; schedules given as shares scale with it "
        f"({from_recipe(TrainConfig, 'epochs')})",
    )
    p.add_argument(
        "--noise",
        choices=field_choices(DataConfig, "noise"),
        metavar="KIND",
        help=f"label noise: %(choices)s ({from_recipe(DataConfig, 'noise')})",
    )
    p.add_argument(
        "--noise-rate",
        type=float,
        help=f"share of training labels made wrong ({from_recipe(DataConfig, 'noise_rate')})",
    )
    p.add_argument(
        "--partial",
        choices=field_choices(DataConfig, "partial"),
        metavar="GENERATOR",
        help=f"candidate sets (partial labels) drawn by: %(choices)s ({RECIPE}, else none; with --partial-rate: pico)",
    )
    p.add_argument(
        "--partial-rate",
        type=float,
        metavar="Q",
        help="candidate sets: probability that each wrong class joins a sample's set; composes with "
        f"--labels-per-class / --labeled-fraction (sets on the labeled samples) ({from_recipe(DataConfig, 'partial_rate')})",
    )
    p.add_argument(
        "--partial-noise",
        type=float,
        metavar="R",
        help="noisy candidate sets: a share R of the sets drawn around a wrong label, so the true label is missing "
        "from them (the same as --noise symmetric --noise-rate R with candidate sets) (default: none)",
    )
    p.add_argument(
        "--seed",
        type=int,
        help=f"the run's seed: labeled subset, initial weights, batch order ({from_recipe(Config, 'seed')})",
    )
    p.add_argument(
        "--tracking",
        choices=field_choices(TrainConfig, "tracking"),
        help="mlflow: also log params, each evaluation's metrics, the summary and plots to MLflow "
        "(MLFLOW_TRACKING_URI, else ./mlruns; pip install 'weaklab[mlflow]') "
        f"({from_recipe(TrainConfig, 'tracking')})",
    )


def run_flags(args) -> dict:
    """The overrides of the flags add_run_flags added (None: not given)."""
    from ..errors import WeaklabError

    if args.partial_noise is not None and (args.noise is not None or args.noise_rate is not None):
        raise WeaklabError(
            "--partial-noise is symmetric noise on candidate sets; give it or --noise/--noise-rate, not both"
        )
    if args.partial_noise is not None and args.partial is None and args.partial_rate is None:
        raise WeaklabError("--partial-noise makes candidate sets noisy; give --partial-rate (or --partial) with it")
    return {
        "method.name": args.method,
        "data.dataset": args.dataset,
        "data.root": args.data_root,
        "train.epochs": args.epochs,
        "data.noise": "symmetric" if args.partial_noise is not None else args.noise,
        "data.noise_rate": args.partial_noise if args.partial_noise is not None else args.noise_rate,
        "data.partial": args.partial or ("pico" if args.partial_rate is not None else None),
        "data.partial_rate": args.partial_rate,
        "seed": args.seed,
        "train.tracking": args.tracking,
    }


def add_set(p, example: str = "train.lr=0.01") -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config key, e.g. {example}; repeatable, wins over the flags (default: none)",
    )


def config_overrides(args, flags: dict | None = None) -> dict:
    """Dotted config key -> value: the `flags` that were given (None means not given), then every
    `--set KEY=VALUE` of `args` in order, so a `--set` wins over a flag for the same key."""
    from ..config import parse_assignment

    overrides = {key: value for key, value in (flags or {}).items() if value is not None}
    overrides.update(parse_assignment(s) for s in args.set)
    return overrides
