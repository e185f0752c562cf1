"""How well a few labels cover a data set's clusters, in pixel space: a reason consistency methods gain more on some data.

    python benchmarks/label_coverage.py [data/real/mnist5k.npz data/real/animals.npz] [--per-class 10]

Consistency methods (Π-model, Mean Teacher) spread each label to the images a small perturbation connects it to.
They add most where every cluster of a class holds a labeled image. For each `.npz` (x, y) this prints, on
standardised pixels:
- the share of each image's 7 nearest neighbours that share its class (how clustered the data is locally);
- the accuracy, on the other images, of the nearest of `--per-class` labeled images per class (3 draws; how well the
  labels cover the data);
- k-means with 100 clusters: purity, and how many clusters hold 80 % of a class (mean over classes).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors


def standardised_pixels(path: str) -> tuple[np.ndarray, np.ndarray]:
    data = np.load(path)
    x = data["x"].reshape(len(data["x"]), -1).astype(np.float32) / 255.0
    return (x - x.mean(0)) / (x.std(0) + 1e-6), np.asarray(data["y"], dtype=np.int64)


def neighbour_agreement(x: np.ndarray, y: np.ndarray, k: int = 7) -> float:
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return float((y[idx[:, 1:]] == y[:, None]).mean())  # column 0 is the image itself


def nearest_label_accuracy(x: np.ndarray, y: np.ndarray, per_class: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    labeled = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])
    unlabeled = np.setdiff1d(np.arange(len(y)), labeled)  # a labeled image is its own nearest label
    _, idx = NearestNeighbors(n_neighbors=1).fit(x[labeled]).kneighbors(x[unlabeled])
    return float((y[labeled][idx[:, 0]] == y[unlabeled]).mean())


def cluster_spread(x: np.ndarray, y: np.ndarray, clusters: int = 100) -> tuple[float, float]:
    """(purity of k-means clusters, mean number of clusters that hold 80 % of a class)."""
    assign = KMeans(clusters, n_init=1, random_state=0).fit(x).labels_
    purity = sum(np.bincount(y[assign == k]).max() for k in np.unique(assign)) / len(y)
    spread = []
    for c in np.unique(y):
        counts = np.sort(np.bincount(assign[y == c], minlength=clusters))[::-1]
        spread.append(np.searchsorted(np.cumsum(counts) / counts.sum(), 0.8) + 1)
    return float(purity), float(np.mean(spread))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="*", default=["data/real/mnist5k.npz", "data/real/animals.npz"])
    parser.add_argument("--per-class", type=int, default=10)
    args = parser.parse_args()
    print("| data | images | 7-NN agreement | nearest-label accuracy | k-means purity | clusters per class (80 %) |")
    print("|---|---|---|---|---|---|")
    for path in args.datasets:
        x, y = standardised_pixels(path)
        coverage = [nearest_label_accuracy(x, y, args.per_class, seed) for seed in range(3)]
        purity, spread = cluster_spread(x, y)
        print(
            f"| {path} | {len(y)} | {neighbour_agreement(x, y):.3f} | {np.mean(coverage):.3f} ± {np.std(coverage):.3f} "
            f"| {purity:.3f} | {spread:.1f} |"
        )


if __name__ == "__main__":
    main()
