"""Shared mechanics, written once: ramps, EMA, losses, the task (what outputs mean), metrics."""
