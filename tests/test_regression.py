"""Regression through the engine: normalisation, splits, metrics, the consistency methods on a regression task,
prediction with uncertainty (API and CLI)."""

import csv
import json
import math

import numpy as np
import pytest
import torch

from weaklab.api import train
from weaklab.cli import main
from weaklab.config import resolve
from weaklab.core.regression_metrics import coverage, regression_metrics, variance_scale
from weaklab.core.task import LOG_VAR_BOUND, Regression, task_from_state
from weaklab.data.supervision.labeled import semi_supervised_regression
from weaklab.data.supervision.splits import quantile_bins
from weaklab.engine.experiment import build_data, build_experiment
from weaklab.engine.logger import strict_json
from weaklab.errors import WeaklabError

# A seconds-long regression run: the diabetes table (442 × 10), an MLP, 3 epochs.
FAST_REG = {
    "data.dataset": "diabetes",
    "data.labeled_fraction": 0.2,
    "model.name": "mlp",
    "model.width": 16,
    "train.epochs": 3,
    "train.batch_labeled": 16,
    "train.batch_unlabeled": 64,
    "train.lr_rampup": 0,
    "train.progress": False,
}


def reg_config(method="supervised", **overrides):
    return resolve(None, {**FAST_REG, "method.name": method, **{k.replace("__", "."): v for k, v in overrides.items()}})


def test_normalisation_round_trips_and_uses_labeled_targets_only():
    y = torch.tensor([10.0, 20.0, 30.0, 60.0])
    task = Regression.fit(y)
    assert task.target_mean == pytest.approx(30.0) and task.target_std == pytest.approx(y.std().item())
    encoded = task.encode(y)
    decoded = task.decode(torch.stack([encoded, torch.ones(4), torch.full((4,), 4.0)], 1))
    assert torch.allclose(decoded[:, 0], y)
    assert torch.allclose(decoded[:, 1], torch.full((4,), task.target_std**2))  # variances scale by std²
    assert torch.allclose(decoded[:, 2], torch.full((4,), 4 * task.target_std**2))
    restored = task_from_state(task.state_dict())  # what a checkpoint holds
    assert (restored.target_mean, restored.target_std) == (task.target_mean, task.target_std)

    data = build_data(reg_config(), torch.device("cpu"))
    known = data.supervision.targets[data.supervision.has_target]
    assert data.task.target_mean == pytest.approx(known.double().mean().item(), rel=1e-6)
    assert data.task.target_mean != pytest.approx(data.supervision.targets.double().mean().item(), rel=1e-6)


def test_labeled_subset_is_balanced_over_target_quantiles():
    y = np.random.default_rng(0).exponential(10.0, 1000)
    sup = semi_supervised_regression(y, fraction=0.05, seed=3)
    assert int(sup.has_target.sum()) == 50
    bins = quantile_bins(y, 10)
    assert np.bincount(bins[sup.has_target.numpy()], minlength=10).tolist() == [5] * 10
    assert torch.isnan(sup.labels[~sup.has_target]).all()
    with pytest.raises(WeaklabError, match="labeled_fraction"):
        semi_supervised_regression(y, labels_per_class=5)


def test_metrics_on_a_hand_example():
    targets = torch.tensor([0.0, 1.0, 2.0, 3.0])
    summaries = torch.tensor([[0.0, 1.0, 0.0], [2.0, 1.0, 0.0], [2.0, 0.5, 0.5], [4.0, 1.0, 0.0]])
    m = regression_metrics(summaries, targets)
    assert (
        m["mae"] == pytest.approx(0.5) and m["mse"] == pytest.approx(0.5) and m["rmse"] == pytest.approx(math.sqrt(0.5))
    )
    assert m["r2"] == pytest.approx(1 - 0.5 / 1.25)
    # every total variance is 1: NLL = ½ log 2π + mean ½ err²
    assert m["nll"] == pytest.approx(0.5 * math.log(2 * math.pi) + 0.5 * 0.5)
    # 90% interval half-width 1.645: errors 0, 1, 0, 1 all inside; at 50% (0.674) only the exact ones
    assert m["coverage"] == 1.0
    assert coverage(summaries[:, 0], torch.ones(4), targets, 0.5) == 0.5
    # no variance head (NaN aleatoric): the homoscedastic variance given (validation MSE) is used
    homo = regression_metrics(
        torch.tensor([[0.0, float("nan"), 0.0], [2.0, float("nan"), 0.0]]), torch.tensor([0.0, 1.0]), noise_var=4.0
    )
    assert homo["nll"] == pytest.approx(0.5 * math.log(2 * math.pi * 4.0) + 0.5 * 0.5 / 4.0)


def test_variance_scale_fitted_on_validation():
    """σ-scaling: c = mean(err² / σ²) on the reference split, applied to this split's variance."""
    targets = torch.tensor([0.0, 1.0, 2.0, 3.0])
    # errors 0 1 0 1, σ² 1
    summaries = torch.tensor([[0.0, 1.0, 0.0], [2.0, 1.0, 0.0], [2.0, 0.5, 0.5], [4.0, 1.0, 0.0]])
    assert variance_scale(summaries, targets) == pytest.approx(0.5)
    m = regression_metrics(summaries, targets, scale=0.5)
    assert m["nll_scaled"] == pytest.approx(0.5 * math.log(2 * math.pi * 0.5) + 0.5 * 0.5 / 0.5)
    assert m["coverage_scaled"] == 1.0 and m["nll"] == regression_metrics(summaries, targets)["nll"]
    # a mean-only network's homoscedastic variance is the validation MSE, so its scale is exactly 1
    task = Regression(target_mean=10.0, target_std=2.0)
    val = (torch.tensor([[0.0, float("nan"), 0.0], [1.0, float("nan"), 0.0]]), torch.tensor([9.0, 13.0]))
    test = task.metrics(torch.tensor([[0.5, float("nan"), 0.0]]), torch.tensor([11.0]), reference=val)
    assert test["variance_scale"] == pytest.approx(1.0) and test["nll_scaled"] == pytest.approx(test["nll"])
    # an over-confident variance head (σ² a quarter of the squared errors) gets scaled up by 4
    head = (
        torch.tensor([[0.0, 0.25, 0.0], [1.0, 0.25, 0.0]]),
        torch.tensor([8.0, 14.0]),
    )  # errors 2 and 2 in target units = 1 normalised
    assert task.metrics(head[0], head[1], reference=head)["variance_scale"] == pytest.approx(4.0)


def test_log_variance_stays_finite_for_extreme_inputs():
    task = Regression()
    out = torch.tensor([[0.0, 1e30], [0.0, -1e30], [0.0, float("3e38")]])
    s = task.log_var(out)
    assert torch.isfinite(s).all() and s.abs().max() <= LOG_VAR_BOUND
    loss = task.supervised_loss(out, torch.zeros(3), 3)
    assert torch.isfinite(loss)
    exp = build_experiment(reg_config("ucvme"))
    exp.method.eval()
    x = torch.full((4, 10), 1e6)
    out = exp.method.model(x)
    assert torch.isfinite(task.log_var(out)).all()
    assert torch.isfinite(exp.method.predict_summary(x)).all()


@pytest.mark.parametrize("method", ["pi_model", "temporal_ensembling", "mean_teacher"])
def test_consistency_methods_train_on_regression_through_the_task(method, tmp_path):
    run = train(reg_config(method, train__epochs=2), out=tmp_path / method)
    test = run.summary["test"]
    assert {"mae", "rmse", "r2", "nll", "coverage", "std_error_spearman"} <= test.keys()
    assert math.isfinite(test["mae"]) and run.summary["selected"].keys() >= {"val_mse"}
    assert run.metrics[-1]["train"]["consistency"] > 0  # the predicted means of two passes/teacher were compared


def test_supervised_heteroscedastic_and_prediction_columns(tmp_path, capsys):
    run = train(reg_config("supervised", method__heteroscedastic=True), out=tmp_path / "nll")
    from sklearn.datasets import load_diabetes

    x = load_diabetes(scaled=False).data[:5].astype(np.float32)  # raw units, as the run was trained on
    cols = run.predict(x, uncertainty=True, level=0.8)
    assert (cols["epistemic_std"] == 0).all()  # one deterministic pass
    assert np.allclose(cols["total_std"], cols["aleatoric_std"]) and (cols["aleatoric_std"] > 0).all()
    half = 1.2815516 * cols["total_std"]
    assert np.allclose(cols["upper"] - cols["prediction"], half, rtol=1e-5)
    assert np.allclose(run.predict(x), cols["prediction"])
    with pytest.raises(WeaklabError, match="regression run"):
        run.predict_proba(x)

    mse_run = train(reg_config("supervised"), out=tmp_path / "mse")
    homoscedastic = mse_run.predict(x, uncertainty=True)["aleatoric_std"]
    assert np.allclose(homoscedastic, math.sqrt(mse_run.summary["task"]["homoscedastic_noise_var"]))

    np.save(tmp_path / "x.npy", x)
    assert (
        main(
            [
                "predict",
                str(run.directory),
                "--input",
                str(tmp_path / "x.npy"),
                "--output",
                str(tmp_path / "p.csv"),
                "--level",
                "0.95",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert len(rows) == 5 and list(rows[0]) == [
        "index",
        "prediction",
        "aleatoric_std",
        "epistemic_std",
        "total_std",
        "lower_95",
        "upper_95",
    ]
    # original target units: diabetes progression scores lie around 25..346, not standardised around 0
    assert 0 < float(rows[0]["prediction"]) < 400
    plots = run.directory / "plots"
    assert (plots / "predicted_vs_true.png").is_file() and (plots / "coverage.png").is_file()
    assert run.evaluate("test") == pytest.approx(run.summary["test"])


def test_regression_mistakes_are_one_line_errors():
    with pytest.raises(WeaklabError, match="ucvme learns regression, but digits is a classification task"):
        build_experiment(resolve(None, {"method.name": "ucvme", "data.labels_per_class": 5, "model.name": "mlp"}))
    with pytest.raises(WeaklabError, match="regression datasets only"):
        build_experiment(
            resolve(
                None,
                {
                    "method.name": "supervised",
                    "method.heteroscedastic": True,
                    "data.labels_per_class": 5,
                    "model.name": "mlp",
                },
            )
        )
    with pytest.raises(WeaklabError, match="labeled_fraction"):
        build_experiment(reg_config(data__labeled_fraction=None, data__labels_per_class=5))


def test_bench_regression_writes_its_table(tmp_path, capsys):
    md = tmp_path / "BENCH.md"
    digits_section = "<!-- regression:begin -->\ndigits_rotation table kept\n<!-- regression:end -->"
    md.write_text(f"# Benchmarks\n\nintro kept\n\n{digits_section}\n")
    args = [
        "bench",
        "regression",
        "--dataset",
        "diabetes",
        "--seeds",
        "0",
        "--fractions",
        "0.1",
        "--methods",
        "supervised",
        "ucvme",
        "--epochs",
        "1",
        "--set",
        "model.width=4",
        "--set",
        "train.progress=false",
        "--out",
        str(tmp_path / "runs"),
        "--write",
        str(md),
    ]
    assert main(args) == 0
    text = md.read_text()
    # each dataset has its own markers: the diabetes run leaves the digits_rotation table alone
    assert text.startswith("# Benchmarks\n\nintro kept") and digits_section in text
    assert "<!-- regression-diabetes:begin -->" in text and "<!-- regression-diabetes:end -->" in text
    rows = [line for line in text.splitlines() if line.startswith("| 10% (")]
    assert [r.split(" | ")[1] for r in rows] == ["supervised (MSE)", "UCVME"]
    assert rows[0].split(" | ")[8] == "—" and rows[1].split(" | ")[8] != "—"  # ρ is undefined without a variance head
    assert (
        "--dataset diabetes --seeds 0 --fractions 0.1 --epochs 1 --methods supervised ucvme --set model.width=4" in text
    )
    assert main(["bench", "regression", "--methods", "nonsense"]) == 2
    assert main(["bench", "regression", "--dataset", "nonsense"]) == 2


def _reject_nan(token):
    raise ValueError(f"strict JSON has no {token}")


def test_undefined_metrics_are_written_as_null(tmp_path):
    """ρ(std, |error|) is undefined for a network without a variance head: JSON null, not Python's NaN token."""
    run = train(reg_config("supervised", train__epochs=1), out=tmp_path / "mse")
    summary = json.loads((run.directory / "summary.json").read_text(), parse_constant=_reject_nan)
    assert summary["test"]["std_error_spearman"] is None and math.isfinite(summary["test"]["mae"])
    lines = (run.directory / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line, parse_constant=_reject_nan) for line in lines]
    assert records and all(r["val"]["std_error_spearman"] is None for r in records)
    assert (
        strict_json({"a": [float("nan"), float("inf"), 1.5], "b": (2, float("-inf"))})
        == '{"a": [null, null, 1.5], "b": [2, null]}'
    )


def test_flat_features_draw_the_noise_only_and_say_when_an_image_view_is_asked():
    """A table has no pixels to move or mirror: no translation is recorded, and a flip or shift the user asks for
    draws nothing and says so in a warning instead of being ignored in silence."""
    views = build_experiment(reg_config(views__translate=None)).views.describe()
    assert views["translate"] == 0 and views["flip"] is False and views["noise"] == 0.15
    with pytest.warns(UserWarning, match=r"views.flip \(--flip\) has no effect"):
        assert build_experiment(reg_config(views__flip=True)).views.flip is False
    with pytest.warns(UserWarning, match="views.translate has no effect"):
        build_experiment(reg_config(views__translate=2))
