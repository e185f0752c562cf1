"""The one path from command-line flags and `--set KEY=VALUE` to the dotted config overrides."""

from __future__ import annotations


def config_overrides(args, flags: dict | None = None) -> dict:
    """Dotted config key -> value: the `flags` that were given (None means not given), then every
    `--set KEY=VALUE` of `args` in order, so a `--set` wins over a flag for the same key."""
    from ..config import parse_assignment

    overrides = {key: value for key, value in (flags or {}).items() if value is not None}
    overrides.update(parse_assignment(s) for s in args.set)
    return overrides
