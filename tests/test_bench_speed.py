"""`weaklab bench speed`: a real (tiny) measurement of both pipelines; behaviour only, never timings."""

import numpy as np
import pytest
import torch

from weaklab import bench_speed
from weaklab.cli import main
from weaklab.errors import WeaklabError

TINY = dict(channels=3, classes=4, device="cpu", warmup=1, windows=2, steps=1, profile_steps=1, workers=0)


@pytest.mark.parametrize("method, views", [("mean_teacher", 2), ("temporal_ensembling", 1)])
def test_record_has_both_pipelines_and_the_split(method, views):
    r = bench_speed.speed(method, "small_cnn", "4+12", 8, overrides={"model.width": 4}, **TINY)
    assert r["views_per_step"] == views  # counted from the method's own calls
    w = r["weaklab"]
    assert len(w["windows"]) == 2 and w["steps_per_s_min"] <= w["steps_per_s"] <= w["steps_per_s_max"]
    assert w["samples_per_s"] == pytest.approx(16 * w["steps_per_s"])
    assert set(w["split_s"]) == set(bench_speed.PHASES)
    assert w["split_s"]["forward_backward"] > 0 and w["split_s"]["augmentation"] > 0
    assert sum(w["split_percent"].values()) == pytest.approx(100)
    assert r["usual"]["samples_per_s"] > 0 and r["speedup"] == pytest.approx(w["samples_per_s"] / r["usual"]["samples_per_s"])
    assert r["precision"] == "fp32" and r["torch"] == torch.__version__


def test_per_sample_view_without_augmentation_is_the_normalised_image():
    x = np.random.default_rng(0).integers(0, 256, size=(3, 3, 6, 6), dtype=np.uint8)
    mean, std = np.array([100.0, 120.0, 90.0]), np.array([50.0, 60.0, 70.0])
    ds = bench_speed.PerSampleViews(x, np.zeros(3), views=2, pad=0, flip=False, noise=0.0, mean=mean, std=std)
    views, _, i = ds[1]
    expected = (torch.as_tensor(x[1], dtype=torch.float32) - torch.tensor(mean).view(3, 1, 1).float()) / torch.tensor(std).view(3, 1, 1).float()
    assert views.shape == (2, 3, 6, 6) and i == 1
    torch.testing.assert_close(views[0], expected)
    shifted = bench_speed.PerSampleViews(x, np.zeros(3), views=8, pad=2, flip=True, noise=0.0, mean=mean, std=std)[1][0]
    assert not all(torch.equal(v, expected) for v in shifted)  # pad-crop and flip do change views


def test_cli_writes_json_and_replaces_its_markdown_row(tmp_path, capsys):
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Benchmarks\n\n## Quality\n\nkept\n")
    args = ["bench", "speed", "--method", "supervised", "--model", "small_cnn", "--batch", "4+4", "--image-size", "8",
            "--device", "cpu", "--warmup", "1", "--windows", "1", "--steps", "1", "--profile-steps", "1", "--workers", "0",
            "--set", "model.width=4", "--out", str(tmp_path / "rec"), "--write", str(md)]
    assert main(args) == 0
    assert main(args) == 0
    text = md.read_text()
    assert "kept" in text and text.count("| supervised | small_cnn | 4+4 | 8 |") == 1  # same key: replaced
    assert len(list((tmp_path / "rec").glob("*.json"))) == 1
    assert "speed-up" in capsys.readouterr().out


def test_bad_batch_is_a_clear_error():
    with pytest.raises(WeaklabError, match="LABELED\\+UNLABELED"):
        bench_speed.parse_batch("64")
