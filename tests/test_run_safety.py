"""A run directory has one writer, checkpoint writes never destroy the last good one, failed starts leave
nothing, and a run says how it is doing when its output is not a terminal."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from weaklab.api import resume, train
from weaklab.engine import checkpoint
from weaklab.engine.progress import ProgressReport
from weaklab.engine.rundir import claimed
from weaklab.errors import WeaklabError


def test_a_second_writer_is_refused_and_the_first_keeps_its_lock(tmp_path):
    with claimed(tmp_path / "run"):
        assert (tmp_path / "run/.lock").read_text() == str(os.getpid())
        with pytest.raises(WeaklabError, match=rf"in use by another weaklab run \(pid {os.getpid()}\)"):
            with claimed(tmp_path / "run"):
                pass
        with pytest.raises(WeaklabError, match="in use"):  # resuming needs the lock too
            with claimed(tmp_path / "run", resume=True):
                pass
        assert (tmp_path / "run/.lock").exists()
    assert not (tmp_path / "run/.lock").exists()  # released and removed at the end
    with claimed(tmp_path / "run"):
        pass


def test_a_killed_writer_releases_its_lock(tmp_path):
    code = (
        "import sys, time; from weaklab.engine.rundir import claimed\n"
        f"with claimed({str(tmp_path / 'run')!r}):\n    print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(WeaklabError, match=f"pid {holder.pid}"):
            with claimed(tmp_path / "run"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with claimed(tmp_path / "run"):  # the kernel dropped the dead writer's lock; its stale file is reused
        pass


def test_a_failed_start_leaves_nothing_but_what_was_there(tmp_path):
    with pytest.raises(WeaklabError, match="does not exist"):
        train({"data": {"dataset": str(tmp_path / "missing.npz")}}, out=tmp_path / "new")
    assert not (tmp_path / "new").exists()

    (tmp_path / "old").mkdir()
    (tmp_path / "old/notes.txt").write_text("mine")
    with pytest.raises(WeaklabError):
        train({"data": {"dataset": str(tmp_path / "missing.npz")}}, out=tmp_path / "old")
    assert sorted(os.listdir(tmp_path / "old")) == ["notes.txt"]


def test_overwrite_replaces_a_finished_run(fast, tmp_path):
    first = train(fast(train__epochs=1), out=tmp_path / "run")
    (first.directory / "extra.txt").write_text("from the first run")
    with pytest.raises(WeaklabError, match="--overwrite"):
        train(fast(train__epochs=1), out=tmp_path / "run")
    second = train(fast(train__epochs=2), out=tmp_path / "run", overwrite=True)
    assert second.summary["steps"] == 12 and not (second.directory / "extra.txt").exists()
    assert len((second.directory / "metrics.jsonl").read_text().splitlines()) == 2


def test_run_directory_below_a_file_or_inside_the_data_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(WeaklabError, match="which is a file"):
        train({}, out=tmp_path / "file/run")
    (tmp_path / "images/cat").mkdir(parents=True)
    with pytest.raises(WeaklabError, match="inside the dataset folder"):
        train({"data": {"dataset": str(tmp_path / "images")}}, out=tmp_path / "images/run")


def test_train_names_a_wrong_argument_type():
    with pytest.raises(TypeError, match="config must be a Config, a dict or a recipe path, not int"):
        train(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="out must be a path"):
        train({}, out=5)  # type: ignore[arg-type]


def test_a_full_disk_during_a_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save({"step": 1}, path)

    def full_disk(obj, f):
        with open(f, "wb") as out:
            out.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(WeaklabError, match=r"\(the disk is full\); the previous last.pt is kept"):
        checkpoint.save({"step": 2}, path)
    assert os.listdir(tmp_path) == ["last.pt"]  # no temporary file left
    monkeypatch.undo()
    assert checkpoint.load(path)["step"] == 1


def test_a_run_stopped_by_a_failed_best_write_resumes_from_last_alone(fast, tmp_path, monkeypatch):
    whole = train(fast(train__epochs=4), out=tmp_path / "whole")

    original, calls = checkpoint.link, {"n": 0}

    def link_fails_second_time(source, path):
        calls["n"] += 1
        if calls["n"] == 2:
            checkpoint._write_failed(path.with_name("best.pt.tmp"), path, OSError(errno.ENOSPC, "full"))
        original(source, path)

    run_dir = tmp_path / "stopped"
    with monkeypatch.context() as m:
        m.setattr(checkpoint, "link", link_fails_second_time)
        with pytest.raises(WeaklabError, match="could not write checkpoint .*best.pt"):
            train(fast(train__epochs=4), out=run_dir)
    assert sorted(os.listdir(run_dir / "checkpoints")) == ["best.pt", "last.pt"]
    resumed = resume(run_dir)
    assert resumed.summary["test"] == whole.summary["test"]
    assert resumed.summary["selected"] == whole.summary["selected"]

    (run_dir / "checkpoints/best.pt").unlink()  # and with last.pt only
    (run_dir / "summary.json").unlink()
    assert resume(run_dir).summary is not None


def test_progress_lines_without_a_terminal(capsys):
    report = ProgressReport(total=100, initial=0, steps_per_epoch=10, enabled=True, interval=0.0)
    report.step(1, lambda: 2.5)
    report.evaluated(loss=2.0, metric="accuracy", value=0.5)
    time.sleep(0.01)
    report.step(50, lambda: 1.25)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("weaklab: step 1/100, epoch 0.1, loss 2.5, ")
    assert lines[1].startswith("weaklab: step 50/100, epoch 5.0, loss 1.25, val accuracy 0.5, ")
    assert lines[1].endswith(" left")
    quiet = ProgressReport(total=100, initial=0, steps_per_epoch=10, enabled=False, interval=0.0)
    quiet.step(1, lambda: 1.0)
    assert capsys.readouterr().err == ""


def test_a_training_with_redirected_output_reports_progress(fast, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ProgressReport.__init__, "__defaults__", (0.0,))  # every step, instead of every 30 s
    train(fast(train__epochs=1, train__progress=True), out=tmp_path / "run")
    err = capsys.readouterr().err
    assert "weaklab: step 6/6, epoch 1.0, loss " in err


def test_a_weaklab_checkpoint_is_accepted_as_pretrained_weights(fast, tmp_path, capsys):
    first = train(fast(train__epochs=1), out=tmp_path / "first")
    weights = first.directory / "checkpoints/best.pt"
    second = train(fast(train__epochs=1, model__pretrained=str(weights)), out=tmp_path / "second")
    assert "pretrained" in capsys.readouterr().out
    assert second.summary is not None


def test_a_checkpoint_of_another_format_version_says_so(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format": "weaklab-checkpoint-0", "step": 1}, path)
    with pytest.raises(WeaklabError, match="format 'weaklab-checkpoint-0'; this weaklab reads"):
        checkpoint.load(path)


def test_summary_names_the_resolved_model(fast, tmp_path):
    run = train(fast(train__epochs=1, model__name="auto"), out=tmp_path / "run")
    assert json.loads((run.directory / "summary.json").read_text())["model"] not in ("auto", None)
