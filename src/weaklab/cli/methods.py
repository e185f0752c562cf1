"""`weaklab methods` (the methods and their settings) and `weaklab demo` (supervised vs Mean Teacher on digits)."""

from __future__ import annotations

import dataclasses
from pathlib import Path


def add_parsers(sub) -> None:
    m = sub.add_parser("methods", help="list the methods and their settings")
    m.set_defaults(func=cmd_methods)

    d = sub.add_parser("demo", help="supervised vs Mean Teacher on the embedded digits, 5 labels per class")
    d.add_argument("--out", default="runs/demo", help="folder for the two runs (default: %(default)s)")
    d.add_argument(
        "--epochs", type=int, default=None, help="shorter or longer than the demo recipe (default: the recipe's)"
    )
    d.set_defaults(func=cmd_demo)


def cmd_methods(args) -> int:
    from ..methods import METHODS

    for name, cls in METHODS.items():
        settings = ", ".join(f"{f.name}={f.default}" for f in dataclasses.fields(cls.Settings) if f.name != "name")
        print(f"{name:<20} {cls.description}" + (f"  [{settings}]" if settings else ""))
    return 0


def cmd_demo(args) -> int:
    from ..bench.digits import demo

    demo(Path(args.out), epochs=args.epochs)
    return 0
