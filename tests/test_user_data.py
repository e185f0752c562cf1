"""Users' own data: .npz, CSV / Parquet tables, image folders, CSVs of image paths, UTKFace names, RAF-DB and
FER2013 / FERPlus layouts; unlabeled samples; the one-line errors for bad input."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from weaklab.cli import main
from weaklab.config import DataConfig
from weaklab.data.sources.datasets import load_source
from weaklab.engine.experiment import build_data
from weaklab.errors import WeaklabError

RNG = np.random.default_rng(0)


def _png(path, size=(12, 10), color=None, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    a = np.full(shape, color, np.uint8) if color is not None else RNG.integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(a, mode).save(path)


def load(path, **options):
    return load_source(str(path), None, DataConfig(**options))


def test_npz_with_unlabeled_samples_stays_out_of_val_and_test(tmp_path, fast):
    x = RNG.normal(size=(200, 5)).astype(np.float32)
    y = np.arange(200) % 4
    y[150:] = -1  # no label
    np.savez(tmp_path / "d.npz", x=x, y=y)
    src = load(tmp_path / "d.npz")
    assert src.num_classes == 4 and src.unlabeled.sum() == 50 and src.task == "classification"
    config = fast(data__dataset=str(tmp_path / "d.npz"), model__name="mlp", data__labels_per_class=None)
    data = build_data(config, torch.device("cpu"))
    # test (20%) and validation (10% of the rest) come from the 150 labeled samples only
    assert (len(data.test), len(data.val), len(data.train)) == (30, 12, 108 + 50)
    assert data.supervision.report()["num_unlabeled"] == 50 and data.supervision.report()["num_labeled"] == 108
    assert (data.train_labels_clean == -1).sum() == 50 and not data.supervision.labeled[-50:].any()


def test_csv_table_classification_and_regression(tmp_path):
    lines = ["a,b,species"] + [f"{i},{i * 0.5},{'cat' if i % 2 else 'dog'}" for i in range(20)] + ["99,1,"]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    src = load(tmp_path / "t.csv", target_column="species", missing_targets="unlabeled")
    assert src.classes == ["cat", "dog"] and src.x.shape == (21, 2) and src.unlabeled[-1] and src.y[1] == 0
    lines = ["f1,f2,target"] + [f"{i},{-i},{i * 1.5}" for i in range(20)]
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
    src = load(tmp_path / "r.csv")
    assert src.task == "regression" and src.classes == [] and src.y[3] == pytest.approx(4.5)
    forced = load(tmp_path / "r.csv", task="classification")
    assert forced.task == "classification" and forced.num_classes == 20


def test_table_errors_name_the_problem(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,label\n1,x,0\n2,3,1\n")
    with pytest.raises(WeaklabError, match="column 'b' row 1 is 'x'"):
        load(tmp_path / "t.csv")
    with pytest.raises(WeaklabError, match="no column 'klass'"):
        load(tmp_path / "t.csv", target_column="klass")
    (tmp_path / "u.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(WeaklabError, match="--target-column"):
        load(tmp_path / "u.csv")
    with pytest.raises(WeaklabError, match="does not exist"):
        load(tmp_path / "missing.csv")


def test_parquet_table(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"f": [0.1, 0.2, 0.3, 0.4], "label": [0, 1, 0, 1]}), tmp_path / "t.parquet")
    src = load(tmp_path / "t.parquet")
    assert src.x.shape == (4, 1) and src.num_classes == 2


def test_image_folder_tree_resized_once(tmp_path):
    for c in ("cat", "dog"):
        for i in range(3):
            _png(tmp_path / "imgs" / c / f"{i}.png", size=(12 + i, 10))
    src = load(tmp_path / "imgs", image_size=8)
    assert src.x.shape == (6, 3, 8, 8) and src.x.dtype == np.uint8 and src.classes == ["cat", "dog"]
    assert list(src.y) == [0, 0, 0, 1, 1, 1]
    src = load(tmp_path / "imgs")  # no size given: the first image's size
    assert src.x.shape == (6, 3, 10, 12)


def test_corrupt_image_errors_by_default_and_skips_on_request(tmp_path, capsys):
    for i in range(3):
        _png(tmp_path / "imgs" / "a" / f"{i}.png")
        _png(tmp_path / "imgs" / "b" / f"{i}.png")
    (tmp_path / "imgs" / "b" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(WeaklabError, match="broken.jpg cannot be decoded"):
        load(tmp_path / "imgs")
    src = load(tmp_path / "imgs", bad_images="skip")
    assert len(src.x) == 6 and src.info["skipped_images"][0].endswith("broken.jpg")
    assert "skipped 1 unreadable images" in capsys.readouterr().err


def test_csv_of_paths_with_unlabeled_rows_and_missing_file(tmp_path):
    for i in range(6):
        _png(tmp_path / "img" / f"{i}.png", mode="L")
    rows = ["path,label"] + [f"img/{i}.png,{'happy' if i % 2 else 'sad'}" for i in range(5)] + ["img/5.png,"]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    src = load(tmp_path / "list.csv", missing_targets="unlabeled")
    assert src.x.shape == (6, 1, 10, 12) and src.unlabeled.tolist() == [False] * 5 + [True]
    (tmp_path / "bad.csv").write_text("path,label\nimg/0.png,a\nimg/nope.png,b\n")
    with pytest.raises(WeaklabError, match="line 3: image 'img/nope.png' does not exist"):
        load(tmp_path / "bad.csv")


def test_folder_plus_csv_of_targets_and_utkface_names(tmp_path):
    for i in range(4):
        _png(tmp_path / "faces" / f"{20 + i}_1_0_2017.jpg.chip.jpg")
    (tmp_path / "targets.csv").write_text(
        "path,age\n" + "".join(f"faces/{20 + i}_1_0_2017.jpg.chip.jpg,{20.5 + i}\n" for i in range(4))
    )
    src = load(tmp_path / "targets.csv", target_column="age")
    assert src.task == "regression" and src.y.tolist() == [20.5, 21.5, 22.5, 23.5]
    src = load(tmp_path / "faces", filename_target="utkface", image_size=6)
    assert src.task == "regression" and sorted(src.y.tolist()) == [20, 21, 22, 23] and src.x.shape == (4, 3, 6, 6)
    _png(tmp_path / "faces" / "noage.jpg")
    with pytest.raises(WeaklabError, match="noage.jpg: file name does not start with an age"):
        load(tmp_path / "faces", filename_target="utkface")


def test_rafdb_layout(tmp_path):
    lines = []
    for i in range(1, 15):
        split = "train" if i <= 10 else "test"
        name = f"{split}_{i:05d}"
        _png(tmp_path / "Image" / "aligned" / f"{name}_aligned.jpg", size=(100, 100))
        lines.append(f"{name}.jpg {i % 7 + 1}")
    (tmp_path / "EmoLabel").mkdir()
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    src = load_source("rafdb", str(tmp_path), DataConfig(image_size=32))
    assert src.x.shape == (10, 3, 32, 32) and src.test_x.shape == (4, 3, 32, 32) and src.classes[0] == "Surprise"
    assert src.y[0] == 1  # line `train_00001.jpg 2` -> Fear, index 1
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 9\n")
    with pytest.raises(WeaklabError, match="label 1-7"):
        load_source("rafdb", str(tmp_path), DataConfig())


def _fer(tmp_path, n=12):
    usages = ["Training"] * 8 + ["PublicTest"] * 2 + ["PrivateTest"] * 2
    rows = ["emotion,pixels,Usage"]
    for i in range(n):
        rows.append(f"{i % 7},{' '.join(str(v) for v in RNG.integers(0, 256, 2304))},{usages[i]}")
    (tmp_path / "fer2013.csv").write_text("\n".join(rows) + "\n")


def test_fer2013_and_ferplus_majority(tmp_path):
    _fer(tmp_path)
    src = load_source("fer2013", str(tmp_path), DataConfig())
    assert src.x.shape == (10, 1, 48, 48) and src.test_x.shape == (2, 1, 48, 48) and src.classes[3] == "Happy"
    header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
    votes = []
    for i in range(12):
        v = [0] * 10
        v[i % 8] = 6
        v[(i + 1) % 8] = 4
        if i == 3:
            v = [1, 0, 0, 0, 0, 0, 0, 0, 0, 9]  # majority "not a face": dropped
        votes.append(f"Training,fer{i:07d}.png," + ",".join(map(str, v)))
    (tmp_path / "fer2013new.csv").write_text(header + "\n" + "\n".join(votes) + "\n")
    src = load_source("ferplus", str(tmp_path), DataConfig())
    assert len(src.x) == 9 and len(src.test_x) == 2 and src.classes[1] == "happiness"
    assert src.y[:4].tolist() == [0, 1, 2, 4]


def test_train_on_an_image_folder_from_the_cli(tmp_path):
    for c in range(3):
        for i in range(8):
            _png(tmp_path / "imgs" / f"c{c}" / f"{i}.png", size=(8, 8), color=40 * c + i)
    code = main(
        [
            "train",
            "--dataset",
            str(tmp_path / "imgs"),
            "--labels-per-class",
            "2",
            "--model",
            "small_cnn",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "run"),
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
    assert main(["data", "info", str(tmp_path / "imgs")]) == 0


def test_unknown_dataset_name_lists_the_choices(capsys):
    assert main(["train", "--dataset", "imagenet"]) == 2
    err = capsys.readouterr().err
    assert "cifar10" in err and "rafdb" in err and "own data" in err


def test_host_store_gives_the_same_batches_and_trains(fast, tmp_path):
    from weaklab.api import train

    config = fast(train__epochs=1, out=str(tmp_path / "run"))
    on_device = build_data(config, torch.device("cpu"))
    config.data.store = "host"
    on_host = build_data(config, torch.device("cpu"))
    assert type(on_host.train).__name__ == "HostStore" and type(on_device.train).__name__ == "DeviceStore"
    idx = torch.tensor([5, 0, 17, 5])
    assert torch.equal(on_host.train[idx], on_device.train[idx])
    assert all(torch.equal(a, b) for a, b in zip(on_host.test.batches(100), on_device.test.batches(100)))
    assert train(config).summary["test"]["accuracy"] > 0


def test_decoded_images_are_cached_under_the_data_root(tmp_path, monkeypatch):
    from weaklab.data.sources import user_data

    for c in ("a", "b"):
        for i in range(3):
            _png(tmp_path / "imgs" / c / f"{i}.png")
    options = DataConfig(root=str(tmp_path / "root"), image_size=6)
    first = load_source(str(tmp_path / "imgs"), None, options)
    assert len(list((tmp_path / "root" / ".weaklab-cache").glob("images-*.json"))) == 1
    monkeypatch.setattr(user_data.ImageReader, "read", lambda self, p: pytest.fail("decoded again"))
    again = load_source(str(tmp_path / "imgs"), None, options)
    assert (np.asarray(again.x) == first.x).all() and (again.y == first.y).all()
    _png(tmp_path / "imgs" / "a" / "new.png")  # a changed folder is decoded again
    with pytest.raises(pytest.fail.Exception, match="decoded again"):
        load_source(str(tmp_path / "imgs"), None, options)


def test_target_range_keeps_the_protocol_ages(tmp_path):
    for age in (10, 21, 40, 60, 61, 80):
        _png(tmp_path / "faces" / f"{age}_0_0_2017.jpg.chip.jpg")
    src = load_source(str(tmp_path / "faces"), None, DataConfig(filename_target="utkface", target_range=[21, 60]))
    assert sorted(src.y.tolist()) == [21, 40, 60] and len(src.x) == 3
    with pytest.raises(WeaklabError, match="regression"):
        load_source("digits", None, DataConfig(target_range=[0, 1]))
    # by name, as the UCVME recipe loads it: --dataset utkface --data-root FACES
    src = load_source("utkface", str(tmp_path / "faces"), DataConfig(target_range=[21, 60], image_size=4))
    assert src.task == "regression" and sorted(src.y.tolist()) == [21, 40, 60] and src.x.shape == (3, 3, 4, 4)
    with pytest.raises(WeaklabError, match="--data-root"):
        load_source("utkface", None, DataConfig())


def test_skipped_images_are_reported_again_from_the_cache(tmp_path, capsys):
    for i in range(3):
        _png(tmp_path / "imgs" / "a" / f"{i}.png")
        _png(tmp_path / "imgs" / "b" / f"{i}.png")
    (tmp_path / "imgs" / "a" / "z_broken.png").write_bytes(b"nope")
    options = DataConfig(root=str(tmp_path / "root"), bad_images="skip")
    first = load_source(str(tmp_path / "imgs"), None, options)
    again = load_source(str(tmp_path / "imgs"), None, options)
    assert len(again.x) == 6 and again.info["skipped_images"] == first.info["skipped_images"]
    assert again.info["skipped_images"][0].endswith("z_broken.png") and list(again.y) == list(first.y)
    assert capsys.readouterr().err.count("skipped 1 unreadable images") == 2


@pytest.mark.parametrize(
    "dataset, flag, note, flips",
    [("npz", [], True, False), ("npz", ["--flip"], False, True), ("npz", ["--no-flip"], False, False)]
    + [("digits", [], False, False)],  # digits say a mirror changes them: no note
)
def test_images_that_do_not_say_whether_a_mirror_keeps_the_class_get_no_flip_and_a_note(
    tmp_path, capsys, dataset, flag, note, flips
):
    if dataset == "npz":
        np.savez(tmp_path / "d.npz", x=RNG.integers(0, 256, (60, 1, 8, 8), dtype=np.uint8), y=np.arange(60) % 3)
        dataset = str(tmp_path / "d.npz")
    tiny = ["model.width=4", "train.batch_labeled=4", "train.batch_unlabeled=8", "train.epochs=1"]
    args = ["train", "--dataset", dataset, "--labels-per-class", "2", "--out", str(tmp_path / "run"), *flag]
    assert main([*args, *(a for kv in tiny for a in ("--set", kv))]) == 0
    assert ("note: no horizontal flips" in capsys.readouterr().out) == note
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["views"]["flip"] is flips


def test_npz_images_in_the_usual_layouts_read_as_the_same_source(tmp_path, capsys):
    x = RNG.integers(0, 256, (40, 1, 9, 7), dtype=np.uint8)
    y = np.arange(40) % 4
    reference = load(_saved(tmp_path / "nchw.npz", x=x, y=y))
    for name, layout in {"nhw": x[:, 0], "nhwc": x.transpose(0, 2, 3, 1)}.items():
        src = load(_saved(tmp_path / f"{name}.npz", x=layout, y=y))
        assert src.x.shape == (40, 1, 9, 7) and np.array_equal(src.x, reference.x)
    err = capsys.readouterr().err
    assert err.count("channels last") == 1 and "(40, 9, 7, 1)" in err  # said for N×H×W×C only
    colour = RNG.integers(0, 256, (40, 3, 9, 7), dtype=np.uint8)
    assert np.array_equal(load(_saved(tmp_path / "rgb.npz", x=colour.transpose(0, 2, 3, 1), y=y)).x, colour)
    # a second axis of 3 is taken as channels first, as the format says
    assert load(_saved(tmp_path / "c3.npz", x=colour[:, :, :3, :3], y=y)).x.shape == (40, 3, 3, 3)


def test_npz_labels_as_names_or_values_not_indices_name_the_classes(tmp_path, capsys):
    x = RNG.normal(size=(30, 4)).astype(np.float32)
    names = np.array(["cat", "dog", "owl"])[np.arange(30) % 3]
    src = load(_saved(tmp_path / "names.npz", x=x, y=names))
    assert src.classes == ["cat", "dog", "owl"] and list(src.y[:4]) == [0, 1, 2, 0]
    assert capsys.readouterr().err == ""
    src = load(_saved(tmp_path / "from1.npz", x=x, y=np.arange(30) % 3 + 1))
    assert src.classes == ["1", "2", "3"] and list(src.y[:4]) == [0, 1, 2, 0]
    assert "labels (1, 2, 3) are not the class indices 0..2" in capsys.readouterr().err
    gaps = np.where(np.arange(30) % 4 == 3, -1, np.array([0, 5, 9, 0])[np.arange(30) % 4])  # -1 stays unlabeled
    src = load(_saved(tmp_path / "gaps.npz", x=x, y=gaps))
    assert src.classes == ["0", "5", "9"] and src.unlabeled.sum() == 7 and list(src.y[:3]) == [0, 1, 2]
    named = load(_saved(tmp_path / "named.npz", x=x, y=np.arange(30) % 3 + 1, classes=np.array(list("abcd"))))
    assert named.classes == list("abcd") and list(named.y[:3]) == [1, 2, 3]  # a `classes` array keeps the indices


def test_predict_takes_the_layouts_training_took(tmp_path, capsys, fast):
    x = RNG.integers(0, 256, (60, 1, 8, 8), dtype=np.uint8)
    y = np.arange(60) % 3
    np.savez(tmp_path / "d.npz", x=x.transpose(0, 2, 3, 1), y=y)
    config = fast(data__dataset=str(tmp_path / "d.npz"), data__labels_per_class=None)
    import weaklab

    run = weaklab.train(config, out=tmp_path / "run")
    expected = run.predict_proba(x[:5])
    for layout in (x[:5, 0], x[:5].transpose(0, 2, 3, 1)):
        assert np.allclose(run.predict_proba(layout), expected)
    assert np.allclose(run.predict_proba(x[0, 0]), expected[:1])  # one grey sample, H×W
    np.save(tmp_path / "nhw.npy", x[:5, 0])
    out = tmp_path / "p.csv"
    assert main(["predict", str(tmp_path / "run"), "--input", str(tmp_path / "nhw.npy"), "--output", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 6  # a header and one row per sample
    with pytest.raises(WeaklabError, match="this run expects N×1×8×8"):
        run.predict_proba(x[:5, 0, :7])


def _saved(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_a_table_of_pixel_columns_trains_as_images_when_told_their_shape(tmp_path, capsys):
    images = RNG.integers(0, 17, (60, 1, 8, 8)).astype(np.float32)
    header = "label," + ",".join(f"pixel{i}" for i in range(64))
    rows = [f"{k % 3}," + ",".join(str(int(v)) for v in image.ravel()) for k, image in enumerate(images)]
    (tmp_path / "pixels.csv").write_text("\n".join([header, *rows]) + "\n")
    assert np.array_equal(load(tmp_path / "pixels.csv", image_shape="8x8").x, images)
    assert load(tmp_path / "pixels.csv", image_shape=[1, 8, 8]).sample_shape == (1, 8, 8)
    tiny = ["model.width=4", "train.batch_labeled=4", "train.batch_unlabeled=8", "train.epochs=1"]
    args = ["train", "--dataset", str(tmp_path / "pixels.csv"), "--labels-per-class", "2", "--no-flip"]
    args += [a for kv in tiny for a in ("--set", kv)]
    assert main([*args, "--out", str(tmp_path / "table")]) == 0
    assert "if each row is a 8×8 image, --image-shape 8x8 trains a convolutional network" in capsys.readouterr().out
    assert main([*args, "--image-shape", "8x8", "--out", str(tmp_path / "images")]) == 0
    assert "--image-shape" not in capsys.readouterr().out
    import weaklab

    run = weaklab.load_run(tmp_path / "images")
    assert run.input_shape == (1, 8, 8) and run.config.model.name in ("auto", "small_cnn")
    assert np.allclose(run.predict_proba(images[:4].reshape(4, 64)), run.predict_proba(images[:4]))
    for shape, message in [
        ("9x9", "holds 81 values, but each sample has 64 features"),
        ("8", "must be H×W or C×H×W"),
        ("0x8x8", "must be H×W or C×H×W"),
    ]:
        with pytest.raises(WeaklabError, match=message):
            load(tmp_path / "pixels.csv", image_shape=shape)
    np.savez(tmp_path / "d.npz", x=images, y=np.arange(60) % 3)
    with pytest.raises(WeaklabError, match="reads flat rows as images, but the samples are 1×8×8 already"):
        load(tmp_path / "d.npz", image_shape="8x8")
