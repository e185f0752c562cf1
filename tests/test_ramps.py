import math

import pytest

from weaklab.config import TrainConfig
from weaklab.core.ramps import cosine_rampdown, gaussian_rampdown, linear_rampup, sigmoid_rampup, step_decay
from weaklab.engine.optim import Schedule
from weaklab.methods.base import consistency_weight


def test_sigmoid_rampup_known_points():
    assert sigmoid_rampup(0, 80) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(40, 80) == pytest.approx(math.exp(-5 * 0.25))
    assert sigmoid_rampup(80, 80) == 1.0
    assert sigmoid_rampup(500, 80) == 1.0
    assert sigmoid_rampup(3, 0) == 1.0


def test_gaussian_rampdown_known_points():
    assert gaussian_rampdown(100, 300, 50) == 1.0  # before the last 50 epochs
    assert gaussian_rampdown(275, 300, 50) == pytest.approx(math.exp(-12.5 * 0.25))
    assert gaussian_rampdown(300, 300, 50) == pytest.approx(math.exp(-12.5))


def test_other_curves():
    assert (
        cosine_rampdown(0, 10) == 1.0
        and cosine_rampdown(5, 10) == pytest.approx(0.5)
        and cosine_rampdown(10, 10) == pytest.approx(0)
    )
    assert linear_rampup(50, 100) == 0.5 and linear_rampup(200, 100) == 1.0
    assert step_decay(99, [100, 150], 0.1) == 1.0
    assert step_decay(100, [100, 150], 0.1) == pytest.approx(0.1)
    assert step_decay(160, [100, 150], 0.1) == pytest.approx(0.01)


def test_consistency_weight_scaling():
    assert consistency_weight(100, 80, 80, None) == 100
    assert consistency_weight(100, 80, 80, 0.08) == pytest.approx(8)  # CIFAR-10 4000/50000 example
    assert consistency_weight(30, 80, 40, None) == pytest.approx(30 * math.exp(-1.25))


def test_schedule_lr_and_beta1():
    s = Schedule(TrainConfig(epochs=300, lr=0.003))
    assert s.lr_factor(0) == pytest.approx(math.exp(-5))
    assert s.lr_factor(100) == 1.0
    assert s.lr_factor(300) == pytest.approx(math.exp(-12.5))
    assert s.beta1(100) == 0.9
    assert s.beta1(300) == pytest.approx(math.exp(-12.5) * 0.9 + (1 - math.exp(-12.5)) * 0.5)
    step = Schedule(TrainConfig(lr_schedule="step", lr_milestones=[100, 150]))
    assert step.lr_factor(120) == pytest.approx(0.1)
