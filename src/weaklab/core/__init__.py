"""Shared mechanics, written once: ramps, schedule lengths, EMA, losses, the task (what outputs mean), metrics.

May import: weaklab.errors only, so every other package can use it."""
