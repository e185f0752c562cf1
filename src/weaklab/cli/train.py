"""`weaklab train`, `resume`, `eval` and `predict`: one run, from its flags to its summary line and predictions."""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

from ..errors import WeaklabError
from .overrides import RECIPE, add_run_flags, add_set, config_overrides, from_recipe, run_flags


def add_parsers(sub) -> None:
    from ..config import DataConfig, ModelConfig, TrainConfig, field_choices  # the allowed values, declared once

    t = sub.add_parser(
        "train",
        help="train a method",
        description="Train a method. Precedence: defaults < --config file < command line.",
    )
    add_run_flags(t)
    t.add_argument(
        "--target-column", help="your table / CSV: the label or target column (default: a column named label or target)"
    )
    t.add_argument(
        "--task",
        choices=field_choices(DataConfig, "task"),
        help=f"your data, where it cannot be inferred ({RECIPE}, else inferred)",
    )
    t.add_argument(
        "--image-size",
        type=int,
        help=f"your images: resize once to this side in pixels ({RECIPE}, else the first image's size)",
    )
    t.add_argument(
        "--image-shape",
        metavar="HxW|CxHxW",
        help=f"your table or N×D array: read each row as an image of this shape, e.g. 28x28 for a CSV of 784 pixel "
        f"columns ({RECIPE}, else rows are features)",
    )
    t.add_argument(
        "--bad-images",
        choices=field_choices(DataConfig, "bad_images"),
        help=f"your images: one that fails to decode stops the run, or is skipped and reported "
        f"({from_recipe(DataConfig, 'bad_images')})",
    )
    t.add_argument(
        "--missing-targets",
        choices=field_choices(DataConfig, "missing_targets"),
        help=f"your table / CSV: a row whose target is empty or NaN stops the run, or is kept as an unlabeled "
        f"sample ({from_recipe(DataConfig, 'missing_targets')})",
    )
    t.add_argument(
        "--filename-target",
        choices=field_choices(DataConfig, "filename_target"),
        help=f"your image folder: read targets from file names ({RECIPE}, else none)",
    )
    t.add_argument(
        "--extra-unlabeled",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"add the dataset's extra unlabeled split ({RECIPE}, else STL-10 yes, SVHN extra no)",
    )
    t.add_argument(
        "--labels-per-class",
        type=int,
        help=f"keep K labels per class, hide the rest ({RECIPE}; with neither this nor --labeled-fraction, all)",
    )
    t.add_argument(
        "--labeled-fraction",
        type=float,
        help=f"keep this fraction of labels per class ({RECIPE}; with neither this nor --labels-per-class, all)",
    )
    t.add_argument(
        "--model",
        choices=field_choices(ModelConfig, "name"),
        metavar="NAME",
        help=f"network: %(choices)s; auto picks by the input ({from_recipe(ModelConfig, 'name')})",
    )
    t.add_argument(
        "--pretrained",
        metavar="PATH",
        help=f"initial weights (torchvision layout, `module.` prefix or `state_dict` nesting) ({RECIPE}, else "
        "none: random initialisation)",
    )
    t.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"random horizontal flips in the views ({RECIPE}, else only where the dataset says a mirror keeps "
        "the meaning; off for your own data, digits, letters and angles)",
    )
    t.add_argument("--device", help=f"auto | cpu | cuda | cuda:N ({from_recipe(TrainConfig, 'device')})")
    t.add_argument("--out", help=f"run directory ({RECIPE}, else runs/<method>-<dataset>-seed<seed>-<time>)")
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="train into --out even if it already holds a run, replacing it (default: refuse; resume it instead)",
    )
    t.add_argument(
        "--quiet", action="store_true", help="no progress output at all; sets train.progress=false (default: off)"
    )
    add_set(t)
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("resume", help="continue a stopped run from its last checkpoint")
    r.add_argument("run_dir", help="the run directory")
    r.set_defaults(func=cmd_resume)

    e = sub.add_parser("eval", help="re-evaluate a run's selected checkpoint")
    e.add_argument("run_dir", help="the run directory")
    e.add_argument(
        "--split", default="test", choices=["test", "val"], help="the split to evaluate (default: %(default)s)"
    )
    e.set_defaults(func=cmd_eval)

    pr = sub.add_parser(
        "predict", help="write class probabilities (or regression predictions with uncertainty) for new samples"
    )
    pr.add_argument("run_dir", help="a finished run directory")
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
        help="an image that cannot be decoded: stop with its name, or skip it and say so (default: %(default)s)",
    )
    pr.add_argument(
        "--resize",
        action="store_true",
        help="resize images of another size to the run's input size (default: such an image is an error, "
        "unless the run itself resized to data.image_size)",
    )
    pr.add_argument("--output", required=True, help="CSV file to write (not the input, nor inside an input folder)")
    pr.add_argument(
        "--level",
        type=float,
        default=0.9,
        help="regression: nominal level of the central predictive interval (default: %(default)s)",
    )
    pr.set_defaults(func=cmd_predict)


def cmd_train(args) -> int:
    from ..api import train
    from ..config import resolve

    flags = {
        **run_flags(args),
        "data.target_column": args.target_column,
        "data.task": args.task,
        "data.image_size": args.image_size,
        "data.image_shape": args.image_shape,
        "data.bad_images": args.bad_images,
        "data.missing_targets": args.missing_targets,
        "data.filename_target": args.filename_target,
        "data.extra_unlabeled": args.extra_unlabeled,
        "data.labels_per_class": args.labels_per_class,
        "data.labeled_fraction": args.labeled_fraction,
        "model.name": args.model,
        "model.pretrained": args.pretrained,
        "views.flip": args.flip,
        "train.device": args.device,
        "train.progress": False if args.quiet else None,
        "out": args.out,
    }
    return _report(train(resolve(args.config, config_overrides(args, flags)), overwrite=args.overwrite))


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

    _check_output(Path(args.input), Path(args.output))
    run = load_run(args.run_dir)
    resize = args.resize or run.config.data.image_size is not None  # the run resized its own images: so does predict
    x, names = load_inputs(Path(args.input), run.input_shape, args.bad_images, resize)
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


def _check_output(source: Path, out: Path) -> None:
    """Refuse an --output that would overwrite the input, land inside the image folder being read, or is a folder;
    checked before anything is read or written."""
    source, target = source.expanduser().resolve(), out.expanduser().resolve()
    if target == source or (target.exists() and source.exists() and os.path.samefile(target, source)):
        raise WeaklabError(f"--output {out} is the --input file; write the predictions to another file")
    if source.is_dir() and target.is_relative_to(source):
        raise WeaklabError(f"--output {out} is inside the --input folder {source}; write the predictions elsewhere")
    if target.is_dir():
        raise WeaklabError(f"--output {out} is a folder; give the path of a CSV file to write")


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
