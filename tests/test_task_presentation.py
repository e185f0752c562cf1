"""Tasks own their presentation: each formats its test metrics for a run's summary line and names the plots of its
test predictions; the CLI and the trainer ask the task instead of asking which task they hold."""

import json

import pytest
import torch

from weaklab.cli import main
from weaklab.cli.train import print_summary
from weaklab.core.task import Classification, Regression, task_from_summary
from weaklab.engine import plots

CLASSIFICATION = {
    "method": "mean_teacher",
    "dataset": "digits",
    "seed": 1,
    "selected": {"step": 40},
    "wall_time_s": 12.345,
    "test": {"accuracy": 0.912345, "nll": 0.3333333, "ece": 0.0456789},
    "task": {"kind": "classification", "num_classes": 10},
}
REGRESSION = {
    "method": "ucvme",
    "dataset": "diabetes",
    "seed": 0,
    "selected": {"step": 7},
    "wall_time_s": 3.05,
    "test": {"mae": 43.21987, "rmse": 55.5555, "r2": 0.456789, "nll": 5.43219, "coverage": 0.8765, "rho": None},
    "task": {"kind": "regression", "target_mean": 150.0, "target_std": 70.0, "homoscedastic_noise_var": None},
}


def test_a_classification_task_formats_its_test_metrics():
    assert Classification(10).summary_line(CLASSIFICATION["test"]) == "test accuracy 0.9123, nll 0.3333, ece 0.0457"


def test_a_regression_task_formats_its_test_metrics():
    assert Regression(150.0, 70.0).summary_line(REGRESSION["test"]) == (
        "test MAE 43.22, RMSE 55.56, R² 0.4568, NLL 5.4322, coverage@90% 0.876"
    )


@pytest.mark.parametrize(
    "summary, line",
    [
        (
            CLASSIFICATION,
            "mean_teacher on digits (seed 1): test accuracy 0.9123, nll 0.3333, ece 0.0457; selected step 40; "
            "12.3s; run directory runs/x\n",
        ),
        (
            REGRESSION,
            "ucvme on diabetes (seed 0): test MAE 43.22, RMSE 55.56, R² 0.4568, NLL 5.4322, coverage@90% 0.876; "
            "selected step 7; 3.0s; run directory runs/x\n",
        ),
    ],
)
def test_the_cli_summary_line_comes_from_the_runs_task(summary, line, capsys):
    from pathlib import Path

    print_summary(summary, Path("runs/x"))
    assert capsys.readouterr().out == line


def test_the_task_is_read_from_the_summary():
    assert isinstance(task_from_summary(REGRESSION), Regression)
    assert isinstance(task_from_summary(CLASSIFICATION), Classification)
    old = {k: v for k, v in CLASSIFICATION.items() if k != "task"}  # written before regression existed
    assert isinstance(task_from_summary(old), Classification)


def test_each_task_names_plots_that_exist():
    assert Classification.test_plots == ()
    assert Regression.test_plots == ("predicted_vs_true", "coverage")
    assert set(Regression.test_plots) <= set(plots.TEST_PLOTS)


def test_draw_test_draws_what_the_task_names(tmp_path):
    assert (
        plots.draw_test(tmp_path / "c", Classification(3), torch.full((4, 3), 1 / 3), torch.zeros(4, dtype=torch.long))
        == []
    )
    assert not (tmp_path / "c" / "plots").exists()

    task = Regression(5.0, 2.0)
    g = torch.Generator().manual_seed(0)
    summaries = torch.stack([torch.randn(20, generator=g), torch.full((20,), 0.5), torch.zeros(20)], 1)
    targets = task.decode(summaries)[:, 0] + torch.randn(20, generator=g)
    (tmp_path / "r").mkdir()
    written = plots.draw_test(tmp_path / "r", task, summaries, targets)
    assert [p.name for p in written] == ["predicted_vs_true.png", "coverage.png"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)


CLASSIFICATION_RUN = [
    "--method",
    "supervised",
    "--dataset",
    "digits",
    "--labels-per-class",
    "5",
    "--model",
    "small_cnn",
    "--set",
    "model.width=8",
    "--set",
    "train.batch_unlabeled=256",
]
REGRESSION_RUN = [
    "--method",
    "supervised",
    "--dataset",
    "diabetes",
    "--labeled-fraction",
    "0.2",
    "--model",
    "mlp",
    "--set",
    "model.width=16",
    "--set",
    "train.batch_labeled=16",
    "--set",
    "train.batch_unlabeled=64",
]


@pytest.mark.parametrize("task_class, argv", [(Classification, CLASSIFICATION_RUN), (Regression, REGRESSION_RUN)])
def test_the_trainer_draws_the_plots_the_task_asks_for(task_class, argv, tmp_path, monkeypatch, capsys):
    calls = []

    def marker(path, task, summaries, targets, reference=None):
        calls.append((path, task, summaries.shape, targets.shape, reference is not None))
        path.write_text("drawn")
        return path

    monkeypatch.setitem(plots.TEST_PLOTS, "marker", marker)
    monkeypatch.setattr(task_class, "test_plots", ("marker",))
    out = tmp_path / "run"
    assert main(["train", *argv, "--epochs", "1", "--set", "train.progress=false", "--out", str(out)]) == 0

    [(path, task, summaries, targets, has_reference)] = calls
    assert path == out / "plots" / "marker.png" and path.read_text() == "drawn"
    assert isinstance(task, task_class) and summaries[0] == targets[0]  # one prediction per test sample
    assert has_reference == task.uses_reference
    assert not (out / "plots" / "predicted_vs_true.png").exists()  # only what the task asked for

    summary = json.loads((out / "summary.json").read_text())
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert f": {task_class.summary_line(summary['test'])}; selected step" in line
