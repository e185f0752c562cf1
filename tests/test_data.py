import numpy as np
import pytest
import torch

from weaklab.data.sources.datasets import digits, load_source
from weaklab.data.sources.source import ArraySource
from weaklab.data.store.sampler import TwoStreamSampler
from weaklab.data.supervision.labeled import Supervision, semi_supervised
from weaklab.data.supervision.splits import stratified_split
from weaklab.data.views.pipeline import Views, random_translate
from weaklab.engine.experiment import build_data
from weaklab.errors import WeaklabError


def test_digits_source():
    src = digits()
    assert src.x.shape == (1797, 1, 8, 8) and src.num_classes == 10 and not src.flip


def test_splits_disjoint_stratified_and_seeded(fast):
    data = build_data(fast(), torch.device("cpu"))
    src = digits()
    n = len(data.train) + len(data.val) + len(data.test)
    assert n == len(src.y)
    # per-class shares of the test split follow the class frequencies
    rest, test = stratified_split(src.y, 0.2, seed=0)
    assert len(np.intersect1d(rest, test)) == 0 and len(rest) + len(test) == len(src.y)
    for c in range(10):
        share = (src.y[test] == c).sum() / (src.y == c).sum()
        assert abs(share - 0.2) < 0.01
    again, _ = stratified_split(src.y, 0.2, seed=0)
    other, _ = stratified_split(src.y, 0.2, seed=1)
    assert (again == rest).all() and not (other == rest).all()


def test_labeled_subset_balanced_and_seeded():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    sup = semi_supervised(y, 4, labels_per_class=3, seed=0)
    assert sup.report()["labeled_per_class"] == [3, 3, 3, 3]
    assert (sup.labels[sup.labeled] == torch.as_tensor(y)[sup.labeled]).all()
    assert sup.candidates[~sup.labeled].all()  # unlabeled rows have every class as candidate
    same = semi_supervised(y, 4, labels_per_class=3, seed=0)
    assert torch.equal(same.labeled, sup.labeled)
    assert not torch.equal(semi_supervised(y, 4, labels_per_class=3, seed=1).labeled, sup.labeled)
    frac = semi_supervised(y, 4, fraction=0.1, seed=0)
    assert frac.report()["labeled_per_class"] == [1, 2, 3, 4]


def test_labeled_subset_errors():
    y = np.repeat(np.arange(3), [5, 8, 9])
    with pytest.raises(WeaklabError, match="class 0 has only 5"):
        semi_supervised(y, 3, labels_per_class=6)
    with pytest.raises(WeaklabError, match="not both"):
        semi_supervised(y, 3, labels_per_class=1, fraction=0.5)


def test_source_validation():
    with pytest.raises(WeaklabError, match="outside 0..2"):
        ArraySource(np.zeros((4, 3)), np.array([0, 1, 2, 3]), ["a", "b", "c"])
    with pytest.raises(WeaklabError, match="one label per sample"):
        ArraySource(np.zeros((4, 3)), np.array([0, 1]), ["a", "b"])
    with pytest.raises(WeaklabError, match="NaN"):
        ArraySource(np.full((2, 3), np.nan), np.array([0, 1]), ["a", "b"])
    with pytest.raises(WeaklabError, match="N×C×H×W"):
        ArraySource(np.zeros((2, 3, 3)), np.array([0, 1]), ["a", "b"])
    with pytest.raises(WeaklabError, match="unknown dataset"):
        load_source("cifar11")


def test_supervision_from_labels():
    sup = Supervision.from_labels(np.array([2, 0, 1]), 3, labeled=np.array([True, False, True]))
    assert sup.labels.tolist() == [2, -1, 1]


def test_sampler_epochs_are_deterministic_and_cover_all():
    s = TwoStreamSampler(torch.arange(7), torch.arange(50), 4, 16, seed=0)
    assert s.steps_per_epoch == 4
    lb, ulb = s.epoch(3)
    assert lb.shape == (4, 4) and ulb.shape == (4, 16)
    assert set(ulb.flatten().tolist()) == set(range(50))  # every sample at least once per epoch
    assert set(lb.flatten().tolist()) <= set(range(7))
    lb2, ulb2 = s.epoch(3)
    assert torch.equal(lb, lb2) and torch.equal(ulb, ulb2)
    assert not torch.equal(s.epoch(4)[1], ulb)
    with pytest.raises(WeaklabError, match="labeled set is empty"):
        TwoStreamSampler(torch.arange(0), torch.arange(5), 1, 1, 0)


def test_translate_is_a_per_sample_shift():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(64.0).view(1, 1, 8, 8).repeat(32, 1, 1, 1)
    out = random_translate(x, 2, g)
    assert out.shape == x.shape
    # the centre pixel of each output comes from within ±2 of the original centre
    centre = out[:, 0, 4, 4]
    rows, cols = centre.long() // 8, centre.long() % 8
    assert ((rows - 4).abs() <= 2).all() and ((cols - 4).abs() <= 2).all()
    assert len(set(centre.tolist())) > 5  # different samples get different offsets


def test_views_noise_flip_and_sharing():
    views = Views(translate=0, flip=True, noise=0.0, device="cpu", seed=0)
    x = torch.randn(64, 1, 4, 4)
    a, b = views.many(x, 2, share_flip=True)
    assert torch.equal(a, b)  # no translation or noise: shared flips make identical views
    flipped = (a != x).flatten(1).any(1)
    assert 10 < flipped.sum() < 54
    noisy = Views(translate=0, flip=False, noise=0.15, device="cpu", seed=0)(x)
    assert abs((noisy - x).std().item() - 0.15) < 0.02
    flat = Views(translate=2, flip=True, noise=0.0, device="cpu", seed=0)(torch.randn(8, 5))
    assert flat.shape == (8, 5)
