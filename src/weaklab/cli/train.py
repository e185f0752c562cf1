"""`weaklab train`, `resume`, `eval` and `predict`: one run, from its flags to its summary line and predictions."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from .overrides import config_overrides


def add_parsers(sub) -> None:
    from ..config import DataConfig, field_choices  # the allowed values, declared once

    t = sub.add_parser(
        "train",
        help="train a method",
        description="Train a method. Precedence: defaults < --config file < command line.",
    )
    t.add_argument("--method", help="method name (see `weaklab methods`)")
    t.add_argument("--dataset", help="dataset name (default digits; see `weaklab data list`) or a path to your data")
    t.add_argument("--data-root", help="where the dataset files live")
    t.add_argument("--target-column", help="your table / CSV: the label or target column (default label or target)")
    t.add_argument("--task", choices=field_choices(DataConfig, "task"), help="your data: where it cannot be inferred")
    t.add_argument("--image-size", type=int, help="your images: resize once to this side in pixels")
    t.add_argument(
        "--bad-images",
        choices=field_choices(DataConfig, "bad_images"),
        help="your images: one that fails to decode (default error)",
    )
    t.add_argument(
        "--filename-target",
        choices=field_choices(DataConfig, "filename_target"),
        help="your image folder: read targets from file names",
    )
    t.add_argument(
        "--extra-unlabeled",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add the dataset's extra unlabeled split (default: STL-10 yes, SVHN extra no)",
    )
    t.add_argument("--labels-per-class", type=int, help="keep K labels per class, hide the rest")
    t.add_argument("--labeled-fraction", type=float, help="keep this fraction of labels per class")
    t.add_argument("--model", help="cnn13 | wrn28_2 | small_cnn | mlp | resnet18 | resnet50 | auto")
    t.add_argument(
        "--pretrained",
        metavar="PATH",
        help="initial weights (torchvision layout, `module.` prefix or `state_dict` nesting)",
    )
    t.add_argument(
        "--noise", help="label noise: none | given | symmetric | uniform | asymmetric | pairflip | transition"
    )
    t.add_argument("--noise-rate", type=float, help="share of training labels made wrong")
    t.add_argument("--epochs", type=int)
    t.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random horizontal flips in the views (default: only where the dataset says a mirror keeps "
        "the meaning; off for your own data, digits, letters and angles)",
    )
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    t.add_argument("--seed", type=int)
    t.add_argument("--out", help="run directory (default runs/<method>-<dataset>-seed<seed>-<time>)")
    t.add_argument("--config", help="recipe YAML file")
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. train.lr=0.01 (repeatable)",
    )
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("resume", help="continue a stopped run from its last checkpoint")
    r.add_argument("run_dir")
    r.set_defaults(func=cmd_resume)

    e = sub.add_parser("eval", help="re-evaluate a run's selected checkpoint")
    e.add_argument("run_dir")
    e.add_argument("--split", default="test", choices=["test", "val"])
    e.set_defaults(func=cmd_eval)

    pr = sub.add_parser(
        "predict", help="write class probabilities (or regression predictions with uncertainty) for new samples"
    )
    pr.add_argument("run_dir")
    pr.add_argument(
        "--input",
        required=True,
        help=".npy array (or .npz with an `x` array) in the training data's raw "
        "units, or images: one file, a folder, or a CSV with a `path` column",
    )
    pr.add_argument(
        "--bad-images",
        default="error",
        choices=field_choices(DataConfig, "bad_images"),
        help="an image that cannot be decoded: stop with its name, or skip it and say so",
    )
    pr.add_argument("--output", required=True, help="CSV file to write")
    pr.add_argument(
        "--level", type=float, default=0.9, help="regression: nominal level of the central predictive interval"
    )
    pr.set_defaults(func=cmd_predict)


def cmd_train(args) -> int:
    from ..api import train
    from ..config import resolve

    flags = {
        "method.name": args.method,
        "data.dataset": args.dataset,
        "data.root": args.data_root,
        "data.target_column": args.target_column,
        "data.task": args.task,
        "data.image_size": args.image_size,
        "data.bad_images": args.bad_images,
        "data.filename_target": args.filename_target,
        "data.extra_unlabeled": args.extra_unlabeled,
        "data.labels_per_class": args.labels_per_class,
        "data.labeled_fraction": args.labeled_fraction,
        "model.name": args.model,
        "model.pretrained": args.pretrained,
        "data.noise": args.noise,
        "data.noise_rate": args.noise_rate,
        "train.epochs": args.epochs,
        "views.flip": args.flip,
        "train.device": args.device,
        "seed": args.seed,
        "out": args.out,
    }
    return _report(train(resolve(args.config, config_overrides(args, flags))))


def cmd_resume(args) -> int:
    from ..api import resume

    return _report(resume(args.run_dir))


def _report(run) -> int:
    if run is not None:  # None: a torchrun rank other than 0; rank 0 prints
        print_summary(run.summary, run.directory)
    return 0


def print_summary(summary: dict | None, run_dir: Path) -> None:
    """The one-line result of a finished run; its task formats the test metrics."""
    if summary is None:
        return
    from ..core.task import task_from_summary

    test = task_from_summary(summary).summary_line(summary["test"])
    print(
        f"{summary['method']} on {summary['dataset']} (seed {summary['seed']}): {test}; "
        f"selected step {summary['selected']['step']}; {summary['wall_time_s']:.1f}s; run directory {run_dir}"
    )


def cmd_eval(args) -> int:
    from ..api import load_run
    from ..engine.logger import strict_json

    run = load_run(args.run_dir)
    metrics = run.evaluate(args.split)
    assert run.summary is not None  # load_run opens finished runs only
    print(strict_json({args.split: metrics, "selected_step": run.summary["selected"]["step"]}, indent=2))
    return 0


def cmd_predict(args) -> int:
    import numpy as np

    from ..api import load_run
    from ..data.sources.inputs import load_inputs

    run = load_run(args.run_dir)
    x, names = load_inputs(Path(args.input), run.input_shape, args.bad_images)
    first = "index" if Path(args.input).suffix.lower() in (".npy", ".npz") else "file"  # images: their paths
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    if run.is_regression:
        return _write_regression_predictions(run, x, names, first, out, args.level)
    probs = run.predict_proba(x)
    classes = run.classes
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([first, "prediction", *(f"p_{c}" for c in classes)])
        for name, row in zip(names, probs):
            w.writerow([name, classes[int(np.argmax(row))], *(f"{p:.6g}" for p in row)])
    print(f"wrote {len(probs)} predictions to {out}")
    return 0


def _write_regression_predictions(run, x, names, first: str, out: Path, level: float) -> int:
    """One row per sample, in original target units: prediction, spreads, central interval at `level`."""
    columns = run.predict(x, uncertainty=True, level=level)
    pct = f"{100 * level:g}"
    names_out = ["prediction", "aleatoric_std", "epistemic_std", "total_std", f"lower_{pct}", f"upper_{pct}"]
    keys = ["prediction", "aleatoric_std", "epistemic_std", "total_std", "lower", "upper"]
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([first, *names_out])
        for i, name in enumerate(names):
            w.writerow([name, *(f"{columns[k][i]:.6g}" for k in keys)])
    print(f"wrote {len(columns['prediction'])} predictions with {pct}% intervals to {out}")
    return 0
