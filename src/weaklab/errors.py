"""Errors that mean "the user asked for something that cannot work".

The CLI turns these into a one-line message and exit code 2; everything else is a bug and keeps its traceback.
"""


class WeaklabError(ValueError):
    """A user mistake (bad option, bad data, missing file); the message says what was wrong and what to do."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf or exploded; the message names the step and the loss terms."""
