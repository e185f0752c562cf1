"""torchrun-style data parallelism on CPU: 2 processes with gloo on 127.0.0.1 give the single-process run.

Design: augmentation noise, translation and dropout are off, so a step is a deterministic function of the batch
(each rank draws its own augmentation stream, which no single process reproduces), and BatchNorm is
synchronised (train.sync_batchnorm): unsynchronised, each rank normalises with its own share's statistics and the
gradients differ from the single-process run by design. Temporal Ensembling carries per-sample state (its
epoch outputs, Z and targets), which must come out identical on both ranks.
"""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

from weaklab.engine.distributed import World
from weaklab.engine.experiment import build_experiment
from weaklab.engine.trainer import Trainer
from weaklab.errors import WeaklabError

DETERMINISTIC = {
    "model__dropout": 0.0,
    "views__translate": 0,
    "views__noise": 0.0,
    "train__sync_batchnorm": True,
    "train__lr_schedule": "constant",
    "method__rampup": 0.0,
    "train__batch_labeled": 16,
    "train__batch_unlabeled": 256,
    "train__epochs": 2,
}
STATE = ("Z", "targets", "count", "epoch_outputs")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fit_here(config, run_dir):
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(build_experiment(config), run_dir)
    trainer.fit()
    return trainer


def lines(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _trained_rank(rank, size, port, config, run_dir):
    """This process as rank `rank` of a torchrun-like world on 127.0.0.1, after training `config` into run_dir."""
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    world = World.from_env("cpu")
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(build_experiment(config), run_dir, world)
    trainer.fit()
    return world, trainer


def _rank(rank, size, port, config, run_dir):
    world, trainer = _trained_rank(rank, size, port, config, run_dir)
    try:
        state = {k: getattr(trainer.method, k).clone() for k in STATE}
        # A per-sample buffer nobody gathers (one rank writes it) is caught, with its name.
        if rank == 1:
            trainer.method.Z[0] += 1
        try:
            world.check_in_sync(trainer.method)
        except WeaklabError as e:
            state["drift_error"] = str(e)
        torch.save(state, run_dir / f"state-rank{rank}.pt")
    finally:
        world.close()


def test_two_processes_equal_one(fast, tmp_path):
    config = fast("temporal_ensembling", **DETERMINISTIC)
    single = fit_here(config, tmp_path / "single")

    mp.spawn(_rank, args=(2, free_port(), config, tmp_path / "ddp"), nprocs=2, join=True)

    one, two = lines(tmp_path / "single"), lines(tmp_path / "ddp")
    # Same global batch, same steps; one line per evaluation: only rank 0 writes.
    assert [r["step"] for r in one] == [r["step"] for r in two] == [6, 12]
    for a, b in zip(one, two):
        assert b["train"]["loss"] == pytest.approx(a["train"]["loss"], rel=1e-4, abs=1e-6)
        assert b["train"]["consistency"] == pytest.approx(a["train"]["consistency"], rel=1e-3, abs=1e-7)
        for k, v in a["val"].items():
            assert b["val"][k] == pytest.approx(v, rel=1e-3, abs=1e-5), k
    r0, r1 = (torch.load(tmp_path / "ddp" / f"state-rank{r}.pt") for r in (0, 1))
    for k in STATE:
        assert torch.equal(r0[k], r1[k]), k  # identical per-sample state on both ranks
        # Adam amplifies float noise
        torch.testing.assert_close(r0[k].float(), getattr(single.method, k).float(), rtol=1e-2, atol=2e-3)
    assert "Z" in r0["drift_error"] and "sample_state" in r1["drift_error"]
    assert (r0["count"] == 2).all()  # every sample's ensemble gathered from both ranks' shares, every epoch
    # Only rank 0 writes: one metrics file, one set of checkpoints, no second logger's output.
    assert (tmp_path / "ddp" / "checkpoints" / "last.pt").exists()


def test_resume_with_another_number_of_processes(fast, tmp_path):
    """Mean Teacher (two networks, EMA) one epoch in one process, the second under torchrun with two processes:
    the same as two epochs in one process."""
    fit_here(fast("mean_teacher", **DETERMINISTIC), tmp_path / "whole")
    run = tmp_path / "run"
    from weaklab.api import train

    train(fast("mean_teacher", **{**DETERMINISTIC, "train__epochs": 1}), out=run)
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("epochs: 1", "epochs: 2"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(free_port()),
        "-m",
        "weaklab",
        "resume",
        str(run),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = lines(tmp_path / "whole")[-1], lines(run)[-1]
    assert b["step"] == a["step"] == 12
    for k, v in a["val"].items():
        assert b["val"][k] == pytest.approx(v, rel=1e-3, abs=1e-5), k
    assert json.loads((run / "summary.json").read_text())["steps"] == 12


def test_global_batch_must_divide_between_processes(fast, tmp_path):
    world = World(rank=0, size=3)
    with pytest.raises(WeaklabError, match="divisible by 3"):
        Trainer(build_experiment(fast("supervised")), tmp_path, world)


def test_shards_are_disjoint_and_cover_the_global_batch():
    plan = torch.arange(24).view(2, 12)
    shards = [World(rank=r, size=3).shard(plan) for r in range(3)]
    assert torch.equal(torch.cat(shards, dim=1), plan)
    assert all(s.shape == (2, 4) for s in shards)


def _scn_rank(rank, size, port, config, run_dir):
    world, trainer = _trained_rank(rank, size, port, config, run_dir)
    try:
        torch.save(
            {k: getattr(trainer.method, k).clone() for k in ("labels", "events")}, run_dir / f"state-rank{rank}.pt"
        )
    finally:
        world.close()


def test_scn_relabels_and_their_counts_are_global_under_two_processes(fast, tmp_path):
    """Every rank holds the same relabeled labels and per-sample relabel counts, and the logged number of relabels
    is that of the whole global batch (both ranks' shares), not rank 0's."""
    deterministic = {k: v for k, v in DETERMINISTIC.items() if k != "method__rampup"}
    config = fast(
        "scn",
        data__labels_per_class=None,
        data__noise="symmetric",
        data__noise_rate=0.4,
        method__relabel_start=0,
        method__margin2=0.05,
        method__relabel_view="augmented",
        **deterministic,
    )
    mp.spawn(_scn_rank, args=(2, free_port(), config, tmp_path), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"state-rank{r}.pt") for r in (0, 1))
    assert torch.equal(r0["labels"], r1["labels"]) and torch.equal(r0["events"], r1["events"])
    logged = sum(r["state"]["relabeled"] for r in lines(tmp_path))
    assert logged == int(r0["events"][:, 0].sum()) > 0


def _child_with_rank(parent: int, rank: int) -> int | None:
    """The pid of torchrun's worker process `rank` (read from /proc: the worker's RANK variable)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            environ = open(f"/proc/{entry}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and f"RANK={rank}".encode() in environ:
            return int(entry)
    return None


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds torchrun's workers through /proc")
def test_a_killed_rank_stops_the_others_and_the_run_resumes(fast, tmp_path):
    import signal
    import time

    run = tmp_path / "run"
    settings = {**{k.replace("__", "."): v for k, v in DETERMINISTIC.items()}, "train.epochs": 30}
    settings.update({"data.labels_per_class": 5, "model.name": "small_cnn", "model.width": 8})
    flags = [f"--set={k}={v}" for k, v in settings.items()]
    port = str(free_port())
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1"]
    cmd += ["--master-port", port, "-m", "weaklab", "train", "--method", "mean_teacher", "--out", str(run), *flags]
    launcher = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoints/last.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        worker = _child_with_rank(launcher.pid, 1)
        assert worker is not None and launcher.poll() is None
        os.kill(worker, signal.SIGKILL)
        killed = time.monotonic()
        _, err = launcher.communicate(timeout=60)  # the others stop within a minute
    finally:
        launcher.kill()
    assert launcher.returncode != 0 and time.monotonic() - killed < 60
    # rank 0 usually says what happened and what to do ("interrupted by SIGTERM; continue with weaklab resume"),
    # but one blocked in a collective when the launcher escalates to SIGKILL cannot: not asserted
    assert not (run / "summary.json").exists()
    from weaklab.api import resume

    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("epochs: 30", "epochs: 2"))
    assert resume(run).summary is not None  # in one process, from the last checkpoint rank 0 wrote
