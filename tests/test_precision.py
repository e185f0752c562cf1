"""bf16 autocast and channels_last: where they apply, that weights and teacher stay fp32, and the bench table."""

import json

import torch

from weaklab.api import train
from weaklab.engine.experiment import build_experiment, uses_channels_last
from weaklab.engine.trainer import Trainer


def test_channels_last_default_is_cuda_only_but_can_be_asked_for(fast):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not uses_channels_last(fast(), cpu) and uses_channels_last(fast(), cuda)
    assert uses_channels_last(fast(train__channels_last=True), cpu)
    assert not uses_channels_last(fast(train__channels_last=False), cuda)
    x = build_experiment(fast("mean_teacher", train__channels_last=True))
    convs = [m.weight for m in x.method.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)


def test_bf16_step_computes_in_bf16_but_keeps_fp32_weights_and_teacher(fast, tmp_path):
    x = build_experiment(fast("mean_teacher", train__precision="bf16", train__channels_last=True))
    trainer = Trainer(x, tmp_path)
    seen = []
    student = x.method.model
    hook = student.heads[0].register_forward_hook(lambda m, i, out: seen.append(out.dtype))  # the logits
    before = {k: v.clone() for k, v in x.method.teacher.state_dict().items()}
    plan = trainer.epoch_plan(0)
    trainer.train_step(plan, 0)
    hook.remove()
    assert seen and all(d == torch.bfloat16 for d in seen)  # the forward ran under bf16 autocast
    assert all(p.dtype == torch.float32 for p in x.method.parameters())  # master weights stay fp32
    after = x.method.teacher.state_dict()
    assert all(after[k].dtype == v.dtype for k, v in before.items())
    assert any(not torch.equal(after[k], v) for k, v in before.items() if v.is_floating_point())  # EMA moved, in fp32


def test_fp32_default_on_cpu_computes_in_fp32(fast, tmp_path):
    x = build_experiment(fast("supervised"))
    trainer = Trainer(x, tmp_path)
    seen = []
    x.method.model.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    trainer.train_step(trainer.epoch_plan(0), 0)
    assert seen == [torch.float32]


def test_bf16_channels_last_run_learns(fast, tmp_path):
    cfg = fast(
        "supervised",
        train__precision="bf16",
        train__channels_last=True,
        train__epochs=6,
        train__lr_schedule="constant",
        train__lr=0.01,
        model__dropout=0.0,
        model__width=16,
    )
    train(cfg, out=tmp_path / "run")
    losses = [
        json.loads(line)["train"]["loss"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert len(losses) == 6 and losses[-1] < 0.8 * losses[0]


def test_bench_precision_writes_a_paired_table(tmp_path, monkeypatch):
    from weaklab.bench import precision as bench_precision

    calls = []
    real = bench_precision._config

    def tiny(method, seed, out, extra, device, epochs):
        calls.append(extra)
        cfg = real(method, seed, out, extra, device, 1)
        cfg.model.width, cfg.train.progress = 8, False
        return cfg

    monkeypatch.setattr(bench_precision, "_config", tiny)
    md = tmp_path / "B.md"
    table = bench_precision.precision(["supervised"], [0], tmp_path / "runs", device="cpu", write=str(md))
    assert [c["train.precision"] for c in calls] == ["fp32", "bf16", "bf16"]
    assert [c["train.channels_last"] for c in calls] == [False, False, True]
    assert "| supervised | accuracy % |" in table and "bf16 − fp32" in table
    assert "<!-- precision:begin -->" in md.read_text()


def test_unknown_precision_is_named(fast, tmp_path):
    import pytest

    from weaklab.errors import WeaklabError

    with pytest.raises(WeaklabError, match="train.precision must be one of auto, fp32, bf16, got 'fp16'"):
        Trainer(build_experiment(fast(train__precision="fp16")), tmp_path)
