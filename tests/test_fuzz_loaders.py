"""Property-based fuzzing of the user-data loaders: whatever the file holds, loading either succeeds (and the source
passed ArraySource's checks) or raises a one-line WeaklabError; any other exception is a bug.

Derandomized (the same examples every run) and small, so the file runs in seconds and never flakes in CI."""

import csv
import importlib.util
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from weaklab.config import DataConfig
from weaklab.data.sources import user_data
from weaklab.data.sources.datasets import load_source
from weaklab.errors import WeaklabError

FUZZ = settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# What users put in label and feature cells: numbers, the usual ways to say "missing", stray text, oddities.
CELL_WORDS = ["", " ", "nan", "NaN", "-nan", "inf", "-inf", "1e400", "-1", "0", " 3 ", "1.5", "cat", "None", "1_0"]
cells = st.one_of(
    st.sampled_from(CELL_WORDS),
    st.integers(-3, 12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=6),
)
names = st.one_of(st.sampled_from(["label", "target", "y", "path", "x", ""]), st.text(max_size=6))
options = st.fixed_dictionaries(
    {
        "task": st.sampled_from([None, "classification", "regression"]),
        "missing_targets": st.sampled_from(["error", "unlabeled"]),
        "bad_images": st.sampled_from(["error", "skip"]),
    }
)


def loads_or_says_why(path, **opts) -> None:
    """The property: a source that passed its checks, or a one-line WeaklabError."""
    try:
        src = load_source(str(path), None, DataConfig(**opts))
    except WeaklabError as e:
        assert "\n" not in str(e), str(e)
        return
    assert len(src.x) == len(src.y) > 0


@FUZZ
@given(data=st.data(), opts=options)
def test_npz_of_any_arrays(data, opts):
    dtypes = st.sampled_from(["float32", "float64", "float16", "int64", "int8", "uint8", "bool", "complex64", "<U3"])
    x = data.draw(hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)), "x")
    n = len(x) if x.ndim else 1
    y_len = data.draw(st.sampled_from([n, n, n + 1, 0]), "y length")
    y = data.draw(
        st.one_of(
            hnp.arrays(dtypes, st.sampled_from([(y_len,), (y_len,), (), (y_len, 1)])),
            st.just(np.arange(y_len) % 3 - 1),  # class indices, -1 unlabeled
            st.just(np.arange(y_len) * 10**12),  # ids, not class indices
        ),
        "y",
    )
    arrays = {"x": x, "y": y}
    if data.draw(st.booleans(), "with classes"):
        arrays["classes"] = np.array(data.draw(st.lists(st.text(max_size=3), max_size=4)), dtype=str)
    drop = data.draw(st.sampled_from([None, None, None, "x", "y"]), "missing array")
    if drop:
        del arrays[drop]
    with tempfile.TemporaryDirectory() as d:
        np.savez(Path(d) / "d.npz", **arrays)
        loads_or_says_why(Path(d) / "d.npz", **opts)


@FUZZ
@given(content=st.binary(max_size=200), suffix=st.sampled_from([".npz", ".npy", ".csv", ".parquet", ".txt", ""]))
def test_any_bytes_under_any_suffix(content, suffix):
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / f"f{suffix}").write_bytes(content)
        loads_or_says_why(Path(d) / f"f{suffix}")


@FUZZ
@given(data=st.data(), opts=options)
def test_csv_tables_with_any_header_and_cells(data, opts):
    header = data.draw(st.lists(names, min_size=1, max_size=4), "header")
    rows = data.draw(st.lists(st.lists(cells, min_size=len(header), max_size=len(header)), max_size=12), "rows")
    if rows and data.draw(st.booleans(), "ragged"):
        rows[-1] = rows[-1][:-1]
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    target = data.draw(st.one_of(st.none(), st.sampled_from(header), names), "target column")
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "t.csv").write_text(out.getvalue(), encoding="utf-8")
        loads_or_says_why(Path(d) / "t.csv", target_column=target, **opts)


# Cells as Parquet hands them over: typed Python values, nulls as None.
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.binary(max_size=4),
    st.lists(st.integers(0, 3), max_size=2),
)


@FUZZ
@given(data=st.data(), opts=options)
def test_tables_of_typed_values(data, opts):
    header = data.draw(st.lists(names, min_size=1, max_size=4, unique=True), "header")
    rows = data.draw(st.lists(st.lists(values, min_size=len(header), max_size=len(header)), max_size=12), "rows")
    target = data.draw(st.one_of(st.none(), st.sampled_from(header)), "target column")
    try:
        src = user_data.table(Path("t.parquet"), header, rows, user_data.Options(target_column=target, **opts))
    except WeaklabError as e:
        assert "\n" not in str(e)
        return
    assert len(src.x) == len(rows)


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="Parquet needs pyarrow")
@FUZZ
@given(data=st.data(), opts=options)
def test_parquet_files(data, opts):
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = data.draw(st.integers(0, 8), "rows")
    kinds = {
        "int": st.integers(-5, 5),
        "float": st.floats(allow_nan=True, allow_infinity=True),
        "text": st.text(max_size=3),
        "bool": st.booleans(),
    }
    columns = {}
    for name in data.draw(st.lists(names, min_size=1, max_size=3, unique=True), "header"):
        kind = kinds[data.draw(st.sampled_from(sorted(kinds)), "column type")]
        columns[name] = data.draw(st.lists(st.one_of(st.none(), kind), min_size=n, max_size=n), name)
    with tempfile.TemporaryDirectory() as d:
        pq.write_table(pa.table(columns), Path(d) / "t.parquet")
        loads_or_says_why(Path(d) / "t.parquet", **opts)


def _image_bytes(data) -> bytes:
    """A small valid image, then maybe truncated or with bytes overwritten, or plain random bytes."""
    if data.draw(st.booleans(), "random bytes"):
        return data.draw(st.binary(max_size=64))
    mode = data.draw(st.sampled_from(["RGB", "L", "RGBA", "P", "1", "I;16", "F", "CMYK", "LA"]), "mode")
    fmt = data.draw(st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]), "format")
    size = (data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6)))
    img = Image.new(mode, size)
    buf = io.BytesIO()
    try:
        img.save(buf, fmt)
    except (OSError, ValueError, KeyError):  # a mode the format cannot store
        img.convert("RGB").save(buf, fmt)
    raw = bytearray(buf.getvalue())
    cut = data.draw(st.sampled_from([None, "truncate", "overwrite"]), "damage")
    if cut == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif cut == "overwrite":
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    return bytes(raw)


folder_names = st.text(alphabet="abc._- 1", min_size=1, max_size=4).filter(lambda s: s not in (".", ".."))
image_names = st.tuples(
    st.text(alphabet="xyz_0123456789", min_size=1, max_size=5),
    st.sampled_from(sorted(user_data.IMAGE_SUFFIXES) + [".txt", ".PNG"]),
)


@FUZZ
@given(data=st.data(), opts=options, size=st.one_of(st.none(), st.integers(1, 8)))
def test_image_folders_of_any_bytes(data, opts, size):
    classes = data.draw(st.lists(folder_names, max_size=3, unique=True), "classes")
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "imgs"
        root.mkdir()
        for c in classes:
            (root / c).mkdir()
            for stem, suffix in data.draw(st.lists(image_names, max_size=3, unique=True), "files"):
                (root / c / f"{stem}{suffix}").write_bytes(_image_bytes(data))
        utk = data.draw(st.booleans(), "ages in file names")
        loads_or_says_why(root, image_size=size, filename_target="utkface" if utk else None, **opts)


@FUZZ
@given(data=st.data(), opts=options)
def test_csv_of_image_paths(data, opts):
    with tempfile.TemporaryDirectory() as d:
        for i in range(3):
            (Path(d) / f"{i}.png").write_bytes(_image_bytes(data))
        paths = st.one_of(st.sampled_from(["0.png", "1.png", "2.png", "", "nope.png", "../", "."]), st.text(max_size=8))
        rows = data.draw(st.lists(st.tuples(paths, cells), max_size=6), "rows")
        out = io.StringIO()
        csv.writer(out).writerows([("path", "label"), *rows])
        (Path(d) / "list.csv").write_text(out.getvalue(), encoding="utf-8")
        loads_or_says_why(Path(d) / "list.csv", **opts)
