"""UCVME's defining properties: pseudo-labels, the loss terms on hand examples, MC-dropout prediction, resume."""

import pytest
import torch

from weaklab.api import resume, train
from weaklab.core.losses import gaussian_nll
from weaklab.engine import checkpoint
from weaklab.engine.experiment import build_experiment
from weaklab.methods.ucvme import labeled_losses, unlabeled_losses

from conftest import train_interrupted
from test_regression import reg_config


def ucvme(**overrides):
    torch.manual_seed(0)
    return build_experiment(reg_config("ucvme", **overrides)).method


def test_pseudo_labels_are_the_mean_over_both_models_and_T_passes_without_gradient():
    method = ucvme(method__samples=3)
    method.train()
    views = [torch.randn(8, 10), torch.randn(8, 10)]
    torch.manual_seed(1)
    y_tilde, z_tilde = method.pseudo_labels(views)
    torch.manual_seed(1)  # the same dropout masks, drawn in the same order: model a's T passes, then b's
    with torch.no_grad():
        passes = [p for m, v in zip(method.models(), views) for p in m.sampled(v, 3)]
    assert len(passes) == 6
    assert torch.allclose(y_tilde, torch.stack([method.task.mean(p) for p in passes]).mean(0))
    assert torch.allclose(z_tilde, torch.stack([method.task.log_var(p) for p in passes]).mean(0))
    assert not y_tilde.requires_grad and not z_tilde.requires_grad
    # The passes are stochastic (dropout on): not all 6 means agree.
    assert torch.stack([method.task.mean(p) for p in passes]).std(0).max() > 0


def test_batched_passes_sample_like_separate_forward_passes():
    """Network.sampled: the layers before the first dropout run once, the rest on the stacked passes; the passes
    are distributed as separate forward calls (BatchNorm frozen so that batch composition plays no part)."""
    from weaklab.methods.ucvme import mc_dropout

    model = ucvme(method__dropout=0.3).model.eval()
    x = torch.randn(4, 10)
    calls = []
    model.backbone.net[0].register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad(), mc_dropout(model):
        torch.manual_seed(0)
        batched = model.sampled(x, 4000)
        assert len(calls) == 1  # the deterministic prefix ran once for all 4000 passes
        separate = torch.stack([model(x) for _ in range(4000)])
    assert batched.shape == separate.shape == (4000, 4, 2)
    assert (batched.std(0) > 0).all()
    assert torch.allclose(batched.mean(0), separate.mean(0), atol=4 * separate.std(0).max().item() / 4000**0.5)
    assert torch.allclose(batched.std(0), separate.std(0), rtol=0.1)
    model.train()
    with torch.no_grad():  # without dropout every pass is the plain forward
        plain = ucvme(method__dropout=0.0).model.eval()
        assert torch.allclose(plain.sampled(x, 3), plain(x).expand(3, 4, 2), atol=1e-6)


def test_unlabeled_loss_reaches_only_the_trained_passes():
    method = ucvme()
    method.train()
    x = torch.randn(8, 10)
    y_tilde, z_tilde = method.pseudo_labels([x, x])
    mu, s = zip(*(method.split(m(x)) for m in method.models()))
    reg, unc = unlabeled_losses(list(mu), list(s), y_tilde, z_tilde)
    (reg + unc).backward()
    assert all(p.grad is not None for p in method.model.parameters() if p.requires_grad)
    assert y_tilde.grad is None and z_tilde.grad is None


def test_uncertainty_consistency_terms_on_a_hand_example():
    s_a, s_b = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 3.0])
    mu = [torch.zeros(2), torch.zeros(2)]
    _, lb_unc = labeled_losses(mu, [s_a, s_b], torch.zeros(2))
    assert lb_unc.item() == pytest.approx((1.0 + 4.0) / 2)  # mean (s_a − s_b)²
    z_tilde = torch.tensor([0.5, 2.0])
    _, ulb_unc = unlabeled_losses(mu, [s_a, s_b], torch.zeros(2), z_tilde)
    assert ulb_unc.item() == pytest.approx((0.25 + 1.0) / 2 + (0.25 + 1.0) / 2)  # Σ_m mean (s_m − z̃)²
    # L_ulb_reg = Σ_m mean ½[exp(−z̃)(μ_m − ỹ)² + z̃]
    y_tilde = torch.tensor([1.0, -1.0])
    ulb_reg, _ = unlabeled_losses(mu, [s_a, s_b], y_tilde, z_tilde)
    one_model = 0.5 * ((torch.exp(-z_tilde) * y_tilde**2 + z_tilde).mean())
    assert ulb_reg.item() == pytest.approx(2 * one_model.item())


def test_the_two_labeled_loss_variants_differ_exactly_as_specified():
    mu = [torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0])]
    s = [torch.tensor([0.0, 1.0]), torch.tensor([2.0, -1.0])]
    y = torch.tensor([0.5, 1.5])
    own, _ = labeled_losses(mu, s, y, "own")
    average, _ = labeled_losses(mu, s, y, "average")
    by_hand_own = sum((0.5 * (torch.exp(-sm) * (m - y) ** 2 + sm)).mean() for m, sm in zip(mu, s))
    s_bar = (s[0] + s[1]) / 2  # [1, 0]
    by_hand_avg = sum((0.5 * (torch.exp(-s_bar) * (m - y) ** 2 + s_bar)).mean() for m in mu)
    assert own.item() == pytest.approx(by_hand_own.item()) and average.item() == pytest.approx(by_hand_avg.item())
    assert own.item() != pytest.approx(average.item())
    same, _ = labeled_losses(mu, [s[0], s[0]], y, "average")  # equal log-variances: the variants coincide
    assert same.item() == pytest.approx(labeled_losses(mu, [s[0], s[0]], y, "own")[0].item())
    assert gaussian_nll(torch.tensor(2.0), torch.tensor(0.0), torch.tensor(0.0)).item() == 2.0


def test_prediction_keeps_dropout_on_and_batchnorm_frozen():
    method = ucvme(method__dropout=0.3)
    method.eval()
    bn = [m for m in method.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    stats = [b.running_mean.clone() for b in bn]
    x = torch.randn(16, 10)
    first, second = method.predict_summary(x), method.predict_summary(x)
    assert not torch.equal(first[:, 0], second[:, 0])  # dropout samples at prediction
    assert (first[:, 2] > 0).all()  # epistemic variance from the MC samples
    assert all(torch.equal(b.running_mean, s) for b, s in zip(bn, stats))  # BatchNorm statistics untouched
    assert not any(m.training for m in method.modules())  # and the modules are back in eval mode


def test_epistemic_variance_is_zero_without_dropout():
    method = ucvme(method__dropout=0.0)
    method.model_b.load_state_dict(method.model.state_dict())  # one model twice: no disagreement left either
    method.eval()
    x = torch.randn(16, 10)
    out = method.predict_summary(x)
    assert torch.equal(out[:, 2], torch.zeros(16))
    a = method.task.mean(method.model(x))
    assert torch.allclose(out[:, 0], a)
    assert torch.allclose(out[:, 1], method.task.log_var(method.model(x)).exp())  # aleatoric = mean exp(s)


def test_resume_restores_both_models_and_optimizers(tmp_path, monkeypatch):
    whole = train(reg_config("ucvme", train__epochs=4), out=tmp_path / "whole")
    train_interrupted(reg_config("ucvme", train__epochs=4), tmp_path / "killed", monkeypatch)
    resumed = resume(tmp_path / "killed")
    a = checkpoint.load(whole.directory / "checkpoints/last.pt")
    b = checkpoint.load(resumed.directory / "checkpoints/last.pt")
    assert any(k.startswith("model_b.") for k in a["method"])
    for key in a["method"]:  # both networks, their BatchNorm statistics
        assert torch.equal(a["method"][key], b["method"][key]), key
    opt_a, opt_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert len(opt_a) == len(list(whole_params(a))) and opt_a.keys() == opt_b.keys()
    for i in opt_a:  # Adam moments of both models' parameters
        for k in opt_a[i]:
            assert torch.equal(opt_a[i][k], opt_b[i][k])
    assert whole.summary["test"] == resumed.summary["test"]


def whole_params(state):
    """Parameter tensors of both networks in a checkpoint (BatchNorm running statistics are buffers)."""
    return [k for k in state["method"] if not any(b in k for b in ("running_", "num_batches"))]


def test_eval_of_a_finished_run_reproduces_its_summary(tmp_path):
    """MC-dropout prediction draws from a fixed, forked seed: `weaklab eval` gives summary.json's test metrics."""
    from weaklab.api import load_run

    run = train(reg_config("ucvme", train__epochs=2), out=tmp_path / "run")
    torch.manual_seed(123)  # whatever the caller's random state
    assert load_run(tmp_path / "run").evaluate("test") == run.summary["test"]


def test_unlabeled_weight_is_the_papers_with_a_pretrained_start_and_one_from_scratch():
    assert build_experiment(reg_config("ucvme")).method.unlabeled_weight == 1.0
    assert build_experiment(reg_config("ucvme", method__unlabeled_weight=10.0)).method.unlabeled_weight == 10.0
