"""PL-CR, PRODEN, CC and RC: each method's defining property on hand examples, and exact resume of their tables."""

import math

import pytest
import torch
from torch import nn

from weaklab.api import resume, train
from weaklab.core.task import Classification
from weaklab.data.supervision.labeled import Supervision
from weaklab.engine import checkpoint
from weaklab.methods import Batch, Context, Progress, method_class

from conftest import train_interrupted


class FakeViews:
    """Weak view = the input; strong view k = input + k (so the K views give different predictions)."""

    def __init__(self):
        self.k = 0

    def __call__(self, x):
        return x

    def strong(self, x):
        self.k += 1
        return x + torch.tensor([0.0, float(self.k), -float(self.k)])


def make(name, candidates, epochs=1, steps_per_epoch=1, **settings):
    """A method whose 'network' is the identity: the inputs are the logits; a run of `epochs` epochs, in which every
    sample is visited once per step (`steps_per_epoch` > 1: a few informed samples among many unlabeled ones)."""
    candidates = torch.as_tensor(candidates, dtype=torch.bool)
    n, c = candidates.shape
    ctx = Context(
        task=Classification(c),
        make_model=lambda heads=1: nn.Identity(),
        views=FakeViews(),
        num_train=n,
        num_labeled=n,
        batch_labeled=n,
        batch_unlabeled=n,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        supervision=Supervision(candidates, torch.zeros(n, dtype=torch.bool)),
        clean_labels=torch.zeros(n, dtype=torch.long),
    )
    cls = method_class(name)
    return cls(cls.Settings(**settings), ctx)


LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
SETS = [[1, 1, 0], [0, 1, 1]]
VIEWS = [LOGITS, LOGITS + torch.tensor([0.0, 1, -1]), LOGITS + torch.tensor([0.0, 2, -2])]  # FakeViews' K = 3


def step(method, epoch=0):
    return method.training_step(Batch(LOGITS, torch.full((2,), -1), torch.arange(2)), Progress(epoch, epoch, 1))


def test_plcr_target_update_is_the_masked_geometric_mean_of_the_views():
    m = make("plcr", SETS)
    assert torch.allclose(m.targets, torch.tensor([[0.5, 0.5, 0], [0, 0.5, 0.5]]))  # uniform over each set
    step(m)
    p = [v.softmax(1) for v in VIEWS]
    for i, row in enumerate(SETS):
        g = [row[j] * math.prod(pk[i, j].item() for pk in p) ** (1 / 3) for j in range(3)]
        assert m.targets[i].tolist() == pytest.approx([v / sum(g) for v in g], abs=1e-6)


def consistency_to(q):
    return sum((q * (q.clamp_min(1e-12).log() - v.log_softmax(1))).sum(1).mean() for v in VIEWS).item()


def test_plcr_consistency_is_the_sum_over_views_and_lambda_ramps_per_epoch():
    m = make("plcr", SETS, rampup=100, lambda_max=2.0, target_refresh="after")
    q = m.targets.clone()
    loss, logs = step(m, epoch=50)
    kl = consistency_to(q)
    assert logs["consistency"].item() == pytest.approx(kl, rel=1e-5)
    assert logs["consistency_weight"] == pytest.approx(1.0)  # 50/100 · 2
    assert loss.item() == pytest.approx(logs["supervised"].item() + 1.0 * kl, rel=1e-5)
    assert m.lam(0) == 0 and m.lam(300) == 2.0


def test_plcr_loss_reads_the_stored_target_at_the_papers_length_and_this_steps_in_shorter_runs():
    stored = make("plcr", SETS).targets.clone()  # uniform over each set
    paper = make("plcr", SETS, epochs=200)  # auto: one epoch is 1/200 of the run, as in the paper
    assert paper.schedule()["target_age"] == 1.0
    assert step(paper, epoch=100)[1]["consistency"].item() == pytest.approx(consistency_to(stored), rel=1e-5)
    for short in (make("plcr", SETS, epochs=3), make("plcr", SETS, epochs=200, target_refresh="before")):
        assert short.schedule()["target_age"] == 0.0
        logs = step(short, epoch=1)[1]
        fresh = short.targets.clone()  # rewritten by the step, from its own views
        assert not torch.allclose(fresh, stored)
        assert logs["consistency"].item() == pytest.approx(consistency_to(fresh), rel=1e-5)
    # The age that matters is a visit's, not an epoch's: with a few informed samples among 300 steps of a 3-epoch
    # run, a sample comes back every step, so the stored target is 1/300 of the run old and the paper's order holds.
    few = make("plcr", SETS, epochs=3, steps_per_epoch=100)
    assert few.schedule()["target_age"] == 0.01  # epochs
    assert step(few, epoch=1)[1]["consistency"].item() == pytest.approx(consistency_to(stored), rel=1e-5)


def test_plcr_supervised_term_is_zero_when_every_class_is_a_candidate():
    m = make("plcr", [[1, 1, 1], [1, 1, 1]])
    _, logs = step(m)
    assert logs["supervised"].item() == 0
    m = make("plcr", SETS)
    _, logs = step(m)
    p = LOGITS.softmax(1)  # the weak view only: -mean Σ_{j ∉ S} log(1 - p_j + 1e-7)
    expected = -(math.log(1 - p[0, 2] + 1e-7) + math.log(1 - p[1, 0] + 1e-7)) / 2
    assert logs["supervised"].item() == pytest.approx(expected, rel=1e-5)


def test_cc_loss_is_minus_log_candidate_mass():
    m = make("cc", SETS)
    loss, _ = step(m)
    p = LOGITS.softmax(1)
    expected = -(math.log(p[0, 0] + p[0, 1]) + math.log(p[1, 1] + p[1, 2])) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["proden", "rc"])
def test_proden_and_rc_weights_start_uniform_then_follow_the_restricted_prediction(name):
    m = make(name, SETS)
    loss, _ = step(m)
    w0 = torch.tensor([[0.5, 0.5, 0], [0, 0.5, 0.5]])
    assert loss.item() == pytest.approx(-(w0 * LOGITS.log_softmax(1)).sum(1).mean().item(), rel=1e-5)
    m.after_optimizer_step(Progress(0, 0, 1))
    p = LOGITS.softmax(1) * torch.tensor(SETS)
    assert torch.allclose(m.weights, p / p.sum(1, keepdim=True), atol=1e-6)


def test_partial_methods_need_candidate_sets(fast, tmp_path):
    from weaklab.errors import WeaklabError

    with pytest.raises(WeaklabError, match="not both"):
        train(
            fast("plcr", data__partial="plcr", data__candidates_file="x.npy", data__labels_per_class=None),
            out=tmp_path / "r",
        )


PLL = {
    "data__partial": "plcr",
    "data__partial_rate": 0.3,
    "data__labels_per_class": None,
    "train__batch_labeled": 128,
    "views__strong": "randaugment",
    "views__cutout": 4,
    "views__noise": 0.0,
}


def test_plcr_run_logs_lambda_and_label_free_metrics(fast, tmp_path):
    run = train(fast("plcr", train__epochs=2, train__selection_metric="covering_rate", **PLL), out=tmp_path / "r")
    import json

    record = json.loads((run.directory / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"supervised", "consistency", "consistency_weight", "target_accuracy"} <= record["train"].keys()
    assert {"accuracy", "covering_rate", "approx_accuracy"} <= record["val"].keys() and "lr" in record
    assert "val_covering_rate" in run.summary["selected"]
    assert (run.directory / "plots/loss.png").exists() and (run.directory / "plots/accuracy.png").exists()
    assert run.summary["labels"]["partial"]["train"]["min_candidates"] >= 2


@pytest.mark.parametrize("method", ["plcr", "rc"])
def test_target_table_identical_after_resume(fast, tmp_path, monkeypatch, method):
    config = dict(train__epochs=3, **PLL)
    whole = train(fast(method, **config), out=tmp_path / "whole")
    train_interrupted(fast(method, **config), tmp_path / "killed", monkeypatch)
    resumed = resume(tmp_path / "killed")
    a = checkpoint.load(whole.directory / "checkpoints/last.pt")["method"]
    b = checkpoint.load(resumed.directory / "checkpoints/last.pt")["method"]
    table = "targets" if method == "plcr" else "weights"
    t = a[table]  # the table has moved away from "uniform over each set": it is real state
    assert ((t > 0) & (t != t.max(1, keepdim=True).values)).any()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert whole.summary["test"] == resumed.summary["test"]


def test_selection_metric_must_exist(fast, tmp_path):
    from weaklab.errors import WeaklabError

    with pytest.raises(WeaklabError, match="covering_rate.*choose one of accuracy"):
        train(fast("supervised", train__epochs=1, train__selection_metric="covering_rate"), out=tmp_path / "r")


def test_bench_partial_writes_its_table_and_plots(tmp_path, capsys, monkeypatch):
    from weaklab.cli import main

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the written command is the one that ran: no prefix
    doc = tmp_path / "BENCH.md"
    doc.write_text("# Benchmarks\n\n<!-- partial:begin -->\nold\n<!-- partial:end -->\n\nafter\n")
    code = main(
        [
            "bench",
            "partial",
            "--seeds",
            "0",
            "--rates",
            "0.3",
            "--methods",
            "cc",
            "plcr",
            "--epochs",
            "1",
            "--no-reference",
            "--out",
            str(tmp_path / "b"),
            "--write",
            str(doc),
        ]
    )
    text = doc.read_text()
    assert code == 0 and "old" not in text and text.rstrip().endswith("after")
    assert "| cc |" in text and "| plcr |" in text and "q = 0.3" in text
    assert "Command: `weaklab bench partial --seeds 0" in text and "OMP_NUM_THREADS" not in text
    assert (tmp_path / "benchmarks/partial/partial-curves-q0.3.png").exists()
    assert (tmp_path / "benchmarks/partial/plcr-loss.png").exists()


@pytest.mark.parametrize(
    "dataset, shape, expected",
    [
        ("cifar10", (3, 32, 32), ("autoaugment_cifar10", 16)),  # AutoAugment + Cutout 16
        ("svhn", (3, 32, 32), ("autoaugment_svhn", 20)),  # SVHN policy + Cutout 20
        ("fashion_mnist", (1, 28, 28), ("none", 16)),  # grey: Cutout 16, no AutoAugment
        ("digits", (1, 8, 8), ("none", 4)),  # smaller sides: half the side
        ("table", (10,), ("none", 0)),  # flat features: no strong view beyond the weak one
    ],
)
def test_the_strong_view_defaults_to_the_papers_for_the_data(dataset, shape, expected):
    from weaklab.data.views.pipeline import paper_strong_view

    assert paper_strong_view(dataset, shape) == expected


def test_strong_view_auto_resolves_and_explicit_settings_win(fast):
    from weaklab.engine.experiment import build_experiment

    auto = build_experiment(fast("plcr", **{**PLL, "views__strong": "auto", "views__cutout": None})).views
    assert auto.policy is None and auto.cutout == 4  # 8×8 grey digits: Cutout half the side
    explicit = build_experiment(fast("plcr", **{**PLL, "views__strong": "randaugment", "views__cutout": 0})).views
    assert explicit.policy is not None and explicit.cutout == 0


def test_partial_labels_select_the_checkpoint_without_true_labels(fast, tmp_path):
    run = train(fast("cc", train__epochs=1, **PLL), out=tmp_path / "r")
    assert "val_approx_accuracy" in run.summary["selected"]  # validation holds candidate sets, not labels


def test_the_weak_view_is_the_methods_papers_unless_set(fast):
    from types import SimpleNamespace

    from weaklab.config import ViewsConfig
    from weaklab.engine.experiment import build_experiment, weak_view

    def drawn(method, shape, **set_views):
        return weak_view(method_class(method), SimpleNamespace(sample_shape=shape), ViewsConfig(**set_views))

    # PL-CR's paper pads and crops by 4 of 28 or 32 pixels, an eighth of the side, and adds no input noise
    assert drawn("plcr", (1, 28, 28)) == (4, 0.0) and drawn("plcr", (3, 32, 32)) == (4, 0.0)
    assert drawn("plcr", (1, 8, 8)) == (1, 0.0)
    assert drawn("plcr", (64,)) == (0, 0.15)  # flat features: the default noise, their only view
    for method in ("cc", "rc", "proden"):  # PL-CR's baselines meet its view
        assert drawn(method, (1, 28, 28)) == (4, 0.0)
    for method in ("pi_model", "mean_teacher", "fixmatch", "scn"):  # the Π / TE / MT papers' view
        assert drawn(method, (1, 28, 28)) == (2, 0.15)
    assert drawn("plcr", (1, 28, 28), translate=2, noise=0.15) == (2, 0.15)  # what the user sets wins
    assert drawn("pi_model", (1, 28, 28), translate=0) == (0, 0.15)
    views = build_experiment(fast("plcr", **{**PLL, "views__translate": None, "views__noise": None})).views
    assert views.describe()["translate"] == 1 and views.describe()["noise"] == 0.0  # what summary.json records


def test_partial_methods_read_only_the_samples_with_a_candidate_set(fast):
    """A sample whose set is every class (unlabeled) tells a partial-label method nothing, and a stream of mostly
    such samples let PL-CR's consistency collapse: the stream holds the informed samples, an epoch stays as many
    steps as a pass over every sample, and the run says what it ignores and which method reads both."""
    import math

    from weaklab.engine.experiment import build_experiment

    x = build_experiment(fast("plcr", **{**PLL, "data__labels_per_class": 5, "train__batch_labeled": 16}))
    supervision, n = x.data.supervision, len(x.data.train)
    assert int(supervision.informed.sum()) == 50 and int(supervision.unlabeled.sum()) == n - 50
    labeled_plan, _ = x.sampler.epoch(0)
    assert supervision.informed[labeled_plan.flatten()].all()
    assert x.sampler.steps_per_epoch == math.ceil(n / 16)
    assert x.method.supervision_notes(supervision) == [
        f"plcr ignores the {n - 50} unlabeled samples (a candidate set of every class)",
        "ill learns from the candidate sets and the unlabeled samples together",
    ]
    everyone = build_experiment(fast("plcr", **PLL))  # no sample unlabeled: one stream of every sample, as before
    assert sorted(everyone.sampler.labeled.tolist()) == list(range(len(everyone.data.train)))
    assert everyone.method.supervision_notes(everyone.data.supervision) == []
