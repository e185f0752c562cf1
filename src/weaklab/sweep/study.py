"""An Optuna study of ordinary weaklab runs: each trial trains one run in `out/trial-NNNN`, and its objective is
that run's validation value of the selection metric at its selected (best-on-validation) checkpoint.

    sweep → for each trial: draw the space's keys → resolve the base config with them → train the run
            (each evaluation: report the validation value; the pruner may stop the run) → its best validation value

Test metrics play no part: the trials' runs still evaluate their selected checkpoint on test once, as every run
does, but nothing here reads it. The study lives in an Optuna storage, by default SQLite in `out/study.db`; any
RDB URL (PostgreSQL, MySQL) shared by several machines makes each `weaklab sweep` a worker of the same study.
Running the same command again continues the study: `--trials` is the study's total of finished (complete or
pruned) trials. A trial stopped by Ctrl-C or SIGTERM is marked failed and queued again with the same values;
a worker killed outright is noticed by its missing heartbeat and its trial queued again too. The retry resumes
the trial's run directory from its last checkpoint where it is on this machine.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..config import Config, resolve
from ..engine.logger import flatten
from ..errors import TrainingDiverged, WeaklabError
from . import space as spaces
from .results import write_results

HEARTBEAT_S, GRACE_S = 60, 180  # a trial whose worker was silent this long is stale: failed and queued again
PRUNE_AFTER = 0.25  # no pruning in the first quarter of a run: early validation says little
MAX_RETRIES = 2
# Settings that may differ between the workers and runs of one study: where things are, not what is trained.
LOCAL_KEYS = ("out", "data.root", "data.workers", "data.store", "train.device", "train.progress", "train.tracking")


@dataclass
class Sweep:
    """What one `weaklab sweep` searches and where it writes."""

    config: Config  # the base config: recipe, flags and --set; each trial adds its drawn values
    trials: int  # the study's total of finished trials
    out: str | Path
    storage: str | None = None  # an Optuna RDB URL; None: SQLite in out/study.db
    study_name: str | None = None  # None: <method>-<dataset>
    space_file: str | Path | None = None
    timeout: float | None = None  # seconds after which this worker starts no new trial
    pruning: bool = True


def run_sweep(sweep: Sweep) -> dict | None:
    """Run trials until the study has `sweep.trials` finished ones; write trials.csv, trials.md and best.yaml into
    `sweep.out` after each trial. Returns the best trial as {trial, value, step, params} (None while no trial has
    completed)."""
    optuna = _optuna()
    if os.environ.get("WORLD_SIZE", "1") != "1":
        raise WeaklabError("weaklab sweep runs as one process per machine (each trial is one run), not under torchrun")
    if sweep.trials < 1:
        raise WeaklabError(f"--trials must be at least 1, got {sweep.trials}")
    out, config = Path(sweep.out), sweep.config
    space = spaces.load_space(config, sweep.space_file)
    if sweep.storage is None:  # the default SQLite file lives in the sweep's folder
        out.mkdir(parents=True, exist_ok=True)
    url = sweep.storage or f"sqlite:///{(out / 'study.db').resolve()}"
    name = sweep.study_name or f"{config.method.name}-{Path(config.data.dataset).stem}"
    storage = _storage(optuna, url)
    out.mkdir(parents=True, exist_ok=True)
    study, metric = _open_study(optuna, storage, name, config, space, out)
    study.sampler = optuna.samplers.TPESampler(seed=(config.seed * 1_000_003 + len(study.trials)) % 2**32)
    study.pruner = optuna.pruners.MedianPruner(n_startup_trials=2) if sweep.pruning else optuna.pruners.NopPruner()
    finished = _finished(optuna, study)
    direction = "higher" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "lower"
    print(
        f"study {name} ({_shown(url)}): {finished} of {sweep.trials} trials finished; objective: validation "
        f"{metric}, {direction} is better; searching {spaces.describe(space)}",
        flush=True,
    )
    base = config.to_dict()

    def objective(trial) -> float:
        return _trial(optuna, study, trial, base, space, metric, out, sweep.pruning)

    def after_trial(study, frozen) -> None:
        _print_trial(optuna, study, frozen, metric, sweep.trials)
        write_results(study, out, metric, space, base)

    if finished < sweep.trials:
        try:
            study.optimize(
                objective,
                n_trials=sweep.trials - finished,
                timeout=sweep.timeout,
                callbacks=[optuna.study.MaxTrialsCallback(sweep.trials, states=_done_states(optuna)), after_trial],
            )
        except KeyboardInterrupt:  # the stopped trial is queued again: the tables say so
            write_results(study, out, metric, space, base)
            raise
    best = write_results(study, out, metric, space, base)
    if best is None:
        print(f"no trial has completed yet; wrote {out / 'trials.csv'}", flush=True)
        return None
    print(
        f"best: trial {best['trial']}, validation {metric} {best['value']:.4g} (step {best['step']}): "
        f"{_params(best['params'])}; wrote {out / 'best.yaml'} (train it with `weaklab train --config "
        f"{out / 'best.yaml'}`), {out / 'trials.csv'} and {out / 'trials.md'}",
        flush=True,
    )
    return best


def _trial(optuna, study, trial, base: dict, space: dict, metric: str, out: Path, pruning: bool) -> float:
    """One trial: its run trained (or, for a retry, resumed) and its best validation value."""
    params = spaces.suggest(trial, space)
    retry = "run_dir" in trial.user_attrs  # queued again after an interruption: same values, same directory
    run_dir = Path(trial.user_attrs.get("run_dir") or out / f"trial-{trial.number:04d}")
    trial.set_user_attr("run_dir", str(run_dir))
    config = resolve(base, {**params, "out": str(run_dir)})
    note = ""
    if retry:
        stopped = trial.user_attrs.get("retry_of")  # None: queued again by the heartbeat check
        note = f" (again: trial {stopped} was stopped)" if stopped is not None else " (again: its worker died)"
    print(f"trial {trial.number}{note}: {_params(params)} → {run_dir}", flush=True)

    def report(record: dict) -> None:
        value = record["val"].get(metric)
        if value is None or not math.isfinite(value):
            return
        trial.report(value, record["step"])
        epochs = config.train.epochs  # not in the first quarter, nor at the end, when stopping saves nothing
        if pruning and PRUNE_AFTER * epochs <= record["epoch"] < epochs and trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {record['step']}: validation {metric} {value:.4g}")

    try:
        summary = _train(config, run_dir, retry, report)
    except TrainingDiverged as e:  # a value that diverges is an answer too: this region is bad
        trial.set_user_attr("diverged", str(e).split(". ")[0])
        raise optuna.TrialPruned(f"diverged: {str(e).split('. ')[0]}") from None
    except KeyboardInterrupt:
        if set(params) == set(space):  # queued again first, same values: the retry resumes this run directory
            study.enqueue_trial(
                params, user_attrs={"run_dir": str(run_dir), "retry_of": trial.user_attrs.get("retry_of", trial.number)}
            )
        raise
    selected = summary["selected"]
    trial.set_user_attr("step", selected["step"])
    trial.set_user_attr("seconds", summary["wall_time_s"])
    return selected[f"val_{metric}"]


def _train(config: Config, run_dir: Path, retry: bool, report) -> dict:
    from ..engine.trainer import run_training

    if retry and (run_dir / "summary.json").is_file():  # finished just before the stop
        return json.loads((run_dir / "summary.json").read_text())
    resume = retry and (run_dir / "checkpoints" / "last.pt").is_file()
    summary = run_training(config, run_dir, resume=resume, overwrite=retry, on_evaluation=report)
    assert summary is not None  # one process: rank 0
    return summary


def _open_study(optuna, storage, name: str, config: Config, space: dict, out: Path):
    """The study `name`, created (its direction from the selection metric) or continued (after checking it was
    started with the same config and space); returns it with the metric its trials are judged on."""
    ours = {"config": _comparable(config), "space": space}
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:  # a new study: the data says which metric selects, and in which direction
        # checked at once, before the data loads: a second worker starting now must not see the first's trials
        leftovers = sorted(out.glob("trial-*"))
        if leftovers:
            raise WeaklabError(
                f"{out} holds trial runs ({leftovers[0].name}, ...) of a sweep whose study {name} is not in this "
                "storage; choose another --out, or give that sweep's --storage and --study-name"
            ) from None
        metric, higher = _selection(config)
        study = optuna.create_study(
            storage=storage, study_name=name, direction="maximize" if higher else "minimize", load_if_exists=True
        )
        if "weaklab" not in study.user_attrs:  # another worker may have created it a moment ago
            study.set_user_attr("weaklab", {**ours, "metric": metric})
    started = study.user_attrs.get("weaklab")
    if started is None:
        raise WeaklabError(f"study {name} was not started by weaklab sweep; give another --study-name")
    _check_same(started, ours, name)
    return study, started["metric"]


def _selection(config: Config) -> tuple[str, bool]:
    """The run's selection metric and whether higher is better, as the trainer will choose it (loads the data)."""
    import torch

    from ..engine.experiment import build_data
    from ..engine.trainer import selection

    return selection(config, build_data(config, torch.device("cpu")))


def _comparable(config: Config) -> dict:
    values = flatten(config.to_dict(), sep=".")
    return {k: v for k, v in values.items() if k not in LOCAL_KEYS}


def _check_same(started: dict, ours: dict, name: str) -> None:
    """A study is one base config and one space: continuing it with others would mix trials of different runs."""
    for part, what in (("config", "config key"), ("space", "search space entry")):
        theirs, mine = started[part], ours[part]
        for key in sorted(set(theirs) | set(mine)):
            if theirs.get(key) != mine.get(key):
                raise WeaklabError(
                    f"study {name} was started with {what} {key} = {theirs.get(key)!r}, this sweep has "
                    f"{mine.get(key)!r}; continue it with the same settings, or start another study (--study-name "
                    "or --out)"
                )


def _storage(optuna, url: str):
    """The RDB storage with heartbeats, so that a trial whose worker died is failed and queued again."""
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}  # several local workers wait
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # Optuna 4.9 renamed the retry callback and its argument; earlier versions know only the old names
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):
            callback = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)
            retry = {"heartbeat_stale_trial_callback": callback}
        else:
            retry = {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=MAX_RETRIES)}
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S, **retry
            )
        except ImportError:  # a database driver that is not installed
            raise WeaklabError(
                f"the storage {_shown(url)} needs a database driver that is not installed: for PostgreSQL "
                "pip install psycopg2-binary, for MySQL pip install PyMySQL (URL mysql+pymysql://...)"
            ) from None
        except Exception as e:  # a malformed URL, an unreachable server, a bad password
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise WeaklabError(f"cannot open the study storage {_shown(url)}: {first}") from None


def _shown(url: str) -> str:
    """The storage URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{rest.split('@', 1)[1]}"
    return url


def _done_states(optuna) -> tuple:
    return (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def _finished(optuna, study) -> int:
    return len(study.get_trials(deepcopy=False, states=_done_states(optuna)))


def _print_trial(optuna, study, frozen, metric: str, total: int) -> None:
    state = frozen.state.name.lower()
    if frozen.state == optuna.trial.TrialState.COMPLETE:
        result = f"validation {metric} {frozen.value:.4g} (step {frozen.user_attrs.get('step')})"
    elif frozen.state == optuna.trial.TrialState.PRUNED:
        values = frozen.intermediate_values
        last = f" at step {max(values)}, validation {metric} {values[max(values)]:.4g}" if values else ""
        result = frozen.user_attrs.get("diverged") or f"stopped by the pruner{last}"
    else:
        result = "failed"
    best = ""
    if any(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        best = f"; best so far {study.best_value:.4g} (trial {study.best_trial.number})"
    print(f"trial {frozen.number} {state}: {result}{best}; {_finished(optuna, study)}/{total} finished", flush=True)


def _params(params: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _optuna():
    try:
        import optuna
    except ImportError:
        raise WeaklabError("weaklab sweep needs Optuna, which is not installed: pip install 'weaklab[sweep]'") from None
    # each trial gets weaklab's own line; a failed trial's error reaches the command line as it is
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna
