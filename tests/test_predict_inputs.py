"""`weaklab predict` on images: a folder, one file, a CSV of paths; decoded as training did, resized on request."""

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
    _png(new / "a.png", (16, 12), 10)  # another size: resized to the run's 8×8 with --resize, as training did
    _png(new / "sub" / "b.png", (8, 8), 90, mode="L")  # grey: converted to the run's RGB
    run = str(image_run / "run")
    assert main(["predict", run, "--input", str(new), "--output", str(tmp_path / "p.csv"), "--resize"]) == 0
    rows = _rows(tmp_path / "p.csv")
    assert rows[0][:2] == ["file", "prediction"] and len(rows[0]) == 2 + 3
    assert [r[0] for r in rows[1:]] == [str(new / "a.png"), str(new / "sub" / "b.png")]
    assert all(r[1] in ("c0", "c1", "c2") for r in rows[1:])
    assert main(["predict", run, "--input", str(new / "a.png"), "--output", str(tmp_path / "one.csv"), "--resize"]) == 0
    assert _rows(tmp_path / "one.csv")[1] == rows[1]  # the same image, the same probabilities
    (tmp_path / "list.csv").write_text("path,note\nnew/sub/b.png,x\nnew/a.png,y\n")
    listed = ["predict", run, "--input", str(tmp_path / "list.csv"), "--output", str(tmp_path / "l.csv")]
    assert main([*listed, "--resize"]) == 0
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


def _one_line_error(capsys, args, *parts):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("weaklab: error:") and len(err.strip().splitlines()) == 1, err
    for part in parts:
        assert part in err, err


def test_another_image_size_needs_resize(image_run, tmp_path, capsys):
    run, out = str(image_run / "run"), tmp_path / "p.csv"
    _png(tmp_path / "big" / "a.png", (16, 12), 10)
    _png(tmp_path / "big" / "b.png", (8, 8), 20)
    _one_line_error(
        capsys,
        ["predict", run, "--input", str(tmp_path / "big" / "a.png"), "--output", str(out)],
        "a.png is 16×12 pixels",
        "takes 8×8 images",
        "--resize",
    )
    _png(tmp_path / "big" / "c.png", (4, 4), 30)
    _one_line_error(
        capsys,
        ["predict", run, "--input", str(tmp_path / "big"), "--output", str(out)],
        "2 of 3 images are not 8×8",
        "16×12",
        "--resize",
    )
    assert not out.exists()
    assert main(["predict", run, "--input", str(tmp_path / "big"), "--output", str(out), "--resize"]) == 0
    assert len(_rows(out)) == 4


def test_output_never_overwrites_the_input(image_run, tmp_path, capsys):
    run = str(image_run / "run")
    folder = tmp_path / "imgs"
    _png(folder / "a.png", (8, 8), 10)
    before = (folder / "a.png").read_bytes()
    for output, message in [
        (folder / "a.png", "is the --input file"),
        (folder / "p.csv", "inside the --input folder"),
        (folder / "sub" / "p.csv", "inside the --input folder"),
        (tmp_path, "is a folder"),
    ]:
        source = folder / "a.png" if output.suffix == ".png" else folder
        _one_line_error(capsys, ["predict", run, "--input", str(source), "--output", str(output)], message)
    (tmp_path / "link.png").hardlink_to(folder / "a.png")  # another name, the same file
    _one_line_error(
        capsys,
        ["predict", run, "--input", str(folder / "a.png"), "--output", str(tmp_path / "link.png")],
        "is the --input file",
    )
    assert (folder / "a.png").read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["a.png"]


def test_inputs_on_another_scale_are_refused(image_run, tmp_path, capsys):
    from weaklab.data.sources.inputs import check_scale

    run = str(image_run / "run")  # trained on 8-bit images: the 0-255 scale
    np.save(tmp_path / "unit.npy", np.random.default_rng(0).random((4, 3, 8, 8), dtype=np.float32))  # 0-1 floats
    _one_line_error(
        capsys,
        ["predict", run, "--input", str(tmp_path / "unit.npy"), "--output", str(tmp_path / "p.csv")],
        "trained on values from 0 to 255",
        "training data's scale",
    )
    np.save(tmp_path / "bytes.npy", np.full((2, 3, 8, 8), 200, np.uint8))  # constant: no scale to read, accepted
    assert main(["predict", run, "--input", str(tmp_path / "bytes.npy"), "--output", str(tmp_path / "p.csv")]) == 0
    x = np.linspace(0, 255, 64).reshape(1, 1, 8, 8)
    with pytest.raises(WeaklabError, match="range from 0 to 255, but this run was trained on values from 0 to 16"):
        check_scale(x, (0.0, 16.0), (1, 8, 8))
    check_scale(x / 16, (0.0, 16.0), (1, 8, 8))  # the training scale, give or take: accepted
    check_scale(x, None, (1, 8, 8))  # a run saved before the range was kept: no check
    check_scale(x.reshape(1, 64), (0.0, 16.0), (64,))  # feature tables: a new row may lie outside the range
