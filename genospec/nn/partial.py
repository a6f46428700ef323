"""Partial channel connections (PC-DARTS, Xu et al. 2020): a mixed edge over 1/K of the channels.

A `PartialChannelEdge` splits its input into the first C/K channels, which go through the
edge's candidate ops (built at C/K channels, so an edge holds about 1/K of the parameters and
activations of a full mixed edge), and the other C - C/K channels, which bypass the ops. The two
parts are concatenated, sub-sampled channels first, then shuffled with K groups, so that the
channels sampled by the next edge are not the ones this edge sampled. On a stride-2 edge the
bypassed channels are max-pooled 2x2 (stride 2) to the ops' output size, as in PC-DARTS.

The bypass is part of the edge's output: it is scaled by the edge weight when the supernet has
an edge relaxation (``EdgeMix.scale``; PC-DARTS multiplies its edge-normalised weight into the
whole edge output), and an edge whose every op weight is exactly 0 (dropped, fully masked)
outputs zeros, bypass included. K = 1 is a plain `MixedEdge`.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from ..errors import SpecError
from ..ir import Edge, OpDef
from .cell import EdgeBuilder
from .mixed import EdgeMix, MixedEdge, mixed_edges


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave ``groups`` equal channel groups: channel ``g * (C/groups) + i`` moves to
    ``i * groups + g``."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class PartialChannelEdge(MixedEdge):
    """A `MixedEdge` over the first ``chs // k`` channels; the rest bypass (module docstring)."""

    def __init__(self, edge: Edge, ops: Mapping[str, OpDef], chs: int, stride: int,
                 affine: bool, k: int, keep: str = "output"):
        if k < 1 or chs % k:
            raise SpecError(f"partial channels (pc {k}) need a channel count divisible by {k}, "
                            f"but edge {edge.src}->{edge.dst} has {chs} channels",
                            hint=f"choose supernet channels divisible by {k}")
        super().__init__(edge, ops, chs // k, stride, affine, keep)
        self.k = k
        self.chs = chs
        # ceil_mode: the same output size as the stride-2 ops also for odd input sizes
        self.bypass_pool = nn.MaxPool2d(2, 2, ceil_mode=True) if stride > 1 else nn.Identity()

    shares_across_edges = False  # each edge samples its own slice of the channels

    def forward(self, x: Tensor, mix: EdgeMix, shared: dict | None = None) -> Tensor:
        n, c, height, width = x.shape
        if not mix.active:  # the edge is off: nothing of it reaches the node
            s = self.stride
            return x.new_zeros(n, c, -(-height // s), -(-width // s))
        part = c // self.k
        mixed = super().forward(x[:, :part], mix)
        bypass = self.bypass_pool(x[:, part:])
        if mix.scale is not None:
            bypass = mix.scale * bypass
        return channel_shuffle(torch.cat([mixed, bypass], dim=1), self.k)


def partial_channel_edges(ops: Mapping[str, OpDef], k: int, keep: str = "output") -> EdgeBuilder:
    """An edge builder for `build_network`: `PartialChannelEdge`s with proportion 1/``k``
    (`mixed_edges` for ``k == 1``), whose recomputing ops keep ``keep`` for backward."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise SpecError(f"partial channels: pc must be a positive integer, got {k!r}")
    if k == 1:
        return mixed_edges(ops, keep)

    def build(edge: Edge, chs: int, stride: int, affine: bool) -> nn.Module:
        return PartialChannelEdge(edge, ops, chs, stride, affine, k, keep)

    return build
