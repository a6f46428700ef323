"""A stage's relaxations as the supernet takes them, and their temperature schedules.

Temperature schedules (DESIGN §2): ``temperature a -> b`` anneals over the stage's
architecture-update epochs (epochs - warmup; or their steps with ``per step``) with
theta = (b/a)^(1/(E-1)) (linearly where the relaxation's option ``anneal`` says ``linear``);
``temperature T0 decay theta min m`` is T0 * theta^t clamped at m; t counts from the first
architecture update, as the DOTS code does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import SpecError, did_you_mean
from ..ir import Space
from ..lang.settings import RelaxSettings, StageSettings
from ..registry import EDGE_RELAXATION, OP_RELAXATION, Part, registry
from ..relax import Temperature

if TYPE_CHECKING:
    from ..relax.schedule import LinearTemperature


def _options(part: Part, entry: RelaxSettings) -> dict:
    return {o.name: entry.options[o.name] for o in part.options if o.name in entry.options}


def op_relaxation_object(s: StageSettings) -> Any:
    """What `Supernet` takes as ``op_relax``: the registered name, or an instance built with
    the entry's options when the relaxation declares any."""
    name, entry = s.op_relaxation()
    part = registry(OP_RELAXATION).part(name)
    if entry is None or not part.options:
        return name
    return registry(OP_RELAXATION).get(name)(**_options(part, entry))


def offset_bias(space: Space, op_relax: Any, bias: dict[str, float]) -> Any:
    """``op_relax`` (a name or an instance) with the eDARTS bias inside its softmax
    (`genospec.relax.bias.OffsetBias`); a bias naming an op the space lacks is a SpecError."""
    from ..relax.bias import OffsetBias
    from ..relax.ops import make_op_relaxation
    for name in bias:
        if name not in space.ops:
            raise SpecError(f"op bias names {name!r}, which is not an op of space "
                            f"{space.name!r}", hint=did_you_mean(name, space.ops))
    return OffsetBias(make_op_relaxation(op_relax), bias)


def edge_relaxation_object(s: StageSettings) -> Any:
    """What `Supernet` takes as ``edge_relax`` (None without one); the built-in ``combination``
    by name (the supernet reports its beta), others with options as an instance."""
    entry = s.relaxation("edges")
    if entry is None:
        return None
    part = registry(EDGE_RELAXATION).part(entry.method)
    if part.name == "combination" or not part.options:
        return part.name
    return registry(EDGE_RELAXATION).get(part.name)(**_options(part, entry))


def temperature(entry: RelaxSettings | None, anneal_epochs: int,
                steps_per_epoch: int) -> "Temperature | LinearTemperature":
    """The schedule of one ``relax`` entry (constant 1 without an entry)."""
    if entry is None:
        return Temperature(1.0)
    per = entry.per
    if entry.t_end is not None:
        span = anneal_epochs * (steps_per_epoch if per == "step" else 1)
        if span < 2:  # one annealing epoch or step (quick runs): T0 throughout
            return Temperature(entry.t0, 1.0, per, None)
        if entry.options.get("anneal") == "linear":  # GDAS, SNAS (their option `anneal`)
            from ..relax.schedule import LinearTemperature
            return LinearTemperature(entry.t0, entry.t_end, span, per)
        return Temperature.from_range(entry.t0, entry.t_end, span, per)
    return Temperature(entry.t0, entry.decay if entry.decay is not None else 1.0, per, entry.min)
