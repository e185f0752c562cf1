"""Label-noise generators: realised rates, fixedness under a seed, the noisy supervision regime."""

import numpy as np
import pytest
import torch

from weaklab.data.supervision.labeled import Supervision
from weaklab.data.supervision.noise import (
    class_mapping,
    make_noisy,
    noisy_supervision,
    pairflip,
    parse_mapping,
    symmetric,
    transition,
)
from weaklab.errors import WeaklabError

CLEAN = np.repeat(np.arange(10), 100)  # 1,000 labels, 100 per class
CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def test_symmetric_scn_protocol_exact_rate_always_another_class():
    noisy = symmetric(CLEAN, 10, 0.3, seed=0)
    wrong = noisy != CLEAN
    assert wrong.sum() == 300  # exactly the asked fraction, not about it
    assert np.array_equal(noisy, symmetric(CLEAN, 10, 0.3, seed=0))  # fixed under the seed
    assert not np.array_equal(noisy, symmetric(CLEAN, 10, 0.3, seed=1))
    # the new class is uniform over the 9 others
    many = symmetric(np.full(90_000, 4), 10, 1.0, seed=0)
    counts = np.bincount(many, minlength=10)
    assert counts[4] == 0 and (np.abs(np.delete(counts, 4) - 10_000) < 400).all()


def test_uniform_variant_may_keep_the_class():
    noisy = make_noisy(CLEAN, CIFAR, "uniform", 0.5, seed=0)
    rate = (noisy != CLEAN).mean()
    assert 0.5 * 0.9 - 0.05 < rate < 0.5 * 0.9 + 0.05 and rate < 0.5  # redrawn labels keep their class 1/10 of times


def test_asymmetric_cifar10_mapping_and_user_mapping():
    mapping = parse_mapping("cifar10", CIFAR)
    assert mapping == {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}
    noisy = class_mapping(CLEAN, mapping, 0.4, seed=0)
    for src, dst in mapping.items():
        moved = noisy[CLEAN == src]
        assert (moved == dst).sum() == 40 and ((moved == dst) | (moved == src)).all()
    untouched = ~np.isin(CLEAN, list(mapping))
    assert np.array_equal(noisy[untouched], CLEAN[untouched])
    assert (noisy != CLEAN).mean() == 0.2  # 5 of 10 classes at 40 %
    assert parse_mapping(["cat->dog", "9->0"], CIFAR) == {3: 5, 9: 0}
    with pytest.raises(WeaklabError, match="lacks"):
        parse_mapping(["cat->zebra"], CIFAR)


def test_pairflip_and_transition_matrix():
    noisy = pairflip(CLEAN, 10, 0.2, seed=0)
    wrong = noisy != CLEAN
    assert wrong.mean() == 0.2 and (noisy[wrong] == (CLEAN[wrong] + 1) % 10).all()
    m = np.full((10, 10), 0.05)
    np.fill_diagonal(m, 0.55)
    many = np.repeat(np.arange(10), 2000)
    t = transition(many, m, seed=0)
    assert abs((t != many).mean() - 0.45) < 0.02
    assert np.array_equal(t, transition(many, m, seed=0))
    with pytest.raises(WeaklabError, match="sum to 1"):
        make_noisy(CLEAN, CIFAR, "transition", 0.0, 0, matrix=(m * 2).tolist())
    with pytest.raises(WeaklabError, match="10×10"):
        make_noisy(CLEAN, CIFAR, "transition", 0.0, 0, matrix=[[1.0]])
    with pytest.raises(WeaklabError, match="unknown data.noise"):
        make_noisy(CLEAN, CIFAR, "gaussian", 0.1, 0)


def test_noisy_supervision_flags_untrusted_and_reports_realised_rate():
    labeled = np.ones(len(CLEAN), bool)
    labeled[::2] = False  # a mix: half unlabeled, the labeled half noisy
    sup = Supervision.from_labels(CLEAN, 10, labeled)
    out, report = noisy_supervision(sup, CLEAN, CIFAR, "symmetric", 0.2, seed=0)
    assert torch.equal(out.untrusted, torch.as_tensor(labeled))
    assert torch.equal(out.labeled, sup.labeled)  # unlabeled rows stay unlabeled
    rows = torch.as_tensor(labeled)
    assert report["noise_rate_realised"] == float((out.labels[rows].numpy() != CLEAN[labeled]).mean())
    assert report["noise_rate_realised"] == pytest.approx(0.2, abs=0.5 / labeled.sum())  # exact up to rounding
    few = np.zeros(len(CLEAN), bool)
    few[:25] = True  # 25 labels: 40 % of them is 10, whichever samples they are
    out, report = noisy_supervision(Supervision.from_labels(CLEAN, 10, few), CLEAN, CIFAR, "symmetric", 0.4, seed=3)
    assert report["noisy_labels"] == 10 and int((out.labels[:25].numpy() != CLEAN[:25]).sum()) == 10
    given, report = noisy_supervision(Supervision.from_labels(CLEAN, 10), CLEAN, CIFAR, "given", 0.0, seed=0)
    assert given.untrusted.all() and torch.equal(given.labels, torch.as_tensor(CLEAN))
    assert report["noise_rate_realised"] is None  # unknown when the labels are taken as given
    same, none = noisy_supervision(sup, CLEAN, CIFAR, "none", 0.0, seed=0)
    assert same is sup and none is None


def test_noisy_run_keeps_clean_labels_for_reports(fast):
    from weaklab.engine.experiment import build_experiment

    x = build_experiment(fast("supervised", data__labels_per_class=None, data__noise="symmetric", data__noise_rate=0.3))
    sup, clean = x.data.supervision, x.method.ctx.clean_labels
    assert sup.untrusted.all() and abs((sup.labels != clean).float().mean().item() - 0.3) < 0.01
    assert x.data.report()["noise_rate_realised"] == pytest.approx(0.3, abs=0.01)
    given = build_experiment(fast("supervised", data__labels_per_class=None, data__noise="given"))
    assert given.method.ctx.clean_labels is None


def test_rafdb_recipe_resolves_to_the_paper_setting():
    from pathlib import Path

    from weaklab.config import resolve

    c = resolve(Path(__file__).parent.parent / "recipes" / "rafdb-scn.yaml")
    assert (c.method.name, c.model.name, c.train.epochs, c.train.lr_schedule, c.train.lr_gamma) == (
        "scn",
        "resnet18",
        70,
        "exponential",
        0.9,
    )
    assert (c.train.lr, c.train.weight_decay, c.train.batch_labeled, c.data.noise) == (0.001, 1e-4, 64, "given")
