"""`weaklab report`: one self-contained HTML page per set of runs, with each task's views; `bench ... --html`."""

import base64
import functools
import re
import shutil
from pathlib import Path

import pytest

from weaklab.api import train
from weaklab.cli import build_parser, main
from weaklab.config import resolve
from weaklab.report import write_bench_page, write_report
from weaklab.report.markdown import to_html

from conftest import fast_config

ONE_EPOCH = {"train__epochs": 1, "train__plot_redraws": 0}  # plots drawn once, at the end
NOISY = {"data__labels_per_class": None, "data__noise": "symmetric", "data__noise_rate": 0.3}
PARTIAL = {"data__partial": "plcr", "data__partial_rate": 0.3, "data__labels_per_class": None}
REGRESSION = {
    "data.dataset": "diabetes",
    "data.labeled_fraction": 0.2,
    "model.name": "mlp",
    "model.width": 8,
    "train.epochs": 1,
    "train.batch_labeled": 16,
    "train.batch_unlabeled": 64,
    "train.lr_rampup": 0,
    "train.plot_redraws": 0,
    "train.progress": False,
}


@functools.cache
def make_runs(base: Path) -> Path:
    """Seconds-long runs of every kind the report draws, trained once per session (the browser test reuses them):
    demo/ as `weaklab demo` lays it out (supervised and Mean Teacher), a second supervised seed, a noisy-label
    run, a partial-label run and a regression run."""
    train(fast_config("supervised", **ONE_EPOCH), out=base / "demo" / "supervised-seed0")
    train(fast_config("mean_teacher", **ONE_EPOCH), out=base / "demo" / "mean_teacher-seed0")
    train(fast_config("supervised", seed=1, **ONE_EPOCH), out=base / "more" / "supervised-seed1")
    train(fast_config("supervised", train__batch_labeled=128, **ONE_EPOCH, **NOISY), out=base / "more" / "noisy")
    train(fast_config("plcr", train__batch_labeled=256, **ONE_EPOCH, **PARTIAL), out=base / "more" / "partial")
    train(resolve(None, {**REGRESSION, "method.name": "supervised"}), out=base / "more" / "regression")
    return base


@functools.cache
def full_report(base: Path) -> str:
    """The report of every run above, written once."""
    return write_report([make_runs(base)], base / "all.html", top=12).read_text()


@pytest.fixture
def runs(tmp_path_factory) -> Path:
    return make_runs(tmp_path_factory.getbasetemp() / "report-runs")


@pytest.fixture
def page(runs) -> str:
    return full_report(runs)


def images(text: str) -> list[bytes]:
    sources = re.findall(r'<img src="([^"]*)"', text)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    return [base64.b64decode(s.removeprefix("data:image/png;base64,"), validate=True) for s in sources]


def test_the_demo_report_names_both_methods_and_needs_nothing_outside_the_file(runs, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(runs / "demo"), "--html", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    text = out.read_text()
    assert "supervised on digits" in text and "mean_teacher on digits" in text
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text and "<link" not in text
    pngs = images(text)
    assert len(pngs) > 10 and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    for section in ("Comparison", "Configuration", "Effective schedule", "Summary", "selected step"):
        assert section in text
    assert "test reliability" not in text  # figures are images: their titles are not page text
    assert 'alt="reliability diagram"' in text and 'alt="confusion matrix"' in text


def test_seeds_of_one_method_are_one_row_with_mean_and_std(page):
    table = page.split("<h2 id=comparison>")[1].split("<h2")[0]
    assert "2 (0, 1)" in table and "±" in table  # supervised, seeds 0 and 1, on the same data
    assert re.search(r"<td>mean_teacher</td><td>1 \(0\)</td>", table)
    # each kind of data is its own group; noisy and partial data are named by what sets them apart
    assert "noise=symmetric" in table and "partial=plcr" in table and "diabetes" in table
    # overlaid curves where a group has several runs (one run's curves are in its own section)
    assert table.count('alt="validation accuracy"') == 1 and 'alt="validation mse"' not in table


def test_a_regression_run_shows_its_uncertainty_band_and_coverage(page):
    section = page.split("supervised on diabetes, seed 0</h2>")[1].split("<h2")[0]
    assert "Regression: predicted vs true, coverage" in section
    assert 'alt="predicted vs true"' in section and 'alt="coverage curve"' in section
    assert "±2σ" in section and "confusion" not in section


def test_a_noisy_run_shows_its_label_issue_gallery(page):
    section = page[page.index("/more/noisy</code>") :].split("<h2")[0]
    gallery = section.split('<div class="gallery">')[1].split("</div>")[0]
    assert gallery.count("<figure>") == 12  # --top
    assert "given" in gallery and "suggested" in gallery and "score (margin)" in gallery and "true" in gallery
    assert all(len(p) > 50 for p in images(gallery))


def test_a_partial_label_run_shows_its_candidate_sets_and_how_targets_shrank(page):
    section = page[page.index("/more/partial</code>") :].split("<h2")[0]
    assert 'alt="candidate-set sizes"' in section and 'alt="how the targets shrank"' in section
    assert "the target&#x27;s top class is the true label for" in section
    assert "val_approx_accuracy" in section  # its label-free selection metric


def test_without_recomputing_the_panels_are_left_out_with_a_note(runs, tmp_path):
    text = write_report([runs / "more" / "noisy"], tmp_path / "r.html", recompute="never", top=5).read_text()
    assert text.count('class="note"') >= 2 and "not recomputed (--recompute never)" in text
    assert "reliability diagram and confusion matrix left out" in text
    assert "<th>given</th>" in text  # the label issues as a table, without images
    assert "Comparison" not in text  # one run: no comparison


def test_an_unfinished_run_is_skipped_with_a_note(runs, tmp_path):
    shutil.copytree(runs / "demo" / "supervised-seed0", tmp_path / "runs" / "done")
    (tmp_path / "runs" / "stopped").mkdir()
    shutil.copy(runs / "demo" / "supervised-seed0" / "config.yaml", tmp_path / "runs" / "stopped")
    text = write_report([tmp_path / "runs"], tmp_path / "r.html", recompute="never").read_text()
    assert "stopped: not finished (no summary.json)" in text and "weaklab report: supervised on digits" in text


@pytest.mark.parametrize("make", ["missing", "empty", "folder-as-output"])
def test_a_wrong_path_exits_2_in_one_line(make, runs, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    given = {"missing": tmp_path / "nope", "empty": tmp_path / "empty", "folder-as-output": runs / "demo"}[make]
    out = tmp_path / ("empty" if make == "folder-as-output" else "r.html")
    assert main(["report", str(given), "--html", str(out), "--recompute", "never"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    words = {"missing": "does not exist", "empty": "no finished run in", "folder-as-output": "is a folder"}[make]
    assert words in err


def test_bench_tables_become_the_same_html(runs, tmp_path):
    markdown = "\n".join(
        [
            "<!-- quality:begin -->",
            "Digits, 5 labels per class; selected on *validation* accuracy.",
            "",
            "| method | test accuracy % | time (s) |",
            "|---|---|---|",
            "| supervised | 70.1 ± 1.0 | 3.2 |",
            "| mean_teacher | 80.2 ± 0.5 | 9.9 |",
            "",
            "Command: `weaklab bench quality --seeds 0 1 2`.",
            "<!-- quality:end -->",
        ]
    )
    html = to_html(markdown)
    assert "<!--" not in html and "<em>validation</em>" in html and "<code>weaklab bench quality" in html
    assert "<td>mean_teacher</td><td class=num>80.2 ± 0.5</td>" in html
    text = write_bench_page(markdown, tmp_path / "b.html", "weaklab bench quality", runs / "demo").read_text()
    assert html in text and "Comparison" in text and 'alt="training loss"' in text
    assert "http://" not in text and "https://" not in text
    for bench in ("quality", "partial", "precision", "noisy", "regression"):
        assert build_parser().parse_args(["bench", bench, "--html", "t.html"]).html == "t.html"
    args = ["bench", "speed", "--method", "supervised", "--model", "small_cnn", "--html", "t.html"]
    assert build_parser().parse_args(args).html == "t.html"
    with pytest.raises(SystemExit) as e:  # refused before an hour of benchmark, not after
        main(["bench", "quality", "--html", str(tmp_path)])
    assert e.value.code == 2
