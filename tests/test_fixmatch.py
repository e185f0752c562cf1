"""FixMatch: the confidence mask, no unlabeled loss under the threshold, gradients only through the strong view,
the EMA evaluation model, its strong view, and what it refuses."""

import pytest
import torch

from weaklab.api import train
from weaklab.data.views.augment import RandAugment
from weaklab.engine.experiment import build_experiment
from weaklab.errors import WeaklabError
from weaklab.methods import Batch, Progress
from weaklab.methods.fixmatch import fixmatch_mask


def test_mask_is_confidence_at_least_tau():
    probs = torch.tensor([[0.96, 0.04], [0.94, 0.06], [0.05, 0.95], [0.5, 0.5]])
    assert fixmatch_mask(probs, 0.95).tolist() == [1.0, 0.0, 1.0, 0.0]


class RecordingViews:
    """Views that return fresh leaves, so a test can see which view the loss's gradient reaches."""

    def __init__(self):
        self.weak, self.strong_inputs = [], []

    def __call__(self, x):
        self.weak.append(x.clone().requires_grad_())
        return self.weak[-1]

    def strong(self, x):
        self.strong_inputs.append(x.clone().requires_grad_())
        return self.strong_inputs[-1]


def one_step(fast, threshold, batch_statistics=True):
    x = build_experiment(fast("fixmatch", method__threshold=threshold))
    method, train_store = x.method, x.data.train
    method.train(batch_statistics)
    idx_lb, idx_ulb = torch.nonzero(x.data.supervision.labeled).flatten()[:8], torch.arange(32)
    batch = Batch(train_store[idx_lb], x.data.supervision.labels[idx_lb], idx_lb, train_store[idx_ulb], idx_ulb)
    method.views = RecordingViews()
    loss, logs = method.training_step(batch, Progress(0, 0, x.sampler.steps_per_epoch))
    loss.backward()
    return method, logs


def test_no_unlabeled_loss_from_samples_under_the_threshold(fast):
    _, logs = one_step(fast, threshold=1.0)  # no softmax output reaches 1: nothing passes
    assert logs["mask_rate"].item() == 0.0 and logs["unlabeled"].item() == 0.0


def test_the_gradient_reaches_only_through_the_strong_view(fast):
    # BatchNorm's running statistics: in training mode the batch statistics of the one forward pass tie every
    # sample to every other, the weak unlabeled ones included (as in the papers' joint forward)
    method, logs = one_step(fast, threshold=0.01, batch_statistics=False)  # every sample passes
    weak_lb, weak_ulb = method.views.weak
    (strong,) = method.views.strong_inputs
    assert logs["mask_rate"].item() == 1.0 and logs["unlabeled"].item() > 0
    assert weak_lb.grad is not None and weak_lb.grad.abs().sum() > 0  # the labeled term
    assert weak_ulb.grad is None or weak_ulb.grad.abs().sum() == 0  # the pseudo-label's source: no gradient
    assert strong.grad is not None and strong.grad.abs().sum() > 0


def test_the_ema_model_follows_the_student_and_takes_its_batchnorm_statistics(fast):
    method = build_experiment(fast("fixmatch", method__ema_horizon_cap="100%")).method
    before = [p.clone() for p in method.ema_model.parameters()]
    with torch.no_grad():
        for p in method.model.parameters():
            p.add_(1.0)
        for b in method.model.buffers():
            if b.is_floating_point():
                b.add_(0.5)
    method.after_optimizer_step(Progress(step=9, epoch=0, steps_per_epoch=6))  # α = min(1 − 1/10, 0.999) = 0.9
    for old, new in zip(before, method.ema_model.parameters()):
        torch.testing.assert_close(new, old + 0.1)
    for a, b in zip(method.ema_model.buffers(), method.model.buffers()):
        assert torch.equal(a, b)
    assert method.predictor() is method.ema_model


def test_images_get_randaugment_with_random_magnitudes_then_cutout(fast):
    views = build_experiment(fast("fixmatch")).views
    assert isinstance(views.policy, RandAugment) and views.policy.random_magnitude and views.cutout > 0
    assert build_experiment(fast("fixmatch", views__strong="none")).views.policy is None  # the user's word wins


def test_a_method_without_strong_views_records_none_and_warns_when_given_one(fast):
    views = build_experiment(fast("pi_model")).views
    assert views.policy is None and views.describe()["strong"] == "none" and views.describe()["cutout"] == 0
    with pytest.warns(UserWarning, match="views.strong and views.cutout have no effect: pi_model"):
        build_experiment(fast("pi_model", views__cutout=8))
    with pytest.warns(UserWarning, match="no effect: mean_teacher"):
        build_experiment(fast("mean_teacher", views__strong="randaugment"))


def test_a_short_run_logs_its_mask_and_pseudo_label_accuracy(fast, tmp_path):
    run = train(fast("fixmatch", train__epochs=1), out=tmp_path / "run")
    record = run.metrics[-1]
    assert {"supervised", "unlabeled", "mask_rate", "pseudo_label_accuracy"} <= record["train"].keys()
    assert run.summary["schedule"]["ema_horizon_steps"] >= 1
    views = run.summary["views"]  # what the run drew: Cutout resolved from the paper's, flip from the data
    assert views["translate"] == 2 and views["cutout"] > 0 and views["flip"] is False
    assert views["strong"] == "randaugment_random"


def test_regression_is_refused_with_the_methods_that_fit(fast):
    with pytest.raises(WeaklabError, match="fixmatch.*classification"):
        build_experiment(fast("fixmatch", data__dataset="digits_rotation", data__labels_per_class=None))
