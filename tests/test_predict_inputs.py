"""`weaklab predict` on images: a folder, one file, a CSV of paths; decoded and resized as training did."""

import csv

import numpy as np
import pytest
from PIL import Image

from weaklab.cli import main
from weaklab.data.sources.inputs import load_inputs
from weaklab.errors import WeaklabError


def _png(path, size, value, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    Image.fromarray(np.full(shape, value, np.uint8), mode).save(path)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    for c in range(3):
        for i in range(8):
            _png(root / "imgs" / f"c{c}" / f"{i}.png", (8, 8), 40 * c + i)
    code = main(
        [
            "train",
            "--dataset",
            str(root / "imgs"),
            "--labels-per-class",
            "2",
            "--model",
            "small_cnn",
            "--epochs",
            "1",
            "--out",
            str(root / "run"),
            "--set",
            "train.progress=false",
            "--set",
            "model.width=4",
            "--set",
            "train.batch_unlabeled=8",
            "--set",
            "train.batch_labeled=4",
        ]
    )
    assert code == 0
    return root


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_predict_on_a_folder_a_file_and_a_csv_of_images(image_run, tmp_path, capsys):
    new = tmp_path / "new"
    _png(new / "a.png", (16, 12), 10)  # another size: resized to the run's 8×8, as training did
    _png(new / "sub" / "b.png", (8, 8), 90, mode="L")  # grey: converted to the run's RGB
    run = str(image_run / "run")
    assert main(["predict", run, "--input", str(new), "--output", str(tmp_path / "p.csv")]) == 0
    rows = _rows(tmp_path / "p.csv")
    assert rows[0][:2] == ["file", "prediction"] and len(rows[0]) == 2 + 3
    assert [r[0] for r in rows[1:]] == [str(new / "a.png"), str(new / "sub" / "b.png")]
    assert all(r[1] in ("c0", "c1", "c2") for r in rows[1:])
    assert main(["predict", run, "--input", str(new / "a.png"), "--output", str(tmp_path / "one.csv")]) == 0
    assert _rows(tmp_path / "one.csv")[1] == rows[1]  # the same image, the same probabilities
    (tmp_path / "list.csv").write_text("path,note\nnew/sub/b.png,x\nnew/a.png,y\n")
    assert main(["predict", run, "--input", str(tmp_path / "list.csv"), "--output", str(tmp_path / "l.csv")]) == 0
    assert [r[1:] for r in _rows(tmp_path / "l.csv")[1:]] == [rows[2][1:], rows[1][1:]]


def test_images_decode_like_training(image_run):
    x, names = load_inputs(image_run / "imgs" / "c1", (3, 8, 8))
    assert x.shape == (8, 3, 8, 8) and x.dtype == np.uint8 and sorted(set(x[:, 0, 0, 0])) == list(range(40, 48))
    assert names[0].endswith("0.png")


def test_bad_image_inputs_name_the_problem(image_run, tmp_path, capsys):
    run = str(image_run / "run")
    folder = tmp_path / "mixed"
    _png(folder / "good.png", (8, 8), 5)
    (folder / "broken.png").write_bytes(b"not a png")
    out = str(tmp_path / "p.csv")
    assert main(["predict", run, "--input", str(folder), "--output", out]) == 2
    assert "broken.png cannot be decoded" in capsys.readouterr().err
    assert main(["predict", run, "--input", str(folder), "--output", out, "--bad-images", "skip"]) == 0
    assert len(_rows(out)) == 2 and "skipped 1 unreadable" in capsys.readouterr().out
    for bad, message in [
        (tmp_path / "nothing", "does not exist"),
        (tmp_path / "x.txt", "predict reads"),
        (tmp_path / "nopath.csv", "`path` column"),
    ]:
        if bad.suffix:
            bad.write_text("a,b\n1,2\n")
        assert main(["predict", run, "--input", str(bad), "--output", out]) == 2
        assert message in capsys.readouterr().err
    (tmp_path / "binary.csv").write_bytes(b"path\n\xff\xfe\x00bad\n")  # not text: a one-line error, no traceback
    assert main(["predict", run, "--input", str(tmp_path / "binary.csv"), "--output", out]) == 2
    assert "cannot read as CSV" in capsys.readouterr().err
    with pytest.raises(WeaklabError, match="feature vectors"):
        load_inputs(folder, (64,), "skip")
