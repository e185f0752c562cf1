"""scikit-learn's semi-supervised estimators on weaklab's own split of a dataset: what a user tries first.

    python benchmarks/sklearn_peers.py DATASET [--labels-per-class K] [--seeds 0 1 2]

Uses the exact train/validation/test split and labeled subset `weaklab train` draws for the same seed, so the
numbers sit beside weaklab's runs. Inputs are normalised as weaklab normalises them, then flattened.
"""
import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier

from weaklab.config import resolve
from weaklab.engine.experiment import build_data, pick_device


def split(dataset: str, labels_per_class: int, seed: int):
    data = build_data(resolve(None, {"data.dataset": dataset, "data.labels_per_class": labels_per_class,
                                     "seed": seed, "data.store": "device"}), pick_device("cpu"))
    flat = lambda store: np.concatenate([b.cpu().numpy().reshape(len(b), -1) for b in store.batches(1024)])  # noqa: E731
    y = data.supervision.labels.cpu().numpy().copy()
    y[~data.supervision.labeled.cpu().numpy()] = -1  # scikit-learn's mark of an unlabeled sample
    return flat(data.train), y, flat(data.test), data.test_labels.numpy()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dataset")
    p.add_argument("--labels-per-class", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    a = p.parse_args()
    estimators = {
        "LogisticRegression (labeled only)": lambda: LogisticRegression(max_iter=2000),
        "LabelSpreading(knn, 7)": lambda: LabelSpreading(kernel="knn", n_neighbors=7),
        "SelfTrainingClassifier(LogisticRegression)": lambda: SelfTrainingClassifier(LogisticRegression(max_iter=2000)),
    }
    for seed in a.seeds:
        x, y, xt, yt = split(a.dataset, a.labels_per_class, seed)
        for name, make in estimators.items():
            start = time.perf_counter()
            lb = y >= 0
            model = make().fit(x[lb], y[lb]) if "labeled only" in name else make().fit(x, y)
            acc = (model.predict(xt) == yt).mean()
            print(f"seed {seed} | {name} | test accuracy {100 * acc:.2f} % | {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
