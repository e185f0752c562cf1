"""`weaklab.train(x=...)` and `Run.predict` on NumPy arrays, torch tensors and pandas / polars DataFrames: the same
checks and messages as the files they stand for, and a run directory that reads its data back."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import weaklab
from weaklab.api import resume
from weaklab.config import resolve
from weaklab.data.sources.arrays import from_memory
from weaklab.data.sources.user_data import Options, load_path
from weaklab.data.supervision.partial import generate
from weaklab.errors import WeaklabError

from test_sklearn_estimator import quick  # noqa: F401  (autouse: one thread, no plots)


def pandas():
    """pandas where installed (the dev extra has it); the tests of arrays and tensors run without it."""
    return pytest.importorskip("pandas")


FAST = {
    "model.name": "mlp",
    "model.width": 32,
    "train.epochs": 2,
    "train.batch_labeled": 16,
    "train.lr_rampup": 0,
    "train.progress": False,
}


def config(method="supervised", **overrides):
    return resolve(None, {**FAST, "method.name": method, **{k.replace("__", "."): v for k, v in overrides.items()}})


@pytest.fixture(scope="module")
def digits():
    """Digits features (N×64, 0..16) with half the labels hidden (-1)."""
    x, y = load_digits(return_X_y=True)
    hidden = np.random.default_rng(0).random(len(y)) < 0.5
    return x.astype(np.float32), np.where(hidden, -1, y), y


def test_arrays_train_and_the_run_reads_its_data_back(tmp_path, digits):
    x, y, _ = digits
    run = weaklab.train(config("mean_teacher"), out=tmp_path / "run", x=x, y=y)
    data = (tmp_path / "run" / "data.npz").resolve()
    assert run.config.data.dataset == str(data) and run.config.data.task == "classification"
    back = load_path(str(data), Options())  # the run's file holds the samples as given
    np.testing.assert_array_equal(back.x, x)
    np.testing.assert_array_equal(np.where(back.has_label, back.y, -1), y)
    assert run.evaluate() == pytest.approx(run.summary["test"])  # rebuilt from the run's own files
    assert run.summary["labels"]["num_unlabeled"] > 0


@pytest.mark.parametrize("kind", ["tensor", "pandas", "polars"])
def test_tensors_and_frames_train_the_run_arrays_train(tmp_path, digits, kind):
    x, y, _ = digits
    expected = weaklab.train(config(), out=tmp_path / "arrays", x=x, y=y)
    if kind == "tensor":
        given_x, given_y = torch.from_numpy(x), torch.from_numpy(y)
    elif kind == "pandas":
        given_x, given_y = pandas().DataFrame(x, columns=[f"p{i}" for i in range(64)]), pandas().Series(y)
    else:
        pl = pytest.importorskip("polars")
        given_x, given_y = pl.DataFrame(x, schema=[f"p{i}" for i in range(64)]), pl.Series(y)
    run = weaklab.train(config(), out=tmp_path / kind, x=given_x, y=given_y)
    assert run.summary["test"] == expected.summary["test"]
    np.testing.assert_array_equal(run.predict_proba(given_x), expected.predict_proba(x))  # predict reads them too


NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _label_frame(x: np.ndarray, y: np.ndarray, kind: str = "pandas"):
    """A table as a user keeps one: feature columns and class names, an empty cell where the label is unknown."""
    columns = {f"p{i}": x[:, i] for i in range(x.shape[1])}
    columns["label"] = [NAMES[v] if v >= 0 else None for v in y]
    return pandas().DataFrame(columns) if kind == "pandas" else pytest.importorskip("polars").DataFrame(columns)


@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_a_frame_with_a_label_column_reads_as_its_csv_file(tmp_path, digits, kind):
    x, y, _ = digits
    _label_frame(x[:200], y[:200]).to_csv(tmp_path / "table.csv", index=False)
    frame = _label_frame(x[:200], y[:200], kind)
    opts = Options(missing_targets="unlabeled")
    from_file, in_memory = load_path(str(tmp_path / "table.csv"), opts), from_memory(frame, opts=opts, quiet=True)
    np.testing.assert_array_equal(in_memory.x, from_file.x)
    np.testing.assert_array_equal(in_memory.y, from_file.y)
    np.testing.assert_array_equal(in_memory.has_label, from_file.has_label)
    assert in_memory.classes == from_file.classes == sorted(NAMES)
    run = weaklab.train(config(), out=tmp_path / "run", x=frame, data__missing_targets="unlabeled")
    assert run.classes == from_file.classes
    features = frame.drop("label") if kind == "polars" else frame.drop(columns="label")
    np.testing.assert_array_equal(run.predict(features), run.predict(x[:200]))


def test_a_frame_with_a_column_of_images(tmp_path):
    d = load_digits()
    frame = pandas().DataFrame({"image": list(d.images[:400]), "label": d.target[:400], "note": "ignored"})
    source = from_memory(frame)
    assert source.x.shape == (400, 1, 8, 8) and source.classes == [str(c) for c in range(10)]
    run = weaklab.train(config(model__name="small_cnn", model__width=8), out=tmp_path / "run", x=frame)
    np.testing.assert_array_equal(run.predict(frame[["image"]]), run.predict(d.images[:400, None]))
    with pytest.raises(WeaklabError, match=r"DataFrame column 'image': row 2 has shape \(8, 7\), row 1 \(8, 8\)"):
        from_memory(pandas().DataFrame({"image": [d.images[0], d.images[1][:, :7]], "label": [0, 1]}))


def _message(call) -> str:
    with pytest.raises(WeaklabError) as e:
        call()
    return str(e.value)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "x, y, opts",
    [
        (np.zeros((5, 3)), np.zeros(4), {}),  # one label per sample
        (np.zeros((4, 3)), np.array([0.0, 1.0, np.inf, 0.0]), {}),
        (np.zeros((4, 3)), np.array([0.5, np.nan, 1.5, 2.5]), {}),  # a missing target
        (np.full((4, 3), np.nan), np.array([0, 1, 0, 1]), {}),
        (np.zeros((4, 3)), np.array([0, 1, 5000, 1]), {}),  # ids, not class indices
        (np.zeros((4, 3)), np.array([1, 1, -1, 1]), {}),  # one class
        (np.zeros((3, 3)), np.full(3, np.nan), {"task": "regression", "missing_targets": "unlabeled"}),
    ],
)
def test_arrays_fail_with_the_message_of_the_npz_file(tmp_path, x, y, opts):
    path = _npz(tmp_path / "arrays.npz", x=x, y=y)  # named so that its stem is the in-memory name
    from_file = _message(lambda: load_path(str(path), Options(**opts)))
    assert _message(lambda: from_memory(x, y, Options(**opts))) == from_file.replace(str(path), "arrays")
    tensors = (torch.from_numpy(x), torch.from_numpy(y))
    assert _message(lambda: from_memory(*tensors, Options(**opts))) == from_file.replace(str(path), "arrays")


@pytest.mark.parametrize(
    "columns",
    [
        {"a": [1.0, 2.0, 3.0], "b": ["x", "2", "3"], "label": [0, 1, 0]},  # text among features
        {"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, 3.0]},  # no label column
        {"a": [1.0, 2.0, 3.0], "label": ["cat", "1", "2"]},  # a name among numbers
        {"a": [1.0, 2.0, 3.0], "label": ["cat", None, "dog"]},  # a missing label
        {"a": [1.0, 2.0, 3.0], "label": ["cat", "cat", "cat"]},  # one class
    ],
)
def test_frames_fail_with_the_message_of_the_csv_file(tmp_path, columns):
    frame = pandas().DataFrame(columns)
    frame.to_csv(tmp_path / "DataFrame.csv", index=False)  # its stem is the in-memory name
    from_file = _message(lambda: load_path(str(tmp_path / "DataFrame.csv"), Options()))
    assert _message(lambda: from_memory(frame)) == from_file.replace(str(tmp_path / "DataFrame.csv"), "DataFrame")
    polars = pytest.importorskip("polars")
    assert _message(lambda: from_memory(polars.DataFrame(columns))) == _message(lambda: from_memory(frame))


def test_predict_names_a_frame_of_the_wrong_width(tmp_path, digits):
    x, y, _ = digits
    run = weaklab.train(config(), out=tmp_path / "run", x=x, y=y)
    frame = _label_frame(x[:3], y[:3])
    with pytest.raises(
        WeaklabError, match="the DataFrame has 65 columns but this run takes 64 features.*drop the label"
    ):
        run.predict(frame)
    with pytest.raises(WeaklabError, match="this run expects N×64"):
        run.predict(torch.zeros(2, 63))


def test_candidate_sets_without_labels(tmp_path, digits):
    x, _, y = digits
    sets = generate("pico", y, 10, 0.3, seed=0).astype(np.uint8)
    run = weaklab.train(config("cc", train__epochs=3), out=tmp_path / "run", x=x, candidates=torch.from_numpy(sets))
    assert run.config.data.candidates_file == str((tmp_path / "run" / "candidates.npy").resolve())
    np.testing.assert_array_equal(np.load(run.config.data.candidates_file), sets)
    stand_in = np.load(tmp_path / "run" / "data.npz")["y"]
    assert sets[np.arange(len(y)), stand_in].all()  # each stand-in label lies inside its set
    assert run.summary["labels"]["partial"]["train"]["avg_candidates"] > 1
    assert (run.predict(x) == y).mean() > 0.8


def test_candidate_set_mistakes(tmp_path, digits):
    x, y_semi, y = digits
    with pytest.raises(WeaklabError, match=r"candidates: candidate sets must be an N×10 array"):
        weaklab.train(config("cc"), out=tmp_path / "a", x=x, y=y, candidates=np.ones((len(x), 9)))
    with pytest.raises(WeaklabError, match="y may not mark samples unlabeled"):
        weaklab.train(config("cc"), out=tmp_path / "b", x=x, y=y_semi, candidates=np.ones((len(x), 10)))
    sets = np.eye(10, dtype=int)[(y + 1) % 10]
    with pytest.raises(WeaklabError, match="candidates: the known true label of 1797 samples lies outside"):
        weaklab.train(config("cc"), out=tmp_path / "c", x=x, y=y, candidates=sets)
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()  # refused before anything was written


def test_the_data_is_given_once(tmp_path, digits):
    x, y, _ = digits
    with pytest.raises(WeaklabError, match="the data is given twice, as x and as data.dataset"):
        weaklab.train(config(data__dataset="diabetes"), out=tmp_path / "run", x=x, y=y)
    with pytest.raises(TypeError, match="y, classes and candidates describe the samples x"):
        weaklab.train(config(), out=tmp_path / "run", y=y)
    with pytest.raises(WeaklabError, match="give y"):
        weaklab.train(config(), out=tmp_path / "run", x=x)


def test_a_run_from_memory_resumes_from_its_own_files(tmp_path, digits, monkeypatch):
    from weaklab.engine.trainer import Trainer

    x, y, _ = digits
    whole = weaklab.train(config("mean_teacher", train__epochs=3), out=tmp_path / "whole", x=x, y=y)
    original = Trainer._save

    def killed(self, improved):  # stopped right after its first checkpoint
        original(self, improved)
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Trainer, "_save", killed)
        with pytest.raises(KeyboardInterrupt):
            weaklab.train(config("mean_teacher", train__epochs=3), out=tmp_path / "cut", x=x, y=y)
    run = resume(tmp_path / "cut")  # reads data.npz: nothing is in memory any more
    assert run.summary["test"] == whole.summary["test"]


def test_a_folder_holding_a_run_keeps_its_data(tmp_path, digits):
    x, y, _ = digits
    weaklab.train(config(), out=tmp_path / "run", x=x, y=y)
    before = (tmp_path / "run" / "data.npz").read_bytes()
    with pytest.raises(WeaklabError, match="already holds a run"):
        weaklab.train(config(), out=tmp_path / "run", x=x[:100], y=y[:100])
    assert (tmp_path / "run" / "data.npz").read_bytes() == before  # written only once the folder is the run's
    run = weaklab.train(config(), out=tmp_path / "run", overwrite=True, x=x[:500], y=y[:500])
    assert len(np.load(tmp_path / "run" / "data.npz")["x"]) == 500 and run.summary["labels"]["train"] < 500


def test_weaklab_imports_neither_pandas_nor_polars():
    # (weaklab.sklearn imports scikit-learn, which loads pandas itself where it is installed)
    code = "import sys, weaklab.api, weaklab.cli; print(sorted({'pandas', 'polars'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
