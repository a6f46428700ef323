"""Per-op bias on architecture logits (eDARTS "operation attention", paper 001 §IV-C).

What paper 001 says, and all it says: "in our final search settings for architectural
parameters, we add the following constant weight factors: 0.0006 to sep3x3 and 0.0004 to sep5x5
while subtracting the same from dil5x5 and dil3x3, which are empirically found to work best".
Read in the listed order that is +0.0006 sep_conv_3x3, +0.0004 sep_conv_5x5, -0.0006
dil_conv_5x5, -0.0004 dil_conv_3x3 (``EDARTS_OP_BIAS``). The paper does not say when the
constants are added nor whether to the logits or to the softmax weights, and no code was
published with it. Both readings of "architectural parameters" as the logits alpha exist
(`bias [accumulate|offset] op=value ...`, `BIAS_MODES`):

- ``accumulate`` (the default): the constants are added to alpha in place after every
  architecture update (`apply_op_bias`), a constant drift of the update (of the order of one
  Adam step at DARTS' architecture learning rate, 3e-4) that grows with the number of updates;
- ``offset``: a constant weight factor in the literal sense, softmax(alpha + b) (`OffsetBias`):
  alpha itself is left to the optimiser and the offset never grows.

"constant weight factors" reads most literally as ``offset``; the default stays ``accumulate``,
what genospec's eDARTS recipe ran before both existed, because a constant offset of 6e-4 on
logits of order 1e-3 to 1e-1 cannot change a selection that the data decide by more than that,
while the accumulating reading adds 50 * 6e-4 = 0.03 in a 50-epoch sparse-update search, which
is the size of the differences between ops' logits at the end: studies/README.md ("eDARTS op
bias") measures how often each reading decides the selection.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

from ..errors import SpecError, did_you_mean
from .layout import CellLayout
from .ops import OpRelaxation

BIAS_MODES = ("accumulate", "offset")

EDARTS_OP_BIAS: dict[str, float] = {
    "sep_conv_3x3": 0.0006,
    "sep_conv_5x5": 0.0004,
    "dil_conv_5x5": -0.0006,
    "dil_conv_3x3": -0.0004,
}


def apply_op_bias(alpha: Tensor, op_names: Sequence[str], bias: Mapping[str, float],
                  mask: Tensor | None = None) -> None:
    """Add ``bias[name]`` to op column ``name`` of ``alpha`` [E, O] in place, without autograd.

    Call it right after each architecture optimiser step. With ``mask`` only candidate entries
    change. A bias for an op that is not in ``op_names`` is a ``SpecError``.
    """
    columns = {o: i for i, o in enumerate(op_names)}
    if alpha.dim() != 2 or alpha.shape[1] != len(columns):
        raise ValueError(f"alpha has shape {tuple(alpha.shape)}, expected (E, {len(columns)})")
    offsets = torch.zeros(len(columns), dtype=alpha.dtype, device=alpha.device)
    for name, value in bias.items():
        if name not in columns:
            raise SpecError(f"op bias names {name!r}, which is not an op of this cell",
                            hint=did_you_mean(name, columns))
        offsets[columns[name]] = value
    with torch.no_grad():
        delta = offsets.expand_as(alpha)
        if mask is not None:
            delta = delta * mask.to(alpha.dtype)
        alpha.add_(delta)


def bias_vector(op_names: Sequence[str], bias: Mapping[str, float], like: Tensor) -> Tensor:
    """``bias`` as a vector over ``op_names`` (0 for an op without one; ops of ``bias`` that are
    not in ``op_names`` are ignored: another cell type's ops)."""
    return torch.tensor([float(bias.get(o, 0.0)) for o in op_names], dtype=like.dtype,
                        device=like.device)


class OffsetBias(OpRelaxation):
    """The ``offset`` reading of the eDARTS bias: ``inner``'s weights of alpha + b, where b[o]
    is ``bias`` of op o (module docstring). The bias is a constant: alpha's gradient and its
    optimiser are unchanged, and selection reads the biased weights too."""

    def __init__(self, inner: OpRelaxation, bias: Mapping[str, float]):
        self.inner, self.bias = inner, dict(bias)
        self.learnable = inner.learnable
        self.straight_through = inner.straight_through

    def _shift(self, alpha: Tensor, layout: CellLayout) -> Tensor:
        return alpha + bias_vector(layout.ops, self.bias, alpha)

    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        return self.inner.weights(self._shift(alpha, layout), layout, temperature)

    def selection_weights(self, alpha: Tensor, layout: CellLayout,
                          temperature: float = 1.0) -> Tensor:
        return self.inner.selection_weights(self._shift(alpha, layout), layout, temperature)
