"""`weaklab report`: finished runs as one self-contained HTML file (docs/REPORT.md)."""

from __future__ import annotations


def add_parsers(sub) -> None:
    r = sub.add_parser(
        "report",
        help="write finished runs as one self-contained HTML page: settings, curves, the task's views, comparison",
        description="One HTML file (figures inlined, nothing fetched) for run directories, or every finished run "
        "below a folder: configuration, effective schedule, summary metrics, curves, and by task a reliability "
        "diagram and confusion matrix, predicted vs true with ±2σ and coverage, the label-issue gallery or the "
        "candidate sets; several runs add a comparison (mean ± std over seeds) with overlaid curves.",
    )
    r.add_argument("paths", nargs="+", metavar="RUN_DIR", help="run directories, or folders holding runs")
    r.add_argument("--html", default="report.html", metavar="FILE", help="the page to write (default: %(default)s)")
    r.add_argument(
        "--recompute",
        choices=["auto", "always", "never"],
        default="auto",
        help="views the run directory does not hold (test predictions, gallery images, candidate sets) are "
        "recomputed from the selected checkpoint on the CPU: auto only where cheap (default: %(default)s)",
    )
    r.add_argument("--top", type=int, default=24, help="label issues in a noisy run's gallery (default: %(default)s)")
    r.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from ..errors import WeaklabError
    from ..report import write_report

    if args.top < 1:
        raise WeaklabError(f"--top must be at least 1, got {args.top}")
    path = write_report(args.paths, args.html, recompute=args.recompute, top=args.top)
    print(f"wrote {path}")
    return 0
