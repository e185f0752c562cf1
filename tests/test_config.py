import pytest

from weaklab.config import parse_assignment, resolve
from weaklab.errors import WeaklabError


def test_precedence_file_then_overrides(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("method:\n  name: mean_teacher\n  ema_decay: 0.97\ntrain:\n  lr: 0.1\n  epochs: 7\n")
    cfg = resolve(recipe, {"train.lr": 0.05})
    assert cfg.method.name == "mean_teacher" and cfg.method.ema_decay == 0.97
    assert cfg.train.lr == 0.05 and cfg.train.epochs == 7  # command line wins, file fills the rest


def test_round_trip(tmp_path):
    cfg = resolve(None, {"method.name": "temporal_ensembling", "method.ensemble_momentum": 0.5, "seed": 3})
    cfg.save(tmp_path / "c.yaml")
    again = resolve(tmp_path / "c.yaml")
    assert again == cfg


def test_unknown_keys_name_the_valid_ones():
    with pytest.raises(WeaklabError, match="valid keys are: .*epochs"):
        resolve(None, {"train.epoch": 3})
    with pytest.raises(WeaklabError, match="ema_decay"):
        resolve(None, {"method.name": "mean_teacher", "method.ema": 0.9})
    with pytest.raises(WeaklabError, match="top-level keys"):
        resolve(None, {"trian.lr": 0.1})
    with pytest.raises(WeaklabError, match="unknown method"):
        resolve(None, {"method.name": "fixmatchh"})


def test_type_errors():
    with pytest.raises(WeaklabError, match="train.lr expects float"):
        resolve(None, {"train.lr": "fast"})
    with pytest.raises(WeaklabError, match="train.epochs expects int"):
        resolve(None, {"train.epochs": 2.5})
    assert resolve(None, {"train.lr": 1}).train.lr == 1.0


def test_parse_assignment():
    assert parse_assignment("train.lr=0.01") == ("train.lr", 0.01)
    assert parse_assignment("model.dropout=null") == ("model.dropout", None)
    assert parse_assignment("train.lr_milestones=[100, 150]") == ("train.lr_milestones", [100, 150])
    with pytest.raises(WeaklabError):
        parse_assignment("train.lr")


def test_shipped_recipes_resolve():
    from pathlib import Path

    root = Path(__file__).parent.parent
    recipes = sorted((root / "recipes").glob("*.yaml")) + sorted((root / "src/weaklab/recipes").glob("*.yaml"))
    assert len(recipes) >= 7
    for path in recipes:
        resolve(path)  # every key known, every value of the right type
