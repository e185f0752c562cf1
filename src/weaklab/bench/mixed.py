"""`weaklab bench mixed --dataset D`: mixed imperfect labels, each method on what it learns from, beside ILL.

Each setting is a regime of `weaklab train` flags on the same data; a method runs where it fits the data (a
label method where no candidate sets are given, a partial-label method where they are) and uses what it
declares (its run prints what it ignores). Tables go through `weaklab bench quality`'s code (bench/real.py), one
per setting, so each carries the command that reproduces it.
"""

from __future__ import annotations

from pathlib import Path

from ..methods import METHODS
from .real import real_quality

# name -> config overrides: the regimes of mixed supervision
SETTINGS = {
    "noisy+unlabeled": {"data.labeled_fraction": 0.2, "data.noise": "symmetric", "data.noise_rate": 0.3},
    "partial+unlabeled": {"data.labeled_fraction": 0.5, "data.partial": "pico", "data.partial_rate": 0.3},
    "partial+noisy+unlabeled": {
        "data.labeled_fraction": 0.5,
        "data.partial": "pico",
        "data.partial_rate": 0.3,
        "data.noise": "symmetric",
        "data.noise_rate": 0.2,
    },
}
DEFAULT_METHODS = ["supervised", "gce", "scn", "mean_teacher", "fixmatch", "proden", "ill"]


def fitting_methods(methods: list[str], setting: dict) -> list[str]:
    """The methods that learn from this setting's supervision (candidate sets or labels), in the given order."""
    sets = bool(setting.get("data.partial"))
    return [m for m in methods if METHODS[m].fits(sets, "classification")]


def mixed(
    dataset: str,
    settings: list[str],
    methods: list[str],
    seeds: list[int],
    out: Path,
    epochs: int | None = None,
    write: str | None = None,
) -> str:
    tables = []
    for name in settings:
        overrides = SETTINGS[name]
        chosen = fitting_methods(methods, overrides)
        print(f"{name}: {', '.join(chosen)}", flush=True)
        tables.append(
            real_quality(
                dataset, chosen, seeds, out / name, epochs=epochs, overrides=overrides, peers=False, write=write
            )
        )
    return "\n\n".join(tables)
