"""The standard benchmarks through the real code path: tiny files in each official format, checksums, the
download (file URL and a local HTTP server with resume), the restricted unpickler, and the uint8 cache."""

import dataclasses
import gzip
import hashlib
import http.server
import io
import os
import pickle
import re
import tarfile
import threading

import numpy as np
import pytest
import torch

from weaklab.cli import main
from weaklab.data.sources import benchmarks
from weaklab.data.sources.benchmarks import BENCHMARKS, load_benchmark, status
from weaklab.data.sources.download import RemoteFile, fetch
from weaklab.engine.experiment import build_data
from weaklab.errors import WeaklabError

RNG = np.random.default_rng(0)


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def _tar_gz(path, members: dict):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _batch(n, classes=10, label_key="labels", **extra):
    data = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
    d = {"batch_label": "batch", "data": data, label_key: [i % classes for i in range(n)], **extra}
    return pickle.dumps(d, protocol=2), data


def write_cifar10(folder, n=20):
    members, first = {}, None
    for i in range(1, 6):
        members[f"cifar-10-batches-py/data_batch_{i}"], data = _batch(n)
        first = data if first is None else first
    members["cifar-10-batches-py/test_batch"], _ = _batch(n)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({"label_names": names, "num_vis": 3072}, protocol=2)
    folder.mkdir(parents=True, exist_ok=True)
    _tar_gz(folder / "cifar-10-python.tar.gz", members)
    return first


def write_cifar100(folder, n=200):
    members = {}
    for split in ("train", "test"):
        data = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine = [i % 100 for i in range(n)]
        members[f"cifar-100-python/{split}"] = pickle.dumps(
            {"data": data, "fine_labels": fine, "coarse_labels": [f // 5 for f in fine]}, protocol=2
        )
    members["cifar-100-python/meta"] = pickle.dumps(
        {"fine_label_names": [f"f{i}" for i in range(100)], "coarse_label_names": [f"c{i}" for i in range(20)]},
        protocol=2,
    )
    folder.mkdir(parents=True, exist_ok=True)
    _tar_gz(folder / "cifar-100-python.tar.gz", members)


def write_svhn(folder, n=30, splits=("train", "test", "extra")):
    import scipy.io

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split in splits:
        x = RNG.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).astype(np.uint8)[:, None]  # 1..10, 10 = digit 0
        scipy.io.savemat(folder / f"{split}_32x32.mat", {"X": x, "y": y})
        out[split] = (x, y)
    return out


def write_stl10(folder, n_train=20, n_test=10, n_unlabeled=7):
    imgs = {
        s: RNG.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)
        for s, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled))
    }
    members = {f"stl10_binary/{s}_X.bin": a.transpose(0, 1, 3, 2).tobytes() for s, a in imgs.items()}  # column-major
    for s, n in (("train", n_train), ("test", n_test)):
        members[f"stl10_binary/{s}_y.bin"] = (np.arange(n) % 10 + 1).astype(np.uint8).tobytes()
    members["stl10_binary/class_names.txt"] = b"airplane\nbird\ncar\ncat\ndeer\ndog\nhorse\nmonkey\nship\ntruck\n"
    folder.mkdir(parents=True, exist_ok=True)
    _tar_gz(folder / "stl10_binary.tar.gz", members)
    return imgs


def _idx(array, magic_dims):
    header = bytes([0, 0, 8, magic_dims]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def write_idx(folder, n=30):
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix in ("train", "t10k"):
        x = RNG.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = np.arange(n) % 10
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(_idx(x, 3))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(_idx(y, 1))
        out[prefix] = (x, y)
    return out


def use_checksums_of(monkeypatch, name, source_folder, base_url=None):
    """Point `name`'s official files at our tiny copies: their own checksums, and URLs under `base_url`."""
    bench = BENCHMARKS[name]
    parts = {}
    for part_name, part in bench.parts.items():
        files = tuple(
            RemoteFile(
                f.name,
                ((base_url or source_folder.as_uri()) + "/" + f.name,),
                _md5(source_folder / f.name) if (source_folder / f.name).exists() else f.md5,
            )
            for f in part.files
        )
        parts[part_name] = dataclasses.replace(part, files=files)
    monkeypatch.setitem(BENCHMARKS, name, dataclasses.replace(bench, parts=parts))


def place(monkeypatch, name, root, writer, **kw):
    """Write the official files of `name` straight into ROOT/name (as a user placing them by hand)."""
    result = writer(root / name, **kw)
    use_checksums_of(monkeypatch, name, root / name)
    return result


# --- formats ----------------------------------------------------------------------------------------------


def test_cifar10_from_hand_placed_archive(tmp_path, monkeypatch):
    first = place(monkeypatch, "cifar10", tmp_path, write_cifar10)
    src = load_benchmark("cifar10", tmp_path)
    assert src.x.shape == (100, 3, 32, 32) and src.x.dtype == np.uint8 and src.test_x.shape == (20, 3, 32, 32)
    assert isinstance(src.x, np.memmap) or isinstance(getattr(src.x, "base", None), np.memmap)
    assert (np.asarray(src.x[:20]) == first.reshape(-1, 3, 32, 32)).all()
    assert src.classes[1] == "automobile" and src.flip and list(src.y[:3]) == [0, 1, 2]
    assert (tmp_path / "cifar10" / "cache" / "train_x.npy").is_file()
    assert not list((tmp_path / "cifar10" / "cache").glob("*.tmp"))


def test_cifar100_fine_and_coarse(tmp_path, monkeypatch):
    place(monkeypatch, "cifar100", tmp_path, write_cifar100)
    src = load_benchmark("cifar100", tmp_path)
    assert src.num_classes == 100 and src.classes[7] == "f7" and len(src.info["coarse_classes"]) == 20
    assert (np.asarray(src.info["coarse_labels"]) == np.asarray(src.y) // 5).all()


def test_svhn_labels_and_optional_extra(tmp_path, monkeypatch):
    raw = place(monkeypatch, "svhn", tmp_path, write_svhn, splits=("train", "test"))
    src = load_benchmark("svhn", tmp_path)
    x, y = raw["train"]
    assert src.x.shape == (30, 3, 32, 32) and not src.flip and src.extra_x is None
    assert (np.asarray(src.x[5]) == x[:, :, :, 5].transpose(2, 0, 1)).all()
    assert list(src.y[:10]) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]  # label 10 is the digit 0
    # the extra split placed later is converted on the next load, and is off by default for training
    write_svhn(tmp_path / "svhn", splits=("extra",))
    use_checksums_of(monkeypatch, "svhn", tmp_path / "svhn")
    src = load_benchmark("svhn", tmp_path)
    assert src.extra_x.shape == (30, 3, 32, 32) and not src.info["extra_by_default"]


def test_stl10_orientation_and_unlabeled_split_joins_unlabeled_stream(tmp_path, monkeypatch, fast):
    imgs = place(monkeypatch, "stl10", tmp_path, write_stl10)
    src = load_benchmark("stl10", tmp_path)
    assert (np.asarray(src.x) == imgs["train"]).all() and (np.asarray(src.extra_x) == imgs["unlabeled"]).all()
    assert src.classes[2] == "car" and list(src.y[:3]) == [0, 1, 2]
    config = fast(data__dataset="stl10", data__root=str(tmp_path), data__labels_per_class=1, data__val_fraction=0.5)
    data = build_data(config, torch.device("cpu"))
    n_pool = len(data.train) - 7
    assert len(data.train) == n_pool + 7 and data.supervision.report()["num_labeled"] == 10
    assert not data.supervision.labeled[-7:].any() and (data.train_labels_clean[-7:] == -1).all()
    config.data.extra_unlabeled = False
    assert len(build_data(config, torch.device("cpu")).train) == n_pool


def test_asking_for_extra_data_that_is_not_there_is_an_error(tmp_path, monkeypatch, fast):
    place(monkeypatch, "svhn", tmp_path, write_svhn, splits=("train", "test"))
    config = fast(data__dataset="svhn", data__root=str(tmp_path), data__labels_per_class=1, data__extra_unlabeled=True)
    with pytest.raises(WeaklabError, match="no extra unlabeled split"):
        build_data(config, torch.device("cpu"))


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "kmnist"])
def test_idx_datasets(tmp_path, monkeypatch, name):
    raw = place(monkeypatch, name, tmp_path, write_idx)
    src = load_benchmark(name, tmp_path)
    assert src.x.shape == (30, 1, 28, 28) and (np.asarray(src.test_x)[:, 0] == raw["t10k"][0]).all()
    assert (np.asarray(src.y) == raw["train"][1]).all() and src.num_classes == 10


# --- downloads --------------------------------------------------------------------------------------------


def test_download_from_file_url_verifies_and_converts(tmp_path, monkeypatch):
    write_idx(tmp_path / "server")
    use_checksums_of(monkeypatch, "mnist", tmp_path / "server")
    root = tmp_path / "root"
    assert main(["data", "download", "mnist", "--root", str(root)]) == 0
    assert status("mnist", root)["files"]["train-images-idx3-ubyte.gz"] == "ok"
    assert load_benchmark("mnist", root).x.shape == (30, 1, 28, 28)


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    ranges: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        data = open(path, "rb").read()
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            data = data[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def http_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = lambda *a, **k: _RangeHandler(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _RangeHandler.ranges = []
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_download_resumes_a_partial_file(tmp_path, http_server):
    served, url = http_server
    payload = os.urandom(3 << 20)
    (served / "blob.bin").write_bytes(payload)
    file = RemoteFile("blob.bin", (url + "/blob.bin",), hashlib.md5(payload).hexdigest())
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "blob.bin.part").write_bytes(payload[:1000])  # an interrupted earlier download
    path = fetch(file, folder)
    assert path.read_bytes() == payload and not (folder / "blob.bin.part").exists()
    assert _RangeHandler.ranges == ["bytes=1000-"]
    # a partial file that is in fact complete: the server answers 416 and the checksum accepts it
    path.rename(folder / "blob.bin.part")
    assert fetch(file, folder).read_bytes() == payload and _RangeHandler.ranges[-1] == f"bytes={len(payload)}-"


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, http_server):
    served, url = http_server
    (served / "blob.bin").write_bytes(b"not what was published")
    file = RemoteFile("blob.bin", (url + "/blob.bin",), "0" * 32)
    with pytest.raises(WeaklabError, match="expected 0000"):
        fetch(file, tmp_path / "data")
    assert not list((tmp_path / "data").iterdir())


def test_offline_message_lists_files_to_place(tmp_path, capsys):
    assert main(["train", "--dataset", "cifar10", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cifar-10-python.tar.gz" in err and "c58f30108f718f92721af3b95e74349a" in err
    assert str(tmp_path / "cifar10") in err and "https://www.cs.toronto.edu" in err and len(err.splitlines()) == 1


def test_hand_placed_file_with_wrong_checksum_is_refused(tmp_path, monkeypatch):
    write_idx(tmp_path / "mnist")  # the real published checksums do not match these tiny files
    with pytest.raises(WeaklabError, match="published checksum"):
        load_benchmark("mnist", tmp_path)
    assert main(["data", "info", "mnist", "--root", str(tmp_path)]) == 0  # info reports, does not fail


# --- safety and corrupt files -----------------------------------------------------------------------------


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path, monkeypatch):
    write_cifar10(tmp_path / "cifar10")
    members = {}
    with tarfile.open(tmp_path / "cifar10" / "cifar-10-python.tar.gz") as tar:
        for m in tar.getmembers():
            members[m.name] = tar.extractfile(m).read()
    members["cifar-10-batches-py/data_batch_3"] = pickle.dumps({"data": _Evil(), "labels": []}, protocol=2)
    _tar_gz(tmp_path / "cifar10" / "cifar-10-python.tar.gz", members)
    use_checksums_of(monkeypatch, "cifar10", tmp_path / "cifar10")
    with pytest.raises(WeaklabError, match="refusing to load posix.system|refusing to load os.system"):
        load_benchmark("cifar10", tmp_path)
    assert status("cifar10", tmp_path)["converted"] == []  # nothing marked converted


def test_truncated_archive_is_a_clear_error_and_nothing_is_cached(tmp_path, monkeypatch):
    write_cifar10(tmp_path / "cifar10")
    path = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    use_checksums_of(monkeypatch, "cifar10", tmp_path / "cifar10")
    with pytest.raises(WeaklabError, match="cifar-10-python.tar.gz"):
        load_benchmark("cifar10", tmp_path)
    cache = tmp_path / "cifar10" / "cache"
    assert not list(cache.glob("*.json")) and not list(cache.glob("*.tmp"))


def test_corrupt_idx_and_mat(tmp_path, monkeypatch):
    write_idx(tmp_path / "mnist")
    f = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(gzip.decompress(f.read_bytes())[:-5]))
    use_checksums_of(monkeypatch, "mnist", tmp_path / "mnist")
    with pytest.raises(WeaklabError, match="truncated"):
        load_benchmark("mnist", tmp_path)
    write_svhn(tmp_path / "svhn", splits=("train", "test"))
    (tmp_path / "svhn" / "test_32x32.mat").write_bytes(b"garbage" * 10)
    use_checksums_of(monkeypatch, "svhn", tmp_path / "svhn")
    with pytest.raises(WeaklabError, match="test_32x32.mat"):
        load_benchmark("svhn", tmp_path)


def test_data_info_command(tmp_path, monkeypatch, capsys):
    place(monkeypatch, "cifar10", tmp_path, write_cifar10)
    assert main(["data", "info", "cifar10", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cifar-10-python.tar.gz: ok" in out and "train: 100 samples" in out and "airplane: 10" in out


def test_train_on_a_converted_benchmark(tmp_path, monkeypatch):
    place(monkeypatch, "mnist", tmp_path, write_idx, n=60)
    code = main(
        [
            "train",
            "--dataset",
            "mnist",
            "--data-root",
            str(tmp_path),
            "--labels-per-class",
            "2",
            "--model",
            "mlp",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "run"),
            "--set",
            "train.progress=false",
            "--set",
            "train.batch_unlabeled=16",
            "--set",
            "train.batch_labeled=4",
        ]
    )
    assert code == 0 and (tmp_path / "run" / "summary.json").is_file()


def test_benchmark_table_matches_files():
    for bench in BENCHMARKS.values():
        for part in bench.parts.values():
            for f in part.files:
                assert len(f.md5) == 32 and f.urls and f.urls[0].startswith("http")
    assert set(benchmarks.FILES) >= {"cifar10", "cifar100", "svhn", "svhn_extra", "stl10", "mnist"}


def test_dataset_recipes_resolve_and_state_the_published_number():
    from pathlib import Path

    from weaklab.config import resolve
    from weaklab.data.sources.datasets import DATASETS, LAYOUTS
    from weaklab.models import MODELS

    recipes = sorted(Path(__file__).parent.parent.joinpath("recipes").glob("*.yaml"))
    names = {p.stem for p in recipes}
    for setting in ("cifar10-4000", "svhn-500", "svhn-1000"):
        for method in ("pi_model", "temporal_ensembling", "mean_teacher"):
            assert f"{setting}-{method}" in names
    for path in recipes:
        config = resolve(path)
        assert config.data.dataset in (*DATASETS, *LAYOUTS) and config.model.name in MODELS, path.name
        if config.method.name in ("pi_model", "temporal_ensembling", "mean_teacher"):
            assert config.model.name == "cnn13" and "# Published:" in path.read_text(), path.name
        else:  # every recipe says what number it should reach
            assert re.search(r"published|comparison points", path.read_text(), re.I), path.name


def test_stl10_with_a_malformed_member_is_refused(tmp_path, monkeypatch):
    write_stl10(tmp_path / "stl10")
    path = tmp_path / "stl10" / "stl10_binary.tar.gz"
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["stl10_binary/unlabeled_X.bin"] = members["stl10_binary/unlabeled_X.bin"][:-10]
    _tar_gz(path, members)
    use_checksums_of(monkeypatch, "stl10", tmp_path / "stl10")
    with pytest.raises(WeaklabError, match="unlabeled_X.bin: size .* is not a whole number"):
        load_benchmark("stl10", tmp_path)
    assert status("stl10", tmp_path)["converted"] == []
