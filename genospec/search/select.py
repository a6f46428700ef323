"""Selection rules: searched architecture weights -> a cell with fewer (or no) choices left.

A rule is ``rule(space, cell_name, weights, op_names, *, gamma=None, beta=None, **options)``
returning a new ``ir.Cell``; every rule accepts ``gamma`` and ``beta`` so a caller may pass
both, and ``threshold`` is the only rule option. ``weights`` are the relaxed op weights w[E, O]
of the cell (rows in ``cell.edges()`` order, columns named by ``op_names``; a tensor or nested
lists), ``beta`` the flat combination logits (or one tensor per node) and ``gamma`` the edge
weights, both laid out as ``genospec.relax`` describes. Rules read candidate ops from the IR, never from zero weights
(an annealed candidate can underflow to 0). Ties go to the lower edge, op column or combination
index. "Selectable" ops are ``space.selectable_ops``: the zero op is never chosen where the
topology chooses edges (DARTS), and is an ordinary choice in ``keep all`` cells (NAS-Bench-201).

Genotype cells have topology ``keep all`` and one op per edge; ``Edge.order`` is the listing
position of the input within its node.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from ..errors import GenospecError, SpecError
from ..ir import Cell, Edge, Space, Topology
from ..registry import SELECTION, Option, Registry, registry

SelectionRule = Callable[..., Cell]
SELECTIONS: Registry[SelectionRule] = registry(SELECTION)  # built-ins: genospec.builtins


def register_selection(name: str, *, options: tuple[Option, ...] = (),
                       words: tuple[str, ...] | None = None,
                       doc: str = "") -> Callable[[SelectionRule], SelectionRule]:
    """Decorator adding a selection rule under ``name``: a function of one cell type, as the
    rules below (``options`` are its keyword arguments, written after the rule's ``words`` in a
    recipe), or a `genospec.search.hooks.StageSelection` class for rules that train."""
    return SELECTIONS.register(name, options=options, words=words, doc=doc)


def select(name: str, space: Space, cell_name: str, weights: object | None,
           op_names: Sequence[str], **kwargs: object) -> Cell:
    """Apply the selection rule ``name`` to one cell type of ``space``."""
    return SELECTIONS.get(name)(space, cell_name, weights, op_names, **kwargs)


# -- helpers ---------------------------------------------------------------------------------
def _rows(x: object) -> list:
    """A tensor (any device, with or without grad) or nested sequence as Python lists; NaN
    values (a diverged search) are an error rather than a silent wrong choice."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().tolist()  # type: ignore[union-attr]
    rows = [list(r) if isinstance(r, (list, tuple)) else r for r in x]  # type: ignore[union-attr]
    flat = [v for r in rows for v in (r if isinstance(r, list) else [r])]
    if any(isinstance(v, float) and math.isnan(v) for v in flat):
        raise GenospecError("architecture weights contain NaN; the search diverged")
    return rows


def _cell(space: Space, cell_name: str) -> Cell:
    if cell_name not in space.cells:
        raise SpecError(f"space {space.name!r} has no cell {cell_name!r} "
                        f"(cells: {', '.join(space.cells)})")
    return space.cells[cell_name]


class _OpWeights:
    """Per-edge op weights of one cell, checked against the IR."""

    def __init__(self, cell: Cell, weights: object | None, op_names: Sequence[str],
                 library: Sequence[str] = ()):
        self.edges = cell.edges()
        self.columns = {o: i for i, o in enumerate(op_names)}
        # ties go to the op listed first in the space's op library, as the DARTS and DOTS codes
        # take the first maximum over their PRIMITIVES (a reduced cell's columns follow first
        # use on its edges instead)
        order = {o: i for i, o in enumerate(library)}
        self.rank = {o: (order.get(o, len(order)), i) for o, i in self.columns.items()}
        self.rows: list[list[float]] | None = None
        if weights is None:
            return
        rows = _rows(weights)
        if len(rows) != len(self.edges) or any(len(r) != len(op_names) for r in rows):
            raise ValueError(f"cell {cell.name!r} needs op weights of shape "
                             f"({len(self.edges)}, {len(op_names)})")
        for e in self.edges:
            unknown = [o for o in e.ops if o not in self.columns]
            if unknown:
                raise ValueError(f"edge {e.src}->{e.dst}: ops {unknown} have no weight column")
        self.rows = rows

    def best(self, e: int, allowed: Sequence[str]) -> str:
        """The allowed op with the largest weight on edge ``e`` (ties: the op first in the
        space's op library)."""
        edge = self.edges[e]
        if not allowed:
            raise SpecError(f"edge {edge.src}->{edge.dst} has no op that can be selected")
        if self.rows is None:
            if len(allowed) == 1:
                return allowed[0]
            raise SpecError(f"edge {edge.src}->{edge.dst}: op weights are needed to choose "
                            f"among {', '.join(allowed)}")
        row = self.rows[e]
        return max(sorted(allowed, key=self.rank.__getitem__),
                   key=lambda o: row[self.columns[o]])

    def strength(self, e: int, allowed: Sequence[str]) -> float:
        """DARTS edge strength: the largest weight among ``allowed`` ops (-inf if none)."""
        if self.rows is None:
            raise ValueError("this selection rule needs op weights")
        return max((self.rows[e][self.columns[o]] for o in allowed), default=float("-inf"))


def _node_spans(cell: Cell) -> list[tuple[int, range]]:
    """(node, positions of its incoming edges in ``cell.edges()``) for every node."""
    spans, first = [], 0
    for j in cell.node_ids:
        n = len(cell.in_edges(j))
        spans.append((j, range(first, first + n)))
        first += n
    return spans


def _sizes(cell: Cell, node: int, n_edges: int) -> range:
    """The allowed kept-edge counts of ``node``; an error when the topology allows none."""
    sizes = cell.topology.sizes(n_edges)
    if len(sizes) == 0 or sizes[0] < 1:
        raise SpecError(f"cell {cell.name!r}: node {node} has {n_edges} incoming edges, which "
                        f"'{cell.topology.describe()}' cannot choose from")
    return sizes


def genotype_cell(cell: Cell, kept: Sequence[Sequence[tuple[Edge, str]]]) -> Cell:
    """A genotype cell: for each intermediate node in order, its (edge, op) inputs in listing
    order; shape, stride and output stay those of ``cell``."""
    edges = [Edge(edge.src, edge.dst, (op,), k)
             for node in kept for k, (edge, op) in enumerate(node)]
    return Cell.build(cell.name, cell.inputs, cell.nodes, cell.stride, Topology("keep"), edges,
                      cell.output)


def decided_genotype(cell: Cell) -> Cell:
    """The genotype of a cell whose ops and edges are already decided (one op per edge, and a
    topology that keeps every incoming edge), e.g. after an ops-only search on a fixed path."""
    kept = []
    for j in cell.node_ids:
        ins = cell.in_edges(j)
        if cell.topology.sizes(len(ins)) != range(len(ins), len(ins) + 1):
            raise SpecError(f"cell {cell.name!r}: node {j} still chooses among its edges "
                            f"('{cell.topology.describe()}')")
        for e in ins:
            if len(e.ops) != 1:
                raise SpecError(f"cell {cell.name!r}: edge {e.src}->{e.dst} still has "
                                f"{len(e.ops)} ops")
        kept.append([(e, e.ops[0]) for e in ins])
    return genotype_cell(cell, kept)


def _with_ops(cell: Cell, ops: Sequence[tuple[str, ...]]) -> Cell:
    """``cell`` with new candidate ops per edge (reduced space); topology and orders kept."""
    edges = [Edge(e.src, e.dst, o, e.order) for e, o in zip(cell.edges(), ops)]
    return Cell.build(cell.name, cell.inputs, cell.nodes, cell.stride, cell.topology, edges,
                      cell.output)


# -- rules -----------------------------------------------------------------------------------
def magnitude(space: Space, cell_name: str, weights: object, op_names: Sequence[str], *,
              gamma: object = None, beta: object = None) -> Cell:
    """DARTS (paper 002 §3.1): per node keep the k incoming edges with the largest selectable-op
    weight (k from ``pick k``; every edge for ``keep all``), then the argmax selectable op on
    each. Kept inputs are listed strongest first, as DARTS lists them (``keep all``: edge
    order); equal strengths keep the lower edge first. With an edge relaxation's ``gamma`` an
    edge's strength is its strongest op weight times gamma (the weight the mixture gives it:
    PC-DARTS' edge normalisation, whose released ``genotype()`` multiplies it into the op
    weights before DARTS' rule); the op on an edge is the same either way."""
    cell = _cell(space, cell_name)
    w = _OpWeights(cell, weights, op_names, tuple(space.ops))
    g = list(_rows(gamma)) if gamma is not None else None
    if g is not None and len(g) != len(w.edges):
        raise ValueError(f"cell {cell.name!r} needs {len(w.edges)} edge weights, got {len(g)}")
    topo = cell.topology
    if topo.kind == "pick" and topo.lo != topo.hi:
        raise SpecError(f"magnitude selection needs 'pick k' or 'keep all', cell {cell.name!r} "
                        f"has '{topo.describe()}' (use best combination or threshold)")
    kept = []
    for j, span in _node_spans(cell):
        allowed = {e: space.selectable_ops(cell, w.edges[e]) for e in span}
        k = _sizes(cell, j, len(span))[0]
        if topo.kind == "keep":
            chosen = list(span)
        else:
            chosen = sorted(span, key=lambda e: -w.strength(e, allowed[e]) *
                            (1.0 if g is None else g[e]))[:k]
        kept.append([(w.edges[e], w.best(e, allowed[e])) for e in chosen])
    return genotype_cell(cell, kept)


def best_per_edge(space: Space, cell_name: str, weights: object, op_names: Sequence[str], *,
                  gamma: object = None, beta: object = None, zero: bool = False) -> Cell:
    """Argmax selectable op on every edge -> a reduced space cell with one op per edge and the
    cell's own topology rule (DOTS "DARTS-Top1" operation search, paper 002 eq. 14). ``zero``
    (``with_zero``): the argmax over all the edge's ops, the zero op included, as eq. 14 writes
    it (o in O); the topology stage then keeps such an edge only as a zero op."""
    cell = _cell(space, cell_name)
    w = _OpWeights(cell, weights, op_names, tuple(space.ops))
    return _with_ops(cell, [(w.best(e, edge.ops if zero else space.selectable_ops(cell, edge)),)
                            for e, edge in enumerate(w.edges)])


def best_per_group(space: Space, cell_name: str, weights: object, op_names: Sequence[str], *,
                   gamma: object = None, beta: object = None) -> Cell:
    """DOTS group operation search (paper 002 eq. 15-16, paper 000 eq. 6-7): on every edge the
    argmax op of each group that has candidates there -> a reduced space cell (Group-V2: two ops
    per edge), ops in the edge's listed order, topology rule kept.

    A group won by the zero op keeps it, as DOTS does: its appendix tables (paper 000 Tables
    7-9, paper 002 Fig. 5a) list Zero winners among the retained ops and its code's pruning
    takes the argmax over the whole group, Zero included. The zero op then competes in the
    next stage and is excluded again when a genotype is selected.
    """
    cell = _cell(space, cell_name)
    if not space.groups:
        raise SpecError(f"space {space.name!r} has no groups to select one op per group from")
    w = _OpWeights(cell, weights, op_names, tuple(space.ops))
    ops = []
    for e, edge in enumerate(w.edges):
        winners = {w.best(e, [o for o in edge.ops if o in members])
                   for members in space.groups.values() if any(o in members for o in edge.ops)}
        ops.append(tuple(o for o in edge.ops if o in winners))
    return _with_ops(cell, ops)


def _beta_rows(beta: object, cell: Cell) -> list[list[float]]:
    """Per-node combination logits from a flat vector or one vector per node."""
    spans = _node_spans(cell)
    counts = [cell.topology.count(len(span)) for _, span in spans]
    if isinstance(beta, (list, tuple)) and beta and not isinstance(beta[0], (int, float)):
        rows = [list(_rows(b)) for b in beta]
    else:
        flat, rows, start = list(_rows(beta)), [], 0
        if len(flat) != sum(counts):
            raise ValueError(f"cell {cell.name!r} needs {sum(counts)} combination logits, "
                             f"got {len(flat)}")
        for c in counts:
            rows.append(flat[start:start + c])
            start += c
    if [len(r) for r in rows] != counts:
        raise ValueError(f"cell {cell.name!r} needs combination logits per node of sizes {counts}")
    return rows


def best_combination(space: Space, cell_name: str, weights: object | None,
                     op_names: Sequence[str], *, beta: object, gamma: object = None) -> Cell:
    """DOTS (paper 002 §4.1): per node the combination with the largest beta (any size, so
    ``pick any`` nodes may keep more than 2 inputs), kept edges in their listed order, each with
    its argmax selectable op (``weights`` may be None when every kept edge has one); an edge
    whose only op is the zero op (``best per edge with_zero``) keeps it."""
    cell = _cell(space, cell_name)
    w = _OpWeights(cell, weights, op_names, tuple(space.ops))
    kept = []
    for (j, span), row in zip(_node_spans(cell), _beta_rows(beta, cell)):
        _sizes(cell, j, len(span))
        combos = list(cell.topology.combinations(len(span)))
        best = max(range(len(combos)), key=lambda c: (row[c], -c))
        members = [span[m] for m in combos[best]]
        kept.append([(w.edges[e], w.best(e, space.selectable_ops(cell, w.edges[e]) or
                                         w.edges[e].ops)) for e in members])
    return genotype_cell(cell, kept)


def threshold(space: Space, cell_name: str, weights: object | None, op_names: Sequence[str],
              *, gamma: object, beta: object = None, threshold: float = 0.5) -> Cell:
    """Edge-level sigmoid baseline (DOTS paper 002 Table 4a): per node keep the edges with
    gamma > ``threshold`` (the paper gives no value; 0.5 is the sigmoid midpoint), topped up with
    the strongest edges to at least one (and the topology's minimum) and cut to the topology's
    maximum; kept edges in listed order with their argmax selectable op."""
    cell = _cell(space, cell_name)
    w = _OpWeights(cell, weights, op_names, tuple(space.ops))
    g = list(_rows(gamma))
    if len(g) != len(w.edges):
        raise ValueError(f"cell {cell.name!r} needs {len(w.edges)} edge weights, got {len(g)}")
    kept = []
    for j, span in _node_spans(cell):
        sizes = _sizes(cell, j, len(span))
        ranked = sorted(span, key=lambda e: -g[e])
        n = sum(g[e] > threshold for e in span)
        n = min(max(n, sizes[0], 1), sizes[-1])
        members = sorted(ranked[:n])
        kept.append([(w.edges[e], w.best(e, space.selectable_ops(cell, w.edges[e])))
                     for e in members])
    return genotype_cell(cell, kept)


def top_k(space: Space, cell_name: str, weights: object, op_names: Sequence[str], *,
          gamma: object = None, beta: object = None, k: int = 2) -> Cell:
    """The k strongest selectable ops on every edge -> a reduced space cell (DOTS paper 002
    Table 4b "DARTS-Top2": the operation stage keeps the top two ops of each edge for the
    topology stage). Ops keep the edge's listed order; an edge with k or fewer selectable ops
    keeps them all; ties go to the earlier column; topology rule kept."""
    cell = _cell(space, cell_name)
    w = _OpWeights(cell, weights, op_names, tuple(space.ops))
    ops = []
    for e, edge in enumerate(w.edges):
        allowed = space.selectable_ops(cell, edge)
        if not allowed:
            raise SpecError(f"edge {edge.src}->{edge.dst} has no op that can be selected")
        if len(allowed) > k:
            if w.rows is None:
                raise SpecError(f"edge {edge.src}->{edge.dst}: op weights are needed to keep "
                                f"{k} of {', '.join(allowed)}")
            row = w.rows[e]
            ranked = sorted(allowed, key=lambda o: (-row[w.columns[o]], w.columns[o]))
            allowed = [o for o in edge.ops if o in ranked[:k]]
        ops.append(tuple(allowed))
    return _with_ops(cell, ops)


def fair_threshold(space: Space, cell_name: str, weights: object, op_names: Sequence[str], *,
                   gamma: object = None, beta: object = None, threshold: float = 0.85) -> Cell:
    """FairDARTS (Chu et al., ECCV 2020, §4.3; released code ``utils.parse``,
    ``parse_method threshold_sparse``, ``op_threshold 0.85``): per node the (at most) k
    strongest incoming edges by their strongest selectable op weight (k: the topology's largest
    kept count; DARTS' rule), each kept only when that op's weight (its sigmoid) is at least
    ``threshold``, with its argmax op. Where fewer edges pass than the topology's minimum (the
    code lets a node keep none), the strongest of the others top the node up to it, so the
    genotype fits its space: on a ``pick 2`` cell this is DARTS' magnitude rule, on a
    ``pick 1..2`` cell (FairDARTS' "|edge| <= 2 per node") a node keeps 1 or 2 edges. Kept
    edges are listed strongest first."""
    cell = _cell(space, cell_name)
    w = _OpWeights(cell, weights, op_names, tuple(space.ops))
    kept = []
    for j, span in _node_spans(cell):
        sizes = _sizes(cell, j, len(span))
        allowed = {e: space.selectable_ops(cell, w.edges[e]) for e in span}
        ranked = sorted(span, key=lambda e: -w.strength(e, allowed[e]))[:sizes[-1]]
        passing = [e for e in ranked if w.strength(e, allowed[e]) >= threshold]
        n = max(len(passing), sizes[0])
        chosen = passing + [e for e in ranked if e not in passing][:n - len(passing)]
        chosen = sorted(chosen, key=lambda e: ranked.index(e))
        kept.append([(w.edges[e], w.best(e, allowed[e])) for e in chosen])
    return genotype_cell(cell, kept)
