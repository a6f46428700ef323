"""The graph IR: what a checked `.gs` declaration means, independent of its text.

A `Space` holds an op library, cell types and a network skeleton. Each `Cell` is a networkx
`MultiDiGraph` whose nodes are ints (cell inputs 0..inputs-1, intermediate nodes after them,
DARTS numbering) plus the node ``"out"``. Op edges carry ``role="op"``, their candidate op names
(``ops``) and ``order`` (the position in which a genotype lists its inputs, kept for round trips);
edges into ``"out"`` carry ``role="output"``. A genotype is the same IR with one op per edge and
the topology ``keep all``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from typing import Iterator, Literal

import networkx as nx

from .errors import SpecError

OUT = "out"
ZERO_KIND = "zero"


@dataclass(frozen=True)
class OpDef:
    """An entry of the op library: ``sep_conv_3x3 = sep_conv(3)``."""

    name: str
    kind: str
    args: tuple = ()
    kwargs: tuple[tuple[str, object], ...] = ()

    @property
    def options(self) -> dict[str, object]:
        return dict(self.kwargs)

    @property
    def is_zero(self) -> bool:
        return self.kind == ZERO_KIND


@dataclass(frozen=True)
class Topology:
    """Which subsets of a node's incoming edges an architecture may keep.

    ``pick`` keeps between ``lo`` and ``hi`` edges (``hi=None``: all of them, i.e. ``pick any``
    has lo=1, hi=None); ``keep`` keeps every edge (NAS-Bench-201, genotypes).
    """

    kind: Literal["pick", "keep"] = "keep"
    lo: int = 0
    hi: int | None = None

    def sizes(self, n_edges: int) -> range:
        """Allowed numbers of kept edges for a node with ``n_edges`` candidates."""
        if self.kind == "keep":
            return range(n_edges, n_edges + 1)
        hi = n_edges if self.hi is None else min(self.hi, n_edges)
        return range(self.lo, hi + 1)

    def combinations(self, n_edges: int) -> Iterator[tuple[int, ...]]:
        """Index tuples of the allowed edge subsets, smallest subsets first."""
        for k in self.sizes(n_edges):
            yield from combinations(range(n_edges), k)

    def count(self, n_edges: int) -> int:
        return sum(math.comb(n_edges, k) for k in self.sizes(n_edges))

    def describe(self) -> str:
        if self.kind == "keep":
            return "keep all"
        if self.hi is None and self.lo == 1:
            return "pick any"
        if self.hi == self.lo:
            return f"pick {self.lo}"
        return f"pick {self.lo}..{self.hi}"


@dataclass(frozen=True)
class Output:
    """How a cell forms its output: concat or sum of nodes, or one node."""

    kind: Literal["concat", "sum", "node"]
    nodes: tuple[int, ...]


@dataclass(frozen=True)
class Edge:
    src: int
    dst: int
    ops: tuple[str, ...]
    order: int = 0

    @property
    def op(self) -> str:
        """The single op of a genotype edge."""
        if len(self.ops) != 1:
            raise ValueError(f"edge {self.src}->{self.dst} has {len(self.ops)} ops, not one")
        return self.ops[0]


@dataclass
class Cell:
    name: str
    inputs: int
    nodes: int
    stride: int
    topology: Topology
    graph: nx.MultiDiGraph

    # -- construction -------------------------------------------------------------------
    @classmethod
    def build(cls, name: str, inputs: int, nodes: int, stride: int, topology: Topology,
              edges: list[Edge], output: Output) -> "Cell":
        g = nx.MultiDiGraph()
        for i in range(inputs):
            g.add_node(i, role="input")
        for j in range(inputs, inputs + nodes):
            g.add_node(j, role="node")
        g.add_node(OUT, role="output", kind=output.kind)
        for e in edges:
            g.add_edge(e.src, e.dst, role="op", ops=tuple(e.ops), order=e.order)
        for k, j in enumerate(output.nodes):
            g.add_edge(j, OUT, role="output", order=k)
        return cls(name, inputs, nodes, stride, topology, g)

    # -- queries --------------------------------------------------------------------------
    @property
    def node_ids(self) -> list[int]:
        """Intermediate node ids, in order."""
        return list(range(self.inputs, self.inputs + self.nodes))

    @property
    def output(self) -> Output:
        preds = sorted(self.graph.in_edges(OUT, data=True), key=lambda e: e[2]["order"])
        return Output(self.graph.nodes[OUT]["kind"], tuple(int(u) for u, _, _ in preds))

    def in_edges(self, node: int) -> list[Edge]:
        """Op edges into ``node`` in their listed order."""
        found = [Edge(u, v, d["ops"], d["order"])
                 for u, v, d in self.graph.in_edges(node, data=True) if d["role"] == "op"]
        return sorted(found, key=lambda e: e.order)

    def edges(self) -> list[Edge]:
        """All op edges, grouped by destination node (DARTS edge order for full cells)."""
        return [e for j in self.node_ids for e in self.in_edges(j)]

    @property
    def reduction(self) -> bool:
        return self.stride > 1

    @property
    def is_fixed(self) -> bool:
        """True for a genotype cell: one op per edge and no topology choice."""
        return self.topology.kind == "keep" and all(len(e.ops) == 1 for e in self.edges())

    def op_names(self) -> list[str]:
        """Every op name used in the cell, first use first."""
        seen: dict[str, None] = {}
        for e in self.edges():
            for o in e.ops:
                seen.setdefault(o, None)
        return list(seen)


@dataclass(frozen=True)
class Network:
    """The network skeleton around the cells.

    ``reductions`` are fractions of the cell count (DARTS: 1/3, 2/3), turned into positions by
    ``reduction_positions``. ``stem`` is the op-call text of the stem (informational for the
    built-in layouts, which fix their stems).
    """

    layout: Literal["cifar", "imagenet", "nb201"] = "cifar"
    cells: int = 8
    channels: int = 16
    classes: int = 10
    input_size: int = 32
    input_channels: int = 3
    reductions: tuple[Fraction, ...] = (Fraction(1, 3), Fraction(2, 3))
    stem: str = "conv(3, channels=3C)"
    auxiliary: bool = False
    auxiliary_weight: float = 0.4
    drop_path: float = 0.0

    def reduction_positions(self, cells: int | None = None) -> list[int]:
        n = self.cells if cells is None else cells
        return [int(f.numerator * n // f.denominator) for f in self.reductions]


@dataclass
class Space:
    """A checked space or genotype declaration."""

    name: str
    kind: Literal["space", "genotype"]
    ops: dict[str, OpDef]
    cells: dict[str, Cell]
    network: Network = field(default_factory=Network)
    groups: dict[str, tuple[str, ...]] | None = None
    of: str | None = None
    file: str | None = None
    # Op biases on architecture logits (eDARTS operation attention), by op name.
    doc: str | None = None

    @property
    def is_genotype(self) -> bool:
        return self.kind == "genotype"

    def cell_for(self, reduction: bool) -> Cell:
        """The cell type used at normal (or reduction) positions of the network."""
        for c in self.cells.values():
            if c.reduction == reduction:
                return c
        if not reduction:
            where = f" ({self.file})" if self.file else ""
            raise SpecError(f"{self.kind} '{self.name}'{where} has no stride-1 cell: every cell it declares "
                            f"({', '.join(self.cells) or 'none'}) has stride 2",
                            hint="a network needs a normal cell (stride 1) between its reduction cells")
        return self.cell_for(False)

    def selectable_ops(self, cell: Cell, edge: Edge) -> tuple[str, ...]:
        """Ops an architecture may keep on ``edge``.

        The zero op only helps the search where edges are chosen by topology (DARTS rule:
        argmax over o != zero); in a ``keep all`` space (NAS-Bench-201) zero is how an edge is
        removed, so it counts as a choice.
        """
        if cell.topology.kind == "keep":
            return edge.ops
        return tuple(o for o in edge.ops if not self.ops[o].is_zero)


@dataclass
class Stage:
    """One stage of a search recipe; ``settings`` maps a setting name to its typed value."""

    name: str
    settings: dict[str, object]
    quick: dict[str, object] = field(default_factory=dict)


@dataclass
class Recipe:
    name: str
    space: Space
    settings: dict[str, object]
    stages: list[Stage]
    quick: dict[str, object] = field(default_factory=dict)
    file: str | None = None


def cell_architectures(space: Space, cell: Cell) -> int:
    """Exact number of architectures of one cell type (DESIGN §2).

    Per node: sum over allowed edge subsets of the product of selectable-op counts on the kept
    edges; cells multiply over nodes.
    """
    total = 1
    for j in cell.node_ids:
        choices = [len(space.selectable_ops(cell, e)) for e in cell.in_edges(j)]
        # elementary symmetric polynomials: esp[k] = sum over k-subsets of the product
        esp = [1] + [0] * len(choices)
        for c in choices:
            for k in range(len(esp) - 1, 0, -1):
                esp[k] += esp[k - 1] * c
        total *= sum(esp[k] for k in cell.topology.sizes(len(choices)))
    return total


def space_architectures(space: Space) -> int:
    """Product over cell types of their architecture counts."""
    return math.prod(cell_architectures(space, c) for c in space.cells.values())
