"""IR fixtures for the nn tests, built by hand from DARTS genotype lists (no parser needed)."""

from __future__ import annotations

import dataclasses

import torch

from genospec.ir import Cell, Edge, Network, OpDef, Output, Space, Topology
from genospec.oplib import STANDARD_OPS

# (op, input) lists copied as data from /work/shared/fixtures/published_genotypes.txt.
GENOTYPES: dict[str, dict[str, list]] = {
    "DARTS_V1": {
        "normal": [("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
                   ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)],
        "normal_concat": [2, 3, 4, 5],
        "reduce": [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
                   ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)],
        "reduce_concat": [2, 3, 4, 5],
    },
    "DARTS_V2": {
        "normal": [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
                   ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
        "normal_concat": [2, 3, 4, 5],
        "reduce": [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
                   ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
        "reduce_concat": [2, 3, 4, 5],
    },
    "NASNet": {
        "normal": [("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0), ("sep_conv_3x3", 0),
                   ("avg_pool_3x3", 1), ("skip_connect", 0), ("avg_pool_3x3", 0), ("avg_pool_3x3", 0),
                   ("sep_conv_3x3", 1), ("skip_connect", 1)],
        "normal_concat": [2, 3, 4, 5, 6],
        "reduce": [("sep_conv_5x5", 1), ("sep_conv_7x7", 0), ("max_pool_3x3", 1), ("sep_conv_7x7", 0),
                   ("avg_pool_3x3", 1), ("sep_conv_5x5", 0), ("skip_connect", 3), ("avg_pool_3x3", 2),
                   ("sep_conv_3x3", 2), ("max_pool_3x3", 1)],
        "reduce_concat": [4, 5, 6],
    },
    "AmoebaNet": {
        "normal": [("avg_pool_3x3", 0), ("max_pool_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 2),
                   ("sep_conv_3x3", 0), ("avg_pool_3x3", 3), ("sep_conv_3x3", 1), ("skip_connect", 1),
                   ("skip_connect", 0), ("avg_pool_3x3", 1)],
        "normal_concat": [4, 5, 6],
        "reduce": [("avg_pool_3x3", 0), ("sep_conv_3x3", 1), ("max_pool_3x3", 0), ("sep_conv_7x7", 2),
                   ("sep_conv_7x7", 0), ("avg_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 1),
                   ("conv_7x1_1x7", 0), ("sep_conv_3x3", 5)],
        "reduce_concat": [3, 4, 6],
    },
}

DARTS_OPS = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
             "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]


def darts_cell(name: str, pairs: list, concat: list[int], stride: int) -> Cell:
    """A 2-input genotype cell: entries 2k and 2k+1 of ``pairs`` feed node k+2."""
    edges = [Edge(src, 2 + i // 2, (op,), order=i % 2) for i, (op, src) in enumerate(pairs)]
    return Cell.build(name, 2, len(pairs) // 2, stride, Topology("keep"), edges,
                      Output("concat", tuple(concat)))


def darts_genotype(name: str, **network: object) -> Space:
    """The published genotype ``name`` as a genotype Space over the standard op library."""
    g = GENOTYPES[name]
    cells = {"normal": darts_cell("normal", g["normal"], g["normal_concat"], 1),
             "reduce": darts_cell("reduce", g["reduce"], g["reduce_concat"], 2)}
    return Space(name, "genotype", dict(STANDARD_OPS), cells,
                 dataclasses.replace(Network(), **network))


def darts_space(ops: list[str] = DARTS_OPS) -> Space:
    """The DARTS search space: every op on all 14 edges, each node picks 2."""
    def cell(name: str, stride: int) -> Cell:
        edges = [Edge(i, j, tuple(ops), order=i) for j in range(2, 6) for i in range(j)]
        return Cell.build(name, 2, 4, stride, Topology("pick", 2, 2), edges,
                          Output("concat", (2, 3, 4, 5)))
    return Space("darts", "space", {o: STANDARD_OPS[o] for o in ops},
                 {"normal": cell("normal", 1), "reduce": cell("reduce", 2)})


def nb201_genotype(ops: tuple[tuple[str, ...], ...], cells: int = 15, channels: int = 16) -> Space:
    """A NAS-Bench-201 cell: ``ops[k][j]`` is the op on edge j -> k+1."""
    edges = [Edge(j, k + 1, (op,), order=j) for k, row in enumerate(ops) for j, op in enumerate(row)]
    cell = Cell.build("normal", 1, 3, 1, Topology("keep"), edges, Output("node", (3,)))
    return Space("nb201", "genotype", dict(STANDARD_OPS), {"normal": cell},
                 Network(layout="nb201", cells=cells, channels=channels))


def one_edge_space(op: OpDef, stride: int = 2) -> Space:
    """A space whose only cell has one node fed by one edge 1 -> 2 (for hand counts)."""
    cell = Cell.build("reduce", 2, 1, stride, Topology("keep"), [Edge(1, 2, (op.name,))],
                      Output("concat", (2,)))
    return Space("one_edge", "genotype", {op.name: op}, {"reduce": cell},
                 Network(cells=1, channels=4, classes=10))


def graph_nodes(out: torch.Tensor) -> set[str]:
    """Names of the autograd nodes behind ``out`` (every node visited once)."""
    names, visited, todo = set(), set(), [out.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in visited:
            continue
        visited.add(node)
        names.add(node.name())
        todo.extend(n for n, _ in node.next_functions)
    return names
