"""The supernet's mixed edge: every candidate op of one edge, summed with its mixing weights.

An edge computes ``sum_o w_o * op_o(x)`` (DARTS eq. 1; DOTS paper 002 eq. 1) over its own
candidate list (RobustDARTS S1 and reduced spaces differ per edge). The supernet hands each edge
an `EdgeMix`: the edge's weights, one per candidate in ``edge.ops`` order, and the positions of
the candidates whose weight is non-zero. Only those ops run: an op annealed to exactly 0, masked
by DARTS-PT or dropped with its edge costs no compute. The zero op never runs either: its term
``w * 0`` adds nothing to the output and nothing to any gradient. A straight-through sampler
(GDAS) computes one op per edge; ``EdgeMix.carry`` adds the other candidates' weights (value 0)
to the output as one scalar, so their gradient still reaches alpha.

How each op runs is fixed when the edge is built, from what its kind declares
(`genospec.nn.capabilities.OpCapabilities`); a kind that declares nothing runs as ``op(x)``, its
output multiplied by its weight. Ops declaring a leading ReLU (sep_conv, dil_conv, conv,
nor_conv, conv_7x1_1x7) are built without it and share one ReLU of the edge input. Those that
also keep the tensor before the ReLU (separable and dilated convolutions) take it beside the
ReLU's output and keep it, not the ReLU's output, for backward (`genospec.nn.recompute`), so
the shared ReLU's output lives only through the forward.

Ops declaring ``scale_inside`` (separable and dilated convolutions) apply their own weight,
inside their last BatchNorm where they recompute (`genospec.nn.recompute.recomputed_chain` with
``scale``): the sum adds their outputs as they are, and their weights' gradients come from
BatchNorm's backward. ``keep`` (what recomputing ops keep for backward: `supernet checkpoint
ops` asks for ``"input"``) is handed to the ops' builders.

Inside a cell the edges leaving one node share more (`CompiledCell` hands each edge a dict per
source node): the ReLU is computed once per node, not per edge, and an op declaring
``shared_per_source`` (pooling with its affine-free BatchNorm, `genospec.nn.pool_bn`) once per
node and configuration, since each is the same function of the same input on every such edge.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import torch
from torch import Tensor, nn

from ..errors import SpecError
from ..ir import Edge, OpDef
from .capabilities import OpBuild
from .cell import EdgeBuilder
from .ops import build_op, op_capabilities
from .recompute import shared_relu


class EdgeMix(NamedTuple):
    """What a mixed edge needs from the supernet for one forward pass."""

    weights: Tensor  # [len(edge.ops)], in the edge's candidate order
    active: tuple[int, ...]  # candidates whose weight is non-zero
    scale: Tensor | None = None  # the edge weight gamma (already in ``weights``); None without
    # an edge relaxation. Only edges with an output beside their ops use it (partial channels).
    carry: Tensor | None = None  # a scalar added to the edge output: the sum of the weights of
    # the candidates not computed, value exactly 0, whose gradient reaches the architecture
    # (GDAS' straight-through sample, AutoDL-Projects ``forward_gdas``); None: nothing added.


class MixedEdge(nn.Module):
    """Every candidate op of one edge; ``forward(x, mix)`` sums the active ones."""

    shares_across_edges = True  # `CompiledCell` hands ``forward`` a dict per source node

    def __init__(self, edge: Edge, ops: Mapping[str, OpDef], chs: int, stride: int,
                 affine: bool, keep: str = "output"):
        super().__init__()
        unknown = [o for o in edge.ops if o not in ops]
        if unknown:
            raise SpecError(f"edge {edge.src}->{edge.dst}: op(s) {', '.join(unknown)} are not "
                            "in the op library")
        self.op_names = tuple(edge.ops)
        self.stride = stride
        caps = [op_capabilities(ops[o]) for o in edge.ops]
        self.ops = nn.ModuleList(
            build_op(ops[o], chs, stride, affine, OpBuild(relu=not c.leading_relu, keep=keep))
            for o, c in zip(edge.ops, caps))
        self._is_zero = tuple(ops[o].is_zero for o in edge.ops)
        self._after_relu = tuple(c.leading_relu for c in caps)
        self._pre = tuple(c.keeps_pre_relu for c in caps)
        self._scales = tuple(c.scale_inside for c in caps)
        # sharing across edges rests on an affine-free BatchNorm: the same output on every edge
        self._per_source = tuple(c.shared_per_source and not affine for c in caps)

    def forward(self, x: Tensor, mix: EdgeMix, shared: dict | None = None) -> Tensor:
        """``sum_o w_o * op_o(x)`` over the active ops. ``shared``: what the edges leaving the
        same node compute once for ``x`` (its ReLU, pooling+BatchNorm); the cell passes one dict
        per source node and forward."""
        out: Tensor | None = None
        relu_x: Tensor | None = None
        scaled: list[Tensor] = []  # outputs already multiplied by their weight
        # one view per candidate in one op (one autograd node) instead of an indexing op per
        # active candidate, each with its own backward and a sum of their gradients
        weights = mix.weights.unbind(0) if len(mix.active) > 1 else mix.weights
        for i in mix.active:
            if self._is_zero[i]:
                continue
            op = self.ops[i]
            options: dict = {}
            if self._after_relu[i]:
                if relu_x is None:
                    relu_x = shared_relu(x, {} if shared is None else shared)
                h_in = relu_x
                if self._pre[i]:  # it keeps x, not relu_x
                    options["pre"] = x
            else:
                h_in = x
            if self._per_source[i] and shared is not None:
                options["shared"] = shared
            if self._scales[i]:  # the op applies its weight itself
                scaled.append(op(h_in, scale=weights[i], **options))
                continue
            out = _accumulate(out, op(h_in, **options), weights[i])
        if scaled and out is None:  # ops' own outputs, which their backward may keep: a new sum
            out, scaled = (scaled[0] if len(scaled) == 1 else scaled[0] + scaled[1]), scaled[2:]
        for h in scaled:
            out = _accumulate(out, h, None)
        if out is None:
            s = self.stride
            n, c, height, width = x.shape
            out = x.new_zeros(n, c, -(-height // s), -(-width // s))
        if mix.carry is not None:  # not in place: ``out`` may be an op's own saved output
            out = out + mix.carry
        return out


def _accumulate(out: Tensor | None, h: Tensor, weight: Tensor | None) -> Tensor:
    """``out + weight * h`` (``out + h`` without a weight; ``weight * h`` when ``out`` is None),
    in place into ``out`` (one pass, no temporaries) unless an op's dtype differs (autocast),
    where the sum promotes as ``+`` would."""
    if out is None:
        return weight * h
    if out.dtype != h.dtype and out.dtype != torch.promote_types(out.dtype, h.dtype):
        return out + h if weight is None else torch.addcmul(out, h, weight)
    return out.add_(h) if weight is None else out.addcmul_(h, weight)


def mixed_edges(ops: Mapping[str, OpDef], keep: str = "output") -> EdgeBuilder:
    """An edge builder for `compile_cell`/`build_network`: a `MixedEdge` over each edge's ops,
    whose recomputing ops keep ``keep`` for backward."""

    def build(edge: Edge, chs: int, stride: int, affine: bool) -> nn.Module:
        return MixedEdge(edge, ops, chs, stride, affine, keep)

    return build
