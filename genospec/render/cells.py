"""Graphviz pictures of cells: a genotype's, a space's and a searched supernet's.

Drawn the DARTS way, left to right: the cell inputs c_{k-2}, c_{k-1} (one input: c_{k-1}),
intermediate nodes numbered as in the IR (2, 3, ... for DARTS cells), the output c_{k}. Only
the nodes in the cell's output feed c_{k}.
"""

from __future__ import annotations

from html import escape
from typing import Mapping, Sequence

import graphviz

from ..errors import SpecError, did_you_mean
from ..ir import Cell, Edge, Space, cell_architectures
from .palette import op_colour

_INPUT = {"shape": "box", "style": "rounded,filled", "fillcolor": "#cfe8cf"}
_NODE = {"shape": "circle", "style": "filled", "fillcolor": "#d5e3f5", "fixedsize": "true",
         "width": "0.5"}
_OUTPUT = {"shape": "box", "style": "rounded,filled", "fillcolor": "#f3e7b3"}
_SHORT = 3  # a space edge lists its ops when it has at most this many
TOP_OPS = 2  # ops labelled on each edge of a searched cell, by default

Key = tuple[int, int]


def _cell(space: Space, cell_name: str) -> Cell:
    if cell_name not in space.cells:
        raise SpecError(f"{space.name} has no cell {cell_name!r}",
                        hint=did_you_mean(cell_name, space.cells))
    return space.cells[cell_name]


def _skeleton(space: Space, cell: Cell, title: list[str]) -> graphviz.Digraph:
    """Inputs, intermediate nodes, output and the output edges; op edges are added by callers."""
    g = graphviz.Digraph(name=f"{space.name}_{cell.name}", format="svg")
    g.attr(rankdir="LR", fontname="Helvetica", labelloc="t", label="\\n".join(title))
    g.attr("node", fontname="Helvetica")
    g.attr("edge", fontname="Helvetica", fontsize="10")
    for i in range(cell.inputs):
        g.node(str(i), f"c_{{k-{cell.inputs - i}}}", **_INPUT)
    for j in cell.node_ids:
        g.node(str(j), str(j), **_NODE)
    out = cell.output
    g.node("out", "c_{k} = sum" if out.kind == "sum" else "c_{k}", **_OUTPUT)
    for j in out.nodes:
        g.edge(str(j), "out", color="gray40")
    return g


def _op_edge(g: graphviz.Digraph, e: Edge, label: str, **attrs: str) -> None:
    g.edge(str(e.src), str(e.dst), label=label, **attrs)


def render_genotype(space: Space, cell_name: str) -> graphviz.Digraph:
    """A genotype cell: one op per edge, the op name as the edge label."""
    cell = _cell(space, cell_name)
    if not cell.is_fixed:
        raise SpecError(f"cell {cell_name} of {space.name} still has choices; draw it with "
                        f"render_space")
    kind = "reduction cell" if cell.reduction else "cell"
    g = _skeleton(space, cell, [f"{space.name}: {kind} {cell.name}"])
    for e in cell.edges():
        _op_edge(g, e, e.op)
    return g


def _space_label(space: Space, cell: Cell) -> list[str]:
    kind = "genotype" if space.is_genotype else "space"
    n = cell_architectures(space, cell)
    lines = [f"{kind} {space.name}: cell {cell.name} (stride {cell.stride})",
             f"topology {cell.topology.describe()}: {n:,} architecture{'' if n == 1 else 's'}",
             "ops: " + ", ".join(cell.op_names())]
    for group, members in (space.groups or {}).items():
        lines.append(f"group {group} = {', '.join(members)}")
    return lines


def render_space(space: Space, cell_name: str) -> graphviz.Digraph:
    """A space's cell: every candidate edge with its op count (and ops when few), groups and
    the topology rule in the graph label."""
    cell = _cell(space, cell_name)
    g = _skeleton(space, cell, _space_label(space, cell))
    for e in cell.edges():
        n = len(e.ops)
        if n == 1:
            label = e.ops[0]
        elif n <= _SHORT:
            label = "\\n".join([f"{n} ops", *e.ops])
        else:
            label = f"{n} ops"
        _op_edge(g, e, label)
    return g


def _check_keys(cell: Cell, keys: list[Key], what: str) -> None:
    known = {(e.src, e.dst) for e in cell.edges()}
    for k in keys:
        if k not in known:
            raise SpecError(f"{what} name edge {k[0]}->{k[1]}, which cell {cell.name} does not have")


def render_weights(space: Space, cell_name: str, edge_weights: dict[Key, dict[str, float]],
                   edge_strength: dict[Key, float] | None = None, top: int | None = TOP_OPS,
                   selected: Mapping[Key, Sequence[str]] | None = None) -> graphviz.Digraph:
    """A searched supernet cell, legible at its default size.

    Each edge is labelled with its ``top`` largest op weights (all with ``top=None``; the zero
    op left out where topology, not the op, removes edges, as selection does) in the ops'
    figure colours, under its strength when ``edge_strength`` is given (e.g. DOTS gamma,
    DARTS-PT or sigmoid edge weights; without it an edge is as strong as its largest op weight).
    Pen width grows with strength. ``selected`` (edge -> kept ops, e.g. the stage's result)
    draws those edges dark red with their kept ops in bold, the others grey. Edges of zero
    strength (dropped, masked) are dotted, faint and unlabelled; edges absent from
    ``edge_weights`` dashed and unlabelled.
    """
    cell = _cell(space, cell_name)
    _check_keys(cell, list(edge_weights), "edge weights")
    if edge_strength is not None:
        _check_keys(cell, list(edge_strength), "edge strengths")
    choices: dict[Key, tuple[str, ...]] = {}
    for (src, dst), weights in edge_weights.items():
        edge = next(e for e in cell.in_edges(dst) if e.src == src)
        for op in weights:
            if op not in edge.ops:
                raise SpecError(f"edge weights give op {op!r} on edge {src}->{dst}, which does "
                                f"not carry it", hint=did_you_mean(op, edge.ops))
        choices[(src, dst)] = space.selectable_ops(cell, edge) or edge.ops
    strength = dict(edge_strength) if edge_strength is not None else {
        k: max((v for o, v in w.items() if o in choices[k]), default=0.0)
        for k, w in edge_weights.items()}
    drawn = [v for v in strength.values() if v > 0.0]
    lo, hi = min(drawn, default=0.0), max(drawn, default=0.0)
    k_text = "all" if top is None else f"the {top} largest"
    title = [*_space_label(space, cell),
             f"edge labels: {k_text} op weights; pen width: edge weight, {lo:.3f} (thinnest) to "
             f"{hi:.3f} (thickest)"]
    if selected is not None:
        title.append("red: edges selected, bold: ops kept; grey: not selected; dotted: weight 0")
    g = _skeleton(space, cell, title)
    g.attr(nodesep="0.5")
    for e in cell.edges():
        key = (e.src, e.dst)
        if key not in edge_weights:
            _op_edge(g, e, "", style="dashed", color="gray60")
            continue
        s = max(strength.get(key, 0.0), 0.0)
        if s <= 0.0:
            _op_edge(g, e, "", style="dotted", color="gray80")
            continue
        kept = set(selected.get(key, ())) if selected is not None else set()
        ranked = sorted(((o, w) for o, w in edge_weights[key].items() if o in choices[key]),
                        key=lambda ow: (ow[0] not in kept, -ow[1]))  # kept ops first
        shown = sorted(ranked[:max(top or len(ranked), len(kept & set(edge_weights[key])))],
                       key=lambda ow: -ow[1])
        lines = [_weight_line(op, w, op in kept) for op, w in shown]
        if edge_strength is not None:
            lines.insert(0, f"edge {s:.3f}")
        colour = "gray30" if selected is None else "#b2182b" if key in selected else "gray60"
        width = 0.8 + 3.7 * (s - lo) / (hi - lo) if hi > lo else 2.0
        _op_edge(g, e, "<" + "<BR/>".join(lines) + ">", penwidth=f"{width:.2f}", color=colour,
                 fontcolor=colour if selected is not None else "black")
    return g


def _weight_line(op: str, weight: float, bold: bool) -> str:
    """One HTML-like label line: the op in its colour, its weight; bold when kept."""
    text = f'<FONT COLOR="{op_colour(op)}">{escape(op)}</FONT> {weight:.3f}'
    return f"<B>{text}</B>" if bold else text
