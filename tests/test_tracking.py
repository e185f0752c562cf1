"""`--tracking mlflow`: a run mirrored into MLflow (./mlruns by default), every evaluation's metrics included."""

import json
import os
import sys

import pytest

from weaklab.cli import main
from weaklab.engine.logger import read_metrics

from conftest import FAST, fast_config

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # MLflow 3's usage telemetry: tests never touch the network

TRAIN = ["train", "--dataset", "digits", "--epochs", "2"]
TRAIN += [f"--set={key}={value}" for key, value in FAST.items() if key != "train.epochs"]
TRAIN += ["--set=train.plot_redraws=0"]  # plots once, at the run's end


@pytest.fixture
def no_mlflow_env(monkeypatch, tmp_path):
    """A clean working folder and no MLflow settings from the environment."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_ALLOW_FILE_STORE"):
        monkeypatch.delenv(name, raising=False)  # and the one weaklab sets goes again after the test
    monkeypatch.chdir(tmp_path)


def only_run(uri):
    mlflow = pytest.importorskip("mlflow")
    client = mlflow.MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("weaklab").experiment_id])
    return client, run


def history(client, run, key="val/accuracy"):
    return [(m.step, m.value) for m in sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)]


def test_a_tracked_run_is_written_under_mlruns_with_every_evaluation(no_mlflow_env, tmp_path):
    pytest.importorskip("mlflow")
    assert main([*TRAIN, "--tracking", "mlflow", "--out", "run"]) == 0
    assert (tmp_path / "mlruns").is_dir()
    client, run = only_run((tmp_path / "mlruns").as_uri())
    records = read_metrics(tmp_path / "run")
    assert history(client, run) == [(r["step"], pytest.approx(r["val"]["accuracy"])) for r in records]
    assert [s for s, _ in history(client, run, "train/loss")] == [6, 12]
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["train.lr"] == str(fast_config().train.lr) and run.data.params["method.name"] == "supervised"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert run.data.metrics["test/accuracy"] == pytest.approx(summary["test"]["accuracy"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"summary.json", "config.yaml", "plots"} <= artifacts
    assert "plots/loss.png" in {a.path for a in client.list_artifacts(run.info.run_id, "plots")}


def test_a_resumed_run_continues_its_mlflow_run_once_per_step(no_mlflow_env, tmp_path, monkeypatch):
    """Stopped while writing its second checkpoint: the resumed run evaluates step 12 again, MLflow keeps one."""
    pytest.importorskip("mlflow")
    from weaklab.api import resume, train
    from weaklab.engine.trainer import Trainer

    uri = (tmp_path / "elsewhere").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    original, saves = Trainer._save, {"n": 0}

    def killed(self, improved):
        saves["n"] += 1
        if saves["n"] == 2:
            raise KeyboardInterrupt
        original(self, improved)

    config = fast_config(train__tracking="mlflow", train__epochs=3, train__plot_redraws=0)
    with monkeypatch.context() as m:
        m.setattr(Trainer, "_save", killed)
        with pytest.raises(KeyboardInterrupt):
            train(config, out=tmp_path / "run")
    client, run = only_run(uri)
    assert run.info.status == "KILLED" and [s for s, _ in history(client, run)] == [6, 12]
    resume(tmp_path / "run")
    client, run = only_run(uri)
    assert run.info.status == "FINISHED" and [s for s, _ in history(client, run)] == [6, 12, 18]
    assert not (tmp_path / "mlruns").exists()


def test_without_mlflow_the_run_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    assert main([*TRAIN, "--tracking", "mlflow", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'weaklab[mlflow]'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # checked before anything is written
