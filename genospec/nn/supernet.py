"""The supernet: a search-mode network of mixed edges plus the architecture parameters.

`Supernet(space, ...)` compiles ``space`` with the same cell compiler as evaluation networks
(`build_network(mode="search")`, BN without affine inside cells), every edge a `MixedEdge`.
Per cell type it owns, in ``self.arch[cell_type]``:

- ``alpha`` [E, O]: op logits (layout of `genospec.relax.cell_layout`), shared by every cell of
  the type; DARTS init 1e-3 * N(0, 1). The ``fixed`` op relaxation (DARTS-PT "blank") holds
  alpha at 0 and does not train it.
- ``beta``: edge logits when an edge relaxation is on, initialised to 0 (the DOTS code starts
  its combination logits at 0: every combination equally likely).
- buffers for DARTS-PT decisions, saved in checkpoints: ``op_on`` [E, O] (False: op masked),
  ``chosen`` [E] (column of the op an edge is discretised to, -1 while undecided) and
  ``edge_on`` [E] (False: edge dropped).

Edge e of a cell mixes its ops with ``w[e] * gamma[e]``: w from the op relaxation at the op
temperature, replaced by a one-hot row on a discretised edge and zeroed where masked; gamma from
the edge relaxation at the edge temperature (1 without one), zeroed on dropped edges. Ops whose
mixing weight is exactly 0 are not computed; under a straight-through sampler (GDAS) their
weights still reach the edge output as scalars (`EdgeMix.carry`). `mixing()` reports the op
relaxation's selection weights (a sampler's softmax(alpha), not a draw).

`arch_parameters()` lists the trainable alphas and betas, `weight_parameters()` everything else;
`parameters()` and `state_dict()` hold both, so checkpoints carry the architecture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

import torch
from torch import Tensor, nn

from ..errors import SpecError, did_you_mean
from ..ir import Edge, Space
from ..relax import (CellLayout, cell_layout, make_edge_relaxation, make_op_relaxation,
                     node_softmax)
from ..relax import apply_op_bias as _add_op_bias
from .mixed import EdgeMix
from .network import Network, build_network
from .partial import partial_channel_edges
from .recompute import KEEP_MODES


@dataclass(frozen=True)
class CellMixing:
    """Detached architecture weights of one cell type, as selection rules and renderers read
    them (`genospec.search.select`): ``weights`` w[E, O] (masks and discretised edges applied,
    columns ``op_names``, rows ``edges``), ``gamma`` [E] edge weights (dropped edges at 0; None
    without an edge relaxation), ``beta`` the per-node combination softmax (flat, combination
    relaxation only, else None), ``dropped`` the positions of dropped edges."""

    op_names: tuple[str, ...]
    edges: tuple[Edge, ...]
    weights: Tensor
    gamma: Tensor | None
    beta: Tensor | None
    dropped: tuple[int, ...]


class CellArch(nn.Module):
    """Architecture parameters and DARTS-PT decisions of one cell type."""

    def __init__(self, layout: CellLayout, learn_alpha: bool, beta_size: int | None):
        super().__init__()
        edges, ops = layout.alpha_shape
        init = 1e-3 * torch.randn(edges, ops) if learn_alpha else torch.zeros(edges, ops)
        self.alpha = nn.Parameter(init, requires_grad=learn_alpha)
        self.beta = nn.Parameter(torch.zeros(beta_size)) if beta_size is not None else None
        self.register_buffer("op_on", layout.mask.clone())
        self.register_buffer("chosen", torch.full((edges,), -1, dtype=torch.long))
        self.register_buffer("edge_on", torch.ones(edges, dtype=torch.bool))
        # Flat positions in w[E, O] of each edge's candidates, in the edge's own order.
        columns = {o: i for i, o in enumerate(layout.ops)}
        flat = [e * ops + columns[o] for e, edge in enumerate(layout.edges) for o in edge.ops]
        self.register_buffer("flat_index", torch.tensor(flat, dtype=torch.long),
                             persistent=False)
        self.sizes = [len(edge.ops) for edge in layout.edges]


class Supernet(nn.Module):
    """A differentiable-search supernet compiled from ``space`` (see the module docstring).

    ``cells``/``channels``/``classes``/``in_chans``/``layout`` default to ``space.network``;
    ``op_relax`` names an op relaxation (``softmax``, ``group_softmax``, ``fixed``),
    ``edge_relax`` an edge relaxation (``combination`` with option ``normalise``, ``sigmoid``)
    or None; ``op_bias`` maps op names to the eDARTS bias added to alpha by `apply_op_bias`;
    ``pc`` K > 1 mixes only 1/K of each edge's channels (PC-DARTS, `genospec.nn.partial`);
    ``checkpoint``: ``"cells"`` recomputes each cell's activations in backward
    (activation checkpointing), ``"ops"`` the two convolutions inside separable and dilated
    convolutions, which are then built to keep only their input, False neither (they keep their
    input and output, `genospec.nn.recompute`). ``keep`` names what recomputing ops are built to
    keep directly (``"output"``, ``"input"``, or ``"all"``: plain autograd, for comparisons);
    by default ``"input"`` with ``checkpoint="ops"``, else ``"output"``.
    """

    def __init__(self, space: Space, *, cells: int | None = None, channels: int | None = None,
                 classes: int | None = None, in_chans: int | None = None,
                 layout: str | None = None, op_relax: str = "softmax",
                 edge_relax: str | None = None, normalise: bool = True,
                 op_bias: Mapping[str, float] | None = None, pc: int = 1,
                 checkpoint: str | bool = False, keep: str | None = None):
        super().__init__()
        if checkpoint not in (False, "cells", "ops"):
            raise ValueError(f"checkpoint must be 'cells', 'ops' or False, got {checkpoint!r}")
        if keep is None:
            keep = "input" if checkpoint == "ops" else "output"
        elif keep not in KEEP_MODES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_MODES)}, got {keep!r}")
        elif checkpoint == "ops" and keep != "input":
            raise ValueError(f"checkpoint 'ops' keeps the ops' inputs, not {keep!r}")
        self.op_relax = make_op_relaxation(op_relax)
        options = {"normalise": normalise} if edge_relax == "combination" else {}
        self.edge_relax = make_edge_relaxation(edge_relax, **options) if edge_relax else None
        self.edge_relax_name = edge_relax
        self.op_bias = dict(op_bias or {})
        for name in self.op_bias:
            if name not in space.ops:
                raise SpecError(f"op bias names {name!r}, which is not an op of space "
                                f"{space.name!r}", hint=did_you_mean(name, space.ops))
        self.op_temperature = 1.0
        self.edge_temperature = 1.0
        self.net: Network = build_network(space, layout=layout, cells=cells, channels=channels,
                                          classes=classes, in_chans=in_chans, mode="search",
                                          edge_builder=partial_channel_edges(space.ops, pc, keep))
        self.net.checkpoint_cells = checkpoint == "cells"
        clash = [name for name in space.cells if hasattr(nn.ModuleDict, name)]
        if clash:
            raise SpecError(f"cell type name {clash[0]!r} is reserved inside the supernet",
                            hint="rename the cell")
        self._layouts = {name: cell_layout(cell, space.groups)
                         for name, cell in space.cells.items()}
        self.arch = nn.ModuleDict({
            name: CellArch(lay, self.op_relax.learnable,
                           self.edge_relax.num_params(lay) if self.edge_relax else None)
            for name, lay in self._layouts.items()})
        for name in self.arch:  # fail now on a relaxation the space cannot take (groups)
            self._weights(name)

    # -- parameters -------------------------------------------------------------------------
    def arch_parameters(self) -> list[nn.Parameter]:
        """The trainable architecture parameters (alpha, then beta, per cell type)."""
        found = []
        for arch in self.arch.values():
            found += [p for p in (arch.alpha, arch.beta) if p is not None and p.requires_grad]
        return found

    def weight_parameters(self) -> Iterator[nn.Parameter]:
        """Every network weight; never an architecture parameter."""
        return self.net.parameters()

    def named_weight_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """Weights with their names in ``named_parameters()``."""
        return self.net.named_parameters(prefix="net")

    def named_arch_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """`arch_parameters` with their names in ``named_parameters()``."""
        wanted = {id(p) for p in self.arch_parameters()}
        return [(n, p) for n, p in self.arch.named_parameters(prefix="arch") if id(p) in wanted]

    # -- temperatures and biases ----------------------------------------------------------------
    def set_temperature(self, op: float | None = None, edge: float | None = None) -> None:
        """Set the op (T_alpha) and/or edge (T_beta) temperature; None leaves one unchanged."""
        for value in (op, edge):
            if value is not None and not value > 0:
                raise SpecError(f"temperature must be positive, got {value}")
        if op is not None:
            self.op_temperature = float(op)
        if edge is not None:
            self.edge_temperature = float(edge)

    def apply_op_bias(self) -> None:
        """Add the eDARTS op bias to every trainable alpha (paper 001 §IV-C; see
        `genospec.relax.bias`); call after each architecture update. Cell types without a biased
        op are left alone."""
        if not self.op_bias or not self.op_relax.learnable:
            return
        for name, arch in self.arch.items():
            lay = self._layout(name)
            bias = {o: v for o, v in self.op_bias.items() if o in lay.ops}
            if bias:
                _add_op_bias(arch.alpha, lay.ops, bias, mask=lay.mask)

    # -- DARTS-PT decisions -------------------------------------------------------------------
    def mask_op(self, cell_type: str, edge: int, op: str) -> None:
        """Give ``op`` on edge ``edge`` weight 0 (it is skipped) until `unmask_op`."""
        arch, col = self._locate(cell_type, edge, op)
        arch.op_on[edge, col] = False

    def unmask_op(self, cell_type: str, edge: int, op: str) -> None:
        arch, col = self._locate(cell_type, edge, op)
        arch.op_on[edge, col] = True

    def discretize_edge(self, cell_type: str, edge: int, op: str) -> None:
        """Fix edge ``edge`` to ``op``: weight 1 for it, exactly 0 for the others (DARTS-PT)."""
        arch, col = self._locate(cell_type, edge, op)
        arch.chosen[edge] = col

    def drop_edge(self, cell_type: str, edge: int) -> None:
        """Give edge ``edge`` edge weight 0: none of its ops runs, until `restore_edge`."""
        self._locate(cell_type, edge)[0].edge_on[edge] = False

    def restore_edge(self, cell_type: str, edge: int) -> None:
        self._locate(cell_type, edge)[0].edge_on[edge] = True

    def _locate(self, cell_type: str, edge: int, op: str | None = None) -> tuple[CellArch, int]:
        if cell_type not in self.arch:
            raise SpecError(f"the supernet has no cell type {cell_type!r}",
                            hint=did_you_mean(cell_type, self.arch))
        lay = self._layout(cell_type)
        if not 0 <= edge < len(lay.edges):
            raise ValueError(f"cell {cell_type!r} has edges 0..{len(lay.edges) - 1}, not {edge}")
        if op is None:
            return self.arch[cell_type], -1
        e = lay.edges[edge]
        if op not in e.ops:
            raise SpecError(f"edge {e.src}->{e.dst} of cell {cell_type!r} has no op {op!r}",
                            hint=did_you_mean(op, e.ops))
        return self.arch[cell_type], lay.ops.index(op)

    # -- weights ------------------------------------------------------------------------------
    def _layout(self, name: str) -> CellLayout:
        lay = self._layouts[name]
        device = self.arch[name].alpha.device
        if lay.mask.device != device:
            lay = self._layouts[name] = lay.to(device)
        return lay

    def _weights(self, name: str, select: bool = False) -> tuple[Tensor, Tensor | None]:
        """Op weights w[E, O] and edge weights gamma[E] (None without an edge relaxation);
        ``select``: the op relaxation's deterministic selection weights (a sampler's)."""
        arch, lay = self.arch[name], self._layout(name)
        relax = self.op_relax.selection_weights if select else self.op_relax.weights
        w = relax(arch.alpha, lay, self.op_temperature)
        one_hot = nn.functional.one_hot(arch.chosen.clamp(min=0), w.shape[1]).to(w.dtype)
        w = torch.where(arch.chosen.ge(0).unsqueeze(1), one_hot, w) * arch.op_on
        if self.edge_relax is None:
            return w, None
        gamma = self.edge_relax.weights(arch.beta, lay, self.edge_temperature) * arch.edge_on
        return w, gamma

    def arch_weights(self, name: str) -> tuple[Tensor, Tensor | None]:
        """Op weights w[E, O] and edge weights gamma[E] (None without an edge relaxation) of
        cell type ``name`` as the forward mixes them, differentiable in alpha and beta
        (regularisers: FLOPs cost, FairDARTS)."""
        if name not in self.arch:
            raise SpecError(f"the supernet has no cell type {name!r}",
                            hint=did_you_mean(name, self.arch))
        return self._weights(name)

    def layout(self, name: str) -> CellLayout:
        """The parameter layout of cell type ``name`` (on the architecture's device)."""
        return self._layout(name)

    def forward(self, x: Tensor) -> Tensor:
        flat, gammas = [], []
        for name, arch in self.arch.items():
            w, gamma = self._weights(name)
            scale = arch.edge_on.to(w.dtype) if gamma is None else gamma
            flat.append((w * scale.unsqueeze(1)).reshape(-1).index_select(0, arch.flat_index))
            gammas.append(gamma)
        values = torch.cat(flat)
        nonzero = values.ne(0).tolist()  # one host sync per forward
        # GDAS: the ops not computed still pass their weights' gradient (EdgeMix.carry)
        carry = self.op_relax.straight_through and values.requires_grad
        mixes: dict[str, list[EdgeMix]] = {}
        start = 0
        for (name, arch), vals, gamma in zip(self.arch.items(), flat, gammas):
            edge_mixes = []
            scales = [None] * len(arch.sizes) if gamma is None else gamma.unbind(0)
            for weights, scale in zip(vals.split(arch.sizes), scales):
                n = weights.shape[0]
                active = tuple(i for i in range(n) if nonzero[start + i])
                rest = [i for i in range(n) if not nonzero[start + i]] if carry else []
                carried = weights[rest].sum() if rest else None
                edge_mixes.append(EdgeMix(weights, active, scale, carried))
                start += n
            mixes[name] = edge_mixes
        return self.net(x, mixes)

    def mixing(self) -> dict[str, CellMixing]:
        """Detached architecture weights per cell type at the current temperatures."""
        found = {}
        with torch.no_grad():
            for name, arch in self.arch.items():
                lay = self._layout(name)
                w, gamma = self._weights(name, select=True)
                beta = (node_softmax(arch.beta, lay, self.edge_temperature)
                        if self.edge_relax_name == "combination" else None)
                dropped = tuple(int(e) for e in (~arch.edge_on).nonzero().flatten())
                found[name] = CellMixing(lay.ops, lay.edges, w.detach().clone(),
                                         None if gamma is None else gamma.detach().clone(),
                                         None if beta is None else beta.detach().clone(),
                                         dropped)
        return found
