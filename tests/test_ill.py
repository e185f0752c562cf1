"""ILL and mixed imperfect labels: one supervision for labels, candidate sets, noise and missing labels, and ILL's
defining properties (targets inside trusted sets; a transition matrix that starts at the identity and learns the
noise)."""

import json

import numpy as np
import pytest
import torch

from weaklab.api import train
from weaklab.cli import main
from weaklab.core.imprecise import em_targets, observed_likelihood, observed_loss, transition_logits
from weaklab.data.supervision.build import build_supervision
from weaklab.methods import METHODS

from conftest import fast_config


def test_targets_never_put_mass_outside_a_trusted_candidate_set():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        probs = torch.rand(64, 10, generator=g).softmax(1)
        sets = torch.rand(64, 10, generator=g) < 0.3
        sets[torch.arange(64), torch.randint(0, 10, (64,), generator=g)] = True  # never empty
        probs[:5] = 0.0
        probs[:5, 0] = 1.0  # the model sure of a class that may lie outside the set: the fallback
        q = em_targets(probs, observed_likelihood(sets, torch.zeros(64, dtype=torch.bool), None))
        assert torch.allclose(q.sum(1), torch.ones(64))
        assert (q[~sets] == 0).all()


def test_an_unlabeled_sample_keeps_its_posterior_and_a_label_is_its_target():
    probs = torch.tensor([[0.2, 0.5, 0.3], [0.2, 0.5, 0.3]])
    sets = torch.tensor([[True, True, True], [False, False, True]])
    q = em_targets(probs, observed_likelihood(sets, torch.zeros(2, dtype=torch.bool), None))
    assert torch.allclose(q[0], probs[0]) and q[1].tolist() == [0.0, 0.0, 1.0]


def test_the_transition_starts_at_the_identity_scaled():
    assert torch.equal(transition_logits(10), torch.eye(10))  # V = I: the paper's "initialised to the identity"
    t = transition_logits(10).softmax(1)
    diagonal = torch.e / (torch.e + 9)
    assert torch.allclose(t.diagonal(), torch.full((10,), diagonal))
    off = t[~torch.eye(10, dtype=torch.bool)]
    assert torch.allclose(off, torch.full_like(off, (1 - diagonal) / 9))  # no class favoured as a wrong label
    assert (transition_logits(10, 12.0).softmax(1) - torch.eye(10)).abs().max() < 1e-3


def test_the_transition_learns_the_true_noise_on_a_synthetic_case():
    """A model that knows the true classes, noisy labels drawn from T* (30 % symmetric): fitting the noisy labels'
    likelihood moves T from the identity to T*."""
    g = torch.Generator().manual_seed(0)
    n, c, rate = 6000, 5, 0.3
    truth = torch.randint(0, c, (n,), generator=g)
    flip = torch.rand(n, generator=g) < rate
    noisy = torch.where(flip, (truth + torch.randint(1, c, (n,), generator=g)) % c, truth)
    probs = torch.nn.functional.one_hot(truth, c).float() * 0.98 + 0.02 / c
    sets = torch.nn.functional.one_hot(noisy, c).bool()
    untrusted = torch.ones(n, dtype=torch.bool)
    v = torch.nn.Parameter(transition_logits(c))
    optimizer = torch.optim.Adam([v], lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        observed_loss(probs, sets, untrusted, v.softmax(1)).mean().backward()
        optimizer.step()
    t = v.detach().softmax(1)
    assert abs(float(t.diagonal().mean()) - (1 - rate)) < 0.05  # from 0.40 (V = I, 5 classes) to the true 0.7
    off = t[~torch.eye(c, dtype=torch.bool)]
    assert (off - rate / (c - 1)).abs().max() < 0.05  # the wrong labels spread evenly, as drawn


def test_the_likelihood_of_a_noisy_label_is_its_column_of_the_transition_and_of_a_set_their_sum():
    t = torch.tensor([[0.8, 0.2], [0.3, 0.7]])
    sets = torch.tensor([[False, True]])
    assert torch.allclose(observed_likelihood(sets, torch.tensor([True]), t), torch.tensor([[0.2, 0.7]]))
    assert torch.allclose(observed_likelihood(sets, torch.tensor([False]), t), torch.tensor([[0.0, 1.0]]))
    # a noisy set was drawn around a given label, one of its members: the sum of their columns
    t3 = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    both = torch.tensor([[True, True, False]])
    assert torch.allclose(observed_likelihood(both, torch.tensor([True]), t3), torch.tensor([[0.9, 0.9, 0.6]]))
    # the official code's product over the members, as if each were a noisy label; the same for a single label
    product = observed_likelihood(both, torch.tensor([True]), t3, sets="product")
    assert torch.allclose(product, torch.tensor([[0.14, 0.08, 0.09]]))
    assert torch.allclose(
        observed_likelihood(sets, torch.tensor([True]), t, sets="product"), torch.tensor([[0.2, 0.7]])
    )


def test_the_transition_starts_sharper_where_untrusted_sets_are_given():
    """s = 1 (the official code's) for noisy labels; 5 where untrusted samples hold sets (docs/METHODS.md)."""
    from weaklab.engine.experiment import build_experiment

    def start(**over):
        return build_experiment(fast_config("ill", **over)).method.transition_logits.detach().diagonal()[0].item()

    noisy = {"data__noise": "symmetric", "data__noise_rate": 0.2}
    sets = {"data__labels_per_class": None, "data__partial": "pico", "data__partial_rate": 0.3}
    assert start(**noisy) == 1.0
    assert start(**noisy, **sets) == 5.0
    assert start(**noisy, **sets, method__transition_scale=1.5) == 1.5


def test_supervision_composes_labeled_subset_noise_and_candidate_sets():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2000)
    train_idx, val_idx = np.arange(1500), np.arange(1500, 2000)
    d = fast_config("ill").data
    d.labels_per_class, d.labeled_fraction = None, 0.4
    d.partial, d.partial_rate, d.noise, d.noise_rate = "pico", 0.3, "symmetric", 0.2
    built = build_supervision(d, y, [str(c) for c in range(10)], train_idx, val_idx, seed=1, regression=False)
    s = built.supervision
    report = s.report()
    informed = int(s.informed.sum())
    assert informed == report["num_labeled"] + report["num_candidate_sets"] > 0
    assert report["num_unlabeled"] == 1500 - informed and report["num_untrusted"] == informed
    # exactly a fifth of the given labels are wrong, and a wrong label's set is drawn around it: the true class is
    # missing from it unless the generator draws it in (probability q), so from about 0.2 · (1 − 0.3) of the sets
    covered = s.candidates[torch.arange(1500), torch.as_tensor(y[train_idx])][s.informed]
    assert 0.11 < 1 - covered.float().mean() < 0.17
    assert built.noise["noise_rate_realised"] == pytest.approx(1 - float(covered.float().mean()), abs=1e-3)
    assert built.val_candidates is not None and built.val_candidates[np.arange(500), y[val_idx]].all()


def test_ill_trains_on_a_mixture_and_reports_each_kind(tmp_path):
    config = fast_config(
        "ill",
        data__labels_per_class=None,
        data__labeled_fraction=0.3,
        data__partial="pico",
        data__partial_rate=0.2,
        data__noise="symmetric",
        data__noise_rate=0.2,
    )
    run = train(config, out=tmp_path / "run")
    labels = run.summary["labels"]
    assert labels["num_candidate_sets"] > 0 and labels["num_unlabeled"] > 0 and labels["num_untrusted"] > 0
    assert labels["noise_rate_realised"] > 0
    assert (
        "transition_diagonal" in json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])["state"]
    )
    assert run.summary["selected"]["val_approx_accuracy"] is not None  # label-free selection on candidate sets


def test_trusted_labels_learn_no_transition():
    from weaklab.engine.experiment import build_experiment

    method = build_experiment(fast_config("ill")).method
    assert method.transition() is None
    assert all(p.requires_grad for p in method.trainable_parameters())


def _mixed_csv(path, n=240):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)) + y[:, None] * 2.0
    rows = ["f0,f1,f2,f3,label"]
    for i in range(n):
        cell = str(y[i])
        if i % 4 == 1:
            cell = f"{y[i]}|{(y[i] + 1) % 3}"
        elif i % 4 == 2:
            cell = ""
        rows.append(",".join(f"{v:.4f}" for v in x[i]) + f",{cell}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_table_of_labels_sets_and_blanks_trains_with_ill_and_reports_the_counts(tmp_path, capsys):
    data = _mixed_csv(tmp_path / "mixed.csv")
    out = tmp_path / "run"
    code = main(["train", "--method", "ill", "--dataset", str(data), "--epochs", "2", "--out", str(out), "--quiet"])
    assert code == 0
    labels = json.loads((out / "summary.json").read_text())["labels"]
    assert labels["num_candidate_sets"] == 60 and labels["num_unlabeled"] == 60
    assert "join training as unlabeled samples" in capsys.readouterr().err  # the blanks, said once


def test_a_label_method_on_a_table_with_sets_says_what_it_ignores(tmp_path, capsys):
    data = _mixed_csv(tmp_path / "mixed.csv")
    out = tmp_path / "run"
    assert main(["train", "--method", "supervised", "--dataset", str(data), "--epochs", "1", "--out", str(out)]) == 0
    err = capsys.readouterr()
    assert "supervised ignores the candidate sets of 60 samples" in err.err
    assert "note: supervised ignores the 120 unlabeled samples" in err.out
    labels = json.loads((out / "summary.json").read_text())["labels"]
    assert labels["num_candidate_sets"] == 0


def test_partial_noise_flag_conflicts_with_noise(tmp_path, capsys):
    code = main(
        [
            "train",
            "--partial-rate",
            "0.3",
            "--partial-noise",
            "0.2",
            "--noise",
            "symmetric",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2 and "--partial-noise" in capsys.readouterr().err


def test_ill_is_listed_with_the_mixed_family():
    assert METHODS["ill"].supervision_kind == "mixed" and METHODS["ill"].fits(True) and METHODS["ill"].fits(False)


def test_bench_mixed_runs_each_method_where_it_fits(capsys):
    from weaklab.bench.mixed import SETTINGS, fitting_methods

    methods = ["supervised", "mean_teacher", "proden", "ill"]
    assert fitting_methods(methods, SETTINGS["noisy+unlabeled"]) == ["supervised", "mean_teacher", "ill"]
    assert fitting_methods(methods, SETTINGS["partial+noisy+unlabeled"]) == ["proden", "ill"]
    assert main(["bench", "mixed", "--methods", "nope"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err


def test_the_transition_steps_at_its_own_multiple_of_the_lr(tmp_path):
    from weaklab.engine.experiment import build_experiment
    from weaklab.engine.optim import build_optimizer

    config = fast_config("ill", data__noise="symmetric", data__noise_rate=0.2)
    x = build_experiment(config)
    method = x.method
    optimizer = build_optimizer(config.train, method.trainable_parameters(), method.lr_scales())
    lr = x.schedule.apply(optimizer, 1.0)
    by_scale = {g["lr_scale"]: g for g in optimizer.param_groups}
    assert by_scale[10.0]["params"] == [method.transition_logits] and by_scale[10.0]["lr"] == pytest.approx(10 * lr)
    assert by_scale[1.0]["lr"] == pytest.approx(lr)
    assert all(p is not method.transition_logits for p in by_scale[1.0]["params"])


def test_a_method_for_one_kind_of_imperfection_points_to_ill_when_the_data_has_two():
    from weaklab.data.supervision.labeled import Supervision
    from weaklab.methods import METHODS

    labels = np.arange(12) % 3
    noisy = Supervision.from_labels(labels, 3, labeled=np.arange(12) < 6)
    noisy.untrusted[:6] = True  # six untrusted labels, six unlabeled samples
    pointer = "ill learns from the untrusted labels and the unlabeled samples together"
    for name in ("scn", "gce", "supervised", "pi_model"):
        notes = METHODS[name].supervision_notes(noisy)
        assert notes[-1] == pointer and notes.count(pointer) == 1, (name, notes)
    assert METHODS["ill"].supervision_notes(noisy) == []
    clean = Supervision.from_labels(labels, 3, labeled=np.arange(12) < 6)  # trusted labels: no pointer
    assert pointer not in METHODS["scn"].supervision_notes(clean)
