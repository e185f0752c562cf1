"""`weaklab bench speed`: a real (tiny) measurement of both pipelines; behaviour only, never timings."""

import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from weaklab.bench import speed as bench_speed
from weaklab.cli import build_parser, main
from weaklab.config import resolve
from weaklab.core.task import Regression
from weaklab.data.store.device import DeviceStore
from weaklab.errors import WeaklabError
from weaklab.methods import METHODS, method_class

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
    assert r["usual"]["samples_per_s"] > 0 and r["speedup"] == pytest.approx(
        w["samples_per_s"] / r["usual"]["samples_per_s"]
    )
    # data alone is measured (whether it beats data + model is timing, for the benchmark, not a test)
    assert w["data_only_samples_per_s"] > 0 and r["usual"]["data_only_samples_per_s"] > 0
    assert r["precision"] == "fp32" and r["torch"] == torch.__version__
    assert r["store"] == "device" and r["task"] == "classification" and r["samples_per_step"] == 16
    assert r["optimizer"] == "adam (fused)"  # what the trainer built (fused on CPU and CUDA)
    assert r["flops_per_step"] > 0 and r["peak_tflops"] is None and w["roofline_fraction"] is None  # CPU: no peak


EXPECTED = {  # method -> (task, supervision, samples per step at 4+12, view kinds of one step)
    "supervised": ("classification", "semi_supervised", 4, {"weak": 1}),
    "pi_model": ("classification", "semi_supervised", 16, {"weak": 2}),
    "temporal_ensembling": ("classification", "semi_supervised", 16, {"weak": 1}),
    "mean_teacher": ("classification", "semi_supervised", 16, {"weak": 2}),
    "scn": ("classification", "noisy", 4, {"weak": 1}),
    "gce": ("classification", "noisy", 4, {"weak": 1}),
    "plcr": ("classification", "partial", 4, {"weak": 1, "strong": 2}),
    "proden": ("classification", "partial", 4, {"weak": 1}),
    "cc": ("classification", "partial", 4, {"weak": 1}),
    "rc": ("classification", "partial", 4, {"weak": 1}),
    "ucvme": ("regression", "semi_supervised", 16, {"weak": 2}),
    "ill": ("classification", "mixed", 16, {"weak": 2, "strong": 2}),  # weak and strong views of both batches
    **{  # weak views of the labeled and the unlabeled batch, a strong view of the unlabeled one
        m: ("classification", "semi_supervised", 16, {"weak": 2, "strong": 1})
        for m in ("fixmatch", "flexmatch", "freematch", "softmatch")
    },
}


def test_every_registered_method_is_covered():
    assert set(EXPECTED) == set(METHODS)


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_every_method_runs_on_its_own_kind_of_data(method):
    usual = method in ("mean_teacher", "plcr", "ucvme")
    strong = {"views.strong": "randaugment", "views.cutout": 4} if method == "plcr" else {}  # PIL ops in the usual one
    r = bench_speed.speed(
        method, "small_cnn", "4+12", 8, overrides={"model.width": 4, **strong}, usual=usual, **{**TINY, "windows": 1}
    )
    task, supervision, per_step, kinds = EXPECTED[method]
    assert (r["task"], r["supervision"], r["samples_per_step"], r["view_kinds"]) == (task, supervision, per_step, kinds)
    w = r["weaklab"]
    assert w["samples_per_s"] == pytest.approx(per_step * w["steps_per_s"])
    assert sum(w["split_percent"].values()) == pytest.approx(100) and w["split_s"]["forward_backward"] > 0
    assert ("usual" in r) == usual
    # the strong view that ran (the paper's Cutout for 8×8, or plcr's), not the config's auto; none where not drawn
    strong = (r["views"]["strong"], r["views"]["cutout"])
    if "strong" in kinds:
        assert strong == ("randaugment" if method == "plcr" else "randaugment_random", 4)
    else:
        assert strong == ("none", 0)
    if usual:
        assert r["usual"]["samples_per_s"] > 0


def test_synthetic_data_for_each_supervision(tmp_path):
    def data(method, task="classification", supervision="semi_supervised", **extra):
        cfg = resolve(None, {"method.name": method, "train.batch_labeled": 8, "train.batch_unlabeled": 24, **extra})
        return bench_speed.synthetic_data(
            cfg, 8, 3, 4, torch.device("cpu"), task=task, supervision=supervision, store_dir=tmp_path
        )

    reg = data("ucvme", "regression")
    known = reg.supervision.has_target
    assert isinstance(reg.task, Regression) and reg.classes == [] and 8 <= int(known.sum()) < 128
    assert reg.train_labels_clean.dtype == torch.float32 and len(set(reg.train_labels_clean.tolist())) == 128
    assert reg.task.target_mean == pytest.approx(reg.train_labels_clean[known].double().mean().item(), rel=1e-5)

    part = data("plcr", supervision="partial", **{"data.partial_rate": 0.3})
    sets, y = part.supervision.candidates, part.train_labels_clean
    assert sets[torch.arange(128), y].all() and (sets.sum(1) >= 2).all()  # PL-CR's generator: true label, ≥ 2
    assert part.regime["partial"]["generator"] == "plcr"

    noisy = data("scn", supervision="noisy")
    assert noisy.supervision.labeled.all() and noisy.supervision.untrusted.all() and noisy.noise["noise"] == "given"
    assert torch.equal(noisy.supervision.labels, y)

    semi = data("mean_teacher")
    assert int(semi.supervision.labeled.sum()) == 8  # two per class: about one labeled batch

    host = data("mean_teacher", **{"data.store": "host"})
    assert not isinstance(host.train, DeviceStore) and isinstance(host.train.x, np.memmap)
    assert torch.equal(host.train[torch.arange(5)], semi.train[torch.arange(5)])  # same images, same normalisation


def test_task_choice():
    pick = bench_speed.pick_task
    assert pick(method_class("ucvme"), None) == "regression"
    assert pick(method_class("mean_teacher"), None) == "classification"
    assert pick(method_class("mean_teacher"), None, "regression") == "regression"
    hetero = resolve(None, {"method.name": "supervised", "method.heteroscedastic": True}).method
    assert pick(method_class("supervised"), hetero) == "regression"
    with pytest.raises(WeaklabError, match="scn learns classification, not regression"):
        pick(method_class("scn"), None, "regression")
    with pytest.raises(WeaklabError, match="ucvme learns regression, not classification"):
        pick(method_class("ucvme"), None, "classification")


def test_host_store_is_recorded_and_its_file_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    r = bench_speed.speed(
        "temporal_ensembling",
        "small_cnn",
        "4+12",
        8,
        overrides={"model.width": 4},
        store="host",
        **{**TINY, "windows": 1},
    )
    assert r["store"] == "host" and r["usual"]["samples_per_s"] > 0
    assert list(tmp_path.iterdir()) == []  # the memory-mapped split and the run folder are gone
    assert "| fp32 | host |" in bench_speed.markdown_row(r)


def test_cli_writes_json_and_replaces_its_markdown_row(tmp_path, capsys):
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Benchmarks\n\n## Quality\n\nkept\n")
    args = [
        "bench",
        "speed",
        "--method",
        "supervised",
        "--model",
        "small_cnn",
        "--batch",
        "4+4",
        "--image-size",
        "8",
        "--device",
        "cpu",
        "--warmup",
        "1",
        "--windows",
        "1",
        "--steps",
        "1",
        "--profile-steps",
        "1",
        "--workers",
        "0",
        "--set",
        "model.width=4",
        "--out",
        str(tmp_path / "rec"),
        "--write",
        str(md),
    ]
    assert main(args) == 0
    assert main(args) == 0
    text = md.read_text()
    assert "kept" in text and text.count("| supervised | small_cnn | 4 | 8 |") == 1  # same key: replaced
    assert main(args + ["--store", "host"]) == 0  # another store: another row
    assert md.read_text().count("| supervised | small_cnn | 4 | 8 |") == 2
    assert len(list((tmp_path / "rec").glob("*.json"))) == 2
    out = capsys.readouterr().out
    assert "speed-up" in out and "| ms/step |" in out and "| roofline % |" in out
    assert "usual, 0 workers:" in out and "ms/step" in out.splitlines()[2] and "FLOPs per step:" in out


def test_batch_sizes_are_parsed_or_named_as_wrong():
    assert bench_speed.parse_batch("64+448") == (64, 448) and bench_speed.parse_batch("64") == (64, 64)
    for bad in ("64+", "0+8", "8+0", "a+b", "64x448"):
        with pytest.raises(WeaklabError, match="LABELED\\+UNLABELED"):
            bench_speed.parse_batch(bad)


def test_an_older_table_gains_the_new_columns(tmp_path):
    old_header = (
        "| method | model | batch | size | device | procs | precision | steps/s (median, min–max) | samples/s | "
        "data+aug % | fwd+bwd % | opt % | EMA % | sync % | usual samples/s (workers) | speed-up | peak MB | date | command |"
    )
    old_row = "| pi_model | wrn28_2 | 64+448 | 32 | cpu | 1 | fp32 | 0.07 (0.06–0.07) | 35.0 | 0.2 | 99.7 | 0.0 | 0.0 | 0.0 | – | – | 1 | d | `c` |"
    md = tmp_path / "B.md"
    md.write_text(f"# B\n\n<!-- speed:begin -->\n{old_header}\n|---|\n{old_row}\n<!-- speed:end -->\n\nafter\n")
    r = bench_speed.speed(
        "supervised", "small_cnn", "4+4", 8, overrides={"model.width": 4}, usual=False, **{**TINY, "windows": 1}
    )
    bench_speed.write_row(md, r)
    lines = md.read_text().split("<!-- speed:begin -->\n")[1].split("\n<!-- speed:end -->")[0].splitlines()
    assert lines[0] == bench_speed.HEADER and lines[2].startswith(
        "| pi_model | wrn28_2 | 64+448 | 32 | cpu | 1 | fp32 | device | 0.07"
    )
    assert "| 0.07 (0.06–0.07) | – | 35.0 | – | 0.2 |" in lines[2]  # ms/step and roofline %: unknown
    # data alone: unknown
    assert "| – | – | – / – | 1 | d | `c` |" not in lines[2] and "| – | – | – | 1 | d | `c` |" in lines[2]
    assert lines[3].startswith("| supervised | small_cnn | 4 | 8 |") and md.read_text().endswith("after\n")
    assert all(line.count("|") == bench_speed.HEADER.count("|") for line in lines if line.startswith("| "))


def test_ms_per_step_each_worker_count_flops_and_roofline():
    r = bench_speed.speed(
        "mean_teacher",
        "small_cnn",
        "4+12",
        8,
        overrides={"model.width": 4},
        **{**TINY, "windows": 1, "workers": [1, 0]},
        peak=1.0,
    )
    w, by = r["weaklab"], r["usual_by_workers"]
    assert list(by) == ["1", "0"] and [u["workers"] for u in by.values()] == [1, 0]
    for p in (w, *by.values()):
        assert p["ms_per_step"] == pytest.approx(1000 / p["steps_per_s"]) and p["samples_per_s"] > 0
        assert p["roofline_fraction"] == pytest.approx(r["flops_per_step"] * p["steps_per_s"] / 1e12)
    # the first count is the one the table's usual and speed-up columns have always shown; each speed-up compares
    # the weaklab windows alternated with that count's
    assert r["usual"] is by["1"] and len(w["windows"]) == 2 * len(by["1"]["windows"])  # both counts' alternations
    for u in by.values():
        assert u["speedup"] == pytest.approx(u["weaklab_alternated_steps_per_s"] / u["steps_per_s"])
    assert r["speedup"] == by["1"]["speedup"]
    assert r["flops_per_step"] > 0 and r["peak_tflops"] == 1.0 and "flops_note" not in r
    row = bench_speed.markdown_row(r)
    assert row.count("|") == bench_speed.HEADER.count("|") and " (1) / " in row and "× / " in row
    lines = bench_speed.summary_lines(r)
    assert lines[1].startswith("usual, 1 worker: ") and lines[2].startswith("usual, 0 workers: ")
    assert "% of the roofline" in lines[0] and "peak 1 TFLOP/s" in lines[-1]


def test_peaks_by_device_name():
    peak = bench_speed.peak_tflops
    assert peak("NVIDIA H100 80GB HBM3", "cuda") == peak("NVIDIA H200", "cuda") == 989
    assert peak("NVIDIA H100 PCIe", "cuda") == 756 and peak("NVIDIA A100-SXM4-80GB", "cuda") == 312
    assert peak("NVIDIA GeForce RTX 4090", "cuda") is None and peak("AMD EPYC CPU, 2 cores", "cpu") is None
    assert peak("AMD EPYC CPU, 2 cores", "cpu", 2.5) == 2.5 and peak("NVIDIA H200", "cuda", 100.0) == 100.0


def test_flops_that_cannot_be_counted_are_none_with_a_note(monkeypatch):
    import torch.utils.flop_counter

    assert bench_speed._count_flops(lambda: torch.ones(3) + 1) == (
        None,
        "FLOPs not counted: the FLOP counter saw no matrix product or convolution",
    )

    class Broken:
        def __init__(self, **kwargs):
            pass

        def __enter__(self):
            raise RuntimeError("no rule for aten::odd\nmore")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(torch.utils.flop_counter, "FlopCounterMode", Broken)
    assert bench_speed._count_flops(lambda: None) == (None, "FLOPs not counted: RuntimeError: no rule for aten::odd")


ROOT = Path(__file__).resolve().parents[1]


def test_gpu_script_dry_run_lists_the_three_configurations_within_eight_minutes():
    # WEAKLAB=false: a dry run that ran any step would fail
    run = subprocess.run(
        ["bash", "benchmarks/speed_gpu.sh", "--dry-run", "OUT.md"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "WEAKLAB": "false"},  # no PYTHONPATH, BENCH_MD or RECORDS from outside
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    steps = re.findall(r"^\[\d+\] predicted (\d+) s: PYTHONPATH=src false (.*)$", run.stdout, re.M)
    total = re.search(r"^predicted total: (\d+) s", run.stdout, re.M)
    assert total and int(total[1]) == sum(int(s) for s, _ in steps) <= 8 * 60
    args = [build_parser().parse_args(command.split()) for _, command in steps]  # every flag is one bench speed has
    assert [(a.method, a.model, a.batch, a.image_size) for a in args] == [
        ("mean_teacher", "wrn28_2", "64+448", 32),
        ("fixmatch", "wrn28_2", "64+448", 32),
        ("plcr", "wrn28_2", "64", 32),
    ]
    assert all(a.workers == [16, 1] and a.device == "cuda" and a.write == "OUT.md" for a in args)
    assert args[2].set == [
        "views.translate=4",
        "views.noise=0",
        "views.strong=autoaugment_cifar10",
        "views.cutout=16",
    ]  # the CIFAR PL-CR recipe's views
