"""Exponential temperature schedules T(t) = T0 * theta^t (DOTS paper 000 eq. 5, paper 002 eq. 9).

A schedule is a pure function of the epoch or step count, so resuming a run needs no schedule
state. ``t`` counts from the start of annealing: the caller passes epochs (or steps) since the
architecture updates began, as the DOTS code does (T = 10 * rate^(epoch - search_start)).

Facts the defaults reproduce:
- DOTS topology stage (paper 003 §1: T0 = 10, theta = 0.72; paper 002 §5.1: "decay to 0.02"):
  ``Temperature(10, 0.72, minimum=0.02)``. The released code derives the rate from the range,
  (0.02 / 10)^(1/19) = 0.721 over its 20 annealing epochs, i.e. ``from_range(10, 0.02, 20)``.
- DOTS op temperature during the topology stage is the edge temperature / 1000 (paper 002
  Fig. 3: "T_alpha = 1/1000 T_beta"; the code divides the op logits by 1e-3 * T):
  ``edge_schedule.scaled(1e-3)``.
- DOTS (paper 000 §A.2) operation stage: T0 = 10, theta = 0.65, ending at 0.2 after its 10
  annealing epochs; ``from_range(10, 0.2, 10)`` gives theta = 0.647.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import SpecError


@dataclass(frozen=True)
class Temperature:
    """T(t) = t0 * theta^t, clamped below at ``minimum``; t counts epochs or steps (``per``)."""

    t0: float
    theta: float = 1.0
    per: Literal["epoch", "step"] = "epoch"
    minimum: float | None = None

    def __post_init__(self) -> None:
        if not self.t0 > 0:
            raise SpecError(f"initial temperature must be positive, got {self.t0}")
        if not self.theta > 0:
            raise SpecError(f"temperature decay must be positive, got {self.theta}")
        if self.minimum is not None and not self.minimum > 0:
            raise SpecError(f"minimum temperature must be positive, got {self.minimum}")
        if self.per not in ("epoch", "step"):
            raise SpecError(f"temperature decays per 'epoch' or 'step', not {self.per!r}")

    @classmethod
    def from_range(cls, start: float, end: float, epochs: int,
                   per: Literal["epoch", "step"] = "epoch") -> "Temperature":
        """``start -> end`` over ``epochs`` epochs (or steps): T(0) = start, T(epochs-1) = end,
        theta = (end/start)^(1/(epochs-1)) (DESIGN §2); held at ``end`` afterwards."""
        if epochs < 2:
            raise SpecError(f"a temperature range needs at least 2 epochs, got {epochs}")
        if not 0 < end <= start:
            raise SpecError(f"temperature range {start} -> {end} must decrease and stay positive")
        return cls(start, (end / start) ** (1.0 / (epochs - 1)), per, end)

    def at(self, t: int) -> float:
        """Temperature after ``t`` decays (t >= 0)."""
        if t < 0:
            raise ValueError(f"t must be >= 0, got {t}")
        value = self.t0 * self.theta ** t
        return value if self.minimum is None else max(value, self.minimum)

    def __call__(self, *, epoch: int, step: int) -> float:
        """Temperature at ``epoch`` (or global ``step``, whichever ``per`` counts)."""
        return self.at(epoch if self.per == "epoch" else step)

    def scaled(self, factor: float) -> "Temperature":
        """The schedule times ``factor`` (minimum included): DOTS op temperature = edge / 1000."""
        minimum = None if self.minimum is None else self.minimum * factor
        return Temperature(self.t0 * factor, self.theta, self.per, minimum)


@dataclass(frozen=True)
class LinearTemperature:
    """T(t) = start - (start - end) * t / (span - 1), held at ``end`` from t = span - 1 on:
    the linear annealing of GDAS (AutoDL-Projects GDAS.py: tau_max - (tau_max - tau_min) *
    epoch / (epochs - 1)) and SNAS (SNAS-Series utils.Temp_Scheduler). Same interface as
    `Temperature`; a sampling op relaxation's ``anneal linear`` chooses it for a
    ``temperature start -> end`` range (`genospec.search.config.temperature`)."""

    start: float
    end: float
    span: int
    per: Literal["epoch", "step"] = "epoch"

    def __post_init__(self) -> None:
        if not 0 < self.end <= self.start:
            raise SpecError(f"temperature range {self.start} -> {self.end} must decrease and "
                            "stay positive")
        if self.span < 2:
            raise SpecError(f"a temperature range needs at least 2 epochs, got {self.span}")
        if self.per not in ("epoch", "step"):
            raise SpecError(f"temperature decays per 'epoch' or 'step', not {self.per!r}")

    def at(self, t: int) -> float:
        if t < 0:
            raise ValueError(f"t must be >= 0, got {t}")
        if t >= self.span - 1:
            return self.end
        return self.start - (self.start - self.end) * t / (self.span - 1)

    def __call__(self, *, epoch: int, step: int) -> float:
        return self.at(epoch if self.per == "epoch" else step)

    def scaled(self, factor: float) -> "LinearTemperature":
        return LinearTemperature(self.start * factor, self.end * factor, self.span, self.per)
