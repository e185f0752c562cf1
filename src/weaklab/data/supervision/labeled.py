"""What is known about each training sample, in one representation for every regime.

Classification: a boolean candidate matrix N×C. A labeled sample has one candidate (one-hot), an unlabeled one
has all classes, a partial label is its candidate set, and a noisy label is one-hot with `untrusted` set.
Generators turn clean labels into a regime with a seed and report what they produced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...errors import WeaklabError


@dataclass
class Supervision:
    candidates: torch.Tensor  # N×C bool
    untrusted: torch.Tensor  # N bool: the given label may be wrong (noisy-label regime)

    @classmethod
    def from_labels(cls, labels: np.ndarray, num_classes: int, labeled: np.ndarray | None = None) -> Supervision:
        """One-hot rows where `labeled` (default: every sample), all-candidate rows elsewhere."""
        y = torch.as_tensor(labels, dtype=torch.long)
        n = len(y)
        known = torch.ones(n, dtype=torch.bool) if labeled is None else torch.as_tensor(labeled, dtype=torch.bool)
        candidates = torch.ones(n, num_classes, dtype=torch.bool)
        onehot = torch.nn.functional.one_hot(y, num_classes).bool()
        candidates[known] = onehot[known]
        return cls(candidates, torch.zeros(n, dtype=torch.bool))

    def with_unlabeled(self, n: int, candidates: np.ndarray | None = None) -> Supervision:
        """The same rows followed by `n` samples without a label: all classes are candidates, or `candidates`
        (n×C, a user table's per-row sets)."""
        c = self.candidates
        more = torch.ones(n, c.shape[1], dtype=torch.bool) if candidates is None else torch.as_tensor(candidates)
        return Supervision(torch.cat([c, more]), torch.cat([self.untrusted, torch.zeros(n, dtype=torch.bool)]))

    @property
    def num_classes(self) -> int:
        return self.candidates.shape[1]

    @property
    def labeled(self) -> torch.Tensor:
        """Samples whose class is known (exactly one candidate)."""
        return self.candidates.sum(1) == 1

    @property
    def labels(self) -> torch.Tensor:
        """The single candidate of each labeled sample, -1 elsewhere."""
        return torch.where(self.labeled, self.candidates.float().argmax(1), -1)

    @property
    def unlabeled(self) -> torch.Tensor:
        """Samples about which nothing is known (every class a candidate)."""
        return self.candidates.all(1)

    @property
    def informed(self) -> torch.Tensor:
        """Samples with some information: a label or a candidate set (not every class)."""
        return ~self.unlabeled

    def report(self) -> dict:
        """The realised count of each kind: labels, candidate sets, unlabeled rows, and untrusted (maybe wrong)."""
        labeled = self.labeled
        per_class = torch.bincount(self.labels[labeled], minlength=self.num_classes)
        return {
            "num_samples": len(labeled),
            "num_labeled": int(labeled.sum()),
            "num_candidate_sets": int((self.informed & ~labeled).sum()),
            "num_unlabeled": int(self.unlabeled.sum()),
            "num_untrusted": int(self.untrusted.sum()),
            "labeled_per_class": per_class.tolist(),
        }


def semi_supervised(
    labels: np.ndarray,
    num_classes: int,
    *,
    labels_per_class: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
) -> Supervision:
    """Keep a balanced labeled subset (K per class, or a fraction of each class) and hide the other labels.

    Neither option: every sample is labeled (fully supervised).
    """
    labels = np.asarray(labels)
    if labels_per_class is not None and fraction is not None:
        raise WeaklabError("give either labels_per_class or labeled_fraction, not both")
    if labels_per_class is None and fraction is None:
        return Supervision.from_labels(labels, num_classes)
    counts = np.bincount(labels, minlength=num_classes)
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(labels), dtype=bool)
    if labels_per_class is not None:
        if labels_per_class < 1:
            raise WeaklabError(f"labels_per_class must be at least 1, got {labels_per_class}")
        smallest = int(counts.min())
        if labels_per_class > smallest:
            c = int(counts.argmin())
            raise WeaklabError(
                f"labels_per_class={labels_per_class} but class {c} has only {smallest} training samples; "
                f"choose at most {smallest}"
            )
    else:
        assert fraction is not None  # one of the two is given (neither: returned above)
        if not 0 < fraction <= 1:
            raise WeaklabError(f"labeled_fraction must be in (0, 1], got {fraction}")
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        if labels_per_class is not None:
            k = labels_per_class
        else:
            assert fraction is not None
            k = max(1, int(round(fraction * len(members))))
        keep[rng.permutation(members)[:k]] = True
    return Supervision.from_labels(labels, num_classes, keep)


@dataclass
class RegressionSupervision:
    """Regression: a target value per sample and whether it is known (the has-target mask)."""

    targets: torch.Tensor  # N float (raw units; meaningless where has_target is False)
    has_target: torch.Tensor  # N bool
    strata: int = 10  # quantile bins the labeled subset was balanced over

    @property
    def labeled(self) -> torch.Tensor:
        return self.has_target

    def with_unlabeled(self, n: int) -> RegressionSupervision:
        """The same rows followed by `n` samples without a target."""
        return RegressionSupervision(
            torch.cat([self.targets, torch.zeros(n, dtype=self.targets.dtype)]),
            torch.cat([self.has_target, torch.zeros(n, dtype=torch.bool)]),
            self.strata,
        )

    @property
    def labels(self) -> torch.Tensor:
        """Known targets, NaN elsewhere (never read for unlabeled samples)."""
        return torch.where(self.has_target, self.targets, torch.full_like(self.targets, float("nan")))

    def report(self) -> dict:
        known = self.targets[self.has_target]
        return {
            "num_samples": len(self.has_target),
            "num_labeled": int(self.has_target.sum()),
            "num_unlabeled": int((~self.has_target).sum()),
            "labeled_target_range": [float(known.min()), float(known.max())] if len(known) else [],
        }


def semi_supervised_regression(
    targets: np.ndarray,
    *,
    labels_per_class: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
    bins: int = 10,
) -> RegressionSupervision:
    """Keep a labeled `fraction` of the targets, balanced over `bins` target-quantile bins; hide the rest.

    No fraction: every target is known (fully supervised)."""
    from .splits import quantile_bins

    targets = np.asarray(targets, dtype=np.float32)
    if labels_per_class is not None:
        raise WeaklabError("labels_per_class is for classification; a regression dataset takes labeled_fraction")
    keep = np.ones(len(targets), dtype=bool)
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise WeaklabError(f"labeled_fraction must be in (0, 1], got {fraction}")
        keep[:] = False
        strata = quantile_bins(targets, bins)
        rng = np.random.default_rng(seed)
        for b in np.unique(strata):
            members = np.flatnonzero(strata == b)
            keep[rng.permutation(members)[: max(1, int(round(fraction * len(members))))]] = True
    return RegressionSupervision(torch.as_tensor(targets), torch.as_tensor(keep), bins)
