"""The maths of learning from imprecise labels with the true label as a latent variable (ILL, Chen et al. 2024).

A sample's information is a candidate set S (one class for a label, several for a partial label, every class when
unlabeled) and whether it may be wrong (untrusted). With T[i, j] = P(given j | true i), the likelihood of what was
observed under each true class c is

    trusted:    1[c ∈ S]                    (the set holds the true class)
    untrusted:  Σ_{j ∈ S} T[c, j]            (sum: the set was drawn around a given label, one of its members,
                                             which the noise produced from c; for a label, T[c, y])
                or Π_{j ∈ S} T[c, j]         (product: the official code's, as if each member were a noisy label)

The E-step's target is the model's posterior times that likelihood, renormalised; the observed information's own
likelihood under the model, p̃ = p·T for untrusted rows (p for trusted ones), is the M-step's supervised term.
"""

from __future__ import annotations

import torch


def transition_logits(num_classes: int, scale: float = 1.0) -> torch.Tensor:
    """The logits V of T = softmax(V) by rows at the start: the identity, times `scale` (ILL's initialisation; its
    code's scale is 1 on CIFAR-10, 2 on CIFAR-100). T then starts diagonal-dominant, e^s / (e^s + C − 1) on the
    diagonal, far enough from one-hot that the softmax has a gradient to learn the noise from."""
    return torch.eye(num_classes) * scale


def observed_likelihood(
    candidates: torch.Tensor, untrusted: torch.Tensor, transition: torch.Tensor | None, sets: str = "sum"
):
    """N×C: the likelihood of each sample's observed set under each true class (see the module docstring); `sets`:
    sum or product over an untrusted set's members. Both are T[c, y] for a label."""
    likelihood = candidates.float()
    if transition is None:
        return likelihood
    if sets == "sum":
        noisy = candidates.float() @ transition.T
    else:  # in log space: a product of many small entries would underflow
        noisy = torch.exp(candidates.float() @ transition.clamp_min(1e-12).log().T)
    return torch.where(untrusted[:, None], noisy, likelihood)


def em_targets(probs: torch.Tensor, likelihood: torch.Tensor) -> torch.Tensor:
    """The E-step: p(c | x, observed) ∝ p(c | x) · likelihood(observed | c); where every class has zero mass (a
    model sure of a class outside a trusted set), the likelihood alone."""
    joint = probs.float() * likelihood
    total = joint.sum(-1, keepdim=True)
    fallback = likelihood / likelihood.sum(-1, keepdim=True).clamp_min(1e-30)
    return torch.where(total > 1e-30, joint / total.clamp_min(1e-30), fallback)


def observed_loss(
    probs: torch.Tensor, candidates: torch.Tensor, untrusted: torch.Tensor, transition: torch.Tensor | None
) -> torch.Tensor:
    """Per sample, the negative log-likelihood of the observed information under the model: −log p̃_y for a label,
    −Σ_{j∉S} log(1 − p̃_j) for a candidate set (the partial-label objective), p̃ = p·T where untrusted."""
    p = probs.float()
    if transition is not None:
        p = torch.where(untrusted[:, None], p @ transition, p)
    single = candidates.sum(-1) == 1
    label_nll = -(p.clamp_min(1e-12).log() * candidates).sum(-1)
    set_nll = -((~candidates).float() * torch.log(1.0 - p + 1e-7)).sum(-1)
    return torch.where(single, label_nll, set_nll)


def class_balance(probs: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the uniform prior against the batch's mean prediction: keeps every class in use."""
    mean = probs.float().mean(0).clamp(1e-6, 1.0)
    return -mean.log().mean()
