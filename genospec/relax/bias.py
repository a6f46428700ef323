"""Per-op bias on architecture logits (eDARTS "operation attention", paper 001 §IV-C).

What paper 001 says, and all it says: "in our final search settings for architectural
parameters, we add the following constant weight factors: 0.0006 to sep3x3 and 0.0004 to sep5x5
while subtracting the same from dil5x5 and dil3x3, which are empirically found to work best".
Read in the listed order that is +0.0006 sep_conv_3x3, +0.0004 sep_conv_5x5, -0.0006
dil_conv_5x5, -0.0004 dil_conv_3x3 (``EDARTS_OP_BIAS``). The paper does not say when the
constants are added nor whether to the logits or to the softmax weights, and no code was
published with it. genospec reads "architectural parameters" as the logits alpha and adds the
constants in place after every architecture update, so they act as a constant drift of the
update (of the order of one Adam step at DARTS' architecture learning rate, 3e-4) and
accumulate with the number of updates, rather than a one-off shift that the optimiser would wash out.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

from ..errors import SpecError, did_you_mean

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
