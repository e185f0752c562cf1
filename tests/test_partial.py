"""Candidate-set generators, users' candidate files and the label-free selection metrics."""

import numpy as np
import pytest
import torch

from weaklab.core.metrics import approximated_accuracy, covering_rate
from weaklab.data.supervision import partial
from weaklab.errors import WeaklabError


def test_plcr_generator_never_below_two_and_always_holds_the_truth():
    y = np.random.default_rng(0).integers(0, 10, 20000)
    for q in (0.0, 0.1, 0.5):
        sets = partial.generate("plcr", y, 10, q, seed=1)
        assert sets.sum(1).min() >= 2
        assert sets[np.arange(len(y)), y].all()
    # q = 0: exactly the truth plus one random wrong class, spread over the other classes
    sets = partial.generate("plcr", y, 10, 0.0, seed=1)
    assert (sets.sum(1) == 2).all()
    extra = (sets & ~np.eye(10, dtype=bool)[y]).argmax(1)
    assert len(np.unique((extra - y) % 10)) == 9


@pytest.mark.parametrize("q", [0.1, 0.3, 0.5])
def test_pico_generator_expected_set_size(q):
    y = np.random.default_rng(0).integers(0, 10, 20000)
    sets = partial.generate("pico", y, 10, q, seed=2)
    assert sets[np.arange(len(y)), y].all()
    assert abs(sets.sum(1).mean() - (1 + q * 9)) < 0.05
    assert (sets.sum(1) == 1).any()  # singletons allowed


def test_generators_are_seeded():
    y = np.arange(100) % 10
    assert (partial.generate("pico", y, 10, 0.3, seed=5) == partial.generate("pico", y, 10, 0.3, seed=5)).all()
    assert (partial.generate("pico", y, 10, 0.3, seed=5) != partial.generate("pico", y, 10, 0.3, seed=6)).any()


def test_cifar100_superclasses_are_twenty_groups_of_five():
    assert len(partial.CIFAR100_COARSE) == 100
    assert (np.bincount(partial.CIFAR100_COARSE) == 5).all()


def test_hierarchical_flips_stay_in_the_superclass():
    y = np.random.default_rng(0).integers(0, 100, 5000)
    sets = partial.generate("pico_hierarchical", y, 100, 0.5, seed=0)
    coarse = partial.CIFAR100_COARSE
    rows, cols = np.nonzero(sets)
    assert (coarse[cols] == coarse[y[rows]]).all()
    assert abs(sets.sum(1).mean() - (1 + 0.5 * 4)) < 0.1
    with pytest.raises(WeaklabError, match="100 classes"):
        partial.generate("pico_hierarchical", y % 10, 10, 0.5, seed=0)


def test_report():
    sets = np.array([[1, 1, 0], [0, 1, 0], [1, 1, 1]], dtype=bool)
    r = partial.report(sets, np.array([0, 2, 1]))
    assert (
        r["avg_candidates"] == 2.0
        and r["singletons"] == 1
        and r["true_label_covered"] == pytest.approx(2 / 3, abs=1e-4)
    )


def test_csv_by_index_and_names(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("index,candidates\n0,0 2\n1,b\n2,1;2\n")
    sets = partial.load(f, 3, ["a", "b", "c"], num_samples=3)
    assert sets.tolist() == [[True, False, True], [False, True, False], [False, True, True]]
    f.write_text("index,l1,l2\n0,0,2\n1,1\n2,1,2\n")  # labels in columns
    assert partial.load(f, 3, ["a", "b", "c"], num_samples=3).tolist() == sets.tolist()
    f.write_text("path,labels\nimg/b.png,0\nimg/a.png,1 2\n")
    by_path = partial.load(f, 3, None, paths=["img/a.png", "img/b.png"], num_samples=2)
    assert by_path.tolist() == [[False, True, True], [True, False, False]]


@pytest.mark.parametrize(
    "text, message",
    [
        ("index,labels\n0,0\n1,\n", "empty candidate set"),
        ("index,labels\n0,0\n1,3\n", "out of range"),
        ("index,labels\n0,0\n", "no row"),
        ("index,labels\n0,0\n5,1\n", "outside"),
        ("id,labels\n0,0\n", "'index' or 'path'"),
        ("index,labels\n0,0\n1,cat\n", "neither a class index"),
    ],
)
def test_csv_errors(tmp_path, text, message):
    f = tmp_path / "c.csv"
    f.write_text(text)
    with pytest.raises(WeaklabError, match=message):
        partial.load(f, 3, ["0", "1", "2"], num_samples=2)


def test_array_files_and_their_errors(tmp_path):
    sets = np.array([[1, 0, 1], [0, 1, 0]])
    np.save(tmp_path / "c.npy", sets)
    np.savez(tmp_path / "c.npz", candidates=sets)
    assert partial.load(tmp_path / "c.npy", 3, num_samples=2).tolist() == sets.astype(bool).tolist()
    assert partial.load(tmp_path / "c.npz", 3, num_samples=2).tolist() == sets.astype(bool).tolist()
    np.save(tmp_path / "empty.npy", np.array([[1, 0, 1], [0, 0, 0]]))
    with pytest.raises(WeaklabError, match="empty candidate set"):
        partial.load(tmp_path / "empty.npy", 3, num_samples=2)
    with pytest.raises(WeaklabError, match="N×4"):
        partial.load(tmp_path / "c.npy", 4, num_samples=2)
    with pytest.raises(WeaklabError, match="outside their candidate set"):
        partial.check(sets, 3, 2, "c.npy", labels=np.array([0, 0]))


def test_user_candidates_through_a_run(fast, tmp_path):
    """A user's file drives training; with candidates_complete the known labels are checked against it."""
    from sklearn.datasets import load_digits

    from weaklab.api import train

    y = load_digits().target
    sets = partial.generate("plcr", y, 10, 0.2, seed=0)
    np.save(tmp_path / "sets.npy", sets)
    run = train(
        fast(
            "cc",
            data__candidates_file=str(tmp_path / "sets.npy"),
            data__labels_per_class=None,
            train__epochs=1,
            train__batch_labeled=256,
        ),
        out=tmp_path / "run",
    )
    assert run.summary["labels"]["partial"]["train"]["min_candidates"] >= 2
    wrong = sets.copy()
    wrong[0] = False
    wrong[0, (y[0] + 1) % 10] = True
    np.save(tmp_path / "wrong.npy", wrong)
    with pytest.raises(WeaklabError, match="outside their candidate set"):
        train(
            fast("cc", data__candidates_file=str(tmp_path / "wrong.npy"), data__labels_per_class=None),
            out=tmp_path / "r2",
        )


def test_covering_rate_and_approximated_accuracy_hand_example():
    probs = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]])
    cands = torch.tensor([[1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=torch.bool)
    # argmax 0 ∈ S, argmax 1 ∉ S, argmax 2 ∈ S
    assert covering_rate(probs, cands) == pytest.approx(2 / 3)
    # q restricted and renormalised: [2/3, 1/3, 0], [0.4, 0, 0.6], [0, 2/9, 7/9]; q at the argmax: 2/3, 0, 7/9
    assert approximated_accuracy(probs, cands) == pytest.approx((2 / 3 + 0 + 7 / 9) / 3)
