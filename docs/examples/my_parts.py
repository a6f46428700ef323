"""An example genospec plugin (docs/extending.md): a custom op, an op relaxation, a selection rule
and a regulariser, each registered with its options and then named in my_search.gs."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genospec.nn.ops import register_op
from genospec.oplib import KindSignature
from genospec.registry import REGULARISER, Option, registry
from genospec.relax.layout import CellLayout
from genospec.relax.ops import OpRelaxation, masked_softmax, register_op_relaxation
from genospec.search.hooks import Regulariser
from genospec.search.select import best_per_edge, register_selection


# 1. an op kind: `gated = gated_conv(3)` in a space's ops block
@register_op("gated_conv", KindSignature(("kernel",), doc="ReLU, conv, BN, times a sigmoid gate"))
def gated_conv(op, chs: int, stride: int, affine: bool) -> nn.Module:
    k = int(op.args[0])
    conv = nn.Sequential(nn.ReLU(), nn.Conv2d(chs, chs, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(chs, affine=affine))
    return _Gated(conv)


class _Gated(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        return y * torch.sigmoid(y)


# 2. an op relaxation: `relax ops sharpened temperature 5 -> 1 strength 0.3`
@register_op_relaxation("sharpened", options=(
    Option("strength", float, 0.5, lo=0.0, hi=1.0, doc="how much of the squared weights mix in"),))
class Sharpened(OpRelaxation):
    """softmax(alpha / T), sharpened towards its square: (1 - s) w + s w^2 / sum(w^2)."""

    def __init__(self, strength: float = 0.5):
        self.strength = strength

    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        mask = layout.mask.to(alpha.device)
        w = masked_softmax(alpha / temperature, mask)
        sq = w * w
        sq = sq / sq.sum(dim=-1, keepdim=True).clamp(min=1e-12)
        return (1 - self.strength) * w + self.strength * sq


# 3. a selection rule: `select strongest` (here: the best op on every edge, then DARTS' rule)
@register_selection("strongest", doc="the argmax op on every edge (a reduced space)")
def strongest(space, cell_name, weights, op_names, *, gamma=None, beta=None):
    return best_per_edge(space, cell_name, weights, op_names, gamma=gamma, beta=beta)


# 4. a regulariser: `regularise alpha_l2 weight 0.01`
@registry(REGULARISER).register("alpha_l2", options=(
    Option("weight", float, 1e-3, lo=0.0, hi=10.0, doc="factor of the squared alpha norm"),))
class AlphaL2(Regulariser):
    """weight * ||alpha||^2 added to the architecture loss."""

    def __init__(self, weight: float = 1e-3):
        self.weight = weight
        self.last = 0.0

    def loss(self, model: nn.Module, phase: str) -> Tensor | None:
        if phase != "arch":
            return None
        term = self.weight * sum((a * a).sum() for a in model.arch_parameters())
        self.last = float(term.detach())
        return term

    def epoch_end(self, model: nn.Module, epoch: int) -> dict[str, float]:
        return {"alpha_l2": self.last}
