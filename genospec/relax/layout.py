"""Where each architecture parameter of one cell type sits (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import torch
from torch import Tensor

from ..errors import SpecError
from ..ir import Cell, Edge


@dataclass(frozen=True, eq=False)
class CellLayout:
    """Index structures that turn architecture parameters of one cell type into weights.

    ``edges`` are ``cell.edges()`` (E edges), ``ops`` the ordered union of their candidates
    (O ops); ``mask[e, o]`` is True where op o is a candidate on edge e. ``node_edges[k]`` lists
    the positions (into ``edges``) of the k-th intermediate node's incoming edges in their listed
    order. ``combinations[k]`` are that node's allowed edge subsets
    (``cell.topology.combinations(n_k)``, indices local to the node), flattened over nodes into
    one beta vector; ``beta_slices[k]`` is node k's segment of it. ``pair_beta``/``pair_edge``/
    ``pair_size`` list every (combination, member edge) pair: the flat beta index, the edge
    position and N(c), the combination's edge count. ``group_of[o]`` is op o's group index when
    the space has groups (``group_names`` in order), else None.
    """

    cell_name: str
    edges: tuple[Edge, ...]
    ops: tuple[str, ...]
    mask: Tensor
    node_edges: tuple[tuple[int, ...], ...]
    combinations: tuple[tuple[tuple[int, ...], ...], ...]
    beta_slices: tuple[slice, ...]
    pair_beta: Tensor
    pair_edge: Tensor
    pair_size: Tensor
    group_names: tuple[str, ...] | None = None
    group_of: Tensor | None = None

    @property
    def alpha_shape(self) -> tuple[int, int]:
        return (len(self.edges), len(self.ops))

    @property
    def num_combinations(self) -> int:
        """Length of the flat beta vector of the combination relaxation."""
        return sum(len(c) for c in self.combinations)

    def to(self, device: torch.device | str) -> "CellLayout":
        """The same layout with its tensors on ``device``."""
        moved = {k: getattr(self, k).to(device)
                 for k in ("mask", "pair_beta", "pair_edge", "pair_size")}
        if self.group_of is not None:
            moved["group_of"] = self.group_of.to(device)
        return replace(self, **moved)


def on(t: Tensor, like: Tensor) -> Tensor:
    """``t`` on ``like``'s device (no copy when it is there already, e.g. after ``to``)."""
    return t if t.device == like.device else t.to(like.device)


def cell_layout(cell: Cell, groups: Mapping[str, Sequence[str]] | None = None) -> CellLayout:
    """The parameter layout of ``cell``; ``groups`` (``space.groups``) enables group softmax."""
    edges = tuple(cell.edges())
    ops = tuple(cell.op_names())
    col = {o: i for i, o in enumerate(ops)}
    mask = torch.zeros(len(edges), len(ops), dtype=torch.bool)
    for e, edge in enumerate(edges):
        for o in edge.ops:
            mask[e, col[o]] = True

    node_edges, combos, slices = [], [], []
    pair_beta: list[int] = []
    pair_edge: list[int] = []
    pair_size: list[int] = []
    start = first_edge = 0
    for j in cell.node_ids:
        # cell.edges() lists each node's in_edges() contiguously, in node order
        local = tuple(range(first_edge, first_edge + len(cell.in_edges(j))))
        first_edge += len(local)
        sizes = cell.topology.sizes(len(local))
        if len(sizes) == 0 or sizes[0] < 1:
            raise SpecError(f"cell {cell.name!r}: node {j} has {len(local)} incoming edges, which "
                            f"'{cell.topology.describe()}' cannot choose from")
        node_combos = tuple(cell.topology.combinations(len(local)))
        for c, members in enumerate(node_combos):
            for m in members:
                pair_beta.append(start + c)
                pair_edge.append(local[m])
                pair_size.append(len(members))
        node_edges.append(local)
        combos.append(node_combos)
        slices.append(slice(start, start + len(node_combos)))
        start += len(node_combos)

    group_names = group_of = None
    if groups is not None:
        group_names = tuple(groups)
        owner = {o: g for g, members in enumerate(groups.values()) for o in members}
        missing = [o for o in ops if o not in owner]
        if missing:
            raise SpecError(f"cell {cell.name!r}: ops {', '.join(missing)} belong to no group")
        group_of = torch.tensor([owner[o] for o in ops], dtype=torch.long)

    return CellLayout(
        cell_name=cell.name, edges=edges, ops=ops, mask=mask, node_edges=tuple(node_edges),
        combinations=tuple(combos), beta_slices=tuple(slices),
        pair_beta=torch.tensor(pair_beta, dtype=torch.long),
        pair_edge=torch.tensor(pair_edge, dtype=torch.long),
        pair_size=torch.tensor(pair_size, dtype=torch.float32),
        group_names=group_names, group_of=group_of,
    )
