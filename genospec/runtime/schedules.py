"""Learning-rate schedules, constant within an epoch (as DARTS' per-epoch schedulers)."""

from __future__ import annotations

import math

SCHEDULES = ("cosine", "constant", "step")


def cosine(lr: float, lr_min: float, t: int, span: int) -> float:
    """``lr`` annealed to ``lr_min`` by a half cosine: step ``t`` of ``span`` (CosineAnnealingLR)."""
    return lr_min + (lr - lr_min) * (1 + math.cos(math.pi * t / max(span, 1))) / 2


def learning_rate(schedule: str, lr: float, epoch: int, epochs: int, *, lr_min: float = 0.0,
                  warmup: int = 0, gamma: float = 1.0, period: int = 1) -> float:
    """The rate of (0-based) ``epoch`` of ``epochs``: a linear warm-up over ``warmup`` epochs,
    then ``cosine`` to ``lr_min``, ``constant``, or ``step`` (lr * gamma^(done // period))."""
    if epoch < warmup:
        return lr * (epoch + 1) / warmup
    done, span = epoch - warmup, epochs - warmup
    if schedule == "constant":
        return lr
    if schedule == "step":
        return lr * gamma ** (done // period)
    if schedule != "cosine":
        raise ValueError(f"unknown learning-rate schedule {schedule!r}")
    return cosine(lr, lr_min, done, span)
