"""Each method's defining property, on real digits batches."""

import torch

from weaklab.engine.experiment import build_experiment
from weaklab.engine.trainer import Trainer
from weaklab.methods import Batch, Progress


def setup(fast, method, **overrides):
    x = build_experiment(fast(method, **overrides))
    labels = x.data.supervision.labels
    lb, ulb = x.sampler.epoch(0)
    batch = Batch(x.data.train[lb[0]], labels[lb[0]], lb[0], x.data.train[ulb[0]], ulb[0])
    return x, batch


class Recorder(torch.nn.Module):
    """Wraps a network and keeps each forward output with its gradient."""

    def __init__(self, net):
        super().__init__()
        self.net, self.outputs = net, []

    def forward(self, x):
        out = self.net(x)
        out.retain_grad()
        self.outputs.append(out)
        return out

    def logits(self, x):
        return self(x)

    def head_outputs(self, x):
        return (self(x),)


def test_pi_model_consistency_reaches_both_passes(fast):
    x, batch = setup(fast, "pi_model")
    method = x.method
    method.model = Recorder(method.model)
    loss, logs = method.training_step(batch, Progress(step=20, epoch=2, steps_per_epoch=6))
    assert logs["consistency"] > 0 and logs["consistency_weight"] > 0
    loss.backward()
    first, second = method.model.outputs
    n_lb = len(batch.x_lb)
    # Unlabeled rows get no supervised gradient: what reaches them is the consistency term, through both passes.
    assert first.grad[n_lb:].abs().sum() > 0
    assert second.grad[n_lb:].abs().sum() > 0
    assert second.grad[:n_lb].abs().sum() > 0  # the second pass carries no CE at all


def test_weight_is_zero_in_first_epoch(fast):
    """At the paper's 300 epochs w = 0 in the first epoch; a shorter run keeps it 0 for the first 1/300."""
    for name in ("pi_model", "temporal_ensembling"):
        x, batch = setup(fast, name, train__epochs=300)
        _, logs = x.method.training_step(batch, Progress(step=3, epoch=0, steps_per_epoch=6))
        assert logs["consistency_weight"] == 0.0
        _, logs = x.method.training_step(batch, Progress(step=6, epoch=1, steps_per_epoch=6))
        assert logs["consistency_weight"] > 0.0
        short = setup(fast, name, train__epochs=30)[0].method  # 180 steps: 0 for the first 0.6 step only
        assert short.weight(batch, 0.0) == 0.0 and short.weight(batch, 1 / 6) > 0.0


def test_mean_teacher_gradient_reaches_student_never_teacher(fast):
    x, batch = setup(fast, "mean_teacher")
    method = x.method
    method.model = Recorder(method.model)
    loss, logs = method.training_step(batch, Progress(step=200, epoch=30, steps_per_epoch=6))
    assert logs["consistency"] > 0 and logs["consistency_weight"] > 0
    loss.backward()
    student_out = method.model.outputs[0]
    assert student_out.grad[len(batch.x_lb) :].abs().sum() > 0  # consistency reaches the student
    assert all(p.grad is None and not p.requires_grad for p in method.teacher.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.model.parameters())


def test_mean_teacher_kl_and_two_heads(fast):
    x, batch = setup(fast, "mean_teacher", method__consistency="kl", method__logit_distance_cost=0.01)
    loss, logs = x.method.training_step(batch, Progress(step=200, epoch=30, steps_per_epoch=6))
    assert logs["consistency"] > 0 and logs["logit_distance"] > 0
    loss.backward()
    heads = x.method.model.heads
    assert len(heads) == 2 and all(h.weight.grad.abs().sum() > 0 for h in heads)


def test_teacher_follows_the_ema_formula(fast, tmp_path):
    x, batch = setup(fast, "mean_teacher", method__ema_decay=0.9, method__ema_horizon_cap="100%")
    method = x.method
    trainer = Trainer(x, tmp_path)
    student = lambda: [p.detach().clone() for p in method.model.parameters()]  # noqa: E731
    teacher = lambda: [p.detach().clone() for p in method.teacher.parameters()]  # noqa: E731
    for step in range(2):
        before = teacher()
        progress = Progress(step=step, epoch=0, steps_per_epoch=6)
        loss, _ = method.training_step(batch, progress)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        method.after_optimizer_step(progress)
        alpha = min(1 - 1 / (step + 1), 0.9)  # step 0: α = 0 (copy); step 1: α = 0.5
        for t_new, t_old, s in zip(teacher(), before, student()):
            torch.testing.assert_close(t_new, alpha * t_old + (1 - alpha) * s)
    assert alpha == 0.5


def test_temporal_ensembling_hand_example(fast):
    x, _ = setup(fast, "temporal_ensembling", method__ensemble_horizon_cap="100%")  # the paper's α = 0.6
    te = x.method
    z1 = torch.tensor([[0.8, 0.2], [0.1, 0.9]])
    z2 = torch.tensor([[0.6, 0.4], [0.3, 0.7]])
    for name in ("Z", "targets", "epoch_outputs"):
        setattr(te, name, torch.zeros(3, 2))
    te.count, te.seen = torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.bool)
    te.epoch_outputs[:2], te.seen[:2] = z1, True
    te.on_epoch_end(0)
    torch.testing.assert_close(te.Z[:2], 0.4 * z1)
    torch.testing.assert_close(te.targets[:2], z1)  # 0.4 z1 / (1 - 0.6)
    assert te.count.tolist() == [1, 1, 0] and not te.seen.any()
    te.epoch_outputs[:1], te.seen[:1] = z2[:1], True  # sample 1 not seen this epoch
    te.on_epoch_end(1)
    expected = 0.6 * 0.4 * z1[0] + 0.4 * z2[0]
    torch.testing.assert_close(te.Z[0], expected)
    torch.testing.assert_close(te.targets[0], expected / (1 - 0.6**2))
    torch.testing.assert_close(te.targets[1], z1[1])  # unchanged: one epoch accumulated
    assert te.count.tolist() == [2, 1, 0]


def test_temporal_ensembling_horizon_is_the_papers_at_its_length_and_capped_in_short_runs(fast):
    paper = setup(fast, "temporal_ensembling", train__epochs=300)[0].method
    assert paper.alpha == 0.6 and paper.schedule()["ensemble_horizon"] == 2.5  # epochs: the cap (6) does not bind
    short = setup(fast, "temporal_ensembling", train__epochs=10)[0].method
    assert short.alpha == 0.0 and short.schedule()["ensemble_horizon"] == 1.0  # the cap is 0.2 epochs
    assert paper.length_notes() == []  # at the paper's length nothing to say; in a short run, the targets' age
    (note,) = short.length_notes()
    assert "1/10 of this run old" in note and "pi_model" in note
    explicit = setup(fast, "temporal_ensembling", train__epochs=100, method__ensemble_horizon_cap="5%")[0].method
    assert explicit.alpha == 0.6  # the cap is 5 epochs


def test_temporal_ensembling_uses_frozen_targets(fast):
    x, batch = setup(fast, "temporal_ensembling")
    te = x.method
    te.count.fill_(1)
    te.targets.copy_(torch.softmax(torch.randn_like(te.targets), 1))
    frozen = te.targets.clone()
    loss, logs = te.training_step(batch, Progress(step=20, epoch=3, steps_per_epoch=6))
    assert logs["consistency"] > 0
    assert torch.equal(te.targets, frozen)  # within an epoch, targets do not move
    assert te.seen[batch.idx_ulb].all()
