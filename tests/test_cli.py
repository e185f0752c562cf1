"""Every command, as a user would type it, and the user mistakes: one line, exit code 2, no traceback."""

import json
import subprocess
import sys

import numpy as np
import pytest

from weaklab.cli import main
from weaklab.methods import METHODS

FAST = [
    "--dataset",
    "digits",
    "--labels-per-class",
    "5",
    "--epochs",
    "2",
    "--set",
    "model.width=8",
    "--set",
    "train.batch_unlabeled=256",
    "--set",
    "train.progress=false",
]


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "mt"
    assert main(["train", "--method", "mean_teacher", *FAST, "--seed", "1", "--out", str(out)]) == 0
    return out


def test_train_writes_a_complete_run(trained):
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["method"] == "mean_teacher" and summary["seed"] == 1
    assert summary["labels"]["num_labeled"] == 50
    assert (trained / "checkpoints/best.pt").is_file() and (trained / "metrics.jsonl").is_file()


def test_config_file_and_set(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("method: pi_model\ntrain:\n  epochs: 5\n  lr: 0.5\n")
    code, out, _ = run_cli(
        capsys, "train", "--config", str(recipe), *FAST, "--set", "train.lr=0.002", "--out", str(tmp_path / "r")
    )
    assert code == 0 and "pi_model" in out
    import yaml

    saved = yaml.safe_load((tmp_path / "r/config.yaml").read_text())
    assert saved["train"]["lr"] == 0.002 and saved["train"]["epochs"] == 2 and saved["method"]["name"] == "pi_model"


def test_eval_predict_resume_methods(trained, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "eval", str(trained))
    assert code == 0 and json.loads(out)["test"]["accuracy"] == pytest.approx(
        json.loads((trained / "summary.json").read_text())["test"]["accuracy"]
    )
    from weaklab.data.sources.datasets import digits

    np.save(tmp_path / "x.npy", digits().x[:7])
    code, out, _ = run_cli(
        capsys, "predict", str(trained), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "p.csv")
    )
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert code == 0 and len(rows) == 8 and rows[0].startswith("index,prediction,p_0")
    code, out, _ = run_cli(capsys, "resume", str(trained))  # a finished run: nothing left to do
    assert code == 0 and "mean_teacher" in out
    code, out, _ = run_cli(capsys, "methods")
    assert code == 0 and len(out.strip().splitlines()) == len(METHODS) and "ema_decay=0.99" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--method", "fixmatchh"], "unknown method 'fixmatchh'"),
        (["train", "--dataset", "cifar11"], "unknown dataset 'cifar11'"),
        (["train", "--labels-per-class", "500"], "has only"),
        (["train", "--set", "train.epoch=3"], "valid keys are"),
        (["train", "--set", "train.lr"], "key=value"),
        (["train", "--config", "/nonexistent.yaml"], "does not exist"),
        (["eval", "/nonexistent-run"], "does not exist"),
        (["resume", "/nonexistent-run"], "does not exist"),
        (["predict", "/nonexistent-run", "--input", "x.npy", "--output", "p.csv"], "does not exist"),
    ],
)
def test_user_mistakes(tmp_path, capsys, args, message):
    code, _, err = run_cli(capsys, *args, *(["--out", str(tmp_path / "o")] if args[0] == "train" else []))
    assert code == 2
    assert err.startswith("weaklab: error:") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_corrupt_checkpoint_and_bad_inputs(trained, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained, broken)
    (broken / "checkpoints/best.pt").write_bytes(b"not a checkpoint")
    code, _, err = run_cli(capsys, "eval", str(broken))
    assert code == 2 and "corrupt" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    code, _, err = run_cli(
        capsys, "predict", str(trained), "--input", str(tmp_path / "bad.npy"), "--output", str(tmp_path / "p.csv")
    )
    assert code == 2 and "cannot read" in err
    np.save(tmp_path / "wrong.npy", np.zeros((3, 5)))
    code, _, err = run_cli(
        capsys, "predict", str(trained), "--input", str(tmp_path / "wrong.npy"), "--output", str(tmp_path / "p.csv")
    )
    assert code == 2 and "expects N×1×8×8" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "eval", str(tmp_path / "empty"))
    assert code == 2 and "not a weaklab run directory" in err


def test_entry_point_version():
    result = subprocess.run([sys.executable, "-m", "weaklab", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("weaklab ")


def test_demo_prints_a_table(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "demo", "--out", str(tmp_path / "demo"), "--epochs", "1")
    assert code == 0
    assert "method" in out and "test accuracy" in out
    assert "supervised" in out and "mean_teacher" in out
    assert (tmp_path / "demo/mean_teacher-seed0/summary.json").is_file()


def test_bench_quality_replaces_its_table(tmp_path, capsys):
    doc = tmp_path / "BENCH.md"
    doc.write_text("# Benchmarks\n\nintro\n\n<!-- quality:begin -->\nold\n<!-- quality:end -->\n\nafter\n")
    code, out, _ = run_cli(
        capsys,
        "bench",
        "quality",
        "--seeds",
        "0",
        "1",
        "--methods",
        "supervised",
        "pi_model",
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "b"),
        "--write",
        str(doc),
    )
    text = doc.read_text()
    assert code == 0 and "old" not in text and text.startswith("# Benchmarks") and text.rstrip().endswith("after")
    assert "| supervised |" in text and "| pi_model |" in text and "±" in text
    assert json.loads((tmp_path / "b/results.json").read_text())[0]["method"] == "supervised"


def test_help_lists_every_command_in_order(capsys):
    import re

    from weaklab.cli import build_parser

    build_parser().print_help()
    out = capsys.readouterr().out
    commands = ["train", "resume", "eval", "predict", "crossval-probs", "methods", "demo", "data", "bench"]
    positions = [re.search(rf"\n    {c}\s", out).start() for c in commands]
    assert positions == sorted(positions)


def test_flags_and_set_become_one_overrides_dict():
    from argparse import Namespace

    from weaklab.cli.overrides import config_overrides

    args = Namespace(set=["train.lr=0.01", "seed=3", "data.noise=null"])
    flags = {"method.name": "pi_model", "data.root": None, "seed": 1}
    assert config_overrides(args, flags) == {"method.name": "pi_model", "seed": 3, "train.lr": 0.01, "data.noise": None}
    assert config_overrides(Namespace(set=[])) == {}


@pytest.mark.parametrize("command", [["crossval-probs"], ["bench", "noisy"], ["bench", "regression"]])
def test_a_malformed_set_is_one_line_for_every_command(command, tmp_path, capsys):
    code, _, err = run_cli(capsys, *command, "--set", "train.lr", "--out", str(tmp_path / "o"))
    assert code == 2 and "--set expects key=value" in err and len(err.strip().splitlines()) == 1


@pytest.fixture
def captured(monkeypatch):
    """`weaklab train` and `crossval-probs` resolve their config, then hand it here instead of training."""
    seen = {}

    def train(config, overwrite=False):
        seen.update(config=config, overwrite=overwrite)

    def crossval_probs(config, folds, out):
        seen.update(config=config, folds=folds)

    monkeypatch.setattr("weaklab.api.train", train)
    monkeypatch.setattr("weaklab.engine.crossval.crossval_probs", crossval_probs)
    return seen


def test_train_flags_reach_the_config(captured, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("train:\n  lr: 1e-4\n")
    assert main(["train", "--config", str(recipe), "--out", str(tmp_path / "o")]) == 0
    assert captured["config"].train.lr == 0.0001 and captured["overwrite"] is False
    assert captured["config"].train.progress is True
    args = ["train", "--set", "train.lr=1e-4", "--quiet", "--overwrite", "--missing-targets", "unlabeled"]
    assert main([*args, "--model", "lenet", "--noise", "symmetric", "--epochs", "4"]) == 0
    cfg = captured["config"]
    assert cfg.train.lr == 0.0001 and cfg.train.progress is False and captured["overwrite"] is True
    assert cfg.data.missing_targets == "unlabeled" and cfg.model.name == "lenet" and cfg.data.noise == "symmetric"
    assert cfg.train.epochs == 4


def test_crossval_takes_epochs_and_noise(captured):
    args = ["crossval-probs", "--epochs", "3", "--noise", "pairflip", "--noise-rate", "0.2", "--out", "o"]
    assert main([*args, "--folds", "3"]) == 0
    cfg = captured["config"]
    assert (cfg.train.epochs, cfg.data.noise, cfg.data.noise_rate, captured["folds"]) == (3, "pairflip", 0.2, 3)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "train.epochs must be at least 1, got 0"),
        (["--set", "train.lr=-1e-3"], "train.lr must be above 0, got -0.001"),
        (["--config", "BINARY"], "is not a YAML text file"),
    ],
)
def test_bad_values_are_one_line(captured, tmp_path, capsys, args, message):
    binary = tmp_path / "weights.pt"
    binary.write_bytes(bytes(range(256)))
    args = [str(binary) if a == "BINARY" else a for a in args]
    code, _, err = run_cli(capsys, "train", *args, "--out", str(tmp_path / "o"))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "config" not in captured
    if args[0] == "--config":
        assert str(binary) in err


def _parsers(parser, prefix="weaklab"):
    """(name, parser) of `weaklab` and every subcommand, nested ones (bench speed, data info) included."""
    import argparse

    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{prefix} {name}")


def test_every_flag_says_its_default():
    """Each option's help names its default. The exceptions: positionals (no default), --help and --version,
    on/off flags (store_true: off unless given) and required options (no default to name); these still need a
    non-empty help."""
    import argparse

    from weaklab.cli import build_parser

    missing = []
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            flag = action.option_strings[-1] if action.option_strings else action.dest
            if not action.help:
                missing.append(f"{name} {flag}: no help")
            exempt = not action.option_strings or action.required or isinstance(action, argparse._StoreTrueAction)
            if not exempt and "default" not in action.help:
                missing.append(f"{name} {flag}: no default in its help")
    assert not missing, missing


def test_model_and_noise_flags_list_every_choice(capsys):
    from weaklab.cli import build_parser
    from weaklab.config import DataConfig, field_choices
    from weaklab.models import MODELS

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert all(name in out for name in ["auto", *MODELS]) and all(n in out for n in field_choices(DataConfig, "noise"))


def test_predict_refuses_empty_rescaled_and_same_file_inputs(trained, tmp_path, capsys):
    from weaklab.data.sources.datasets import digits

    x = digits().x[:4]  # the training data's raw units: 0-16
    np.save(tmp_path / "none.npy", x[:0])
    np.savez(tmp_path / "none.npz", x=x[:0])
    np.save(tmp_path / "png.npy", x * 16)  # 0-256: as if 8-bit images
    np.save(tmp_path / "x.npy", x)
    before = (tmp_path / "x.npy").read_bytes()
    out = str(tmp_path / "p.csv")
    for args, message in [
        (["--input", str(tmp_path / "none.npy"), "--output", out], "none.npy holds no samples"),
        (["--input", str(tmp_path / "none.npz"), "--output", out], "none.npz holds no samples"),
        (["--input", str(tmp_path / "png.npy"), "--output", out], "trained on values from 0 to 16"),
        (["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "x.npy")], "is the --input file"),
        (["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "." / "x.npy")], "is the --input file"),
    ]:
        code, _, err = run_cli(capsys, "predict", str(trained), *args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert (tmp_path / "x.npy").read_bytes() == before and not (tmp_path / "p.csv").exists()


def test_a_setting_without_effect_is_one_warning_line(capsys, tmp_path):
    """weaklab's own warnings read like its errors: one line naming the setting, no file path or source line."""
    code, _, err = run_cli(
        capsys, "train", "--method", "pi_model", "--set", "views.cutout=8", *FAST, "--out", str(tmp_path / "r")
    )
    assert code == 0
    line = "weaklab: warning: views.strong and views.cutout have no effect: pi_model draws no strong view"
    assert line in err.splitlines() and "UserWarning" not in err
