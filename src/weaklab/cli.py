"""The `weaklab` command line. User mistakes end with a one-line error and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from . import __version__
from .errors import TrainingDiverged, WeaklabError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except WeaklabError as e:
        print(f"weaklab: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"weaklab: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        out = getattr(args, "out", None) or getattr(args, "run_dir", None)
        hint = f"; continue with `weaklab resume {out}`" if out else ""
        print(f"weaklab: interrupted{hint}", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="weaklab", description="Train deep networks from imperfect labels.")
    p.add_argument("--version", action="version", version=f"weaklab {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a method", description="Train a method. Precedence: defaults < --config file < command line.")
    t.add_argument("--method", help="method name (see `weaklab methods`)")
    t.add_argument("--dataset", help="dataset name (default digits)")
    t.add_argument("--data-root", help="where the dataset files live")
    t.add_argument("--labels-per-class", type=int, help="keep K labels per class, hide the rest")
    t.add_argument("--labeled-fraction", type=float, help="keep this fraction of labels per class")
    t.add_argument("--model", help="cnn13 | wrn28_2 | small_cnn | mlp | auto")
    t.add_argument("--epochs", type=int)
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    t.add_argument("--seed", type=int)
    t.add_argument("--out", help="run directory (default runs/<method>-<dataset>-seed<seed>-<time>)")
    t.add_argument("--config", help="recipe YAML file")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. train.lr=0.01 (repeatable)")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("resume", help="continue a stopped run from its last checkpoint")
    r.add_argument("run_dir")
    r.set_defaults(func=cmd_resume)

    e = sub.add_parser("eval", help="re-evaluate a run's selected checkpoint")
    e.add_argument("run_dir")
    e.add_argument("--split", default="test", choices=["test", "val"])
    e.set_defaults(func=cmd_eval)

    pr = sub.add_parser("predict", help="write class probabilities (or regression predictions with uncertainty) for new samples")
    pr.add_argument("run_dir")
    pr.add_argument("--input", required=True, help=".npy array (or .npz with an `x` array) in the training data's raw units")
    pr.add_argument("--output", required=True, help="CSV file to write")
    pr.add_argument("--level", type=float, default=0.9, help="regression: nominal level of the central predictive interval")
    pr.set_defaults(func=cmd_predict)

    m = sub.add_parser("methods", help="list the methods and their settings")
    m.set_defaults(func=cmd_methods)

    d = sub.add_parser("demo", help="supervised vs Mean Teacher on the embedded digits, 5 labels per class")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--epochs", type=int, default=None, help="shorter or longer than the demo recipe")
    d.set_defaults(func=cmd_demo)

    b = sub.add_parser("bench", help="benchmarks")
    bsub = b.add_subparsers(dest="bench", metavar="BENCH", required=True)
    q = bsub.add_parser("quality", help="supervised, Π, TE and MT on digits, several seeds: mean ± std test accuracy")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--methods", nargs="+", default=["supervised", "pi_model", "temporal_ensembling", "mean_teacher"])
    q.add_argument("--labels-per-class", type=int, default=5)
    q.add_argument("--epochs", type=int, default=None)
    q.add_argument("--out", default="runs/bench-quality")
    q.add_argument("--write", help="Markdown file whose quality table to replace (e.g. BENCHMARKS.md)")
    q.set_defaults(func=cmd_bench_quality)
    rg = bsub.add_parser("regression", help="supervised, Mean Teacher, Temporal Ensembling and UCVME on digits_rotation")
    rg.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    rg.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.1], help="labeled fractions")
    rg.add_argument("--methods", nargs="+", default=None, help="variants (default: supervised supervised_nll mean_teacher temporal_ensembling ucvme)")
    rg.add_argument("--epochs", type=int, default=None)
    rg.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key for every run")
    rg.add_argument("--out", default="runs/bench-regression")
    rg.add_argument("--write", help="Markdown file whose regression table to replace (e.g. BENCHMARKS.md)")
    rg.set_defaults(func=cmd_bench_regression)
    return p


def train_overrides(args) -> dict:
    from .config import parse_assignment

    flags = {
        "method.name": args.method,
        "data.dataset": args.dataset,
        "data.root": args.data_root,
        "data.labels_per_class": args.labels_per_class,
        "data.labeled_fraction": args.labeled_fraction,
        "model.name": args.model,
        "train.epochs": args.epochs,
        "train.device": args.device,
        "seed": args.seed,
        "out": args.out,
    }
    overrides = {k: v for k, v in flags.items() if v is not None}
    overrides.update(parse_assignment(s) for s in args.set)
    return overrides


def cmd_train(args) -> int:
    from .api import train
    from .config import resolve

    config = resolve(args.config, train_overrides(args))
    run = train(config)
    _print_summary(run.summary, run.directory)
    return 0


def cmd_resume(args) -> int:
    from .api import resume

    run = resume(args.run_dir)
    _print_summary(run.summary, run.directory)
    return 0


def cmd_eval(args) -> int:
    from .api import load_run

    run = load_run(args.run_dir)
    metrics = run.evaluate(args.split)
    print(json.dumps({args.split: metrics, "selected_step": run.summary["selected"]["step"]}, indent=2))
    return 0


def cmd_predict(args) -> int:
    import numpy as np

    from .api import load_run

    run = load_run(args.run_dir)
    x = _load_array(Path(args.input))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    if run.is_regression:
        return _write_regression_predictions(run, x, out, args.level)
    probs = run.predict_proba(x)
    classes = run.classes
    with out.open("w") as f:
        f.write(",".join(["index", "prediction", *(f"p_{c}" for c in classes)]) + "\n")
        for i, row in enumerate(probs):
            f.write(",".join([str(i), classes[int(np.argmax(row))], *(f"{p:.6g}" for p in row)]) + "\n")
    print(f"wrote {len(probs)} predictions to {out}")
    return 0


def _write_regression_predictions(run, x, out: Path, level: float) -> int:
    """One row per sample, in original target units: prediction, spreads, central interval at `level`."""
    columns = run.predict(x, uncertainty=True, level=level)
    pct = f"{100 * level:g}"
    names = ["prediction", "aleatoric_std", "epistemic_std", "total_std", f"lower_{pct}", f"upper_{pct}"]
    keys = ["prediction", "aleatoric_std", "epistemic_std", "total_std", "lower", "upper"]
    with out.open("w") as f:
        f.write(",".join(["index", *names]) + "\n")
        for i in range(len(columns["prediction"])):
            f.write(",".join([str(i), *(f"{columns[k][i]:.6g}" for k in keys)]) + "\n")
    print(f"wrote {len(columns['prediction'])} predictions with {pct}% intervals to {out}")
    return 0


def cmd_methods(args) -> int:
    from .methods import METHODS

    for name, cls in METHODS.items():
        settings = ", ".join(f"{f.name}={f.default}" for f in dataclasses.fields(cls.Settings) if f.name != "name")
        print(f"{name:<20} {cls.description}" + (f"  [{settings}]" if settings else ""))
    return 0


def cmd_demo(args) -> int:
    from .bench import demo

    demo(Path(args.out), epochs=args.epochs)
    return 0


def cmd_bench_quality(args) -> int:
    from .bench import quality

    quality(args.methods, args.seeds, args.labels_per_class, Path(args.out), epochs=args.epochs, write=args.write)
    return 0


def cmd_bench_regression(args) -> int:
    from .bench_regression import DEFAULT_VARIANTS, VARIANTS, regression
    from .config import parse_assignment

    variants = args.methods or DEFAULT_VARIANTS
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise WeaklabError(f"unknown regression benchmark method {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    extra = dict(parse_assignment(s) for s in args.set)
    regression(variants, args.seeds, args.fractions, Path(args.out), epochs=args.epochs, write=args.write, extra=extra)
    return 0


def _load_array(path: Path):
    import numpy as np

    if not path.is_file():
        raise WeaklabError(f"input file {path} does not exist")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:
        raise WeaklabError(f"cannot read {path} as a NumPy .npy/.npz file ({type(e).__name__}: {e})") from None
    if hasattr(data, "files"):
        if "x" not in data.files:
            raise WeaklabError(f"{path} holds arrays {', '.join(data.files)}; predict needs one named `x`")
        data = data["x"]
    return data


def _print_summary(summary: dict | None, run_dir: Path) -> None:
    if summary is None:
        return
    test = summary["test"]
    if "mae" in test:
        print(
            f"{summary['method']} on {summary['dataset']} (seed {summary['seed']}): test MAE {test['mae']:.4g}, "
            f"RMSE {test['rmse']:.4g}, R² {test['r2']:.4f}, NLL {test['nll']:.4f}, coverage@90% {test['coverage']:.3f}; "
            f"selected step {summary['selected']['step']}; {summary['wall_time_s']:.1f}s; run directory {run_dir}"
        )
        return
    print(
        f"{summary['method']} on {summary['dataset']} (seed {summary['seed']}): test accuracy {test['accuracy']:.4f}, "
        f"nll {test['nll']:.4f}, ece {test['ece']:.4f}; selected step {summary['selected']['step']}; "
        f"{summary['wall_time_s']:.1f}s; run directory {run_dir}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
