"""scikit-learn estimators that train a weaklab run: `WeakClassifier` and `WeakRegressor`.

`fit(X, y)` trains one run on `X` (N×D features, or N×C×H×W images) through `weaklab.train`, so the data is checked
as a user's file is; `y` marks what is known of each sample in scikit-learn's way: -1 (classification, as
`LabelSpreading` and `SelfTrainingClassifier` take it) or NaN (regression) for an unlabeled sample, and, for the
classifier, an N×K 0/1 matrix for candidate sets (partial labels: each row the classes the sample may be). Every
setting is a constructor parameter (`method`, `model`, `epochs`, ..., and `settings` for any config key), so the
estimators work in `Pipeline`, `clone`, `cross_val_score` and `GridSearchCV`.

Each fit writes its run to a temporary directory, removed with the estimator, or to a new folder under `out`,
kept. The fitted estimator holds the loaded `Run` (`run_`: summary, metrics, directory) and pickles with its
run's files, so a pickle loads anywhere.
"""

from __future__ import annotations

import numbers
import secrets
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import api
from .config import resolve
from .data.sources.arrays import as_array
from .methods import METHODS

# The files a fitted estimator needs of its run (a pickle carries them): config, summary, the selected checkpoint.
RUN_FILES = ("config.yaml", "summary.json", "classes.json", "metrics.jsonl", "checkpoints/best.pt")


class _WeakEstimator(BaseEstimator):
    """What both estimators share: the constructor, the run's config, fitting into a run directory, pickling."""

    _task = "classification"
    # scikit-learn's estimator checks that cannot apply, with the reason (tests/test_sklearn_estimator.py)
    not_applicable: dict[str, str] = {}

    def __init__(
        self,
        method: str | None = None,
        model: str = "auto",
        epochs: int = 20,
        batch_size: int = 32,
        lr: float | None = None,
        settings: dict | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.05,
        device: str = "auto",
        random_state: int | None = None,
        out: str | None = None,
        verbose: bool = False,
    ):
        self.method = method
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.settings = settings
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.device = device
        self.random_state = random_state
        self.out = out
        self.verbose = verbose

    # --- fitting ---------------------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Train a run on `X` and `y`; returns the estimator."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        X = _validate(self, X, reset=True)
        labels, candidates = self._targets(y, len(X))
        config = resolve(self._config_tree(self._choose_method(labels, candidates)), dict(self.settings or {}))
        self.method_ = config.method.name  # `settings` has the last word, as on the command line
        names = [str(c) for c in self.classes_] if self._task == "classification" else None
        run_dir = self._run_dir()
        self.run_ = api.train(config, out=run_dir, x=X, y=labels, classes=names, candidates=candidates)
        return self

    def _config_tree(self, method: str) -> dict:
        """The run's config as the constructor parameters set it; `settings` (dotted keys) is applied over it."""
        kind = METHODS[method].supervision_kind
        train = {"epochs": self.epochs, "batch_labeled": self.batch_size, "device": self.device}
        # plots drawn once, at the end: redrawing them during a short run takes longer than the training
        train.update(progress=bool(self.verbose), plot_redraws=0)
        if self.lr is not None:
            train["lr"] = self.lr
        data = {"val_fraction": self.val_fraction, "test_fraction": self.test_fraction, "task": self._task}
        if self._task == "regression":
            data["missing_targets"] = "unlabeled"  # NaN marks an unlabeled sample here
        if kind == "noisy":
            data["noise"] = "given"  # a noisy-label method takes y as given: every label may be wrong
        seed = 0 if self.random_state is None else self.random_state
        return {"method": {"name": method}, "model": {"name": self.model}, "data": data, "train": train, "seed": seed}

    def _choose_method(self, labels, candidates) -> str:
        """The `method` asked for if it fits the supervision of `y` (checked here, to name `y` in the message);
        None: a partial-label method (cc) for candidate sets, else a semi-supervised one (mean_teacher; regression:
        ucvme) where some samples are unlabeled, else supervised."""
        has_sets = candidates is not None
        if self.method is None:
            if has_sets:
                return "cc"
            unlabeled = (labels == -1).any() if self._task == "classification" else np.isnan(labels).any()
            semi = "mean_teacher" if self._task == "classification" else "ucvme"
            return semi if unlabeled else "supervised"
        if not isinstance(self.method, str) or self.method not in METHODS:
            raise ValueError(f"{type(self).__name__}: unknown method {self.method!r}; available: {', '.join(METHODS)}")
        if not METHODS[self.method].fits(has_sets, self._task):
            fitting = ", ".join(n for n, m in METHODS.items() if m.fits(has_sets, self._task))
            given = "an n×K 0/1 matrix of candidate sets" if has_sets else "labels"
            needs = METHODS[self.method]
            wants = "candidate sets (y as an n×K 0/1 matrix)" if needs.learns_from_candidates() else "labels"
            if self._task not in needs.tasks:
                wants = " or ".join(needs.tasks)
            raise ValueError(
                f"{type(self).__name__}(method={self.method!r}) learns from {wants}, but y holds {given}; "
                f"choose a method that fits: {fitting}"
            )
        return self.method

    def _run_dir(self) -> Path:
        """A new run directory: a temporary one, removed with the estimator, or a new folder under `out`."""
        if self.out is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="weaklab-")  # its finalizer removes the folder
            return Path(self._tmp.name)
        # a new name for each fit: fits in parallel (cross_val_score(n_jobs=...)) never share a directory
        name = f"{self.method_}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        return Path(self.out).expanduser() / name

    def _targets(self, y, n: int):
        raise NotImplementedError

    # --- pickling: the run's files travel with the estimator ---------------------------------------------

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the instance's own __dict__ must keep its run
        state.pop("_tmp", None)
        run = state.pop("run_", None)
        if run is not None:
            files = {name: run.directory / name for name in RUN_FILES}
            state["_run_files"] = {name: path.read_bytes() for name, path in files.items() if path.is_file()}
        return state

    def __setstate__(self, state):
        files = state.pop("_run_files", None)
        super().__setstate__(state)
        if files is not None:
            self._tmp = tempfile.TemporaryDirectory(prefix="weaklab-")
            for name, data in files.items():
                path = Path(self._tmp.name) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            self.run_ = api.Run(self._tmp.name)

    # --- tags ----------------------------------------------------------------------------------------------

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def _more_tags(self):  # scikit-learn < 1.6 reads its tags (and expected check failures) here
        return {"_xfail_checks": dict(self.not_applicable), "allow_nan": False}


class WeakClassifier(ClassifierMixin, _WeakEstimator):
    """A weaklab classifier: semi-supervised (`y` = -1 marks an unlabeled sample), noisy labels (`method="gce"`
    or `"scn"`: labels taken as given) or partial labels (`y` an n×K 0/1 matrix of candidate sets; `classes_`
    is then 0..K-1).

    Parameters
    ----------
    method : str or None
        A weaklab method (`weaklab methods` lists them). None: `cc` for candidate sets, `mean_teacher` when some
        samples are unlabeled, else `supervised`. A method that cannot learn from `y` is refused at `fit`.
    model : str
        The network: `auto` (an MLP for features, a small CNN for small images), `mlp`, `small_cnn`, `cnn13`, ...
    epochs : int
        Training epochs (an epoch is one pass over all samples). The default, 20, with the other defaults trains
        scikit-learn's digits in seconds on a CPU.
    batch_size : int
        Labeled samples per step (`train.batch_labeled`).
    lr : float or None
        Learning rate; None: weaklab's default (Adam, 0.003).
    settings : dict or None
        Any other setting, as dotted config keys: `{"train.lr_schedule": "cosine", "method.ema_decay": 0.99}`.
    val_fraction, test_fraction : float
        The shares of the labeled samples held out for checkpoint selection and for the run's own test metrics
        (summary.json); both splits take at least one sample of each class that has two.
    device : str
        `auto` (CUDA when available), `cpu`, `cuda`, `cuda:N`.
    random_state : int or None
        The run's seed; None: 0, so that fitting twice gives the same model.
    out : str or None
        None: each fit trains in a temporary directory removed with the estimator. A folder: each fit makes a new
        run directory in it, kept (its path is `run_.directory`).
    verbose : bool
        Print the run's progress lines.

    Attributes: `classes_`, `n_features_in_` (`feature_names_in_` for a DataFrame), `method_` (the method
    trained), `run_` (the weaklab Run: `summary`, `metrics`, `directory`).
    """

    not_applicable = {
        "check_classifiers_classes": (
            "-1 marks an unlabeled sample (scikit-learn's semi-supervised convention), so the check's labels "
            "{-1, 1} hold one class"
        ),
    }

    def _targets(self, y, n: int):
        """(labels as class indices with -1 for unlabeled, None) or (None, candidate sets); sets `classes_`."""
        y = _column(as_array(y, "y"))
        if y.ndim == 2:  # candidate sets
            if len(y) != n:
                raise ValueError(f"Found input variables with inconsistent numbers of samples: [{n}, {len(y)}]")
            self.classes_ = np.arange(y.shape[1])
            return None, y
        if y.ndim != 1:
            raise ValueError(
                f"y must hold one label per sample, or an n×K 0/1 matrix of candidate sets; got shape {y.shape}"
            )
        if len(y) != n:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: [{n}, {len(y)}]")
        unlabeled = _minus_one(y)
        known = y[~unlabeled]
        check_classification_targets(known)
        self.classes_, index = np.unique(known, return_inverse=True)
        if len(self.classes_) < 2:
            found = f"only one class ({self.classes_[0]!r})" if len(self.classes_) else "no labels (every y is -1)"
            raise ValueError(f"{type(self).__name__} needs labels of at least 2 classes in y, found {found}")
        labels = np.full(n, -1, dtype=np.int64)
        labels[~unlabeled] = index.ravel()
        return labels, None

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, one column per class of `classes_`; each row sums to 1."""
        check_is_fitted(self)
        X = _validate(self, X, reset=False)
        p = self.run_.predict_proba(X).astype(np.float64)
        return p / p.sum(1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample."""
        best = self.predict_proba(X).argmax(1)  # first: it says so when the estimator is not fitted
        return self.classes_[best]


class WeakRegressor(RegressorMixin, _WeakEstimator):
    """A weaklab regressor: `y` real targets, NaN marking an unlabeled sample (semi-supervised regression).

    Parameters are those of `WeakClassifier`; `method=None` picks `ucvme` when some targets are NaN (on short runs
    it learns far faster than `mean_teacher`, whose consistency term holds regression back early on), else
    `supervised`.

    `predict(X, return_std=True)` returns `(mean, std)`, as `GaussianProcessRegressor` does: the std of the
    predictive distribution, sqrt(aleatoric + epistemic variance), in target units. A method with a variance head
    (ucvme) gives each sample its own; a method without one (supervised, mean_teacher, ...) has no uncertainty of
    its own, and returns the same std for every sample: the root mean squared error of its predictions on the
    validation split (the noise level fitted there).
    """

    not_applicable: dict[str, str] = {}

    _task = "regression"

    def _targets(self, y, n: int):
        y = _column(as_array(y, "y"))
        if y.ndim != 1:
            raise ValueError(f"{type(self).__name__} predicts one target: y must be 1-D, got shape {y.shape}")
        if len(y) != n:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: [{n}, {len(y)}]")
        try:  # numbers, also in an object array
            return y.astype(np.float64), None
        except (TypeError, ValueError):
            raise ValueError(f"y must hold real targets (NaN for an unlabeled sample), got dtype {y.dtype}") from None

    def predict(self, X, return_std: bool = False):
        """Predicted targets; with `return_std`, also the predictive std of each (see the class docstring)."""
        check_is_fitted(self)
        X = _validate(self, X, reset=False)
        if not return_std:
            return np.asarray(self.run_.predict(X), dtype=np.float64)
        out = self.run_.predict(X, uncertainty=True)
        return out["prediction"].astype(np.float64), out["total_std"].astype(np.float64)


def _validate(estimator, X, reset: bool) -> np.ndarray:
    """scikit-learn's checks of X (and n_features_in_ / feature_names_in_); images N×C×H×W are allowed."""
    kwargs = dict(reset=reset, allow_nd=True, dtype="numeric", ensure_min_samples=2 if reset else 1)
    try:
        from sklearn.utils.validation import validate_data
    except ImportError:  # scikit-learn < 1.6
        return estimator._validate_data(X, **kwargs)
    return validate_data(estimator, X, **kwargs)


def _column(y: np.ndarray) -> np.ndarray:
    """A column vector y (n×1) as 1-D, with scikit-learn's warning."""
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the shape of y to "
            "(n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=4,
        )
        return y[:, 0]
    return y


def _minus_one(y: np.ndarray) -> np.ndarray:
    """The unlabeled samples: label -1 (a number, also among the labels of an object array)."""
    if y.dtype.kind in "iuf":
        return y == -1
    if y.dtype.kind == "O":
        return np.array([isinstance(v, numbers.Number) and not isinstance(v, bool) and v == -1 for v in y], bool)
    return np.zeros(len(y), bool)
