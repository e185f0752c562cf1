"""weaklab.sklearn: scikit-learn's own estimator checks, the issue's numbers on digits, and what the estimators add
(candidate sets, unlabeled targets, the predictive std, pickling, run directories)."""

import inspect
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from weaklab.data.supervision.partial import generate
from weaklab.data.supervision.splits import quantile_bins
from weaklab.errors import WeaklabError
from weaklab.sklearn import WeakClassifier, WeakRegressor

# A fast setting for the checks: a narrow MLP, 5 short epochs, no learning-rate warm-up (a fit takes ~0.1 s).
FAST = dict(model="mlp", epochs=5, batch_size=16, settings={"train.lr_rampup": 0, "model.width": 32})


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    """One CPU thread (networks this small lose more to thread hand-offs than they gain, more so on a busy machine)
    and no plots (drawing them takes longer than these runs; the engine's tests draw them)."""
    import weaklab.engine.plots as plots

    monkeypatch.setattr(plots, "draw", lambda *args, **kwargs: [])
    monkeypatch.setattr(plots, "draw_test", lambda *args, **kwargs: None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    """Digits split 75/25, 90 % of the training labels hidden (-1)."""
    x, y = load_digits(return_X_y=True)
    x_fit, x_test, y_fit, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    hidden = np.random.default_rng(0).random(len(y_fit)) < 0.9
    return x_fit, np.where(hidden, -1, y_fit), y_fit, x_test, y_test


def _not_applicable(estimator) -> dict[str, str]:
    return estimator.not_applicable


_options = inspect.signature(parametrize_with_checks).parameters
_expected = {"expected_failed_checks": _not_applicable} if "expected_failed_checks" in _options else {}
if "xfail_strict" in _options:
    _expected["xfail_strict"] = True  # a check listed as not applicable that passes is a stale entry


@parametrize_with_checks([WeakClassifier(**FAST), WeakRegressor(**FAST)], **_expected)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_digits_with_90_percent_unlabeled_score_clone_pipeline(digits):
    x_fit, y_semi, _, x_test, y_test = digits
    clf = WeakClassifier(epochs=5).fit(x_fit, y_semi)
    assert clf.method_ == "mean_teacher"  # unlabeled samples: the semi-supervised default
    assert clf.score(x_test, y_test) >= 0.80
    p = clf.predict_proba(x_test)
    assert p.shape == (len(x_test), 10) and np.allclose(p.sum(1), 1.0, rtol=0, atol=1e-12)
    assert list(clf.classes_) == list(range(10))

    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and not hasattr(twin, "run_")
    np.testing.assert_array_equal(twin.fit(x_fit, y_semi).predict_proba(x_test), p)  # seeded: the same model

    pipe = make_pipeline(StandardScaler(), WeakClassifier(epochs=5)).fit(x_fit, y_semi)
    assert pipe.score(x_test, y_test) >= 0.80


def test_cross_val_score_and_grid_search(digits):
    x_fit, y_semi, *_ = digits
    scores = cross_val_score(WeakClassifier(**FAST), x_fit, y_semi, cv=2)
    assert scores.shape == (2,)
    search = GridSearchCV(
        WeakClassifier(**FAST), {"epochs": [2, 5], "settings": [FAST["settings"], {"model.width": 16}]}, cv=2
    ).fit(x_fit, y_semi)
    assert search.best_params_["epochs"] in (2, 5) and hasattr(search.best_estimator_, "run_")


def test_settings_reach_the_run_and_unknown_keys_are_named(digits):
    x_fit, y_semi, *_ = digits
    clf = WeakClassifier(**{**FAST, "settings": {**FAST["settings"], "train.lr": 0.01}}, lr=None).fit(x_fit, y_semi)
    assert clf.run_.config.train.lr == 0.01 and clf.run_.config.model.width == 32
    with pytest.raises(WeaklabError, match="unknown config key 'lrr' in section 'train'"):
        WeakClassifier(settings={"train.lrr": 1}).fit(x_fit, y_semi)


def test_candidate_sets_train_a_partial_label_method(digits):
    x_fit, _, y_fit, x_test, y_test = digits
    sets = generate("pico", y_fit, 10, 0.2, seed=0).astype(int)  # N×K 0/1, the true class always inside
    clf = WeakClassifier(epochs=5).fit(x_fit, sets)
    assert clf.method_ == "cc" and list(clf.classes_) == list(range(10))
    assert clf.score(x_test, y_test) >= 0.80
    assert clf.run_.summary["selected"].get("val_approx_accuracy") is not None  # chosen without true labels


def test_a_method_that_cannot_learn_from_y_is_refused(digits):
    x_fit, y_semi, y_fit, *_ = digits
    with pytest.raises(ValueError, match=r"method='plcr'\) learns from candidate sets .* y holds labels"):
        WeakClassifier(method="plcr").fit(x_fit, y_semi)
    sets = np.eye(10, dtype=int)[y_fit]
    with pytest.raises(ValueError, match=r"y holds an n×K 0/1 matrix of candidate sets; choose .*: cc"):
        WeakClassifier(method="mean_teacher").fit(x_fit, sets)
    with pytest.raises(ValueError, match=r"method='gce'\) learns from classification"):
        WeakRegressor(method="gce").fit(x_fit, y_fit.astype(float))
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        WeakClassifier(method="nope").fit(x_fit, y_semi)


def test_a_noisy_label_method_takes_the_labels_as_given(digits):
    x_fit, _, y_fit, *_ = digits
    clf = WeakClassifier(method="gce", **FAST).fit(x_fit[:300], y_fit[:300])
    assert clf.run_.config.data.noise == "given" and clf.run_.summary["labels"]["num_untrusted"] > 0


def test_images_train_a_convolutional_network():
    d = load_digits()
    images = d.images[:, None]  # N×1×8×8, pixel values 0..16
    clf = WeakClassifier(epochs=2, settings={"model.width": 8}).fit(images[:600], d.target[:600])
    assert clf.run_.summary["model"] == "small_cnn"
    assert clf.predict(images[600:]).shape == (len(images) - 600,)


def test_regressor_with_unlabeled_targets_returns_a_predictive_std():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    y = x @ np.array([1.0, -2.0, 0.5, 0.0, 0.0]) + 0.1 * rng.normal(size=300)
    hidden = rng.random(300) < 0.5
    reg = WeakRegressor(**{**FAST, "epochs": 20}).fit(x, np.where(hidden, np.nan, y))
    assert reg.method_ == "ucvme"  # unlabeled targets: the semi-supervised regression default
    mean, std = reg.predict(x, return_std=True)
    np.testing.assert_allclose(mean, reg.predict(x))
    assert reg.score(x, y) > 0.8
    assert std.shape == (300,) and np.all(std > 0) and np.ptp(std) > 0  # a variance head and MC dropout: per sample
    plain = WeakRegressor(**{**FAST, "epochs": 20}).fit(x[~hidden], y[~hidden])
    assert plain.method_ == "supervised"
    std = plain.predict(x, return_std=True)[1]
    assert np.all(std > 0) and np.ptp(std) == 0  # no uncertainty of its own: the validation noise level, for all


def test_ten_regression_targets_still_give_validation_and_test_splits():
    # fewer than 20 targets: fewer target-quantile strata, two targets each, so each split can take one
    assert np.bincount(quantile_bins(np.arange(10.0))).tolist() == [2] * 5
    assert quantile_bins(np.arange(3.0)).tolist() == [0, 0, 0]
    reg = WeakRegressor(**FAST).fit(np.arange(20.0).reshape(10, 2), np.arange(10.0))
    assert reg.run_.summary["labels"]["val"] >= 1 and reg.run_.summary["labels"]["test"] >= 1


def test_a_fitted_estimator_pickles_with_its_run(digits):
    x_fit, y_semi, _, x_test, _ = digits
    clf = WeakClassifier(**FAST).fit(x_fit, y_semi)
    p, data = clf.predict_proba(x_test), pickle.dumps(clf)
    directory = clf.run_.directory
    del clf  # its temporary run directory goes with it
    import gc

    gc.collect()
    assert not directory.exists()
    back = pickle.loads(data)
    np.testing.assert_array_equal(back.predict_proba(x_test), p)
    assert back.run_.summary["method"] == "mean_teacher"


def test_out_keeps_one_run_directory_per_fit(tmp_path, digits):
    x_fit, y_semi, *_ = digits
    clf = WeakClassifier(**FAST, out=str(tmp_path / "runs"))
    first = clf.fit(x_fit, y_semi).run_.directory
    second = clf.fit(x_fit, y_semi).run_.directory
    assert first != second and first.parent == second.parent == tmp_path / "runs"
    assert (first / "summary.json").is_file() and (second / "data.npz").is_file()
