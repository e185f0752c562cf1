"""The schedule rule (core/span.py): the paper's numbers at the paper's length, the same shape at any length."""

import json
import math

import pytest

from weaklab.config import TrainConfig, resolve
from weaklab.core.span import Run, parse, tick
from weaklab.engine.experiment import build_experiment
from weaklab.engine.optim import Schedule
from weaklab.errors import WeaklabError

SHARES = [0.0, 0.05, 0.1, 0.2, 0.26, 0.5, 0.8, 0.85, 0.9, 0.97, 1.0]


def test_lengths_read_against_the_run():
    run = Run(300, 500)
    assert run.epochs_of("80/300") == 80.0  # exact at the paper's length
    assert Run(10, 47).epochs_of("80/300") == pytest.approx(80 / 30)
    assert Run(10, 47).epochs_of("25%") == 2.5
    assert Run(10, 47).epochs_of(3) == 3.0 and Run(10, 47).epochs_of("3 epochs") == 3.0
    assert Run(10, 50).epochs_of("100 steps") == 2.0 and Run(10, 50).steps_of("1/10") == 50.0
    assert tick(2.7, 1.0) == 2.0 and tick(0.999999999999, 1.0) == 1.0 and tick(0.37, 0.0) == 0.37


@pytest.mark.parametrize("bad", ["80/0", "300/80", "-3", -3, "12 parsecs", "150%", True, float("nan")])
def test_bad_lengths_are_one_line_errors(bad):
    with pytest.raises(WeaklabError, match="train.lr_rampup"):
        parse(bad, "train.lr_rampup")


def test_config_checks_lengths_before_any_data_and_reads_old_names():
    with pytest.raises(WeaklabError, match="train.lr_rampup"):
        resolve(None, {"train.lr_rampup": "eighty"})
    old = resolve(
        None,
        {
            "train.lr_rampup_epochs": 2.7,
            "train.rampdown_epochs": 1.7,
            "method.name": "pi_model",
            "method.rampup_epochs": 5,
        },
    )
    assert (old.train.lr_rampup, old.train.lr_rampdown, old.method.rampup) == (2.7, 1.7, 5.0)
    with pytest.raises(WeaklabError, match="old name"):
        resolve(None, {"train.lr_rampup_epochs": 2, "train.lr_rampup": 3})


def test_default_lr_schedule_is_the_papers_at_300_epochs():
    s = Schedule(TrainConfig(epochs=300))
    assert s.lr_factor(0) == pytest.approx(math.exp(-5))
    assert s.lr_factor(40) == pytest.approx(math.exp(-5 * 0.25))
    assert s.lr_factor(80) == 1.0 and s.lr_factor(250) == 1.0
    assert s.lr_factor(275) == pytest.approx(math.exp(-12.5 * 0.25))
    assert s.beta1(300) == pytest.approx(math.exp(-12.5) * 0.9 + (1 - math.exp(-12.5)) * 0.5)


@pytest.mark.parametrize("schedule", ["gaussian", "cosine"])
def test_lr_schedule_has_the_same_shape_thirty_times_shorter(schedule):
    paper, short = (
        Schedule(TrainConfig(epochs=300, lr_schedule=schedule)),
        Schedule(TrainConfig(epochs=10, lr_schedule=schedule)),
    )
    for f in SHARES:
        assert short.lr_factor(10 * f) == pytest.approx(paper.lr_factor(300 * f))
        assert short.beta1(10 * f) == pytest.approx(paper.beta1(300 * f))
    if schedule == "gaussian":  # the issue: at --epochs 10 the lr reached 2e-6 of its value
        assert short.lr_factor(5) == 1.0


def test_step_and_exponential_schedules_as_shares():
    paper = Schedule(TrainConfig(epochs=200, lr_schedule="step", lr_milestones=["100/200", "150/200"]))
    assert [paper.lr_factor(e) for e in (99.9, 100, 149.9, 150)] == pytest.approx([1, 0.1, 0.1, 0.01])
    short = Schedule(TrainConfig(epochs=20, lr_schedule="step", lr_milestones=["100/200", "150/200"]))
    assert [short.lr_factor(e) for e in (9.99, 10, 15)] == pytest.approx([1, 0.1, 0.01])
    scn = Schedule(TrainConfig(epochs=70, lr_schedule="exponential", lr_gamma=0.9, lr_decay_every="1/70"))
    assert scn.lr_factor(9.5) == pytest.approx(0.9**9)
    scn_short = Schedule(TrainConfig(epochs=7, lr_schedule="exponential", lr_gamma=0.9, lr_decay_every="1/70"))
    assert scn_short.lr_factor(0.95) == pytest.approx(0.9**9)


def test_explicit_lengths_stay_and_warn_when_they_do_not_fit():
    s = Schedule(TrainConfig(epochs=10, lr_rampup=2.7, lr_rampdown="47 steps"), steps_per_epoch=47)
    assert s.rampup == 2.7 and s.rampdown == 1.0
    with pytest.warns(UserWarning, match=r"train.lr_rampup=80.*run has 10"):
        Schedule(TrainConfig(epochs=10, lr_rampup=80))


def _method(fast, method, epochs, **overrides):
    return build_experiment(fast(method, train__epochs=epochs, **overrides)).method


class _Batch:  # the weight needs only the batch's composition
    def __init__(self, n_lb, n):
        self.x_lb, self.size = [0] * n_lb, n


def test_pi_model_weight_is_the_papers_at_300_epochs_and_keeps_its_shape(fast):
    paper, short = _method(fast, "pi_model", 300), _method(fast, "pi_model", 10)
    batch = _Batch(16, 16 + 256)
    share = 16 / 272
    assert paper.weight(batch, 0.0) == 0.0 and paper.weight(batch, 0.99) == 0.0  # w = 0 in the first epoch
    assert paper.weight(batch, 40.5) == pytest.approx(100 * share * math.exp(-5 * (1 - 40 / 80) ** 2))  # per epoch
    assert paper.weight(batch, 80) == pytest.approx(100 * share)
    for f in SHARES:
        assert short.weight(batch, 10 * f) == pytest.approx(paper.weight(batch, 300 * f), abs=1e-9)


def test_mean_teacher_ema_is_the_papers_at_its_length_and_capped_in_short_runs(fast):
    long = _method(fast, "mean_teacher", 300, train__batch_unlabeled=4, data__labels_per_class=None)
    assert long.ctx.run.steps > 50_000  # 2% of the run is longer than the paper's 1,000-step horizon
    assert long.alpha(0.0) == 0.99 and long.alpha(80.0) == 0.999
    short = _method(fast, "mean_teacher", 3)  # 18 steps: the teacher averages at most 2% of them
    assert short.alpha(0.0) == 0.0 and short.alpha(3.0) == 0.0
    assert _method(fast, "mean_teacher", 3, method__ema_horizon_cap="50%").alpha(3.0) == pytest.approx(1 - 1 / 9)


def test_plcr_lambda_and_scn_relabel_start_scale(fast):
    partial = {"data__partial": "plcr", "data__partial_rate": 0.3, "data__labels_per_class": None}
    paper, short = _method(fast, "plcr", 200, **partial), _method(fast, "plcr", 20, **partial)
    assert paper.lam(0.5) == 0.0 and paper.lam(50.7) == 0.5 and paper.lam(150) == 1.0  # min(e/100, 1), e whole
    assert short.lam(5.07) == pytest.approx(0.5) and short.lam(0.05) == 0.0
    noisy = {"data__noise": "symmetric", "data__noise_rate": 0.2, "data__labels_per_class": None}
    assert _method(fast, "scn", 70, **noisy).relabel_from == 10.0
    assert _method(fast, "scn", 7, **noisy).relabel_from == pytest.approx(1.0)
    # never before the lr warm-up ends
    assert _method(fast, "scn", 70, train__lr_rampup="50%", **noisy).relabel_from == 35.0


def test_a_run_of_few_optimizer_steps_says_so_and_names_the_fix(tmp_path, fast, capsys):
    from weaklab.api import train

    train(fast("supervised", train__epochs=2, train__progress=True), out=tmp_path / "short")
    out = capsys.readouterr().out
    steps = json.loads((tmp_path / "short" / "summary.json").read_text())["schedule"]["total_steps"]
    assert steps < 100 and f"note: this run has {steps} optimizer steps" in out and "raise --epochs" in out
    many = fast("supervised", train__epochs=2, train__progress=True, train__batch_labeled=4, train__batch_unlabeled=16)
    train(many, out=tmp_path / "long")
    assert json.loads((tmp_path / "long" / "summary.json").read_text())["schedule"]["total_steps"] >= 100
    assert "optimizer steps" not in capsys.readouterr().out
