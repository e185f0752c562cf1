"""`kill -9` a real `weaklab train` process at a random point after a checkpoint, resume it, and get the
uninterrupted run's results exactly, for the methods the other resume tests leave out (Π-model, FixMatch, GCE, CC,
PRODEN and supervised here; Temporal Ensembling, Mean Teacher, SCN, UCVME, PL-CR and RC in their own files)."""

import json
import random
import signal
import subprocess
import sys
import time

import pytest

from weaklab.api import resume
from weaklab.engine import checkpoint

from conftest import FAST

PARTIAL = {"data.partial": "plcr", "data.partial_rate": 0.3, "data.labels_per_class": None}
NOISY = {"data.noise": "symmetric", "data.noise_rate": 0.3, "data.labels_per_class": None}
METHODS = {"supervised": {}, "pi_model": {}, "fixmatch": {}, "gce": NOISY, "cc": PARTIAL, "proden": PARTIAL}


def command(method: str, out) -> list[str]:
    settings = {**FAST, "train.epochs": 4, "train.eval_every": 2, **METHODS[method]}
    flags = [f"--set={k}={'null' if v is None else v}" for k, v in settings.items()]
    return [sys.executable, "-m", "weaklab", "train", "--method", method, "--out", str(out), *flags]


def records(run_dir) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in lines]


@pytest.mark.parametrize("method", list(METHODS))
def test_kill_9_then_resume_equals_the_uninterrupted_run(method, tmp_path):
    whole = tmp_path / "whole"
    subprocess.run(command(method, whole), check=True, capture_output=True)

    killed = tmp_path / "killed"
    rng = random.Random(method)  # a different, repeatable kill point per method
    after = rng.choice([2, 4, 6])  # the step of a checkpoint the process must have written first
    process = subprocess.Popen(command(method, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = killed / "checkpoints/last.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if checkpoint.load(last, mmap=True)["step"] >= after:
                break
        except Exception:  # not written yet, or being replaced
            pass
        time.sleep(0.05)
    time.sleep(rng.random() * 0.5)  # somewhere in the steps after it
    process.send_signal(signal.SIGKILL)
    process.wait()
    if (killed / "summary.json").exists():
        pytest.skip("the run finished before the kill landed")

    resumed = resume(killed)
    assert resumed is not None and resumed.summary is not None
    assert records(killed) == records(whole)
    assert resumed.summary["test"] == json.loads((whole / "summary.json").read_text())["test"]
