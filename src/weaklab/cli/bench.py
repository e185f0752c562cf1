"""`weaklab bench ...`: every benchmark (quality, partial, mixed, precision, augment, noisy, regression, speed)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from ..errors import WeaklabError
from .overrides import config_overrides


def _listed(values) -> str:
    return " ".join(map(str, values))


def _common(p, out: str, table: str, epochs: str | None = None, seeds=(0, 1, 2)) -> None:
    """The flags the seeded benchmarks share: --seeds, --epochs (where `epochs` says its default), --out, --write."""
    p.add_argument(
        "--seeds", type=int, nargs="+", default=list(seeds), help=f"seeds, one run each (default: {_listed(seeds)})"
    )
    if epochs:
        p.add_argument("--epochs", type=int, default=None, help=f"override the recipes' epochs ({epochs})")
    p.add_argument("--out", default=out, help="folder for the runs and results (default: %(default)s)")
    p.add_argument(
        "--write",
        metavar="FILE",
        help=f"Markdown file whose {table} table to replace, e.g. BENCHMARKS.md (default: none, print only)",
    )
    _html_flag(p)


def _html_flag(p) -> None:
    p.add_argument(
        "--html",
        metavar="FILE",
        type=_html_path,
        help="also write the table as one self-contained HTML page, with the overlaid curves of the runs under "
        "--out (the page `weaklab report` writes) (default: none)",
    )


def _html_path(text: str) -> str:
    """Refused before the benchmark runs, not after it."""
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give the path of the .html file to write")
    return text


def _write_html(args, table: str) -> None:
    """The table as the HTML page of `weaklab report`, where --html asks for it."""
    if not args.html:
        return
    from ..report import write_bench_page

    path = write_bench_page(table, args.html, f"weaklab bench {args.bench}", runs_dir=Path(args.out))
    print(f"wrote {path}")


def _set(p, text: str) -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=f"{text} (default: none)")


def add_parsers(sub) -> None:
    b = sub.add_parser("bench", help="benchmarks")
    bsub = b.add_subparsers(dest="bench", metavar="BENCH", required=True)
    q = bsub.add_parser(
        "quality",
        help="supervised, Π, TE and MT on digits (or --dataset D beside scikit-learn's "
        "semi-supervised estimators), several seeds: mean ± std, wall time",
    )
    q.add_argument(
        "--dataset",
        help="a dataset name or your file: the methods at their defaults, with scikit-learn "
        "peers on the same split and time to pass the best (default: the digits recipe)",
    )
    methods = ["supervised", "pi_model", "temporal_ensembling", "mean_teacher"]
    q.add_argument("--methods", nargs="+", default=methods, help=f"methods to run (default: {_listed(methods)})")
    q.add_argument(
        "--labels-per-class", type=int, default=None, help="labels per class (default: 5 on the digits recipe)"
    )
    q.add_argument("--no-peers", action="store_true", help="--dataset: skip the scikit-learn estimators")
    _set(q, "--dataset: a setting of every run")
    _common(q, out="runs/bench-quality", table="quality", epochs="default: each recipe's")
    q.set_defaults(func=cmd_bench_quality)
    pl = bsub.add_parser("partial", help="CC, RC, PRODEN and PL-CR on digits with candidate sets, several q and seeds")
    rates, methods = [0.1, 0.3, 0.5], ["cc", "rc", "proden", "plcr"]
    pl.add_argument(
        "--rates", type=float, nargs="+", default=rates, help=f"partial rates q (default: {_listed(rates)})"
    )
    pl.add_argument("--methods", nargs="+", default=methods, help=f"methods to run (default: {_listed(methods)})")
    pl.add_argument("--no-reference", action="store_true", help="skip the supervised run on true labels")
    _common(pl, out="runs/bench-partial", table="partial", epochs="default: each recipe's")
    pl.set_defaults(func=cmd_bench_partial)
    pr = bsub.add_parser(
        "precision", help="fp32 vs bf16 autocast vs bf16 + channels_last: same methods and seeds, paired"
    )
    methods = ["supervised", "pi_model", "mean_teacher", "ucvme"]
    pr.add_argument(
        "--methods",
        nargs="+",
        default=methods,
        help=f"classification methods run on digits; ucvme on digits_rotation (default: {_listed(methods)})",
    )
    pr.add_argument("--device", default="auto", help="auto | cpu | cuda (default: %(default)s)")
    _common(pr, out="runs/bench-precision", table="precision", epochs="quick checks; default: each recipe's")
    pr.set_defaults(func=cmd_bench_precision)
    au = bsub.add_parser(
        "augment", help="strong augmentation: ms per batch and per-sample randomness (vs kornia if installed)"
    )
    au.set_defaults(func=cmd_bench_augment)
    mx = bsub.add_parser(
        "mixed",
        help="mixed imperfect labels (noisy + unlabeled, partial + unlabeled, all three): each method where it "
        "fits, beside ILL, several seeds",
    )
    mx.add_argument("--dataset", default="digits", help="a dataset name or your file (default: %(default)s)")
    settings, methods = (
        ["noisy+unlabeled", "partial+unlabeled", "partial+noisy+unlabeled"],
        [
            "supervised",
            "gce",
            "scn",
            "mean_teacher",
            "fixmatch",
            "proden",
            "ill",
        ],
    )
    mx.add_argument(
        "--settings", nargs="+", choices=settings, default=settings, help=f"regimes (default: {_listed(settings)})"
    )
    mx.add_argument(
        "--methods", nargs="+", default=methods, help=f"methods, each where it fits (default: {_listed(methods)})"
    )
    _common(mx, out="runs/bench-mixed", table="mixed", epochs="default: the config's")
    mx.set_defaults(func=cmd_bench_mixed)
    n = bsub.add_parser(
        "noisy", help="CE, GCE and SCN on digits with symmetric / asymmetric label noise, several seeds"
    )
    methods, conditions = ["ce", "gce", "scn", "scn-low"], ["clean", "sym20", "sym40", "asym40"]
    n.add_argument(
        "--methods",
        nargs="+",
        default=methods,
        help=f"ce | gce | scn | scn-low | scn-paper | scn-norelabel | scn-norr | scn-plain (default: {_listed(methods)})",
    )
    n.add_argument(
        "--conditions", nargs="+", default=conditions, help=f"label conditions (default: {_listed(conditions)})"
    )
    _set(n, "override a setting of every run")
    n.add_argument("--reuse", action="store_true", help="keep finished runs found under --out instead of retraining")
    _common(n, out="runs/bench-noisy", table="noisy-labels")
    n.set_defaults(func=cmd_bench_noisy)
    rg = bsub.add_parser(
        "regression", help="supervised, Mean Teacher, Temporal Ensembling and UCVME on an embedded regression task"
    )
    rg.add_argument("--dataset", default="digits_rotation", help="digits_rotation or diabetes (default: %(default)s)")
    fractions = [0.05, 0.1]
    rg.add_argument(
        "--fractions",
        type=float,
        nargs="+",
        default=fractions,
        help=f"labeled fractions (default: {_listed(fractions)})",
    )
    rg.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="variants (default: supervised supervised_nll mean_teacher temporal_ensembling ucvme)",
    )
    _set(rg, "override a config key for every run")
    _common(rg, out="runs/bench-regression", table="regression", epochs="default: each recipe's")
    rg.set_defaults(func=cmd_bench_regression)
    sp = bsub.add_parser("speed", help="steps/s of a method on synthetic images, and of the usual per-sample pipeline")
    sp.add_argument("--method", required=True, help="a method name (see `weaklab methods`)")
    sp.add_argument("--model", required=True, help="cnn13 | wrn28_2 | small_cnn | ...")
    sp.add_argument(
        "--batch",
        default="64+448",
        help="LABELED+UNLABELED global batch; one number for one-stream methods (PL-CR, SCN) (default: %(default)s)",
    )
    sp.add_argument("--image-size", type=int, default=32, help="side of the synthetic images (default: %(default)s)")
    sp.add_argument("--channels", type=int, default=3, help="channels of the synthetic images (default: %(default)s)")
    sp.add_argument("--classes", type=int, default=10, help="classes of the synthetic targets (default: %(default)s)")
    sp.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: %(default)s)")
    sp.add_argument("--precision", default="auto", help="auto (bf16 on CUDA) | bf16 | fp32 (default: %(default)s)")
    sp.add_argument("--warmup", type=int, default=2, help="untimed steps first (default: %(default)s)")
    sp.add_argument(
        "--windows", type=int, default=5, help="timed windows; the median is reported (default: %(default)s)"
    )
    sp.add_argument("--steps", type=int, default=5, help="steps per timed window (default: %(default)s)")
    sp.add_argument(
        "--profile-steps",
        type=int,
        default=5,
        help="steps of the per-phase split (device syncs) (default: %(default)s)",
    )
    sp.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=None,
        help="usual pipeline: DataLoader workers; several counts (e.g. 16 1) measure it once each in the same run, "
        "the first giving the speed-up (default: the CPU count)",
    )
    sp.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="the device's peak TFLOP/s for the roofline fraction (default: the dense bf16 peak of a known GPU, "
        "H100, H200 or A100; none on a CPU)",
    )
    sp.add_argument("--no-usual", action="store_true", help="skip the usual-pipeline comparison")
    sp.add_argument("--compile", action="store_true", help="torch.compile the method's networks")
    sp.add_argument(
        "--task",
        default="auto",
        choices=["auto", "classification", "regression"],
        help="synthetic targets: auto = regression for regression-only methods (ucvme) and "
        "method.heteroscedastic, classification otherwise (default: %(default)s)",
    )
    sp.add_argument(
        "--store",
        choices=["device", "host"],
        default=None,
        help="training split on the device, or memory-mapped from a .npy file and copied per batch (host) "
        "(default: as data.store says, auto)",
    )
    _set(sp, "config override (repeatable)")
    sp.add_argument("--out", default="runs/bench-speed", help="folder for the JSON record (default: %(default)s)")
    sp.add_argument(
        "--write",
        metavar="FILE",
        help="Markdown file whose speed table gets this row, e.g. BENCHMARKS.md (default: none, print only)",
    )
    _html_flag(sp)
    sp.set_defaults(func=cmd_bench_speed)


def cmd_bench_quality(args) -> int:
    if args.dataset:
        from ..bench.real import real_quality

        table = real_quality(
            args.dataset,
            args.methods,
            args.seeds,
            Path(args.out),
            labels_per_class=args.labels_per_class,
            epochs=args.epochs,
            overrides=config_overrides(args),
            peers=not args.no_peers,
            write=args.write,
        )
        _write_html(args, table)
        return 0
    if args.set or args.no_peers:
        raise WeaklabError("--set and --no-peers apply with --dataset; the digits recipe is fixed")
    from ..bench.digits import quality

    table = quality(
        args.methods, args.seeds, args.labels_per_class or 5, Path(args.out), epochs=args.epochs, write=args.write
    )
    _write_html(args, table)
    return 0


def cmd_bench_mixed(args) -> int:
    from ..bench.mixed import mixed
    from ..methods import method_class

    for name in args.methods:
        method_class(name)  # an unknown name stops here, before any run
    table = mixed(args.dataset, args.settings, args.methods, args.seeds, Path(args.out), args.epochs, args.write)
    _write_html(args, table)
    return 0


def cmd_bench_partial(args) -> int:
    from ..bench.partial import partial

    table = partial(
        args.methods, args.rates, args.seeds, Path(args.out), args.epochs, args.write, not args.no_reference
    )
    _write_html(args, table)
    return 0


def cmd_bench_precision(args) -> int:
    from ..bench.precision import precision

    table = precision(
        args.methods, args.seeds, Path(args.out), device=args.device, epochs=args.epochs, write=args.write
    )
    _write_html(args, table)
    return 0


def cmd_bench_augment(args) -> int:
    from ..bench.partial import augment_timing

    augment_timing()
    return 0


def cmd_bench_noisy(args) -> int:
    from ..bench.noisy import CONDITIONS, METHODS, run

    for name, known, what in ((args.methods, METHODS, "method"), (args.conditions, CONDITIONS, "condition")):
        unknown = [n for n in name if n not in known]
        if unknown:
            raise WeaklabError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}")
    table = run(
        args.methods,
        args.conditions,
        args.seeds,
        Path(args.out),
        write=args.write,
        extra=config_overrides(args),
        reuse=args.reuse,
    )
    _write_html(args, table)
    return 0


def cmd_bench_regression(args) -> int:
    from ..bench.regression import DATASETS, DEFAULT_VARIANTS, VARIANTS, regression

    variants = args.methods or DEFAULT_VARIANTS
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise WeaklabError(
            f"unknown regression benchmark method {', '.join(unknown)}; choose from {', '.join(VARIANTS)}"
        )
    if args.dataset not in DATASETS:
        raise WeaklabError(f"unknown regression benchmark dataset {args.dataset!r}; choose from {', '.join(DATASETS)}")
    table = regression(
        variants,
        args.seeds,
        args.fractions,
        Path(args.out),
        epochs=args.epochs,
        write=args.write,
        extra=config_overrides(args),
        dataset=args.dataset,
    )
    _write_html(args, table)
    return 0


def cmd_bench_speed(args) -> int:
    from ..bench import speed as bench_speed
    from ..bench.report import threads_prefix

    command = "weaklab " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "weaklab bench speed"
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        command = f"torchrun --nproc-per-node {os.environ['WORLD_SIZE']} --no-python {command}"
    command = threads_prefix() + command
    record = bench_speed.speed(
        args.method,
        args.model,
        args.batch,
        args.image_size,
        channels=args.channels,
        classes=args.classes,
        device=args.device,
        precision=args.precision,
        warmup=args.warmup,
        windows=args.windows,
        steps=args.steps,
        profile_steps=args.profile_steps,
        workers=args.workers,
        usual=not args.no_usual,
        compile=args.compile,
        task=args.task,
        store=args.store,
        overrides=config_overrides(args),
        command=command,
        peak=args.peak_tflops,
    )
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    path = bench_speed.save_record(Path(args.out), record)
    print(bench_speed.HEADER)
    print(bench_speed.markdown_row(record))
    print("\n".join(bench_speed.summary_lines(record)))
    print(f"record: {path}")
    if args.write:
        bench_speed.write_row(Path(args.write), record)
    rule = "|" + "---|" * (bench_speed.HEADER.count("|") - 1)
    _write_html(args, "\n".join([bench_speed.HEADER, rule, bench_speed.markdown_row(record)]))
    return 0
