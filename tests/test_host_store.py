"""File-backed training data: images decoded once into a memory-mapped .npy, splits read lazily from it (Rows),
batches read ahead by DataLoader workers (HostStore.look_ahead) and served only for the plan row they were read
for. A host-store run must equal a device-store run, and resume exactly."""

import json
import multiprocessing
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from weaklab.api import resume, train
from weaklab.config import DataConfig
from weaklab.data.sources import user_data
from weaklab.data.sources.datasets import load_source
from weaklab.data.store.device import DeviceStore, Normalizer
from weaklab.data.store.host import HostStore
from weaklab.data.store.rows import Rows, file_region
from weaklab.engine.experiment import build_data, build_experiment
from weaklab.engine.trainer import Trainer

from conftest import train_interrupted


def _folder(root, per_class=24, classes=3, side=8):
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(per_class):
            a = np.clip(rng.normal(60 + 60 * c, 40, (side, side, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(a, "RGB").save(root / f"c{c}" / f"{i:02d}.png")
    return root


def _config(fast, tmp_path, store, **over):
    images = tmp_path / "imgs"
    if not images.exists():
        _folder(images)
    settings = dict(
        data__dataset=str(images),
        data__root=str(tmp_path / "root"),
        data__store=store,
        data__workers=2,
        data__labels_per_class=4,
        train__batch_labeled=8,
        train__batch_unlabeled=16,
        train__epochs=3,
        train__eval_every=3,
    )
    return fast("mean_teacher", **{**settings, **over})


def _records(run):
    lines = (run.directory / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in lines]


def test_rows_read_like_the_concatenated_arrays_and_pickle_as_a_path(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(10 * 2 * 3 * 3, dtype=np.uint8).reshape(10, 2, 3, 3))
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    extra = np.full((4, 2, 3, 3), 7, np.uint8)
    index = np.array([9, 2, 5, 0])
    rows = Rows([(mapped, index), (extra, None), (mapped[3:6], None)])
    whole = np.concatenate([np.asarray(mapped)[index], extra, np.asarray(mapped)[3:6]])
    assert len(rows) == 11 and rows.shape == whole.shape and rows.nbytes == whole.nbytes and rows.ndim == 4
    assert (np.asarray(rows) == whole).all() and (rows[2:9] == whole[2:9]).all() and (rows[-1] == whole[-1]).all()
    pick = np.array([10, 0, 4, 0, 8, 1])
    assert (rows[pick] == whole[pick]).all() and rows.max() == whole.max()
    mask = np.arange(11) % 3 == 0
    assert (rows[mask] == whole[mask]).all() and (rows[torch.tensor(pick)] == whole[pick]).all()
    with pytest.raises(IndexError):
        rows[np.array([11])]
    on_device = DeviceStore(rows, Normalizer.fit(rows), torch.device("cpu"))  # make_store("device", Rows): copied
    assert torch.equal(on_device.x, torch.as_tensor(whole))
    # a worker started by spawn gets the file's name and offset, never the samples
    assert file_region(mapped[3:6]) == (str(tmp_path / "x.npy"), 128 + 3 * 18) and file_region(extra) is None
    again = pickle.loads(pickle.dumps(rows))
    assert (np.asarray(again) == whole).all()
    assert len(pickle.dumps(Rows([(mapped, index)]))) < 1000


def test_images_decode_straight_into_the_cache_file(tmp_path, monkeypatch, capsys):
    images = _folder(tmp_path / "imgs", per_class=5, classes=2)
    (images / "c0" / "03_broken.png").write_bytes(b"not an image")
    (images / "c1" / "00_broken.png").write_bytes(b"not an image")
    in_ram = load_source(str(images), None, DataConfig(bad_images="skip"))
    monkeypatch.setattr(user_data, "DECODE_CHUNK", 3)  # several chunks, and the skipped rows squeezed out
    options = DataConfig(root=str(tmp_path / "root"), bad_images="skip")
    cached = load_source(str(images), None, options)
    assert file_region(cached.x) is not None and cached.x.shape == (10, 3, 8, 8)
    assert (np.asarray(cached.x) == in_ram.x).all() and (cached.y == in_ram.y).all()
    assert cached.info["skipped_images"] == in_ram.info["skipped_images"] and len(in_ram.info["skipped_images"]) == 2
    assert [p.suffix for p in (tmp_path / "root" / ".weaklab-cache").iterdir()] in (
        [".npy", ".json"],
        [".json", ".npy"],
    )
    monkeypatch.setattr(user_data.ImageReader, "read", lambda self, p: pytest.fail("decoded again"))
    again = load_source(str(images), None, options)
    assert (np.asarray(again.x) == in_ram.x).all() and again.info["skipped_images"] == in_ram.info["skipped_images"]
    assert capsys.readouterr().err.count("skipped 2 unreadable images") == 3


def test_host_store_run_equals_device_store_run_and_resumes_exactly(fast, tmp_path, monkeypatch):
    data = build_data(_config(fast, tmp_path, "host"), torch.device("cpu"))
    assert isinstance(data.train, HostStore) and isinstance(data.train.x, Rows)
    assert all(file_region(part.a) for part, _ in data.train.rows._parts)  # read from the cache file, not RAM
    on_device = train(_config(fast, tmp_path, "device", out=str(tmp_path / "device")))
    on_host = train(_config(fast, tmp_path, "host", out=str(tmp_path / "host")))
    assert _records(on_host) == _records(on_device) and on_host.summary["test"] == on_device.summary["test"]
    # killed after its second checkpoint (step 6 of 4-step epochs: mid-epoch), then resumed
    train_interrupted(_config(fast, tmp_path, "host"), tmp_path / "killed", monkeypatch)
    resumed = resume(tmp_path / "killed")
    assert _records(resumed) == _records(on_host) and resumed.summary["test"] == on_host.summary["test"]


def test_training_is_served_from_the_look_ahead(fast, tmp_path):
    before = set(multiprocessing.active_children())
    experiment = build_experiment(_config(fast, tmp_path, "host", train__epochs=2))
    (tmp_path / "run").mkdir()
    trainer = Trainer(experiment, tmp_path / "run")
    trainer.fit()
    store = experiment.data.train
    assert store.gathered == 0 and store.prefetched == 2 * trainer.total_steps  # labeled + unlabeled batches
    assert set(multiprocessing.active_children()) <= before  # the reading processes stopped with the loop


def test_a_request_off_the_plan_is_read_for_its_own_rows(tmp_path):
    x = np.random.default_rng(1).integers(0, 256, (40, 1, 4, 4), dtype=np.uint8)
    norm = Normalizer.fit(x)
    host, device = HostStore(x, norm, torch.device("cpu"), workers=2), DeviceStore(x, norm, torch.device("cpu"))
    plan = torch.randperm(40).view(5, 8)
    host.look_ahead([plan], first_step=1)
    try:
        assert torch.equal(host[plan[3]], device[plan[3]])  # out of order: read synchronously
        assert torch.equal(host[plan[1].clone()], device[plan[1]])  # same values, another tensor: not trusted
        assert (host.prefetched, host.gathered) == (0, 2)
        for i in range(1, 5):  # the plan's rows, in order: from the look-ahead
            assert torch.equal(host[plan[i]], device[plan[i]])
        assert (host.prefetched, host.gathered) == (4, 2)
        assert torch.equal(host[plan[0]], device[plan[0]]) and host.gathered == 3  # nothing left ahead
    finally:
        host.close()


def test_selections_of_rows_compose_without_reading(tmp_path):
    a = np.arange(40, dtype=np.uint8).reshape(10, 4)
    np.save(tmp_path / "a.npy", a)
    m = np.load(tmp_path / "a.npy", mmap_mode="r")
    rows = Rows.concat([Rows.of(m).select([7, 1, 3]), a[:2], Rows.of(m).select([9])])
    want = np.concatenate([a[[7, 1, 3]], a[:2], a[[9]]])
    assert np.array_equal(rows[:], want)
    pick = [5, 0, 2, 3, 4, 1]
    nested = rows.select(pick)  # a selection of a selection: indices into the original arrays
    assert np.array_equal(nested[:], want[pick]) and np.array_equal(nested.select([1, 0])[:], want[[0, 5]])
    assert all(np.shares_memory(part.a, m) or np.shares_memory(part.a, a) for part, _ in nested._parts)  # no copies
    assert len(rows.select([])) == 0
    with pytest.raises(IndexError):
        rows.select([6])


def test_target_range_keeps_a_lazy_selection_of_the_image_cache(fast, tmp_path):
    """UTKFace's protocol ages (target_range) select rows of the memory-mapped cache instead of copying them, and
    a host-store run on them equals a device-store run."""
    rng = np.random.default_rng(1)
    for i, age in enumerate(rng.integers(10, 80, size=60)):
        a = np.clip(rng.normal(2 * age, 20, (8, 8, 3)), 0, 255).astype(np.uint8)
        (tmp_path / "faces").mkdir(exist_ok=True)
        Image.fromarray(a, "RGB").save(tmp_path / "faces" / f"{age}_0_0_{i:04d}.jpg.chip.png")
    opts = DataConfig(filename_target="utkface", target_range=[21, 60], root=str(tmp_path / "root"))
    src = load_source(str(tmp_path / "faces"), str(tmp_path / "root"), opts)
    assert isinstance(src.x, Rows) and all(file_region(part.a) for part, _ in src.x._parts)
    assert ((src.y >= 21) & (src.y <= 60)).all() and len(src.x) == len(src.y) < 60
    summaries = {}
    for store in ("device", "host"):
        cfg = fast(
            "supervised",
            data__dataset=str(tmp_path / "faces"),
            data__root=str(tmp_path / "root"),
            data__filename_target="utkface",
            data__target_range=[21, 60],
            data__store=store,
            data__workers=1,
            data__labels_per_class=None,
            data__labeled_fraction=0.5,
            train__batch_labeled=4,
            train__batch_unlabeled=8,
            train__epochs=2,
        )
        summaries[store] = train(cfg, out=tmp_path / store).summary
    assert summaries["host"]["test"] == summaries["device"]["test"]


def test_evaluation_batches_are_read_ahead_and_equal_the_device_store(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, size=(23, 1, 4, 4), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    norm = Normalizer.fit(x)
    host = HostStore(np.load(tmp_path / "x.npy", mmap_mode="r"), norm, torch.device("cpu"), workers=0)
    device = DeviceStore(x, norm, torch.device("cpu"))
    got, want = list(host.batches(5)), list(device.batches(5))
    assert [len(b) for b in got] == [5, 5, 5, 5, 3] and all(torch.equal(a, b) for a, b in zip(got, want))
    assert list(HostStore(x[:0], norm, torch.device("cpu"), workers=0).batches(5)) == []
