"""Every method's training step asks the host for nothing: no value read back, no shape that depends on values.

On a GPU each such call would make the host wait for the queued kernels every step. On this CPU nothing waits,
so the guard (engine/sync_guard.py) records the calls themselves, made from weaklab's code, with their lines."""

import pytest
import torch

from weaklab.data.views import augment
from weaklab.engine.experiment import build_experiment
from weaklab.engine.sync_guard import host_syncs
from weaklab.engine.trainer import Trainer
from weaklab.methods import METHODS

NOISY = {"data__labels_per_class": None, "data__noise": "symmetric", "data__noise_rate": 0.3}
PARTIAL = {"data__labels_per_class": None, "data__partial": "plcr", "data__partial_rate": 0.3}
MIXED = {**PARTIAL, "data__partial": "pico", "data__labeled_fraction": 0.5, "data__noise": "symmetric"}
REGRESSION = {"data__dataset": "digits_rotation", "data__labels_per_class": None, "data__labeled_fraction": 0.2}
DATA = {"noisy": NOISY, "partial": PARTIAL, "mixed": {**MIXED, "data__noise_rate": 0.2}}


def data_for(name: str) -> dict:
    cls = METHODS[name]
    if cls.tasks == ("regression",):
        return REGRESSION
    return DATA.get(cls.supervision_kind, {})


@pytest.mark.parametrize("name", list(METHODS))
def test_a_training_step_makes_no_host_sync(name, fast, tmp_path, monkeypatch):
    monkeypatch.setattr(augment, "GROUP_ON_CPU", False)  # the GPU's path for the strong views
    trainer = Trainer(build_experiment(fast(name, **data_for(name))), tmp_path)
    plan = trainer.epoch_plan(0)
    trainer.train_step(plan, 0)  # first-step set-up (optimizer state) is not the hot path
    with host_syncs() as found:
        for _ in range(2):
            trainer.train_step(plan, 0)
    assert found == [], f"{name}'s step syncs with the host: {sorted(set(found))}"


def test_the_guard_finds_each_kind_of_host_sync():
    t = torch.tensor([0.0, 2.0, 3.0])
    mask = t > 1

    def reads(t):
        t.sum().item()
        float(t.max())
        if t.any():
            pass
        torch.nonzero(t)
        t[mask]
        torch.bincount(t.long())
        torch.nn.functional.one_hot(t.long(), 4)

    with host_syncs(scope=__file__) as found:
        reads(t)
    kinds = [f.split(" at ")[0] for f in found]
    assert kinds == [
        ".item()",
        "float(tensor)",
        "bool(tensor)",
        "torch.nonzero()",
        "boolean-mask indexing",
        "torch.bincount()",
        "torch.nn.functional.one_hot()",
    ]
    assert all(f.endswith(".py:" + f.split(":")[-1]) and "test_sync_free.py" in f for f in found)
    with host_syncs(scope=__file__) as found:  # the sync-free forms of the same
        torch.where(mask, t, 0.0).sum()
        torch.zeros(4).scatter_add_(0, t.long(), torch.ones(3))
    assert found == []
    assert torch.Tensor.__bool__ is torch._C.TensorBase.__bool__  # everything is put back
