"""benchmarks/label_coverage.py: its three measures of how well a few labels cover a data set, on points whose
answers are known."""

import numpy as np

from conftest import benchmark_script

coverage = benchmark_script("label_coverage")


def two_blobs(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Class 0 near (0, 0), class 1 near (10, 10), except the last point of class 1, which sits among class 0."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (n, 2)), rng.normal(10, 0.1, (n, 2))])
    y = np.repeat([0, 1], n)
    x[-1] = 0.0
    return x, y


def test_nearest_label_accuracy_scores_only_the_images_without_a_label():
    x, y = two_blobs()
    # Seeds 0-5 draw one label per class away from the stray point (index 39): of the 38 images without a label,
    # only the stray point's nearest label is wrong. Scoring the two labeled images as well would give 39/40.
    for seed in range(6):
        assert coverage.nearest_label_accuracy(x, y, 1, seed) == 37 / 38


def test_neighbour_agreement_and_cluster_spread():
    x, y = two_blobs()
    # 7 neighbours each: the stray point's 7 are all of class 0, and each of class 0 has at most it wrong
    assert 1 - (7 + 20) / (40 * 7) <= coverage.neighbour_agreement(x, y) <= 1 - 7 / (40 * 7)
    purity, spread = coverage.cluster_spread(x, y, clusters=2)
    assert purity == 39 / 40 and spread == 1.0
