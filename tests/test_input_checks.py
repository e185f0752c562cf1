"""Every bad input is a one-line WeaklabError naming the value and what to do, never a silent guess (issue #16):
missing targets, a stray text label among numbers, a single class, an empty class folder, unlearnable noise, and
the flag a bad image's message names."""

import numpy as np
import pytest
from PIL import Image

from weaklab.cli import main
from weaklab.config import DataConfig
from weaklab.data.sources.datasets import load_source
from weaklab.data.supervision.noise import make_noisy, max_rate
from weaklab.errors import WeaklabError

RNG = np.random.default_rng(0)
CLASSES = [str(c) for c in range(10)]


def load(path, **options):
    return load_source(str(path), None, DataConfig(**options))


def _csv(path, labels):
    path.write_text("a,b,label\n" + "".join(f"{i},{-i},{v}\n" for i, v in enumerate(labels)))
    return path


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(path)


# 1. missing targets


def test_missing_targets_are_an_error_by_default(tmp_path):
    labels = [i % 3 for i in range(20)]
    labels[6], labels[9] = "", "NaN"
    f = _csv(tmp_path / "data.csv", labels)
    with pytest.raises(WeaklabError, match=r"data.csv column 'label': 2 rows have no target \(first: row 7\)") as e:
        load(f)
    assert "--missing-targets unlabeled" in str(e.value) and "\n" not in str(e.value)


def test_missing_targets_unlabeled_keeps_them_and_says_how_many(tmp_path, capsys):
    labels = [i % 3 for i in range(20)]
    labels[6], labels[9] = "", "nan"
    src = load(_csv(tmp_path / "data.csv", labels), missing_targets="unlabeled")
    assert src.unlabeled.sum() == 2 and src.unlabeled[6] and src.unlabeled[9] and src.num_classes == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2 rows have no target (first: row 7)" in err and "unlabeled" in err


def test_missing_targets_in_an_npz_and_a_csv_of_images(tmp_path):
    y = np.arange(30, dtype=np.float64) % 3
    y[4] = np.nan
    np.savez(tmp_path / "d.npz", x=RNG.normal(size=(30, 2)), y=y)
    with pytest.raises(WeaklabError, match=r"d.npz y: 1 row has no target \(first: index 4\)"):
        load(tmp_path / "d.npz")
    assert load(tmp_path / "d.npz", missing_targets="unlabeled").unlabeled.sum() == 1
    y[4] = -1  # -1 marks an unlabeled sample on purpose: no error
    np.savez(tmp_path / "d.npz", x=RNG.normal(size=(30, 2)), y=y.astype(np.int64))
    assert load(tmp_path / "d.npz").unlabeled.sum() == 1
    for i in range(4):
        _png(tmp_path / "img" / f"{i}.png")
    (tmp_path / "list.csv").write_text("path,label\nimg/0.png,a\nimg/1.png,b\nimg/2.png,\nimg/3.png,a\n")
    with pytest.raises(WeaklabError, match=r"1 row has no target \(first: line 4\)"):
        load(tmp_path / "list.csv")


def test_missing_targets_stop_the_cli_with_exit_2(tmp_path, capsys):
    f = _csv(tmp_path / "data.csv", ["", 1, 0, 1])
    assert main(["train", "--dataset", str(f), "--out", str(tmp_path / "run")]) == 2
    assert "--missing-targets unlabeled" in capsys.readouterr().err


# 2. a stray text label among numbers


def test_text_label_among_numbers_is_named(tmp_path):
    labels = [i % 10 for i in range(40)]
    labels[12] = "cat"
    with pytest.raises(WeaklabError, match=r"1 label is text \('cat'; first: row 13\) among numbers"):
        load(_csv(tmp_path / "data.csv", labels))
    labels[3:9] = ["a", "b", "c", "d", "e", "f"]
    with pytest.raises(WeaklabError, match=r"7 labels are text \('a', 'b', 'c', 'd', 'e', \.\.\.; first: row 4\)"):
        load(_csv(tmp_path / "data.csv", labels))


def test_numbers_among_text_labels_and_pure_text_classes(tmp_path):
    labels = ["cat", "dog"] * 10
    assert load(_csv(tmp_path / "data.csv", labels)).classes == ["cat", "dog"]  # class names: fine
    labels[5] = "3"
    with pytest.raises(WeaklabError, match=r"1 label is numbers \('3'; first: row 6\) among text"):
        load(_csv(tmp_path / "data.csv", labels))


def test_infinite_label_is_named(tmp_path):
    with pytest.raises(WeaklabError, match="row 2 has the label 'inf'"):
        load(_csv(tmp_path / "data.csv", [0, "inf", 1, 0]))


# 3. a single class


def test_a_single_class_is_an_error(tmp_path):
    with pytest.raises(WeaklabError, match="needs at least 2 classes, found only 'x'"):
        load(_csv(tmp_path / "data.csv", ["x"] * 8))
    np.savez(tmp_path / "d.npz", x=RNG.normal(size=(8, 2)), y=np.zeros(8, np.int64))
    with pytest.raises(WeaklabError, match="d.npz: classification needs at least 2 classes, found only '0'"):
        load(tmp_path / "d.npz")
    for i in range(3):
        _png(tmp_path / "imgs" / "only" / f"{i}.png")
    with pytest.raises(WeaklabError, match="found only 'only'"):
        load(tmp_path / "imgs")
    assert load(_csv(tmp_path / "r.csv", [1.5, 1.5, 1.5])).task == "regression"  # one target value is fine


# 4. an empty class folder


def test_empty_class_folder_is_named(tmp_path):
    for c in ("cat", "dog"):
        for i in range(2):
            _png(tmp_path / "imgs" / c / f"{i}.png")
    (tmp_path / "imgs" / "emu").mkdir()
    (tmp_path / "imgs" / "emu" / "notes.txt").write_text("not an image")
    with pytest.raises(WeaklabError, match=r"imgs/emu: class folder holds no images .*remove it or add images"):
        load(tmp_path / "imgs")
    (tmp_path / "imgs" / "emu" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(WeaklabError, match=r"imgs/emu: none of the class's images could be decoded"):
        load(tmp_path / "imgs", bad_images="skip")


# 5. unlearnable label noise


@pytest.mark.parametrize(
    "kind, rate, limit",
    [("symmetric", 1.0, "0.9"), ("symmetric", 0.9, "0.9"), ("uniform", 1.0, "1"), ("pairflip", 0.5, "0.5")],
)
def test_noise_rate_past_learnable_is_refused(kind, rate, limit):
    with pytest.raises(WeaklabError, match=rf"noise_rate {rate:g} is too high for {kind} .*below {limit}$"):
        make_noisy(np.repeat(np.arange(10), 10), CLASSES, kind, rate, seed=0)


def test_learnable_noise_rates_still_work():
    labels = np.repeat(np.arange(10), 10)
    for kind, rate in [("symmetric", 0.89), ("symmetric", 0.4), ("uniform", 0.99), ("pairflip", 0.45)]:
        assert (make_noisy(labels, CLASSES, kind, rate, seed=0) != labels).any()
    assert make_noisy(labels, CLASSES, "asymmetric", 0.4, seed=0, mapping="digits").shape == labels.shape
    with pytest.raises(WeaklabError, match="below 0.5"):
        make_noisy(labels, CLASSES, "asymmetric", 0.6, seed=0, mapping="digits")
    assert max_rate("symmetric", 2) == 0.5 and max_rate("symmetric", 100) == 0.99 and max_rate("given", 10) is None


def test_transition_matrix_must_keep_each_label_most_often():
    m = np.full((3, 3), 0.25)
    np.fill_diagonal(m, 0.5)
    m[1] = [0.6, 0.3, 0.1]  # class 1 mostly becomes class 0
    with pytest.raises(WeaklabError, match=r"noise_matrix row 1: keeping the label \(0.3\) .*\(up to 0.6\)"):
        make_noisy(np.arange(3), ["a", "b", "c"], "transition", 0.0, 0, matrix=m.tolist())


def test_noise_rate_one_stops_the_cli_with_exit_2(tmp_path, capsys):
    args = ["train", "--noise", "symmetric", "--noise-rate", "1.0", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert main(args) == 2
    assert "below 0.9" in capsys.readouterr().err


# 6. a bad image names the flag


def test_bad_image_message_names_the_flag(tmp_path):
    for c in ("a", "b"):
        _png(tmp_path / "imgs" / c / "0.png")
    (tmp_path / "imgs" / "b" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(WeaklabError, match=r"broken.jpg cannot be decoded .*pass --bad-images skip \(or data.bad"):
        load(tmp_path / "imgs")
