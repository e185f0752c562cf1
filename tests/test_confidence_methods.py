"""FlexMatch, FreeMatch and SoftMatch: each rule on hand-computed tensors, and their state across kill/resume."""

import json
import math

import pytest
import torch

from weaklab.api import resume, train
from weaklab.core.thresholds import (
    class_threshold_mask,
    distribution_alignment,
    fairness_loss,
    flexmatch_thresholds,
    self_adaptive_thresholds,
    truncated_gaussian_weight,
)
from weaklab.engine import checkpoint
from weaklab.engine.experiment import build_experiment

from conftest import train_interrupted

TAU = 0.95


def peaked(classes, confidences, num_classes=10):
    """Rows of class probabilities: `confidence` on its class, the rest spread evenly."""
    rows = []
    for c, p in zip(classes, confidences):
        row = torch.full((num_classes,), (1.0 - p) / (num_classes - 1))
        row[c] = p
        rows.append(row)
    return torch.stack(rows)


def method_of(fast, name, **overrides):
    return build_experiment(fast(name, **overrides)).method


# FlexMatch


def test_flexmatch_thresholds_are_tau_times_convex_warmed_up_effect():
    unused = torch.full((10,), -1)
    assert torch.equal(flexmatch_thresholds(unused, 3, TAU), torch.zeros(3))  # M(0) · τ = 0 for every class
    # σ = (4, 2, 0) and 4 unused: β = σ / 4 = (1, 1/2, 0), M(β) = (1, 1/3, 0): the most-learned class is at τ
    learned = torch.tensor([0, 0, 0, 0, 1, 1, -1, -1, -1, -1])
    assert torch.allclose(flexmatch_thresholds(learned, 3, TAU), torch.tensor([TAU, TAU / 3, 0.0]))
    # σ = (3, 1, 0) and 6 unused: the unused count wins the max, β = (1/2, 1/6, 0), M(β) = (1/3, 1/11, 0)
    early = torch.tensor([0, 0, 0, 1, -1, -1, -1, -1, -1, -1])
    assert torch.allclose(flexmatch_thresholds(early, 3, TAU), torch.tensor([TAU / 3, TAU / 11, 0.0]))
    # without the warm-up β = σ / max σ = (1, 1/3, 0), M(β) = (1, 1/5, 0)
    assert torch.allclose(flexmatch_thresholds(early, 3, TAU, warmup=False), torch.tensor([TAU, TAU / 5, 0.0]))


def test_flexmatch_masks_by_class_threshold_and_remembers_only_confident_samples(fast):
    method = method_of(fast, "flexmatch")
    probs = peaked([2, 5, 2, 7], [0.97, 0.5, 0.96, 0.3])
    idx = torch.tensor([3, 10, 20, 30])
    weights, targets = method.pseudo_labels(probs, idx)
    assert torch.equal(weights, torch.ones(4))  # nothing learned yet: every threshold is 0
    assert torch.equal(targets, torch.tensor([2, 5, 2, 7]))
    buffer = method.confident_class
    assert buffer[3] == 2 and buffer[20] == 2  # max q ≥ τ: written
    assert (buffer >= 0).sum() == 2  # rows 10 and 30 (below τ) and every other sample stay −1

    buffer.fill_(2)  # every sample's last confident class is 2: T(2) = τ, every other class 0
    assert torch.allclose(method.thresholds(), torch.tensor([0.0, 0, TAU, 0, 0, 0, 0, 0, 0, 0]))
    weights, _ = method.pseudo_labels(peaked([2, 2, 5], [0.9, 0.96, 0.3]), torch.tensor([0, 1, 2]))
    assert torch.equal(weights, torch.tensor([0.0, 1.0, 1.0]))


# FreeMatch


def test_freematch_thresholds_follow_their_emas_one_step_from_the_start(fast):
    method = method_of(fast, "freematch", train__epochs=20000)  # a run long enough that λ is the paper's 0.999
    assert method.momentum == 0.999
    probs = peaked([0, 1, 0], [0.91, 0.55, 0.4])
    weights, targets = method.pseudo_labels(probs, torch.arange(3))
    lam, start = 0.999, 0.1  # τ_0 = p̃_0(c) = h̃_0(c) = 1/C, C = 10
    mean_confidence = (0.91 + 0.55 + 0.4) / 3
    assert math.isclose(float(method.global_threshold), lam * start + (1 - lam) * mean_confidence, rel_tol=1e-6)
    assert torch.allclose(method.class_marginal, lam * start + (1 - lam) * probs.mean(0))
    histogram = torch.tensor([2 / 3, 1 / 3, 0, 0, 0, 0, 0, 0, 0, 0])
    assert torch.allclose(method.label_histogram, lam * start + (1 - lam) * histogram)
    marginal = method.class_marginal
    assert torch.allclose(method.thresholds(), marginal / marginal.max() * method.global_threshold)
    assert torch.equal(weights, torch.ones(3)) and torch.equal(targets, torch.tensor([0, 1, 0]))


@pytest.mark.parametrize("name, cap", [("freematch", 0.01), ("softmatch", 0.01), ("ill", 0.1)])
def test_statistics_horizon_is_the_papers_when_it_fits_and_a_share_of_a_shorter_run(fast, name, cap):
    long, short = method_of(fast, name, train__epochs=20000), method_of(fast, name, train__epochs=200)
    assert long.ctx.run.steps >= 100_000 and long.momentum == 0.999  # the cap is ≥ 1,000 steps
    steps = short.ctx.run.steps
    assert short.momentum == pytest.approx(1 - 1 / (cap * steps))  # the horizon 1/(1 − λ) is `cap` of the run
    other = method_of(fast, name, train__epochs=200, method__momentum_horizon_cap="50%")
    assert other.momentum == pytest.approx(1 - 2 / steps)  # the cap is a setting


def test_freematch_mask_uses_the_max_normalised_local_threshold():
    thresholds = self_adaptive_thresholds(torch.tensor(0.8), torch.tensor([0.5, 0.25, 0.25]))
    assert torch.allclose(thresholds, torch.tensor([0.8, 0.4, 0.4]))
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    assert torch.equal(class_threshold_mask(probs, thresholds), torch.tensor([0.0, 1.0, 1.0]))


def test_freematch_fairness_value_on_a_small_example():
    strong = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]).log().requires_grad_()
    mask = torch.tensor([1.0, 1.0, 0.0])
    marginal, histogram = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.5, 0.25, 0.25])
    loss = fairness_loss(strong, mask, marginal, histogram)
    # p̄ = (0.4, 0.5, 0.1), h̄ = (1/2, 1/2, 0): SumNorm(p̄/h̄) = (4/9, 5/9, ·), class 2 unpredicted;
    # SumNorm(p̃/h̃) = SumNorm(1, 1.2, 0.8) = (1/3, 0.4, 0.8/3); L_f = Σ_c ref(c) log batch(c)
    expected = (1 / 3) * math.log(4 / 9) + 0.4 * math.log(5 / 9)
    assert math.isclose(loss.item(), expected, rel_tol=1e-5)
    loss.backward()
    assert strong.grad[:2].abs().sum() > 0 and strong.grad[2].abs().sum() == 0  # only the masked rows
    assert fairness_loss(strong, torch.zeros(3), marginal, histogram).item() == 0.0


# SoftMatch


def test_softmatch_weight_is_one_above_the_mean_and_gaussian_below():
    confidence = torch.tensor([0.9, 0.5, 0.7])
    mean, variance = torch.tensor(0.7), torch.tensor(0.04)
    # below μ by 0.2 = one σ: exp(−0.04 / (2 · 0.04 / 4)) = e^−2 with n_σ = 2, e^−1/2 with eq. (5) as printed
    weight = truncated_gaussian_weight(confidence, mean, variance)
    assert torch.allclose(weight, torch.tensor([1.0, math.exp(-2.0), 1.0]))
    weight = truncated_gaussian_weight(confidence, mean, variance, n_sigma=1.0)
    assert torch.allclose(weight, torch.tensor([1.0, math.exp(-0.5), 1.0]))


def test_uniform_alignment_makes_the_running_mean_uniform():
    marginal = torch.tensor([0.5, 0.3, 0.2])
    assert torch.allclose(distribution_alignment(marginal[None], marginal), torch.full((1, 3), 1 / 3))
    aligned = distribution_alignment(torch.tensor([[0.2, 0.3, 0.5]]), marginal)
    assert torch.allclose(aligned, torch.tensor([[0.4, 1.0, 2.5]]) / 3.9)  # q / p̂, normalised


def test_softmatch_weights_the_aligned_confidence_and_labels_the_original(fast):
    method = method_of(fast, "softmatch", train__epochs=20000)  # λ = 0.999
    assert method.momentum == 0.999
    start = torch.full((10,), 0.01)
    start[0] = 0.91  # the model has predicted class 0 nearly always
    method.class_marginal.copy_(start)
    probs = peaked([0, 3], [0.5, 0.6])
    probs[0] = torch.tensor([0.5, 0.4] + [0.1 / 8] * 8)  # row 0: 0.5 on class 0, 0.4 on class 1
    weights, targets = method.pseudo_labels(probs, torch.arange(2))
    confidence = torch.tensor([0.5, 0.6])
    mean = 0.999 * 0.1 + 0.001 * confidence.mean()
    variance = 0.999 * 1.0 + 0.001 * confidence.var()  # unbiased, of the unaligned confidence
    assert torch.isclose(method.confidence_mean, mean) and torch.isclose(method.confidence_var, variance)
    marginal = 0.999 * start + 0.001 * probs.mean(0)
    assert torch.allclose(method.class_marginal, marginal)
    aligned = probs / marginal
    aligned = aligned / aligned.sum(1, keepdim=True)
    assert aligned[0].argmax() == 1  # alignment moves row 0's top class ...
    assert torch.equal(targets, torch.tensor([0, 3]))  # ... but the pseudo-label is the original arg-max
    expected = truncated_gaussian_weight(aligned.max(1).values, mean, variance)
    assert torch.allclose(weights, expected)


# Training: the mask rate is logged, and the state survives a kill


def lines(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def without_time(records):
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


# a smaller training set (about 450 samples, 7 steps an epoch) keeps the three runs of each method short
SMALL = {"data__test_fraction": 0.5, "data__val_fraction": 0.5, "train__batch_unlabeled": 64, "train__epochs": 2}
STATE = {
    # τ = 0.2 so that an untrained model has confident samples to remember
    "flexmatch": (["confident_class"], {"method__threshold": 0.2}),
    "freematch": (["global_threshold", "class_marginal", "label_histogram"], {}),
    "softmatch": (["confidence_mean", "confidence_var", "class_marginal"], {}),
}


@pytest.mark.parametrize("name", list(STATE))
def test_trains_logs_mask_rate_and_resumes_to_the_same_state(fast, tmp_path, monkeypatch, name):
    buffers, extra = STATE[name]
    whole = train(fast(name, **SMALL, **extra), out=tmp_path / "whole")
    records = lines(whole.directory)
    assert all(0.0 <= r["train"]["mask_rate"] <= 1.0 for r in records)

    train_interrupted(fast(name, **SMALL, **extra), tmp_path / "killed", monkeypatch, saves=1)
    resumed = resume(tmp_path / "killed")
    assert without_time(records) == without_time(lines(resumed.directory))
    a = checkpoint.load(whole.directory / "checkpoints/last.pt")["method"]
    b = checkpoint.load(resumed.directory / "checkpoints/last.pt")["method"]
    assert a.keys() == b.keys() and set(buffers) <= a.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    start = build_experiment(fast(name, **SMALL, **extra)).method.state_dict()
    assert all(not torch.equal(a[key], start[key]) for key in buffers)  # the statistics moved from their start
