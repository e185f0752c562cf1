"""The training loop. It knows no method or dataset by name: it samples, steps, evaluates and checkpoints.

    for step in range(total):
        batch  = gather(sampler plan of this epoch)          # indices → device tensors, no per-sample Python
        loss   = method.training_step(batch, progress)       # the method's maths
        backward, [torchrun: average gradients], clip, optimizer step, method.after_optimizer_step
        [torchrun: gather the per-sample state the step wrote]
        at the end of an epoch: method.on_epoch_end
        every eval_every steps: validate, log, save last.pt (and best.pt when validation improved)
    finally: evaluate the best checkpoint on test once, write summary.json and plots.

A checkpoint holds the method (weights, teacher, per-sample state), optimizer, RNG states and loop position, so a
resumed run continues exactly where the killed one stopped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ..config import Config
from ..core.label_issues import write_classes
from ..core.metrics import HIGHER_IS_BETTER, candidate_metrics
from ..core.task import Classification
from ..errors import WeaklabError
from ..methods import Batch, Progress
from . import checkpoint, plots
from .clock import NoClock
from .distributed import SINGLE, NoLogger, World
from .experiment import Experiment, build_experiment, uses_bf16
from .logger import RunLogger, strict_json
from .monitor import LossMonitor
from .optim import build_optimizer
from .progress import ProgressReport
from .rundir import claimed
from .tracking import check_tracking, tracked

EVAL_SEED = 0  # the random stream of every evaluation (MC-dropout passes)
# Under this many optimizer steps a network trained from scratch has not finished learning: 100 MNIST labels, seed 0,
# supervised, 38 steps 46 %, 80 steps 73 %, 240 steps 88 % (docs/SCHEDULES.md). The run says so; it changes nothing.
FEW_STEPS = 100


@torch.no_grad()
def predict_summaries(method, batches, precision_ctx=contextlib.nullcontext) -> torch.Tensor:
    """What the method predicts (class probabilities; regression: mean, aleatoric and epistemic variance), in
    eval mode, over an iterable of input batches."""
    was_training = method.training
    method.eval()
    outs = []
    device = next(method.parameters()).device
    # Sampling predictors (UCVME's MC dropout) draw from a fixed seed, on a forked generator: the same checkpoint
    # gives the same metrics in training's final evaluation and in `weaklab eval`, and training's own random
    # stream is left as it was.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(EVAL_SEED)
        for x in batches:
            with precision_ctx():
                outs.append(method.predict_summary(x).float())
    method.train(was_training)
    return torch.cat(outs)


# A coarse selection metric ties often on a small validation split (15 wines: 16 possible accuracies), and the
# earliest of the tied checkpoints is the least trained: a tie goes to the lower validation NLL instead.
TIEBREAK = {"accuracy": "nll"}


def selection(config: Config, data) -> tuple[str, bool]:
    """The validation metric that chooses best.pt, and whether higher is better: train.selection_metric, else
    (partial labels: validation holds candidate sets, not labels) the label-free approx_accuracy as in PL-CR's
    protocol, else the task's."""
    label_free = "approx_accuracy" if data.val_candidates is not None else None
    metric = config.train.selection_metric or label_free or data.task.selection_metric
    return metric, HIGHER_IS_BETTER.get(metric, data.task.higher_is_better)


class Trainer:
    def __init__(
        self,
        experiment: Experiment,
        run_dir: Path,
        world: World = SINGLE,
        on_evaluation: Sequence[Callable[[dict], None]] = (),
    ):
        self.x, self.run_dir = experiment, Path(run_dir)
        self.on_evaluation = tuple(on_evaluation)  # each called with every evaluation's record: tracking, pruning
        cfg = experiment.config.train
        self.cfg = cfg
        self.world, self.clock = world, NoClock()  # torchrun processes; phase timing (bench speed only)
        world.check_batch(cfg.batch_labeled, cfg.batch_unlabeled)
        self.method = world.prepare(experiment.method, cfg.sync_batchnorm)
        if experiment.device.type == "cuda":
            torch.backends.cudnn.benchmark = cfg.cudnn_benchmark
        if cfg.compile:  # in place: state_dict keys stay those of the plain networks
            # forward and backward compiled (AOTAutograd); the optimizer (fused Adam / foreach SGD) and the EMA
            # (foreach) are already one kernel per group of tensors. A network that fails to compile (no compiler,
            # an unsupported op) runs eagerly, with torch's warning, rather than stopping the run.
            torch._dynamo.config.suppress_errors = True
            for network in self.method.children():
                network.compile(mode=cfg.compile_mode)
        self.optimizer = build_optimizer(cfg, self.method.trainable_parameters(), self.method.lr_scales())
        self.spe = experiment.sampler.steps_per_epoch
        self.schedule = experiment.schedule
        self.total_steps = cfg.epochs * self.spe
        self.eval_every = cfg.eval_every or self.spe
        redraws = max(cfg.plot_redraws, 1)  # ~plot_redraws redraws a run
        self.plot_every = self.eval_every * max(1, self.total_steps // self.eval_every // redraws)
        self.step, self.elapsed = 0, 0.0
        self.best_metric: float | None = None  # the selection metric's best value so far, and its step
        self.best_step: int | None = None
        self.last_metric: float | None = None
        self.best_key: list[float] | None = None  # what best.pt maximises (selection_key), and this step's
        self.last_key: list[float] | None = None
        self.labels = experiment.method.task.encode(experiment.data.supervision.labels).to(experiment.device)
        self.selection_metric, self.higher_is_better = selection(experiment.config, experiment.data)
        self.monitor = LossMonitor(experiment.device, cfg.max_loss)
        self.autocast = (
            (lambda: torch.autocast(experiment.device.type, dtype=torch.bfloat16))
            if uses_bf16(experiment.config, experiment.device)
            else contextlib.nullcontext
        )

    # --- checkpoints -------------------------------------------------------------------------------------

    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def state(self) -> dict:
        x = self.x
        predictor = next(n for n, m in self.method.named_children() if m is self.method.predictor())
        return {
            "step": self.step,
            "config": x.config.to_dict(),
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "views": x.views.state_dict(),
            "rng": checkpoint.rng_state(),
            "rank_rng": self.world.rng_states(x.views),  # torchrun: each rank's streams (None for one process)
            "loop": {
                "best_metric": self.best_metric,
                "best_step": self.best_step,
                "best_key": self.best_key,
                "elapsed": self.elapsed,
                "metric": self.last_metric,  # this step's validation value: what selects it if it is best.pt
                "key": self.last_key,
            },
            "predictor": predictor,
            "model_spec": x.spec,
            "normalizer": x.data.normalizer.state_dict(),
            "classes": list(x.data.classes),
            "task": self.method.task.state_dict(),  # regression: the target normalisation
            "context": context_state(self.method.ctx),  # enough to rebuild the method without the data
        }

    def restore(self, path: Path) -> None:
        state = checkpoint.load(path, map_location=self.x.device)
        self.method.load_state_dict(state["method"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.x.views.load_state_dict(state["views"])
        checkpoint.set_rng_state(state["rng"])
        self.step = state["step"]
        self.world.restore_rng(state.get("rank_rng"), self.x.views, self.x.config.seed, self.step)
        loop = state["loop"]
        self.best_metric, self.best_step, self.elapsed = loop["best_metric"], loop["best_step"], loop["elapsed"]
        self.best_key = loop.get("best_key")
        # The selection is best.pt's own step and validation value (last.pt's record is ahead of the file when
        # a full disk stopped the write of best.pt). Without best.pt, last.pt becomes the selection so far.
        best_path = self.ckpt_dir / "best.pt"
        if not best_path.is_file() and self.world.is_main:
            checkpoint.link(path, best_path)
        best = checkpoint.load(best_path if best_path.is_file() else path, mmap=True)
        if "metric" in best["loop"]:
            self.best_metric, self.best_step = best["loop"]["metric"], best["step"]
            self.best_key = best["loop"].get("key")

    def effective_schedule(self) -> dict:
        """Every schedule of the run in this run's epochs (lengths given as shares resolved), EMA in steps."""
        out: dict[str, object] = {
            "total_steps": self.total_steps,
            "epochs": self.cfg.epochs,
            "steps_per_epoch": self.spe,
        }
        out.update(self.schedule.describe())
        out.update(self.x.method.schedule())
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}

    def step_notes(self) -> list[str]:
        """A line where the run has too few optimizer steps to train a network: --epochs counts passes over the data,
        and on a small data set a few epochs are a few dozen steps."""
        if self.total_steps >= FEW_STEPS:
            return []
        return [
            f"this run has {self.total_steps} optimizer steps ({self.spe} per epoch), under {FEW_STEPS}: a network "
            f"trained from scratch ends far from its accuracy (docs/SCHEDULES.md); raise --epochs"
        ]

    def view_notes(self) -> list[str]:
        """A line where the views hold back an augmentation only because the data does not say it is safe, or where
        rows read as features could be images."""
        d, task = self.x.data, self.x.method.task
        if (
            d.flip is None
            and self.x.config.views.flip is None
            and len(d.sample_shape) == 3
            and isinstance(task, Classification)
        ):
            # Mirror-invariant classes are common (objects, animals) and the flip is a large gain there (BENCHMARKS.md:
            # Animal-MNIST); it is never turned on by guess, since it corrupts digits, letters and angles.
            return [
                "no horizontal flips: your data does not say whether a mirror image keeps its class; "
                "if it does (objects, animals, scenes) add --flip, otherwise --no-flip"
            ]
        if len(d.sample_shape) == 1 and (shape := _square_image(d.sample_shape[0])):
            # A CSV of pixel columns is a common way to ship images; as features they get an MLP and no image
            # views (100 MNIST labels, 10 epochs: 71.7 % as 784 features, 91.9 % as 28×28 images: docs/DATA.md).
            return [
                f"your {d.sample_shape[0]} features are read as a table; if each row is a {shape.replace('x', '×')} "
                f"image, --image-shape {shape} trains a convolutional network with image views"
            ]
        return []

    # --- the loop ----------------------------------------------------------------------------------------

    def fit(self, resume: bool = False) -> dict | None:
        if resume:
            self.restore(self.ckpt_dir / "last.pt")
        else:
            self.world.seed(self.x.views, self.x.config.seed, 0)
        main = self.world.is_main  # only rank 0 writes logs, plots and checkpoints
        if main and self.cfg.progress:
            print(
                "schedule (epochs unless named): "
                + ", ".join(f"{k}={v}" for k, v in self.effective_schedule().items()),
                flush=True,
            )
            notes = self.method.supervision_notes(self.x.data.supervision) + self.view_notes() + self.step_notes()
            for note in notes + self.method.length_notes():
                print(f"note: {note}", flush=True)
        logger = RunLogger(self.run_dir, resume_step=self.step if resume else None) if main else NoLogger()
        method = self.method
        method.train()
        report = ProgressReport(self.total_steps, self.step, self.spe, self.cfg.progress and main)
        plan_epoch, plan = -1, None
        started = time.perf_counter() - self.elapsed
        try:
            while self.step < self.total_steps:
                epoch = self.step // self.spe
                if epoch != plan_epoch:
                    plan_epoch, plan = epoch, self.epoch_plan(epoch)
                self.train_step(plan, epoch)
                report.step(self.step, self.monitor.running_loss)
                if self.step % self.spe == 0:
                    method.on_epoch_end(epoch)
                if self.step % self.cfg.log_every == 0:
                    self._check()
                if self.step % self.eval_every == 0 or self.step == self.total_steps:
                    self._check()
                    record, improved = self._evaluate(time.perf_counter() - started)
                    logger.write(record)  # before the checkpoint: a resumed run rewrites lines after its step
                    for hook in self.on_evaluation:  # so too the hooks: a resumed run calls them again
                        hook(record)
                    self._save(improved)
                    if self.cfg.plot_redraws and self.step % self.plot_every == 0 and main:
                        plots.draw(self.run_dir, self.best_step)
                    metric = self.selection_metric
                    report.evaluated(record["train"]["loss"], metric, record["val"][metric])
        finally:
            report.close()
            logger.close()
            self.x.data.train.close()  # a host store's reading processes stop with the loop, killed or not
        if not main:
            self.world.barrier()  # rank 0 evaluates on test and writes the summary
            return None
        plots.draw(self.run_dir, self.best_step)
        summary = self._finish()
        self.world.barrier()
        return summary

    def epoch_plan(self, epoch: int) -> list[torch.Tensor]:
        """The epoch's index plan (this rank's share), moved to the device once. The training store is told the
        batches still to come, so a store that reads from host memory or files can fetch them ahead."""
        on_host = [self.world.shard(p) for p in self.x.sampler.epoch(epoch)]
        plan = [p.to(self.x.device) for p in on_host]
        n = len(plan) if self.method.uses_unlabeled else 1
        self.x.data.train.look_ahead(plan[:n], first_step=self.step % self.spe, on_host=on_host[:n])
        return plan

    def train_step(self, plan, epoch: int) -> None:
        """One optimizer step on the batch the plan gives for self.step (this rank's share under torchrun)."""
        i = self.step % self.spe
        idx_lb, idx_ulb = plan[0][i], plan[1][i]
        train = self.x.data.train
        batch = Batch(train[idx_lb], self.labels[idx_lb], idx_lb)
        if self.method.uses_unlabeled:
            batch.x_ulb, batch.idx_ulb = train[idx_ulb], idx_ulb
        self.clock.mark("sampling")
        self.optimize(batch, epoch)

    def optimize(self, batch: Batch, epoch: int) -> None:
        """The method's step on a batch, backward, gradient averaging, optimizer, after-step hooks."""
        method, clock = self.method, self.clock
        progress = Progress(self.step, epoch, self.spe)
        lr = self.schedule.apply(self.optimizer, progress.epochs_done)
        with self.autocast():
            loss, logs = method.training_step(batch, progress)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clock.mark("forward_backward")
        self.world.average_gradients(method.trainable_parameters())
        clock.mark("gradient_sync")
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(method.trainable_parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        clock.mark("optimizer")
        method.after_optimizer_step(progress)
        clock.mark("ema")
        self.world.sync_sample_state(method, batch)
        clock.mark("state_sync")
        self.monitor.update(self.step, loss, {**logs, "lr": lr})
        self.step += 1
        clock.mark("bookkeeping")

    def _check(self) -> None:
        last = self.ckpt_dir / "last.pt"
        kept = f"The last good checkpoint, {last}, is kept." if last.exists() else "No checkpoint had been written yet."
        self.monitor.bad_step = self.world.max_int(self.monitor.bad_step)  # every rank stops together
        self.monitor.check(self.spe, kept)

    def _evaluate(self, elapsed: float) -> tuple[dict, bool]:
        task = self.method.task
        self.elapsed = elapsed
        self.world.average_batchnorm(self.method)
        self.world.check_in_sync(self.method)
        probs = predict_summaries(self.method, self.x.data.val.batches(1024), self.autocast)
        val = task.metrics(probs, self.x.data.val_labels)
        if self.x.data.val_candidates is not None:  # partial labels: metrics that need no true label
            val.update(candidate_metrics(probs, self.x.data.val_candidates))
        train = self.world.mean_scalars(self.monitor.averages())
        self.monitor.reset()
        if self.selection_metric not in val:
            raise WeaklabError(
                f"train.selection_metric={self.selection_metric!r} is not a validation metric of this run; "
                f"choose one of {', '.join(val)}"
            )
        self.last_metric, self.last_key = val[self.selection_metric], self.selection_key(val)
        improved = self.best_key is None or self.last_key > self.best_key
        if improved:
            self.best_metric, self.best_step, self.best_key = self.last_metric, self.step, self.last_key
        record = {
            "step": self.step,
            "epoch": self.step / self.spe,
            "lr": train.pop("lr"),
            "train": train,
            "val": val,
            "time": round(elapsed, 3),
        }
        state = self.method.state_logs()
        if state:
            record["state"] = state
        return record, improved

    def selection_key(self, val: dict) -> list[float]:
        """What chooses best.pt, larger is better: the selection metric (negated where lower is better), then its
        tie-break (TIEBREAK, negated: lower is better)."""
        key = [val[self.selection_metric] if self.higher_is_better else -val[self.selection_metric]]
        tiebreak = TIEBREAK.get(self.selection_metric) if self.cfg.selection_tiebreak == "nll" else None
        return key + ([-val[tiebreak]] if tiebreak in val else [])

    def _save(self, improved: bool) -> None:
        state = self.state()  # on every rank: it gathers the ranks' random streams
        if not self.world.is_main:
            return
        checkpoint.save(state, self.ckpt_dir / "last.pt")
        if improved:
            checkpoint.link(self.ckpt_dir / "last.pt", self.ckpt_dir / "best.pt")

    def _finish(self) -> dict:
        """Evaluate the selected (best-on-validation) checkpoint on test, once; write summary.json."""
        best = checkpoint.load(self.ckpt_dir / "best.pt", map_location=self.x.device)
        self.method.load_state_dict(best["method"])
        task = self.method.task
        data = self.x.data
        reference = None  # regression: a homoscedastic variance and a σ-scale are fitted on validation
        if task.uses_reference:
            reference = (predict_summaries(self.method, data.val.batches(1024), self.autocast), data.val_labels)
        probs = predict_summaries(self.method, data.test.batches(1024), self.autocast)
        test = task.metrics(probs, data.test_labels, reference=reference)
        plots.draw_test(self.run_dir, task, probs, data.test_labels, reference)  # the plots the task asks for
        self.method.on_train_end(self.run_dir, data)
        cfg = self.x.config
        summary = {
            "method": cfg.method.name,
            "dataset": cfg.data.dataset,
            "seed": cfg.seed,
            "labels": self.x.data.report(),
            "model": self.x.spec["name"],
            "parameters": sum(p.numel() for p in self.method.predictor().parameters()),
            "steps": self.total_steps,
            "schedule": self.effective_schedule(),
            "views": self.x.views.describe(),
            "selected": {"step": self.best_step, "val_" + self.selection_metric: self.best_metric},
            "test": test,
            "task": task.report(reference),
            "wall_time_s": round(self.elapsed, 2),
            "device": str(self.x.device),
            "torch": torch.__version__,
        }
        (self.run_dir / "summary.json").write_text(strict_json(summary, indent=2) + "\n")
        if isinstance(task, Classification):  # what each probability column is
            write_classes(self.run_dir, list(data.classes))
        return summary


def context_state(ctx) -> dict:
    """The sizes a method is built with, saved so a run's method can be rebuilt for prediction."""
    keys = ("num_train", "num_labeled", "batch_labeled", "batch_unlabeled", "steps_per_epoch", "epochs")
    return {k: getattr(ctx, k) for k in keys}


def run_training(
    config: Config,
    run_dir: Path,
    resume: bool = False,
    overwrite: bool = False,
    on_evaluation: Callable[[dict], None] | None = None,
) -> dict | None:
    """Train (or resume) the run in `run_dir`; returns the summary (None on torchrun ranks other than 0).

    Rank 0 claims the run directory first (engine/rundir.py); every rank stops if it cannot. Rank 0 calls
    `on_evaluation(record)` after each evaluation is logged (a sweep's pruning), after `train.tracking`'s hook."""
    run_dir = Path(run_dir)
    check_tracking(config)  # a tracking backend that is not installed: one line, before anything is written
    world = World.from_env(config.train.device)  # torchrun: join the process group; else a world of one
    dataset = Path(config.data.dataset)
    try:
        with contextlib.ExitStack() as stack:
            error = None
            if world.is_main:
                try:
                    stack.enter_context(claimed(run_dir, resume, overwrite, data_dirs=[dataset]))
                except WeaklabError as e:
                    error = str(e)
            world.raise_together(error)
            if not resume and world.is_main:
                config.save(run_dir / "config.yaml")
            experiment = build_experiment(config)
            hooks = [stack.enter_context(tracked(config, run_dir, resume)), on_evaluation] if world.is_main else []
            return Trainer(experiment, run_dir, world, [h for h in hooks if h]).fit(resume=resume)
    finally:
        world.close()


def _square_image(features: int) -> str | None:
    """The image shape ("28x28", "3x32x32") that `features` values could be: one square grey or colour image of side
    ≥ 8; None if none."""
    for channels in (1, 3):
        side = round((features / channels) ** 0.5)
        if side >= 8 and channels * side * side == features:
            return f"{side}x{side}" if channels == 1 else f"3x{side}x{side}"
    return None
