"""Op relaxations: op logits alpha[E, O] and a temperature -> op weights w[E, O].

Every relaxation returns exactly 0 where ``layout.mask`` is False (an op that is no candidate
on an edge), so the supernet can skip those ops.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from ..errors import SpecError
from ..registry import OP_RELAXATION, Option, Registry, registry
from .layout import CellLayout, on

OP_RELAXATIONS: Registry[type["OpRelaxation"]] = registry(OP_RELAXATION)


class OpRelaxation(ABC):
    """Turns op logits into op weights. ``learnable`` False: alpha takes no gradient step."""

    learnable: bool = True
    # True: the weights' value is exactly 0 on ops that are not computed but their gradient is
    # not (GDAS' straight-through sample): the supernet adds those weights to the edge output
    # as scalars (`genospec.nn.mixed.EdgeMix.carry`) so that alpha receives it.
    straight_through: bool = False

    @abstractmethod
    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        """Op weights w[E, O] for logits ``alpha`` [E, O] at ``temperature``."""

    def selection_weights(self, alpha: Tensor, layout: CellLayout,
                          temperature: float = 1.0) -> Tensor:
        """The deterministic weights that selection rules and pictures read (a sampling
        relaxation's expectation or logits' softmax); by default `weights`."""
        return self.weights(alpha, layout, temperature)


def register_op_relaxation(name: str, *, options: tuple[Option, ...] = (),
        tags: tuple[str, ...] = ("ops",), words: tuple[str, ...] | None = None,
        doc: str = ""):
    """Class decorator adding a ``OpRelaxation`` subclass under ``name``; ``options`` are the
    keyword arguments its constructor takes, as a recipe writes them after the name
    (``relax ops NAME OPTION VALUE ...``), range-checked by the language."""
    return OP_RELAXATIONS.register(name, options=options, tags=tags, words=words, doc=doc)


def make_op_relaxation(name: "str | OpRelaxation", **options: object) -> OpRelaxation:
    """An instance of the op relaxation registered as ``name`` with ``options`` (an
    instance is returned as it is: a stage builds its configured relaxation itself)."""
    if isinstance(name, OpRelaxation):
        return name
    return OP_RELAXATIONS.get(name)(**options)


def masked_softmax(logits: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the last dimension restricted to ``mask``; exactly 0 elsewhere and on
    rows without any True entry (no NaN, in values or gradients)."""
    has_any = mask.any(dim=-1, keepdim=True)
    keep = mask | ~has_any  # all-masked rows: a harmless uniform softmax, zeroed below
    z = logits.masked_fill(~keep, float("-inf"))
    return torch.softmax(z, dim=-1) * mask


def _check(alpha: Tensor, layout: CellLayout, temperature: float) -> None:
    if tuple(alpha.shape) != layout.alpha_shape:
        raise ValueError(f"alpha has shape {tuple(alpha.shape)}, cell {layout.cell_name!r} "
                         f"needs {layout.alpha_shape}")
    if not temperature > 0:
        raise SpecError(f"temperature must be positive, got {temperature}")


class Softmax(OpRelaxation):
    """DARTS: w = softmax(alpha / T) over each edge's candidates (paper 002 eq. 2)."""

    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        _check(alpha, layout, temperature)
        return masked_softmax(alpha / temperature, on(layout.mask, alpha))


class GroupSoftmax(OpRelaxation):
    """DOTS group softmax (paper 000 eq. 4, paper 002 eq. 15-16): one softmax with temperature
    T inside each op group on each edge. The edge output sums the group mixtures, so the
    weights of each group that has candidates on an edge sum to 1 (an edge's weights sum to its
    number of such groups)."""

    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        _check(alpha, layout, temperature)
        if layout.group_of is None:
            raise SpecError(f"group softmax on cell {layout.cell_name!r} needs a space with "
                            "`groups`")
        z = alpha / temperature
        mask, group_of = on(layout.mask, alpha), on(layout.group_of, alpha)
        w = torch.zeros_like(z)
        for g in range(len(layout.group_names or ())):
            in_group = mask & (group_of == g)
            w = w + masked_softmax(z, in_group)
        return w


class Fixed(OpRelaxation):
    """DARTS-PT "blank": alpha held at 0, i.e. uniform weights over each edge's candidates."""

    learnable = False

    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        _check(alpha, layout, temperature)
        m = on(layout.mask, alpha).to(alpha.dtype)
        return m / m.sum(dim=-1, keepdim=True).clamp(min=1)
