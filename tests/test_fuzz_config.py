"""Property tests of the config resolver and `--set`: whatever a user types or points --config at, the answer is a
Config or a one-line WeaklabError, never another exception."""

import dataclasses
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import weaklab.methods  # noqa: F401  (fills the method settings table the config reads)
from weaklab.config import METHOD_SETTINGS, SECTIONS, TOP_LEVEL, Config, parse_assignment, resolve
from weaklab.errors import WeaklabError

FAST = settings(max_examples=50, deadline=None, derandomize=True)

# Real keys (so values reach the type and interval checks) mixed with made-up ones
KNOWN = sorted(
    {f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    | {f"method.{f.name}" for cls in METHOD_SETTINGS.values() for f in dataclasses.fields(cls)}
    | set(TOP_LEVEL)
)
keys = st.sampled_from(KNOWN) | st.text(max_size=12) | st.sampled_from(["train.", ".", "method.name.x", "seed.a"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["1e-4", "80/300", "25%", "10 steps", "mean_teacher", "scn", "cifar10", "[1, 2]"])
    | st.sampled_from(sorted(METHOD_SETTINGS))
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=8
)
trees = st.dictionaries(st.sampled_from(TOP_LEVEL) | st.text(max_size=6), values, max_size=4)


def resolved_or_user_error(source, overrides=None) -> Config | None:
    """The Config, or None after a one-line WeaklabError; any other exception fails the test."""
    try:
        return resolve(source, overrides)
    except WeaklabError as e:
        assert str(e) and "\n" not in str(e), repr(str(e))
        return None


def round_trips(config: Config) -> None:
    """A resolved config saves and reads back to the same file text (nan-safe, unlike ==)."""
    with tempfile.TemporaryDirectory() as folder:
        first, second = Path(folder) / "a.yaml", Path(folder) / "b.yaml"
        config.save(first)
        resolve(first).save(second)
        assert first.read_text() == second.read_text()


@FAST
@given(st.dictionaries(keys, values, max_size=5))
def test_overrides_resolve_or_fail_cleanly(overrides):
    config = resolved_or_user_error(None, overrides)
    if config is not None:
        round_trips(config)


@FAST
@given(st.lists(st.text(max_size=30), max_size=4), st.lists(st.tuples(st.sampled_from(KNOWN), values), max_size=4))
def test_set_assignments_parse_and_resolve_or_fail_cleanly(raw, assignments):
    texts = raw + [f"{k}={yaml.safe_dump(v, default_flow_style=True).strip()}" for k, v in assignments]
    try:
        overrides = dict(parse_assignment(t) for t in texts)
    except WeaklabError as e:
        assert "\n" not in str(e)
        return
    resolved_or_user_error(None, overrides)


@FAST
@given(trees)
def test_nested_trees_resolve_or_fail_cleanly(tree):
    resolved_or_user_error(tree)


@FAST
@given(
    st.binary(max_size=300)
    | st.text(max_size=200).map(str.encode)
    | trees.map(lambda t: yaml.safe_dump(t).encode())
    | st.sampled_from([b"\xff\xfe\x00\x01", b"train: [1, 2\n", b"train:\n  lr: !!float x\n", b"[" * 2000])
)
def test_recipe_files_resolve_or_fail_cleanly(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recipe.yaml"
        path.write_bytes(content)
        config = resolved_or_user_error(path)
    if config is not None:
        round_trips(config)


@pytest.mark.parametrize("text", ["a: b: c", "!!timestamp x", "{[1]: 2}", "&a [*a]", "=", "!!binary ???", "- - -"])
def test_odd_set_values_stay_text_or_fail_cleanly(text):
    key, value = parse_assignment(f"train.lr={text}")
    assert key == "train.lr"
    resolved_or_user_error(None, {key: value})
