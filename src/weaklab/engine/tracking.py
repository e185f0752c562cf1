"""Experiment tracking beside the run directory: `train.tracking: mlflow` mirrors a run into MLflow.

The run directory stays the record (metrics.jsonl, summary.json, plots; TensorBoard events when installed);
MLflow gets a copy: the flattened config as params when the run starts, each evaluation's metrics at its step,
and at the end the summary (test metrics, the selected step) with the summary, config and plots as artifacts.
Where: MLFLOW_TRACKING_URI when set, else ./mlruns (a local file store); the experiment is
MLFLOW_EXPERIMENT_NAME, else "weaklab". A resumed run continues its MLflow run: the run's id is kept in the
directory's tracking.json. MLflow is optional (`pip install weaklab[mlflow]`) and imported only here.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..config import Config
from ..errors import WeaklabError
from .logger import flatten

RUN_FILE = "tracking.json"  # {"tracking_uri", "run_id"}: the MLflow run this directory writes to
EXPERIMENT = "weaklab"
BATCH = 100  # MLflow takes at most 100 params in one call


def check_tracking(config: Config) -> None:
    """The tracking backend the config asks for is installed: checked before anything is written."""
    if config.train.tracking == "mlflow":
        _mlflow()


@contextlib.contextmanager
def tracked(config: Config, run_dir: Path, resume: bool = False) -> Iterator[Callable[[dict], None] | None]:
    """Mirror the run in `run_dir` while the block runs. Yields the hook for each evaluation's record (None: no
    tracking); as the block ends the MLflow run is marked finished, killed (Ctrl-C, SIGTERM) or failed."""
    if config.train.tracking == "none":
        yield None
        return
    run = MlflowRun(config, Path(run_dir), resume)
    try:
        yield run.log_evaluation
    except KeyboardInterrupt:
        run.end("KILLED")
        raise
    except BaseException:
        run.end("FAILED")
        raise
    run.finish()


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, else a file store in ./mlruns (MLflow 3's own default is an SQLite file, which needs
    SQLAlchemy: more than mlflow-skinny installs)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or (Path.cwd() / "mlruns").as_uri()


class MlflowRun:
    def __init__(self, config: Config, run_dir: Path, resume: bool):
        mlflow = _mlflow()
        self.uri, self.run_dir, self.broken = tracking_uri(), run_dir, False
        self.logged_up_to = -1  # a resumed run evaluates again after its checkpoint: MLflow has those steps
        if self.uri.startswith("file:") or "://" not in self.uri:  # a folder: MLflow's file store
            # MLflow 3 keeps its file store behind this opt-in; MLflow 2 ignores it
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            self.client = mlflow.MlflowClient(tracking_uri=self.uri)
            self.run_id = self._continued(run_dir / RUN_FILE) if resume else None
            if self.run_id is None:
                self.run_id = self._create(config)
        except Exception as e:  # MlflowException, a refused connection: the cause's first line
            raise WeaklabError(
                f"MLflow could not start a run at {self.uri} ({_first_line(e)}); check MLFLOW_TRACKING_URI, or "
                "train without train.tracking"
            ) from None
        (run_dir / RUN_FILE).write_text(json.dumps({"tracking_uri": self.uri, "run_id": self.run_id}) + "\n")

    def _continued(self, path: Path) -> str | None:
        """The MLflow run a resumed run wrote to, marked running again; None when there is none at this URI."""
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if saved.get("tracking_uri") != self.uri:
            return None
        try:
            self.client.update_run(saved["run_id"], status="RUNNING")
            logged = self.client.get_metric_history(saved["run_id"], "time")  # every evaluation logs its time
        except Exception:  # deleted since: start a new one
            return None
        self.logged_up_to = max((m.step for m in logged), default=-1)
        return saved["run_id"]

    def _create(self, config: Config) -> str:
        from mlflow.entities import Param

        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            try:
                experiment_id = self.client.create_experiment(name)
            except Exception:  # another process created it in the meantime
                experiment_id = self.client.get_experiment_by_name(name).experiment_id
        tags = {
            "weaklab.run_dir": str(self.run_dir.resolve()),
            "weaklab.method": config.method.name,
            "weaklab.dataset": config.data.dataset,
        }
        run_id = self.client.create_run(experiment_id, run_name=self.run_dir.name, tags=tags).info.run_id
        params = [Param(k, str(v)) for k, v in flatten(config.to_dict(), sep=".").items()]
        for i in range(0, len(params), BATCH):
            self.client.log_batch(run_id, params=params[i : i + BATCH])
        return run_id

    def log_evaluation(self, record: dict) -> None:
        """One evaluation's scalars (val/accuracy, train/loss, lr, time, state/...) at its step."""
        if record["step"] <= self.logged_up_to:
            return
        self._safely("logging metrics", lambda: self._log_metrics(flatten(record), record["step"]))

    def _log_metrics(self, values: dict, step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(key, float(v), now, step)
            for key, v in values.items()
            if key not in ("step", "epoch") and _is_number(v)
        ]
        self.client.log_batch(self.run_id, metrics=metrics)

    def finish(self) -> None:
        """The summary's test metrics and selected step, the summary, config and plots as artifacts."""
        summary_path = self.run_dir / "summary.json"
        if summary_path.is_file():

            def log_summary():
                summary = json.loads(summary_path.read_text())
                scalars = {"test": summary.get("test", {}), "selected": summary.get("selected", {})}
                self._log_metrics(flatten(scalars), summary.get("steps", 0))
                for name in ("summary.json", "config.yaml", "label_issues.csv"):
                    if (self.run_dir / name).is_file():
                        self.client.log_artifact(self.run_id, str(self.run_dir / name))
                if (self.run_dir / "plots").is_dir():
                    self.client.log_artifacts(self.run_id, str(self.run_dir / "plots"), "plots")

            self._safely("logging the summary", log_summary)
        self.end("FINISHED")

    def end(self, status: str) -> None:
        self._safely("ending the run", lambda: self.client.set_terminated(self.run_id, status), always=True)

    def _safely(self, what: str, action: Callable[[], None], always: bool = False) -> None:
        """A tracking failure mid-run (a server gone away) is reported once and training goes on: hours of
        training are worth more than their copy."""
        if self.broken and not always:
            return
        try:
            action()
        except Exception as e:
            if not self.broken:
                print(
                    f"weaklab: warning: MLflow failed {what} ({_first_line(e)}); the run goes on without MLflow, "
                    f"its directory {self.run_dir} keeps everything",
                    file=sys.stderr,
                )
            self.broken = True


def _mlflow():
    try:
        import mlflow
    except ImportError:
        raise WeaklabError(
            "train.tracking=mlflow needs MLflow, which is not installed: pip install 'weaklab[mlflow]'"
        ) from None
    return mlflow


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
