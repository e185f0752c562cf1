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


@pytest.mark.parametrize(
    "text, value",
    [
        ("1e-4", 0.0001),
        ("1E3", 1000.0),
        (".5", 0.5),
        ("-2.5e-3", -0.0025),
        ("+1", 1),
        ("010", 10),  # decimal, not YAML 1.1's octal
        ("0x1F", 31),
        ("0o17", 15),
        ("1_000", "1_000"),  # not a YAML 1.2 number
        ("1:30", "1:30"),  # nor is YAML 1.1's sexagesimal
        ("2024-01-01", "2024-01-01"),  # nor a date
        (".inf", float("inf")),
        ("true", True),
    ],
)
def test_numbers_read_as_yaml_1_2(text, value):
    assert parse_assignment(f"k={text}") == ("k", value)
    assert type(parse_assignment(f"k={text}")[1]) is type(value)


def test_exponent_numbers_in_set_and_recipes(tmp_path):
    assert resolve(None, dict([parse_assignment("train.lr=1e-4")])).train.lr == 0.0001
    recipe = tmp_path / "r.yaml"
    recipe.write_text("train:\n  lr: 1e-4\n  weight_decay: 5E-4\n  epochs: 1e2\n")
    cfg = resolve(recipe)
    assert cfg.train.lr == 0.0001 and cfg.train.weight_decay == 0.0005 and cfg.train.epochs == 100
    assert type(cfg.train.epochs) is int  # an integral float is accepted where an int is expected
    # a string that reads as a YAML 1.2 number is quoted when saved, so the saved config reads back as it was
    cfg.out = "1e5"
    cfg.save(tmp_path / "c.yaml")
    assert resolve(tmp_path / "c.yaml") == cfg


def test_bad_files_and_bounds_are_one_line_errors(tmp_path):
    binary = tmp_path / "model.pt"
    binary.write_bytes(b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.")
    with pytest.raises(WeaklabError, match=f"config file {binary} is not a YAML text file") as e:
        resolve(binary)
    assert "\n" not in str(e.value)
    for text, message in [
        ("train: [1, 2\n", "not valid YAML"),
        ("train:\n  lr: !!float fast\n", "not valid YAML"),
        ("- a\n- b\n", "must hold a mapping"),
        ("method: [1, 2]\n", "'method' must be a method name or a mapping"),
        ("method:\n  name: [1]\n", "unknown method [1]"),
    ]:
        (tmp_path / "r.yaml").write_text(text)
        with pytest.raises(WeaklabError, match=message.replace("[", r"\[")):
            resolve(tmp_path / "r.yaml")
    with pytest.raises(WeaklabError, match="train.epochs must be at least 1, got 0"):
        resolve(None, {"train.epochs": 0})
    with pytest.raises(WeaklabError, match="train.lr must be above 0"):
        resolve(None, {"train.lr": 0})
    with pytest.raises(WeaklabError, match=r"data.noise_rate must be in \[0, 1\]"):
        resolve(None, {"data.noise_rate": 2})
