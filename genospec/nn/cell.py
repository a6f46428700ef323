"""The cell compiler: one `ir.Cell` -> one nn.Module, shared by evaluation networks and supernets.

A compiled cell takes the raw outputs of the previous cells (``states``, oldest first, one per
cell input), preprocesses them to ``chs`` channels, computes every intermediate node as the sum
of its incoming edges (edges leaving a cell input carry the cell's stride), and forms its output
from the node subset the cell names (concat, sum or a single node). What runs on an edge is
decided by an ``edge_builder``; the default one builds the edge's single op.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from ..errors import SpecError
from ..ir import Cell, Edge, OpDef
from .concat import concat_channels
from .capabilities import OpBuild
from .ops import FactorizedReduce, ReLUConvBN, build_op, op_capabilities
from .recompute import shared_relu

EdgeBuilder = Callable[[Edge, int, int, bool], nn.Module]


class SingleOpEdge(nn.Module):
    """An edge running one op; any mixing weight passed to it is ignored. ``after_relu``: the op
    was built without its leading ReLU, and the cell hands it the source node's shared ReLU."""

    def __init__(self, op: nn.Module, after_relu: bool = False, keeps_pre: bool = False):
        super().__init__()
        self.op = op
        self.after_relu = after_relu
        self.keeps_pre = keeps_pre  # the op takes ``pre=`` (capability ``keeps_pre_relu``)

    def forward(self, x: torch.Tensor, weight: torch.Tensor | None = None,
                pre: torch.Tensor | None = None) -> torch.Tensor:
        """``pre``: the tensor ``x = relu(pre)`` came from, for an op that keeps it instead."""
        return self.op(x) if pre is None else self.op(x, pre=pre)

    @property
    def is_identity(self) -> bool:
        return isinstance(self.op, nn.Identity)

    @property
    def repeat_key(self) -> str | None:
        """For an op that is a fixed function of its input (a bare pooling layer: no
        parameters, no state), a key equal for every such op computing the same function; the
        cell computes it once per source node. None for every other op."""
        if isinstance(self.op, (nn.MaxPool2d, nn.AvgPool2d)):
            return repr(self.op)
        return None


def single_op_edges(ops: Mapping[str, OpDef]) -> EdgeBuilder:
    """The default edge builder: the edge's only op, looked up in the op library ``ops``."""

    def build(edge: Edge, chs: int, stride: int, affine: bool) -> nn.Module:
        try:
            name = edge.op
        except ValueError as e:
            raise SpecError(f"cannot build edge {edge.src}->{edge.dst} as a single op: {e}; "
                            "an evaluation network needs a genotype") from None
        if name not in ops:
            raise SpecError(f"edge {edge.src}->{edge.dst}: op {name!r} is not in the op library")
        caps = op_capabilities(ops[name])
        return SingleOpEdge(build_op(ops[name], chs, stride, affine,
                                     OpBuild(relu=not caps.leading_relu)),
                            caps.leading_relu, caps.keeps_pre_relu)

    return build


class DropPath(nn.Module):
    """Zero whole samples with probability ``rate`` in training, rescaling the rest (DARTS)."""

    def __init__(self) -> None:
        super().__init__()
        self.rate = 0.0

    def set_rate(self, rate: float) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"drop path rate must be in [0, 1), got {rate}")
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = torch.empty(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x / keep * mask


class CompiledCell(nn.Module):
    """A cell's modules and its forward; built by `compile_cell`."""

    def __init__(self, cell: Cell, preprocess: list[nn.Module], edges: list[nn.Module],
                 chs: int):
        super().__init__()
        self.cell_type = cell.name
        self.inputs = cell.inputs
        self.reduction = cell.reduction
        self.preprocess = nn.ModuleList(preprocess)
        # inputs whose preprocessing begins with a ReLU: it can take the ReLU's output instead,
        # computed once for every cell reading the same state (`Network.forward`)
        self.relu_inputs = tuple(isinstance(m, ReLUConvBN) and m.starts_with_relu
                                 for m in preprocess)
        self.edges = nn.ModuleList(edges)
        self.drop_path = DropPath()
        ir_edges = cell.edges()
        self._plan = [[(k, e.src) for k, e in enumerate(ir_edges) if e.dst == j]
                      for j in cell.node_ids]
        self._drops = [not getattr(m, "is_identity", False) for m in edges]
        # edges whose op was built without its leading ReLU read one shared ReLU of their source
        # node (computed and kept once, however many edges leave the node); supernet edges share
        # theirs inside `MixedEdge`
        self._after_relu = [getattr(m, "after_relu", False) for m in edges]
        self._keeps_pre = [getattr(m, "keeps_pre", False) for m in edges]
        # supernet edges (`MixedEdge`) share, per source node, what they compute alike
        self._shares = [getattr(m, "shares_across_edges", False) for m in edges]
        # single-op edges computing the same pooling of the same node (DARTS_V2's reduction
        # cell pools its two inputs five times with two functions) run it once per forward
        self._repeat_keys = [getattr(m, "repeat_key", None) for m in edges]
        out = cell.output
        self._out_kind = out.kind
        self._out_nodes = list(out.nodes)
        self.out_chs = chs * len(out.nodes) if out.kind == "concat" else chs

    def forward(self, states: Sequence[torch.Tensor],
                edge_weights: Sequence[torch.Tensor] | None = None,
                relu_states: Sequence[torch.Tensor | None] | None = None) -> torch.Tensor:
        """``relu_states[i]``, where given, is ``relu(states[i])`` computed by the caller for an
        input in `relu_inputs`: its preprocessing then skips its own ReLU."""
        if len(states) != self.inputs:
            raise ValueError(f"cell {self.cell_type!r} takes {self.inputs} inputs, got {len(states)}")
        if relu_states is None:
            nodes = [pre(s) for pre, s in zip(self.preprocess, states)]
        else:
            nodes = [pre(s) if r is None else pre(r, after_relu=True, pre=s)
                     for pre, s, r in zip(self.preprocess, states, relu_states)]
        # what the edges leaving a node compute once for it (its ReLU; a supernet's pooling),
        # one dict per source node
        shared: dict[int, dict] = {}
        repeated: dict[tuple[int, str], torch.Tensor] = {}
        for incoming in self._plan:
            total = None
            for k, src in incoming:
                edge = self.edges[k]
                x = nodes[src]
                pre = None
                if self._after_relu[k]:
                    # computed once per source node; on the CPU under autograd it keeps x, and
                    # the ops that keep x as well (`keeps_pre`) recompute from it
                    pre, x = x, shared_relu(x, shared.setdefault(src, {}))
                if edge_weights is None and self._repeat_keys[k] is not None:
                    key = (src, self._repeat_keys[k])
                    if key not in repeated:
                        repeated[key] = edge(x)
                    h = repeated[key]
                elif edge_weights is None:
                    h = edge(x, pre=pre) if self._keeps_pre[k] else edge(x)
                elif self._shares[k]:
                    h = edge(x, edge_weights[k], shared.setdefault(src, {}))
                else:
                    h = edge(x, edge_weights[k])
                if self._drops[k]:
                    h = self.drop_path(h)
                total = h if total is None else total + h
            nodes.append(total)
        picked = [nodes[j] for j in self._out_nodes]
        if self._out_kind == "concat":
            return concat_channels(picked)
        if self._out_kind == "sum":
            return sum(picked[1:], picked[0])
        return picked[0]


def compile_cell(cell: Cell, ops: Mapping[str, OpDef], in_chs: Sequence[int], chs: int, *,
                 reduced: Sequence[bool] | None = None, preprocess: bool = True,
                 affine: bool = True, edge_builder: EdgeBuilder | None = None) -> CompiledCell:
    """Compile ``cell`` for inputs of ``in_chs`` channels (oldest first) into ``chs``-channel nodes.

    ``reduced[i]`` says input i has twice the resolution of the last input (a reduction cell lies
    between them): it is preprocessed by a FactorizedReduce, the others by ReLU-1x1conv-BN (DARTS).
    With ``preprocess=False`` (NAS-Bench-201) inputs must already have ``chs`` channels and the
    same resolution. ``edge_builder(edge, chs, stride, affine)`` builds each edge, in
    ``cell.edges()`` order; by default it builds the edge's single op from the op library ``ops``.
    """
    edge_builder = edge_builder or single_op_edges(ops)
    if len(in_chs) != cell.inputs:
        raise SpecError(f"cell {cell.name!r} has {cell.inputs} inputs, got {len(in_chs)} channel counts")
    reduced = list(reduced) if reduced is not None else [False] * cell.inputs
    for e in cell.edges():
        if not 0 <= e.src < e.dst:
            raise SpecError(f"cell {cell.name!r}: edge {e.src}->{e.dst} must come from an earlier node")
    for j in cell.node_ids:
        if not cell.in_edges(j):
            raise SpecError(f"cell {cell.name!r}: node {j} has no incoming edge")
    if cell.reduction and any(j < cell.inputs for j in cell.output.nodes):
        raise SpecError(f"cell {cell.name!r}: a reduction cell's output cannot include a cell input")
    pre: list[nn.Module] = []
    for c, r in zip(in_chs, reduced):
        if preprocess:
            pre.append(FactorizedReduce(c, chs, affine) if r else ReLUConvBN(c, chs, 1, affine=affine))
        elif c != chs or r:
            raise SpecError(f"cell {cell.name!r}: input of {c} channels{' at twice the resolution' if r else ''} "
                            f"needs preprocessing to {chs} channels, which this layout does not do")
        else:
            pre.append(nn.Identity())
    edges = [edge_builder(e, chs, cell.stride if e.src < cell.inputs else 1, affine)
             for e in cell.edges()]
    return CompiledCell(cell, pre, edges, chs)
