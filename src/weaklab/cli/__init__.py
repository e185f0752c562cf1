"""The `weaklab` command line. User mistakes end with a one-line error and exit code 2, never a traceback; a setting
that has no effect is a one-line warning.

One module per command group, each with `add_parsers(sub)` (its subcommands, flags and help) beside the
functions that run them: train (train, resume, eval, predict), crossval (crossval-probs), sweep, methods (methods,
demo), data (data download/info/list), bench (every `weaklab bench ...`), report (runs as one HTML page). Flags
and `--set KEY=VALUE` become config overrides in one place, overrides.config_overrides.

Imports: this package may import any weaklab module, but only inside the command functions, so `weaklab --help`
stays fast; at module level only argparse, the standard library, weaklab.errors and its own modules. Nothing
in weaklab imports this package.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from pathlib import Path

from .. import __version__
from ..errors import TrainingDiverged, WeaklabError
from . import bench, crossval, data, methods, report, sweep, train


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    # SIGTERM (torchrun stopping the other ranks when one died, a job scheduler, `kill`) ends the run the way
    # Ctrl-C does: its last checkpoint kept, and one line saying how to continue
    in_main_thread = threading.current_thread() is threading.main_thread()  # where handlers can be set
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.func(args) or 0
    except WeaklabError as e:
        print(f"weaklab: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"weaklab: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        out = getattr(args, "out", None) or getattr(args, "run_dir", None)
        hint = f"; continue with `weaklab resume {out}`" if out else ""
        if getattr(args, "continue_hint", None):  # a command that continues otherwise (a sweep: run it again)
            hint = f"; continue: {args.continue_hint}"
        print(f"weaklab: interrupted{' by ' + str(e) if str(e) else ''}{hint}", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


PACKAGE = Path(__file__).resolve().parents[1]
_python_show_warning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """weaklab's own warnings (a setting that has no effect) as one line, like its errors; others as Python does."""
    if Path(filename).resolve().is_relative_to(PACKAGE):
        print(f"weaklab: warning: {message}", file=sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="weaklab", description="Train deep networks from imperfect labels.")
    p.add_argument("--version", action="version", version=f"weaklab {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for group in (train, crossval, sweep, methods, data, bench, report):  # the order of `weaklab --help`
        group.add_parsers(sub)
    return p
