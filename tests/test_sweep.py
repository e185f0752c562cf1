"""`weaklab sweep`: an Optuna study of ordinary runs, judged on validation, that a second command continues."""

import csv
import json
import sys

import pytest
import yaml

from weaklab.cli import main
from weaklab.errors import WeaklabError
from weaklab.sweep.space import default_space, load_space

from conftest import FAST, fast_config

optuna = pytest.importorskip("optuna")

SWEEP = ["sweep", "--method", "supervised", "--dataset", "digits", "--epochs", "2"]
SWEEP += [f"--set={key}={value}" for key, value in FAST.items() if key != "train.epochs"]
SWEEP += ["--set=train.plot_redraws=0"]  # plots once, at each run's end


def study_of(out):
    return optuna.load_study(study_name="supervised-digits", storage=f"sqlite:///{out / 'study.db'}")


def test_the_default_space_comes_from_the_method_settings():
    assert set(default_space(fast_config("supervised"))) == {"train.lr", "train.weight_decay"}
    fixmatch = default_space(fast_config("fixmatch"))
    assert set(fixmatch) == {"train.lr", "train.weight_decay", "method.unlabeled_weight", "method.threshold"}
    assert fixmatch["method.threshold"] == {"low": 0.7, "high": 0.98, "log": False}
    # a weight is searched around the run's own value: a tenth to three times it, on a log scale
    around = default_space(fast_config("mean_teacher", method__consistency_weight=10.0, train__lr=0.1))
    assert around["method.consistency_weight"] == {"low": 1.0, "high": 30.0, "log": True}
    assert around["train.lr"] == {"low": 0.01, "high": 1.0, "log": True}


def test_a_space_file_edits_the_default(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "train.weight_decay: null\n"
        "method.threshold: {low: 0.8, high: 0.95}\n"
        "train.batch_labeled: {low: 16, high: 64, step: 16}\n"
        "method.evaluate: {choices: [ema, student]}\n"
    )
    space = load_space(fast_config("fixmatch"), path)
    assert list(space) == [
        "train.lr",
        "method.unlabeled_weight",
        "method.threshold",
        "train.batch_labeled",
        "method.evaluate",
    ]
    assert space["train.batch_labeled"] == {"low": 16, "high": 64, "log": False, "step": 16}  # an int setting
    assert space["method.evaluate"] == {"choices": ["ema", "student"]}


@pytest.mark.parametrize(
    "text, words",
    [
        ("train.lrr: {low: 0.1, high: 1}", "unknown config key 'lrr' in section 'train'"),
        ("method.threshold: {low: 0.5, high: 1.5}", r"method.threshold must be in \(0, 1\]"),
        ("train.lr: {low: 0, high: 0.1, log: true}", "a log scale needs low above 0"),
        ("method.name: {choices: [fixmatch, flexmatch]}", "cannot be searched"),
        ("train.compile: {low: 0, high: 1}", "not a number setting"),
        ("train.lr: {low: 0.1, hi: 1}", "unknown field 'hi'"),
    ],
)
def test_a_bad_space_entry_is_a_one_line_error(tmp_path, text, words):
    path = tmp_path / "space.yaml"
    path.write_text(text + "\n")
    with pytest.raises(WeaklabError, match=words) as e:
        load_space(fast_config("fixmatch"), path)
    assert "\n" not in str(e.value)


def test_the_objective_follows_the_selection_metric():
    from weaklab.sweep.study import _selection

    assert _selection(fast_config()) == ("accuracy", True)
    regression = fast_config(data__dataset="diabetes", data__labels_per_class=None, model__name="mlp")
    assert _selection(regression) == ("mse", False)


@pytest.fixture(scope="module")
def stopped_and_continued(tmp_path_factory):
    """A 3-trial sweep stopped (as by Ctrl-C or SIGTERM) in trial 1's run, then the same command again."""
    from weaklab.engine.trainer import Trainer

    out = tmp_path_factory.mktemp("sweep") / "sw"
    argv = [*SWEEP, "--trials", "3", "--no-pruning", "--out", str(out)]
    original, saves = Trainer._save, {"n": 0}

    def killed(self, improved):
        original(self, improved)
        saves["n"] += 1
        if saves["n"] == 3:  # trial 0 saved twice (2 epochs); this is trial 1's first checkpoint
            raise KeyboardInterrupt("SIGTERM")

    with pytest.MonkeyPatch.context() as m:
        m.setattr(Trainer, "_save", killed)
        assert main(argv) == 130
    states = [t.state.name for t in study_of(out).trials]
    assert states == ["COMPLETE", "FAIL", "WAITING"]  # the stopped trial is queued again
    assert main(argv) == 0
    return out, argv


def test_a_stopped_sweep_continues_its_study(stopped_and_continued):
    out, _ = stopped_and_continued
    trials = study_of(out).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    stopped, again = trials[1], trials[2]
    assert again.params == stopped.params and again.user_attrs["retry_of"] == 1
    # the retry resumed the stopped trial's run: one evaluation per epoch, none twice
    assert again.user_attrs["run_dir"] == str(out / "trial-0001")
    steps = [json.loads(line)["step"] for line in (out / "trial-0001" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [6, 12]
    assert (out / "study.db").is_file()
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [r["state"] for r in rows] == ["complete", "stopped (again as trial 2)", "complete", "complete"]
    assert set(rows[0]) >= {"val_accuracy", "train.lr", "train.weight_decay", "run_dir"}
    assert not any("test" in column for column in rows[0])  # judged on validation only
    assert "| trial | state | val_accuracy |" in (out / "trials.md").read_text()


def test_best_yaml_is_a_config_that_train_accepts(stopped_and_continued, tmp_path):
    out, _ = stopped_and_continued
    best = study_of(out).best_trial
    recipe = yaml.safe_load((out / "best.yaml").read_text())
    assert recipe["train"]["lr"] == pytest.approx(best.params["train.lr"]) and recipe["out"] is None
    assert main(["train", "--config", str(out / "best.yaml"), "--epochs", "1", "--out", str(tmp_path / "best")]) == 0
    saved = yaml.safe_load((tmp_path / "best" / "config.yaml").read_text())
    assert saved["train"]["lr"] == pytest.approx(best.params["train.lr"])


def test_a_finished_study_runs_nothing_more_and_refuses_other_settings(stopped_and_continued, capsys):
    out, argv = stopped_and_continued
    capsys.readouterr()
    assert main(argv) == 0
    assert "3 of 3 trials finished" in capsys.readouterr().out and len(study_of(out).trials) == 4
    assert main([*argv, "--set", "train.lr_schedule=cosine"]) == 2
    err = capsys.readouterr().err
    assert "train.lr_schedule = 'gaussian', this sweep has 'cosine'" in err and len(err.strip().splitlines()) == 1


def test_the_pruner_stops_a_trial_that_falls_behind(tmp_path, monkeypatch, capsys):
    class Always(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    monkeypatch.setattr(optuna.pruners, "MedianPruner", lambda **kwargs: Always())
    out = tmp_path / "sw"
    assert main([*SWEEP, "--epochs", "4", "--trials", "1", "--out", str(out)]) == 0
    (trial,) = study_of(out).trials
    # not in the first quarter of the run (epoch 1 of 4 is its end): stopped at the first evaluation after it
    assert trial.state.name == "PRUNED" and list(trial.intermediate_values) == [6]
    assert not (out / "trial-0000" / "summary.json").exists() and not (out / "best.yaml").exists()
    assert "pruned at step 6" in (out / "trials.md").read_text()
    assert "no trial has completed yet" in capsys.readouterr().out


def test_without_optuna_the_sweep_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert main([*SWEEP, "--out", str(tmp_path / "sw")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'weaklab[sweep]'" in err and len(err.strip().splitlines()) == 1
