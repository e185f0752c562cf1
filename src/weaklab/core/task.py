"""The task says what a network's output means, so the consistency methods need no copy per task.

Classification: outputs are logits; the quantity compared between two passes is the softmax.
Regression: outputs are a mean (column 0) and, for heteroscedastic networks, a log-variance (column 1), in
normalised target units; the quantity compared is the predicted mean. Targets are standardised with the labeled
training targets' mean and std (`encode`), and metrics are computed in the original units (`decode`).

`predictive(outs)` turns a stack of outputs (passes × N × out_dim, one pass for a plain forward, several for
MC dropout) into what is evaluated: class probabilities, or [mean, aleatoric var, epistemic var] per sample.

A task also owns its presentation: `summary_line(test)` writes its test metrics for a run's one-line summary, and
`test_plots` names the plots of the test predictions that engine.plots.draw_test draws for it at the end of a run.
"""

from __future__ import annotations

import torch

from ..errors import WeaklabError
from .losses import cross_entropy_sum_over, gaussian_nll, softmax_kl, softmax_mse
from .metrics import classification_metrics
from .regression_metrics import NOMINAL_LEVEL, regression_metrics, variance_scale


class Classification:
    selection_metric = "accuracy"  # chosen on validation, higher is better
    higher_is_better = True
    uses_reference = False  # test metrics need no validation predictions
    test_plots: tuple[str, ...] = ()  # the metric curves every run draws say it all

    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self.out_dim = num_classes

    def supervised_loss(self, out: torch.Tensor, labels: torch.Tensor, denominator: int) -> torch.Tensor:
        return cross_entropy_sum_over(out, labels, denominator)

    def summary(self, out: torch.Tensor) -> torch.Tensor:
        """What is ensembled and compared: class probabilities."""
        return out.float().softmax(-1)

    def consistency(self, out: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
        """Per-sample distance between an output and a target summary (softmax MSE, or KL)."""
        return softmax_kl(out, target) if kind == "kl" else softmax_mse(out, target)

    def predictive(self, outs: torch.Tensor) -> torch.Tensor:
        """Passes × N × C logits -> N × C probabilities (averaged over passes)."""
        return outs.float().softmax(-1).mean(0)

    def encode(self, labels: torch.Tensor) -> torch.Tensor:
        """Labels as the losses see them (class indices stay as they are)."""
        return labels

    def metrics(self, summaries: torch.Tensor, labels: torch.Tensor, reference=None) -> dict[str, float]:
        return classification_metrics(summaries, labels)

    @staticmethod
    def summary_line(test: dict) -> str:
        """The test metrics of a run's one-line summary."""
        return f"test accuracy {test['accuracy']:.4f}, nll {test['nll']:.4f}, ece {test['ece']:.4f}"

    def state_dict(self) -> dict:
        return {"kind": "classification", "num_classes": self.num_classes}

    def report(self, reference=None) -> dict:
        return self.state_dict()


# A log-variance beyond ±LOG_VAR_BOUND (σ² from 5e-5 to 2e4 target stds²) means a broken input; bounding it
# smoothly keeps exp(±s) finite for extreme inputs while leaving its gradient alive.
LOG_VAR_BOUND = 10.0


class Regression:
    selection_metric = "mse"  # validation MSE, lower is better (the UCVME paper's model selection)
    higher_is_better = False
    uses_reference = True  # test metrics fit a noise variance and a σ-scale on validation predictions
    out_dim = 1  # a plain network predicts the mean ...
    out_dim_with_variance = 2  # ... a heteroscedastic one the mean and the log-variance
    test_plots = ("predicted_vs_true", "coverage")  # test means with error bars; observed vs nominal coverage

    def __init__(self, target_mean: float = 0.0, target_std: float = 1.0):
        if not target_std > 0:
            raise WeaklabError(f"the labeled training targets have std {target_std}; regression needs varied targets")
        self.target_mean, self.target_std = float(target_mean), float(target_std)

    @classmethod
    def fit(cls, labeled_targets) -> Regression:
        """Standardisation from the labeled training targets only (unlabeled and held-out targets are unseen)."""
        y = torch.as_tensor(labeled_targets, dtype=torch.float64)
        std = y.std().item() if len(y) > 1 else 1.0
        return cls(y.mean().item(), std if std > 1e-12 else 1.0)

    # --- targets in and out of normalised units ---------------------------------------------------------
    def encode(self, targets: torch.Tensor) -> torch.Tensor:
        return (targets.float() - self.target_mean) / self.target_std

    def decode(self, summaries: torch.Tensor) -> torch.Tensor:
        """[mean, aleatoric var, epistemic var] (normalised) -> the same in original target units."""
        scale = torch.tensor([self.target_std, self.target_std**2, self.target_std**2], dtype=summaries.dtype)
        shift = torch.tensor([self.target_mean, 0.0, 0.0], dtype=summaries.dtype)
        return summaries * scale.to(summaries.device) + shift.to(summaries.device)

    # --- what outputs mean ------------------------------------------------------------------------------
    @staticmethod
    def mean(out: torch.Tensor) -> torch.Tensor:
        return out[:, 0].float()

    @staticmethod
    def log_var(out: torch.Tensor) -> torch.Tensor:
        """The log-variance head, smoothly bounded to ±LOG_VAR_BOUND so exp(±s) stays finite."""
        return LOG_VAR_BOUND * torch.tanh(out[:, 1].float() / LOG_VAR_BOUND)

    def supervised_loss(self, out: torch.Tensor, targets: torch.Tensor, denominator: int) -> torch.Tensor:
        """Σ over labeled rows of the squared error (mean-only network) or the Gaussian NLL
        ½[exp(−s)(μ − y)² + s] (mean + log-variance network), divided by `denominator`."""
        if out.shape[1] >= 2:
            return gaussian_nll(self.mean(out), self.log_var(out), targets).sum() / denominator
        return (self.mean(out) - targets.float()).pow(2).sum() / denominator

    def summary(self, out: torch.Tensor) -> torch.Tensor:
        """What is ensembled and compared: the predicted mean (N × 1)."""
        return out[:, :1].float()

    def consistency(self, out: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
        """Per-sample squared error between predicted means."""
        if kind != "mse":
            raise WeaklabError(
                f"regression compares predicted means by squared error; consistency {kind!r} is for classification"
            )
        return (self.summary(out) - target.float()).pow(2).mean(-1)

    def predictive(self, outs: torch.Tensor) -> torch.Tensor:
        """Passes × N × out_dim -> N × 3: mean of μ, aleatoric var = mean exp(s) (NaN without a variance head),
        epistemic var = variance of μ across the passes (0 for one pass)."""
        mu = outs[..., 0].float()
        if outs.shape[-1] >= 2:
            aleatoric = torch.stack([self.log_var(o).exp() for o in outs]).mean(0)
        else:
            aleatoric = torch.full_like(mu[0], float("nan"))
        return torch.stack([mu.mean(0), aleatoric, mu.var(0, unbiased=False)], dim=1)

    def metrics(self, summaries: torch.Tensor, targets: torch.Tensor, reference=None) -> dict[str, float]:
        """MAE, RMSE, R², Gaussian NLL, coverage, std/|error| rank correlation, in original units.

        Without a variance head the aleatoric variance is homoscedastic: the mean squared error on `reference`
        (summaries, targets) — the validation split — or on this split when no reference is given."""
        noise_var = self._noise_var(reference)
        scale = None
        if reference is not None:  # σ-scaling fitted on validation: reported beside the raw NLL and coverage
            scale = variance_scale(self.decode(reference[0].float().cpu()), reference[1].float().cpu(), noise_var)
        return regression_metrics(self.decode(summaries.float().cpu()), targets.float().cpu(), noise_var, scale)

    def _noise_var(self, reference) -> float | None:
        if reference is None:
            return None
        summaries, targets = reference
        return (self.decode(summaries.float().cpu())[:, 0] - targets.float().cpu()).pow(2).mean().item()

    @staticmethod
    def summary_line(test: dict) -> str:
        """The test metrics of a run's one-line summary, in original target units."""
        return (
            f"test MAE {test['mae']:.4g}, RMSE {test['rmse']:.4g}, R² {test['r2']:.4f}, NLL {test['nll']:.4f}, "
            f"coverage@{100 * NOMINAL_LEVEL:g}% {test['coverage']:.3f}"
        )

    def state_dict(self) -> dict:
        return {"kind": "regression", "target_mean": self.target_mean, "target_std": self.target_std}

    def report(self, reference=None) -> dict:
        """The normalisation, and the homoscedastic noise variance (original units) used where the network
        has no variance head: what `weaklab predict` reports as aleatoric spread for such runs."""
        return {**self.state_dict(), "homoscedastic_noise_var": self._noise_var(reference)}


def task_from_state(state: dict):
    """Rebuild the task saved in a checkpoint."""
    if state["kind"] == "regression":
        return Regression(state["target_mean"], state["target_std"])
    return Classification(state["num_classes"])


def task_from_summary(summary: dict):
    """The task of a finished run, from its summary.json (`task`: the task's report, a superset of its state).
    Summaries written before regression existed have no `task`: those runs were classification."""
    state = summary.get("task") or {"kind": "classification", "num_classes": None}
    return task_from_state(state)
