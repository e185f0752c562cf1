import json

import pytest
import torch

from weaklab.api import resume, train
from weaklab.engine import checkpoint
from weaklab.errors import TrainingDiverged, WeaklabError
from weaklab.methods.supervised import Supervised

from conftest import train_interrupted


def lines(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def without_time(records):
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


@pytest.mark.parametrize("method", ["temporal_ensembling", "mean_teacher"])
def test_resumed_run_equals_uninterrupted(fast, tmp_path, monkeypatch, method):
    config = fast(method, train__epochs=4)
    whole = train(config, out=tmp_path / "whole")

    # Kill the second run right after its second checkpoint, then resume it.
    train_interrupted(fast(method, train__epochs=4), tmp_path / "killed", monkeypatch)
    assert checkpoint.load(tmp_path / "killed/checkpoints/last.pt")["step"] == 12
    resumed = resume(tmp_path / "killed")

    assert without_time(lines(whole.directory)) == without_time(lines(resumed.directory))
    a = checkpoint.load(whole.directory / "checkpoints/last.pt")["method"]
    b = checkpoint.load(resumed.directory / "checkpoints/last.pt")["method"]
    assert a.keys() == b.keys()
    for key in a:  # weights, teacher, BatchNorm statistics, and Temporal Ensembling's Z all identical
        assert torch.equal(a[key], b[key]), key
    assert whole.summary["test"] == resumed.summary["test"]


def test_nan_stops_with_message_and_keeps_last_good_checkpoint(fast, tmp_path, monkeypatch):
    original = Supervised.training_step

    def poisoned(self, batch, progress):
        loss, logs = original(self, batch, progress)
        if progress.step >= 9:
            loss = loss * float("nan")
        return loss, logs

    monkeypatch.setattr(Supervised, "training_step", poisoned)
    with pytest.raises(TrainingDiverged, match=r"step 9 \(epoch 1\): loss=nan, supervised=.*last.pt"):
        train(fast("supervised", train__log_every=1), out=tmp_path / "run")
    state = checkpoint.load(tmp_path / "run/checkpoints/last.pt")
    assert state["step"] == 6  # the last evaluation before the bad step
    assert all(torch.isfinite(v).all() for v in state["method"].values() if v.is_floating_point())


def test_exploding_loss_is_caught(fast, tmp_path, monkeypatch):
    original = Supervised.training_step
    monkeypatch.setattr(Supervised, "training_step", lambda self, b, p: (original(self, b, p)[0] * 1e6, {}))
    with pytest.raises(TrainingDiverged, match="step 0"):
        train(fast("supervised", train__log_every=2), out=tmp_path / "run")


def test_best_checkpoint_is_chosen_on_validation(fast, tmp_path):
    run = train(fast("supervised", train__epochs=5, train__lr_rampup=0), out=tmp_path / "run")
    records = lines(run.directory)
    best = max(records, key=lambda r: (r["val"]["accuracy"], -r["val"]["nll"]))  # a tie: the lower NLL
    assert run.summary["selected"] == {"step": best["step"], "val_accuracy": best["val"]["accuracy"]}
    assert checkpoint.load(run.directory / "checkpoints/best.pt")["step"] == best["step"]
    for name in ("config.yaml", "summary.json", "plots/loss.png", "plots/accuracy.png"):
        assert (run.directory / name).is_file(), name
    test = run.summary["test"]
    assert set(test) == {"accuracy", "nll", "ece"} and 0 <= test["ece"] <= 1


def test_a_tie_in_accuracy_goes_to_the_lower_validation_nll():
    """On a small validation split many checkpoints tie on accuracy; the earliest is the least trained. The NLL
    breaks the tie; it never outweighs accuracy, and metrics without a tie-break compare alone."""
    from types import SimpleNamespace

    from weaklab.engine.trainer import Trainer

    def key(metric, higher, tiebreak="nll", **val):
        trainer = SimpleNamespace(
            selection_metric=metric, higher_is_better=higher, cfg=SimpleNamespace(selection_tiebreak=tiebreak)
        )
        return Trainer.selection_key(trainer, val)

    early, later = key("accuracy", True, accuracy=0.9, nll=0.5), key("accuracy", True, accuracy=0.9, nll=0.3)
    assert later > early and not early > later
    assert key("accuracy", True, accuracy=0.95, nll=2.0) > later  # a better accuracy wins whatever its NLL
    assert key("mse", False, mse=1.0, nll=9.0) > key("mse", False, mse=2.0, nll=0.1)  # lower is better
    label_free = key("approx_accuracy", True, approx_accuracy=0.8, nll=0.1)  # nll there scores true labels
    assert label_free == [0.8] and not label_free > key("approx_accuracy", True, approx_accuracy=0.8, nll=0.9)
    assert key("accuracy", True, "none", accuracy=0.9, nll=0.3) == [0.9]  # the earliest of a tie, as before


def test_run_predicts_and_reevaluates(fast, tmp_path):
    run = train(fast("mean_teacher"), out=tmp_path / "run")
    from weaklab.data.sources.datasets import digits

    x = digits().x[:20]
    probs = run.predict_proba(x)
    assert probs.shape == (20, 10) and abs(probs.sum(1) - 1).max() < 1e-5
    assert (run.predict(x) == probs.argmax(1)).all()
    assert run.evaluate("test") == pytest.approx(run.summary["test"], abs=1e-6)
    with pytest.raises(WeaklabError, match="expects N×1×8×8"):
        run.predict_proba(x[:, :, :4])


def test_checkpoints_are_plain_and_atomic(fast, tmp_path):
    run = train(fast("temporal_ensembling", train__epochs=1), out=tmp_path / "run")
    path = run.directory / "checkpoints/last.pt"
    torch.load(path, weights_only=True)  # loads without executing code
    assert not list((run.directory / "checkpoints").glob("*.tmp"))
    path.write_bytes(path.read_bytes()[:100])  # a truncated file
    with pytest.raises(WeaklabError, match="corrupt"):
        checkpoint.load(path)


def test_refuses_to_overwrite_a_run(fast, tmp_path):
    train(fast("supervised", train__epochs=1), out=tmp_path / "run")
    with pytest.raises(WeaklabError, match="weaklab resume"):
        train(fast("supervised", train__epochs=1), out=tmp_path / "run")


def test_unknown_compile_mode_is_named(fast, tmp_path):
    from weaklab.engine.experiment import build_experiment
    from weaklab.engine.trainer import Trainer

    with pytest.raises(WeaklabError, match="compile_mode must be one of default, reduce-overhead"):
        Trainer(build_experiment(fast(train__compile=True, train__compile_mode="fastest")), tmp_path)
