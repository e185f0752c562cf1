"""The `weaklab` command line. User mistakes end with a one-line error and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import csv
import dataclasses
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
    t.add_argument("--dataset", help="dataset name (default digits; see `weaklab data list`) or a path to your data")
    t.add_argument("--data-root", help="where the dataset files live")
    t.add_argument("--target-column", help="your table / CSV: the label or target column (default label or target)")
    t.add_argument("--task", choices=["classification", "regression"], help="your data: where it cannot be inferred")
    t.add_argument("--image-size", type=int, help="your images: resize once to this side in pixels")
    t.add_argument("--bad-images", choices=["error", "skip"], help="your images: one that fails to decode (default error)")
    t.add_argument("--filename-target", choices=["utkface"], help="your image folder: read targets from file names")
    t.add_argument("--extra-unlabeled", action=argparse.BooleanOptionalAction, default=None,
                   help="add the dataset's extra unlabeled split (default: STL-10 yes, SVHN extra no)")
    t.add_argument("--labels-per-class", type=int, help="keep K labels per class, hide the rest")
    t.add_argument("--labeled-fraction", type=float, help="keep this fraction of labels per class")
    t.add_argument("--model", help="cnn13 | wrn28_2 | small_cnn | mlp | resnet18 | resnet50 | auto")
    t.add_argument("--pretrained", metavar="PATH", help="initial weights (torchvision layout, `module.` prefix or `state_dict` nesting)")
    t.add_argument("--noise", help="label noise: none | given | symmetric | uniform | asymmetric | pairflip | transition")
    t.add_argument("--noise-rate", type=float, help="share of training labels made wrong")
    t.add_argument("--epochs", type=int)
    t.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="random horizontal flips in the views (default: only where the dataset says a mirror keeps "
                   "the meaning; off for your own data, digits, letters and angles)")
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
    pr.add_argument("--input", required=True, help=".npy array (or .npz with an `x` array) in the training data's raw "
                    "units, or images: one file, a folder, or a CSV with a `path` column")
    pr.add_argument("--bad-images", default="error", choices=["error", "skip"],
                    help="an image that cannot be decoded: stop with its name, or skip it and say so")
    pr.add_argument("--output", required=True, help="CSV file to write")
    pr.add_argument("--level", type=float, default=0.9, help="regression: nominal level of the central predictive interval")
    pr.set_defaults(func=cmd_predict)

    cv = sub.add_parser("crossval-probs", help="out-of-sample class probabilities by K-fold cross-validation",
                        description="Train K runs, each with one fold of the training labels hidden, and write "
                        "pred_probs_out_of_sample.npy (cleanlab's pred_probs layout) and label_issues.csv.")
    cv.add_argument("--config", help="recipe YAML file")
    cv.add_argument("--method")
    cv.add_argument("--dataset")
    cv.add_argument("--data-root")
    cv.add_argument("--seed", type=int)
    cv.add_argument("--folds", type=int, default=5)
    cv.add_argument("--out", required=True, help="directory for the K runs and the results")
    cv.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)")
    cv.set_defaults(func=cmd_crossval_probs)

    m = sub.add_parser("methods", help="list the methods and their settings")
    m.set_defaults(func=cmd_methods)

    d = sub.add_parser("demo", help="supervised vs Mean Teacher on the embedded digits, 5 labels per class")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--epochs", type=int, default=None, help="shorter or longer than the demo recipe")
    d.set_defaults(func=cmd_demo)

    da = sub.add_parser("data", help="download, convert and inspect datasets")
    dsub = da.add_subparsers(dest="data", metavar="ACTION", required=True)
    dl = dsub.add_parser("download", help="fetch the official files, verify checksums, convert once to the cache")
    dl.add_argument("name")
    dl.add_argument("--root", required=True, help="data root: files go to ROOT/NAME/")
    dl.add_argument("--no-extra", action="store_true", help="skip optional parts (SVHN's 1.3 GB extra split)")
    dl.set_defaults(func=cmd_data_download)
    di = dsub.add_parser("info", help="shapes, classes, per-class counts and checksum status")
    di.add_argument("name", help="dataset name or a path to your data")
    di.add_argument("--root", help="data root (benchmarks) or the folder of your copy (rafdb, fer2013, ferplus)")
    di.add_argument("--target-column")
    di.add_argument("--task", choices=["classification", "regression"])
    di.add_argument("--image-size", type=int)
    di.add_argument("--bad-images", choices=["error", "skip"], default="error")
    di.add_argument("--filename-target", choices=["utkface"])
    di.set_defaults(func=cmd_data_info)
    dls = dsub.add_parser("list", help="the datasets known by name")
    dls.set_defaults(func=cmd_data_list)

    b = sub.add_parser("bench", help="benchmarks")
    bsub = b.add_subparsers(dest="bench", metavar="BENCH", required=True)
    q = bsub.add_parser("quality", help="supervised, Π, TE and MT on digits (or --dataset D beside scikit-learn's "
                                         "semi-supervised estimators), several seeds: mean ± std, wall time")
    q.add_argument("--dataset", help="a dataset name or your file: the methods at their defaults, with scikit-learn "
                                     "peers on the same split and time to pass the best (default: the digits recipe)")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--methods", nargs="+", default=["supervised", "pi_model", "temporal_ensembling", "mean_teacher"])
    q.add_argument("--labels-per-class", type=int, default=None, help="default 5 on the digits recipe")
    q.add_argument("--no-peers", action="store_true", help="--dataset: skip the scikit-learn estimators")
    q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="--dataset: a setting of every run")
    q.add_argument("--epochs", type=int, default=None)
    q.add_argument("--out", default="runs/bench-quality")
    q.add_argument("--write", help="Markdown file whose quality table to replace (e.g. BENCHMARKS.md)")
    q.set_defaults(func=cmd_bench_quality)
    pl = bsub.add_parser("partial", help="CC, RC, PRODEN and PL-CR on digits with candidate sets, several q and seeds")
    pl.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    pl.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.3, 0.5], help="partial rates q")
    pl.add_argument("--methods", nargs="+", default=["cc", "rc", "proden", "plcr"])
    pl.add_argument("--epochs", type=int, default=None)
    pl.add_argument("--no-reference", action="store_true", help="skip the supervised run on true labels")
    pl.add_argument("--out", default="runs/bench-partial")
    pl.add_argument("--write", help="Markdown file whose partial table to replace (e.g. BENCHMARKS.md)")
    pl.set_defaults(func=cmd_bench_partial)
    pr = bsub.add_parser("precision", help="fp32 vs bf16 autocast vs bf16 + channels_last: same methods and seeds, paired")
    pr.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    pr.add_argument("--methods", nargs="+", default=["supervised", "pi_model", "mean_teacher", "ucvme"],
                    help="classification methods run on digits; ucvme on digits_rotation")
    pr.add_argument("--device", default="auto", help="auto | cpu | cuda")
    pr.add_argument("--epochs", type=int, default=None, help="override the recipes' epochs (quick checks)")
    pr.add_argument("--out", default="runs/bench-precision")
    pr.add_argument("--write", help="Markdown file whose precision table to replace (e.g. BENCHMARKS.md)")
    pr.set_defaults(func=cmd_bench_precision)
    au = bsub.add_parser("augment", help="strong augmentation: ms per batch and per-sample randomness (vs kornia if installed)")
    au.set_defaults(func=cmd_bench_augment)
    n = bsub.add_parser("noisy", help="CE, GCE and SCN on digits with symmetric / asymmetric label noise, several seeds")
    n.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    n.add_argument("--methods", nargs="+", default=["ce", "gce", "scn", "scn-low"],
                   help="ce | gce | scn | scn-low | scn-norelabel | scn-norr | scn-plain")
    n.add_argument("--conditions", nargs="+", default=["clean", "sym20", "sym40", "asym40"])
    n.add_argument("--out", default="runs/bench-noisy")
    n.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting of every run")
    n.add_argument("--write", help="Markdown file whose noisy-labels table to replace (e.g. BENCHMARKS.md)")
    n.add_argument("--reuse", action="store_true", help="keep finished runs found under --out instead of retraining")
    n.set_defaults(func=cmd_bench_noisy)
    rg = bsub.add_parser("regression", help="supervised, Mean Teacher, Temporal Ensembling and UCVME on an embedded regression task")
    rg.add_argument("--dataset", default="digits_rotation", help="digits_rotation (default) or diabetes")
    rg.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    rg.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.1], help="labeled fractions")
    rg.add_argument("--methods", nargs="+", default=None, help="variants (default: supervised supervised_nll mean_teacher temporal_ensembling ucvme)")
    rg.add_argument("--epochs", type=int, default=None)
    rg.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key for every run")
    rg.add_argument("--out", default="runs/bench-regression")
    rg.add_argument("--write", help="Markdown file whose regression table to replace (e.g. BENCHMARKS.md)")
    rg.set_defaults(func=cmd_bench_regression)
    sp = bsub.add_parser("speed", help="steps/s of a method on synthetic images, and of the usual per-sample pipeline")
    sp.add_argument("--method", required=True)
    sp.add_argument("--model", required=True, help="cnn13 | wrn28_2 | small_cnn | ...")
    sp.add_argument("--batch", default="64+448", help="LABELED+UNLABELED global batch (default 64+448); one number for one-stream methods (PL-CR, SCN)")
    sp.add_argument("--image-size", type=int, default=32)
    sp.add_argument("--channels", type=int, default=3)
    sp.add_argument("--classes", type=int, default=10)
    sp.add_argument("--device", default="auto")
    sp.add_argument("--precision", default="auto", help="auto (bf16 on CUDA) | bf16 | fp32")
    sp.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    sp.add_argument("--windows", type=int, default=5, help="timed windows; the median is reported")
    sp.add_argument("--steps", type=int, default=5, help="steps per timed window")
    sp.add_argument("--profile-steps", type=int, default=5, help="steps of the per-phase split (device syncs)")
    sp.add_argument("--workers", type=int, default=None, help="usual pipeline: DataLoader workers (default: CPU count)")
    sp.add_argument("--no-usual", action="store_true", help="skip the usual-pipeline comparison")
    sp.add_argument("--compile", action="store_true", help="torch.compile the method's networks")
    sp.add_argument("--task", default="auto", choices=["auto", "classification", "regression"],
                    help="synthetic targets: auto = regression for regression-only methods (ucvme) and "
                         "method.heteroscedastic, classification otherwise")
    sp.add_argument("--store", choices=["device", "host"], default=None,
                    help="training split on the device, or memory-mapped from a .npy file and copied per batch (host)")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    sp.add_argument("--out", default="runs/bench-speed", help="folder for the JSON record")
    sp.add_argument("--write", help="Markdown file whose speed table gets this row (e.g. BENCHMARKS.md)")
    sp.set_defaults(func=cmd_bench_speed)
    return p


def train_overrides(args) -> dict:
    from .config import parse_assignment

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
        "views.flip": getattr(args, "flip", None),
        "train.device": args.device,
        "seed": args.seed,
        "out": args.out,
    }
    overrides = {k: v for k, v in flags.items() if v is not None}
    overrides.update(parse_assignment(s) for s in args.set)
    return overrides


def cmd_bench_speed(args) -> int:
    import shlex

    from .bench import speed as bench_speed
    from .config import parse_assignment
    from .engine.distributed import World

    import os

    command = "weaklab " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "weaklab bench speed"
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        command = f"torchrun --nproc-per-node {os.environ['WORLD_SIZE']} --no-python {command}"
    if "OMP_NUM_THREADS" in os.environ:
        command = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} {command}"
    record = bench_speed.speed(
        args.method, args.model, args.batch, args.image_size, channels=args.channels, classes=args.classes,
        device=args.device, precision=args.precision, warmup=args.warmup, windows=args.windows, steps=args.steps,
        profile_steps=args.profile_steps, workers=args.workers, usual=not args.no_usual, compile=args.compile,
        task=args.task, store=args.store, overrides=dict(parse_assignment(s) for s in args.set), command=command,
    )
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    path = bench_speed.save_record(Path(args.out), record)
    print(bench_speed.HEADER)
    print(bench_speed.markdown_row(record))
    print(f"record: {path}")
    if args.write:
        bench_speed.write_row(Path(args.write), record)
    return 0


def cmd_train(args) -> int:
    from .api import train
    from .config import resolve

    return _report(train(resolve(args.config, train_overrides(args))))


def cmd_resume(args) -> int:
    from .api import resume

    return _report(resume(args.run_dir))


def _report(run) -> int:
    if run is not None:  # None: a torchrun rank other than 0; rank 0 prints
        _print_summary(run.summary, run.directory)
    return 0


def cmd_eval(args) -> int:
    from .api import load_run

    run = load_run(args.run_dir)
    metrics = run.evaluate(args.split)
    from .engine.logger import strict_json

    print(strict_json({args.split: metrics, "selected_step": run.summary["selected"]["step"]}, indent=2))
    return 0


def cmd_predict(args) -> int:
    import numpy as np

    from .api import load_run
    from .data.sources.inputs import load_inputs

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


def cmd_methods(args) -> int:
    from .methods import METHODS

    for name, cls in METHODS.items():
        settings = ", ".join(f"{f.name}={f.default}" for f in dataclasses.fields(cls.Settings) if f.name != "name")
        print(f"{name:<20} {cls.description}" + (f"  [{settings}]" if settings else ""))
    return 0


def cmd_demo(args) -> int:
    from .bench.digits import demo

    demo(Path(args.out), epochs=args.epochs)
    return 0


def cmd_data_download(args) -> int:
    from .data.sources.benchmarks import BENCHMARKS, prepare, status

    if args.name not in BENCHMARKS:
        raise WeaklabError(f"cannot download {args.name!r}; downloadable: {', '.join(BENCHMARKS)}")
    parts = ("main",) if args.no_extra else None
    prepare(args.name, args.root, download=True, parts=parts, progress=sys.stdout.isatty())
    st = status(args.name, args.root)
    print(f"{args.name}: verified and converted in {st['folder']} (parts: {', '.join(st['converted'])})")
    return 0


def cmd_data_info(args) -> int:
    import numpy as np

    from .config import DataConfig
    from .data.sources.benchmarks import BENCHMARKS, status
    from .data.sources.datasets import load_source

    if args.name in BENCHMARKS:
        st = status(args.name, args.root)
        print(f"{args.name}: {BENCHMARKS[args.name].description}")
        for name, state in st["files"].items():
            print(f"  file {name}: {state}")
        required = [f.name for f in BENCHMARKS[args.name].parts["main"].files]
        if "main" not in st["converted"] and any(st["files"][f] != "ok" for f in required):
            print(f"  not ready: run `weaklab data download {args.name} --root {args.root}` or place the files")
            return 0
    options = DataConfig(dataset=args.name, root=args.root, target_column=args.target_column, task=args.task,
                         image_size=args.image_size, bad_images=args.bad_images, filename_target=args.filename_target)
    src = load_source(args.name, args.root, options)
    print(f"{src.name}: task {src.task}, samples {src.sample_shape} {src.x.dtype}")
    n_unl = 0 if src.unlabeled is None else int(src.unlabeled.sum())
    print(f"  train: {len(src.x)} samples ({n_unl} unlabeled)")
    if src.test_x is not None:
        print(f"  test: {len(src.test_x)} samples")
    if src.extra_x is not None:
        print(f"  extra unlabeled: {len(src.extra_x)} samples")
    if src.task == "classification":
        counts = np.bincount(src.y[src.has_label], minlength=src.num_classes)
        print(f"  {src.num_classes} classes, labeled training samples per class:")
        for c, n in zip(src.classes, counts):
            print(f"    {c}: {n}")
    else:
        y = src.y[src.has_label]
        print(f"  targets: min {y.min():.4g}, mean {y.mean():.4g}, max {y.max():.4g}")
    skipped = src.info.get("skipped_images")
    if skipped:
        print(f"  skipped {len(skipped)} unreadable images")
    return 0


def cmd_data_list(args) -> int:
    from .data.sources.benchmarks import BENCHMARKS
    from .data.sources.datasets import DATASETS, LAYOUTS

    for name in DATASETS:
        print(f"{name:<15} {BENCHMARKS[name].description if name in BENCHMARKS else 'embedded'}")
    for name in LAYOUTS:
        print(f"{name:<15} your copy, with --data-root")
    return 0


def cmd_bench_quality(args) -> int:
    from .config import parse_assignment

    if args.dataset:
        from .bench.real import real_quality

        real_quality(args.dataset, args.methods, args.seeds, Path(args.out), labels_per_class=args.labels_per_class,
                     epochs=args.epochs, overrides=dict(parse_assignment(s) for s in args.set),
                     peers=not args.no_peers, write=args.write)
        return 0
    if args.set or args.no_peers:
        raise WeaklabError("--set and --no-peers apply with --dataset; the digits recipe is fixed")
    from .bench.digits import quality

    quality(args.methods, args.seeds, args.labels_per_class or 5, Path(args.out), epochs=args.epochs, write=args.write)
    return 0


def cmd_bench_precision(args) -> int:
    from .bench.precision import precision

    precision(args.methods, args.seeds, Path(args.out), device=args.device, epochs=args.epochs, write=args.write)
    return 0


def cmd_bench_partial(args) -> int:
    from .bench.partial import partial

    partial(args.methods, args.rates, args.seeds, Path(args.out), args.epochs, args.write, not args.no_reference)
    return 0


def cmd_bench_augment(args) -> int:
    from .bench.partial import augment_timing

    augment_timing()
    return 0


def cmd_crossval_probs(args) -> int:
    from .config import parse_assignment, resolve
    from .engine.crossval import crossval_probs

    flags = {"method.name": args.method, "data.dataset": args.dataset, "data.root": args.data_root, "seed": args.seed}
    overrides = {k: v for k, v in flags.items() if v is not None}
    overrides.update(parse_assignment(s) for s in args.set)
    if args.folds < 2:
        raise WeaklabError(f"--folds must be at least 2, got {args.folds}")
    crossval_probs(resolve(args.config, overrides), args.folds, Path(args.out))
    return 0


def cmd_bench_noisy(args) -> int:
    from .bench.noisy import CONDITIONS, METHODS, run
    from .config import parse_assignment

    for name, known, what in ((args.methods, METHODS, "method"), (args.conditions, CONDITIONS, "condition")):
        unknown = [n for n in name if n not in known]
        if unknown:
            raise WeaklabError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}")
    extra = dict(parse_assignment(s) for s in args.set)
    run(args.methods, args.conditions, args.seeds, Path(args.out), write=args.write, extra=extra, reuse=args.reuse)
    return 0


def cmd_bench_regression(args) -> int:
    from .bench.regression import DATASETS, DEFAULT_VARIANTS, VARIANTS, regression
    from .config import parse_assignment

    variants = args.methods or DEFAULT_VARIANTS
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise WeaklabError(f"unknown regression benchmark method {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if args.dataset not in DATASETS:
        raise WeaklabError(f"unknown regression benchmark dataset {args.dataset!r}; choose from {', '.join(DATASETS)}")
    extra = dict(parse_assignment(s) for s in args.set)
    regression(variants, args.seeds, args.fractions, Path(args.out), epochs=args.epochs, write=args.write, extra=extra,
               dataset=args.dataset)
    return 0


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
