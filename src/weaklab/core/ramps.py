"""Ramp-up and ramp-down curves as plain functions of progress (steps or epochs, float)."""

from __future__ import annotations

import math


def sigmoid_rampup(t: float, length: float) -> float:
    """Gaussian ("sigmoid") ramp-up of Laine & Aila: exp(-5 (1 - clip(t/length, 0, 1))²); 1 when length is 0."""
    if length <= 0:
        return 1.0
    p = min(max(t / length, 0.0), 1.0)
    return math.exp(-5.0 * (1.0 - p) ** 2)


def gaussian_rampdown(t: float, total: float, length: float) -> float:
    """exp(-12.5 p²) over the last `length` units of `total`, p going 0 → 1; 1 before that."""
    if length <= 0:
        return 1.0
    p = min(max((t - (total - length)) / length, 0.0), 1.0)
    return math.exp(-12.5 * p**2)


def cosine_rampdown(t: float, total: float) -> float:
    """0.5 (1 + cos(π t / total)), from 1 to 0 over `total`."""
    if total <= 0:
        return 1.0
    p = min(max(t / total, 0.0), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * p))


def fixmatch_cosine(t: float, total: float) -> float:
    """cos(7π t / (16 total)): FixMatch's lr decay, from 1 to cos(7π/16) ≈ 0.195 at the end, no warm-up."""
    if total <= 0:
        return 1.0
    return math.cos(7 * math.pi * min(max(t / total, 0.0), 1.0) / 16)


def linear_rampup(t: float, length: float) -> float:
    """min(t / length, 1); 1 when length is 0."""
    if length <= 0:
        return 1.0
    return min(max(t / length, 0.0), 1.0)


def step_decay(t: float, milestones, gamma: float) -> float:
    """gamma ** (number of milestones reached)."""
    return gamma ** sum(t >= m for m in milestones)
