"""The shape of the package: no import cycle, one list of allowed values per choice, methods that say what they
accept and are held to it."""

import ast
from pathlib import Path

import pytest

import weaklab
from weaklab import config
from weaklab.cli import main
from weaklab.errors import WeaklabError
from weaklab.methods import METHODS, check_fits

PACKAGE = Path(weaklab.__file__).parent


def import_graph() -> dict[str, set[str]]:
    """Module -> the weaklab modules it imports, read from the source (imports inside functions included)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    graph = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
                deps.update(submodules or [target])
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path a -> ... -> a, or None (depth-first search with colours)."""
    colour, stack = dict.fromkeys(graph, 0), []

    def visit(node):
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if colour[nxt] == 0 and (found := visit(nxt)):
                return found
        colour[node] = 2
        stack.pop()
        return None

    return next((c for n in sorted(graph) if colour[n] == 0 and (c := visit(n))), None)


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "weaklab.config" in graph and "weaklab.methods.base" in graph["weaklab.methods.scn"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_choice_lists_are_the_ones_the_code_acts_on():
    from weaklab.data.views.augment import POLICIES
    from weaklab.models import MODELS

    assert set(config.choices(config.StrongView)) == {"auto", *POLICIES}
    assert set(config.choices(config.ModelName)) == {"auto", *MODELS}
    # a choice that may be unset: the values inside `Literal[...] | None`, as the CLI's flags offer them
    assert config.field_choices(config.DataConfig, "task") == ("classification", "regression")


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("data.normalize", "zcaa", "standard, zca"),
        ("train.lr_schedule", "linear", "gaussian, cosine"),
        ("method.relabel", "some", "all, low, none"),
    ],
)
def test_a_bad_choice_names_key_value_and_allowed_values(key, value, allowed):
    overrides = {key: value, **({"method.name": "scn"} if key.startswith("method.") else {})}
    with pytest.raises(WeaklabError, match=f"{key} must be one of {allowed}.*got '{value}'"):
        config.resolve(None, overrides)


@pytest.mark.parametrize(
    "key, value, interval",
    [
        ("train.lr", 0, "must be above 0"),
        ("data.noise_rate", 1.5, r"must be in \[0, 1\]"),
        ("views.cutout", -1, "must be at least 0"),
    ],
)
def test_a_number_outside_its_interval_is_named(key, value, interval):
    with pytest.raises(WeaklabError, match=f"{key} {interval}, got"):
        config.resolve(None, {key: value})


def test_a_bad_choice_fails_before_any_data_is_read(monkeypatch, capsys):
    import weaklab.engine.experiment as experiment

    def no_loading(*args, **kwargs):
        raise AssertionError("the data was read")

    monkeypatch.setattr(experiment, "load_source", no_loading)
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--set", "data.normalize=zcaa"]) == 2
    err = capsys.readouterr().err
    assert "data.normalize must be one of standard, zca, got 'zcaa'" in err and len(err.strip().splitlines()) == 1


def test_every_method_declares_what_it_accepts():
    assert len(METHODS) >= 11
    for name, cls in METHODS.items():
        assert cls.tasks and set(cls.tasks) <= {"classification", "regression"}, name
        assert cls.supervision_kind in ("semi_supervised", "noisy", "partial", "mixed"), name
        assert config.METHOD_SETTINGS[name] is cls.Settings
    assert METHODS["plcr"].fits(candidates=True, task="classification")
    assert not METHODS["plcr"].fits(candidates=False)
    assert not METHODS["gce"].fits(candidates=False, task="regression")
    assert METHODS["ucvme"].fits(candidates=False, task="regression")


@pytest.mark.parametrize(
    "argv, words",
    [
        (
            ["--method", "plcr", "--dataset", "digits"],
            "plcr learns from candidate sets (partial labels), but digits has labels",
        ),
        (["--method", "gce", "--dataset", "diabetes"], "gce learns classification, but diabetes is a regression task"),
        (
            ["--method", "supervised", "--dataset", "digits", "--set", "data.partial=plcr"],
            "choose a method that fits: cc, plcr",
        ),
    ],
)
def test_a_method_that_cannot_learn_from_the_data_exits_2_in_one_line(argv, words, tmp_path, capsys):
    assert main(["train", *argv, "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_mismatch_message_lists_the_methods_that_fit():
    with pytest.raises(WeaklabError, match="gce learns classification.*fits: supervised, .*ucvme") as e:
        check_fits(METHODS["gce"], candidates=False, task="regression", dataset="diabetes")
    assert "plcr" not in str(e.value) and "scn" not in str(e.value)


def test_a_new_method_registers_by_being_defined():
    from dataclasses import dataclass

    from weaklab.methods import Method

    @dataclass
    class OwnSettings(config.MethodSettings):
        name: str = "test_only_method"

    class TestOnly(Method):
        name = "test_only_method"
        Settings = OwnSettings
        description = "a method defined by a test"

    try:
        assert METHODS["test_only_method"] is TestOnly
        assert config.resolve(None, {"method.name": "test_only_method"}).method.name == "test_only_method"
    finally:
        METHODS.pop("test_only_method")
        config.METHOD_SETTINGS.pop("test_only_method")
