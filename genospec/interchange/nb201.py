"""NAS-Bench-201 arch strings <-> IR genotypes.

``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: one ``+``-separated group per intermediate node
(nodes 1, 2, 3), each listing ``op~source`` for every earlier node. The cell has one input
(node 0), every node sums its incoming edges and the cell's output is the last node.
"""

from __future__ import annotations

import re

from ..errors import ConversionError, Source, Span, did_you_mean
from ..ir import Cell, Edge, Network, OpDef, Output, Space, Topology
from ..limits import MAX_NODES
from ..oplib import STANDARD_OPS

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The NAS-Bench-201 op set; other standard ops (DARTS-PT's ``noise`` variant) also parse."""

_SHAPE = re.compile(r"\|(?:[^|+]+\|)+(?:\+\|(?:[^|+]+\|)+)*")
_ENTRY = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)~([0-9]{1,9})")  # a longer source is no earlier node
_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def nb201_network() -> Network:
    """NAS-Bench-201's TinyNetwork: C=16, 3 stages of 5 cells with residual reductions between."""
    return Network(layout="nb201", cells=15, channels=16, stem="conv(3, channels=C)")


def parse_nb201(text: str, name: str = "nb201", filename: str = "<string>") -> Space:
    """The IR genotype (one cell ``normal``) of a NAS-Bench-201 arch string."""
    text = text.strip()
    source = Source(filename, text)
    if not _SHAPE.fullmatch(text):
        raise ConversionError("not a NAS-Bench-201 arch string", Span(source, 1, 1, 1, len(text) + 1),
                              f"expected the form {_EXAMPLE}")
    if text.count("+") >= MAX_NODES:
        raise ConversionError(f"{text.count('+') + 1:,} nodes, more than the limit of {MAX_NODES}",
                              Span(source, 1, 1, 1, 2))
    edges: list[Edge] = []
    node, order = 1, 0
    for m in re.finditer(r"\+|[^|+]+", text):
        if m.group() == "+":
            _check_sources(edges, node, source, m.start())
            node, order = node + 1, 0
            continue
        span = Span(source, 1, m.start() + 1, 1, m.end() + 1)
        entry = _ENTRY.fullmatch(m.group())
        if entry is None:
            found = m.group() if len(m.group()) <= 40 else m.group()[:40] + "..."
            raise ConversionError(f"expected op~source, found {found!r}", span)
        op, src = entry.group(1), int(entry.group(2))
        if op not in STANDARD_OPS:
            raise ConversionError(f"unknown op {op!r}", span, did_you_mean(op, NB201_OPS))
        if src >= node:
            raise ConversionError(f"node {node} takes input {src}, which is not an earlier node",
                                  span)
        edges.append(Edge(src, node, (op,), order))
        order += 1
    _check_sources(edges, node, source, len(text) - 1)
    cell = Cell.build("normal", 1, node, 1, Topology("keep"), edges, Output("node", (node,)))
    used = set(cell.op_names())
    ops: dict[str, OpDef] = {n: d for n, d in STANDARD_OPS.items() if n in used}
    return Space(name, "genotype", ops, {"normal": cell}, nb201_network())


def _check_sources(edges: list[Edge], node: int, source: Source, at: int) -> None:
    """Node ``node`` must list every earlier node exactly once."""
    got = sorted(e.src for e in edges if e.dst == node)
    if got != list(range(node)):
        raise ConversionError(f"node {node} must take one edge from each of nodes 0..{node - 1}, "
                              f"found sources {got}", Span(source, 1, at + 1, 1, at + 2))


def to_nb201(space: Space) -> str:
    """The NAS-Bench-201 arch string of a one-cell, one-input genotype (output: last node)."""
    if len(space.cells) != 1:
        raise ConversionError(f"{space.name}: NAS-Bench-201 strings describe one cell; found "
                              f"{', '.join(space.cells)}")
    cell = next(iter(space.cells.values()))
    where = f"{space.name}: cell {cell.name}"
    if cell.inputs != 1:
        raise ConversionError(f"{where} has {cell.inputs} inputs; NAS-Bench-201 cells have 1")
    if not cell.is_fixed:
        raise ConversionError(f"{where} still has choices (several ops on an edge or a topology "
                              f"rule); only a genotype converts to NAS-Bench-201")
    last = cell.node_ids[-1]
    if cell.output != Output("node", (last,)):
        raise ConversionError(f"{where}: the output must be the last node ({last})")
    groups = []
    for j in cell.node_ids:
        edges = cell.in_edges(j)
        if sorted(e.src for e in edges) != list(range(j)):
            raise ConversionError(f"{where}: node {j} must take one edge from each of nodes "
                                  f"0..{j - 1}")
        groups.append("|" + "|".join(f"{e.op}~{e.src}" for e in edges) + "|")
    return "+".join(groups)
