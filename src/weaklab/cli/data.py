"""`weaklab data download`, `data info` and `data list`: fetch, convert and inspect datasets."""

from __future__ import annotations

import sys

from ..errors import WeaklabError


def add_parsers(sub) -> None:
    from ..config import DataConfig, field_choices  # the allowed values, declared once

    da = sub.add_parser("data", help="download, convert and inspect datasets")
    dsub = da.add_subparsers(dest="data", metavar="ACTION", required=True)
    dl = dsub.add_parser("download", help="fetch the official files, verify checksums, convert once to the cache")
    dl.add_argument("name", help="a downloadable dataset (see `weaklab data list`)")
    dl.add_argument("--root", required=True, help="data root: files go to ROOT/NAME/")
    dl.add_argument("--no-extra", action="store_true", help="skip optional parts (SVHN's 1.3 GB extra split)")
    dl.set_defaults(func=cmd_data_download)
    di = dsub.add_parser("info", help="shapes, classes, per-class counts and checksum status")
    di.add_argument("name", help="dataset name or a path to your data")
    di.add_argument(
        "--root",
        help="data root (benchmarks) or the folder of your copy (rafdb, fer2013, ferplus) (default: none)",
    )
    di.add_argument(
        "--target-column", help="your table / CSV: the label or target column (default: a column named label or target)"
    )
    di.add_argument("--task", choices=field_choices(DataConfig, "task"), help="your data (default: inferred)")
    di.add_argument(
        "--image-size", type=int, help="your images: resize once to this side (default: the first image's size)"
    )
    di.add_argument(
        "--image-shape",
        metavar="HxW|CxHxW",
        help="your table or N×D array: read each row as an image of this shape (default: rows are features)",
    )
    di.add_argument(
        "--bad-images",
        choices=field_choices(DataConfig, "bad_images"),
        default="error",
        help="your images: one that fails to decode stops, or is skipped and reported (default: %(default)s)",
    )
    di.add_argument(
        "--missing-targets",
        choices=field_choices(DataConfig, "missing_targets"),
        default="error",
        help="your table / CSV: a row whose target is empty or NaN stops, or counts as unlabeled "
        "(default: %(default)s)",
    )
    di.add_argument(
        "--filename-target",
        choices=field_choices(DataConfig, "filename_target"),
        help="your image folder: read targets from file names (default: none)",
    )
    di.set_defaults(func=cmd_data_info)
    dls = dsub.add_parser("list", help="the datasets known by name")
    dls.set_defaults(func=cmd_data_list)


def cmd_data_download(args) -> int:
    from ..data.sources.benchmarks import BENCHMARKS, prepare, status

    if args.name not in BENCHMARKS:
        raise WeaklabError(f"cannot download {args.name!r}; downloadable: {', '.join(BENCHMARKS)}")
    parts = ("main",) if args.no_extra else None
    prepare(args.name, args.root, download=True, parts=parts, progress=sys.stdout.isatty())
    st = status(args.name, args.root)
    print(f"{args.name}: verified and converted in {st['folder']} (parts: {', '.join(st['converted'])})")
    return 0


def cmd_data_info(args) -> int:
    import numpy as np

    from ..config import DataConfig
    from ..data.sources.benchmarks import BENCHMARKS, status
    from ..data.sources.datasets import load_source

    if args.name in BENCHMARKS:
        st = status(args.name, args.root)
        print(f"{args.name}: {BENCHMARKS[args.name].description}")
        for name, state in st["files"].items():
            print(f"  file {name}: {state}")
        required = [f.name for f in BENCHMARKS[args.name].parts["main"].files]
        if "main" not in st["converted"] and any(st["files"][f] != "ok" for f in required):
            print(f"  not ready: run `weaklab data download {args.name} --root {args.root}` or place the files")
            return 0
    options = DataConfig(
        dataset=args.name,
        root=args.root,
        target_column=args.target_column,
        task=args.task,
        image_size=args.image_size,
        image_shape=args.image_shape,
        bad_images=args.bad_images,
        missing_targets=args.missing_targets,
        filename_target=args.filename_target,
    )
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
    from ..data.sources.benchmarks import BENCHMARKS
    from ..data.sources.datasets import DATASETS, LAYOUTS

    for name in DATASETS:
        print(f"{name:<15} {BENCHMARKS[name].description if name in BENCHMARKS else 'embedded'}")
    for name in LAYOUTS:
        print(f"{name:<15} your copy, with --data-root")
    return 0
