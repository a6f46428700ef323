"""The final architecture weights of a search stage as heatmaps and bars, drawn from one epoch
record of ``metrics.jsonl`` (see ``figures.py`` for its fields), and the record helpers that the
run figures share.

- :func:`final_figure`: op weights (edges x ops) per cell type and, where the stage relaxes
  edges, gamma (node x input);
- :func:`beta_figure`: the combination weights beta, grouped by node.
"""

from __future__ import annotations

import math
from itertools import count
from typing import Any, Iterable, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..ir import Topology
from .charts import SERIES, new_figure
from .palette import op_order

Record = dict[str, Any]


def edge_key(label: str) -> tuple[int, int, int]:
    """Sort key of an edge label ``"src->dst"`` or ``"src->dst#k"``: by node, then input."""
    pair, _, k = label.partition("#")
    src, dst = pair.split("->")
    return int(dst), int(src), int(k or 1)


def sorted_edges(labels: Iterable[str]) -> list[str]:
    return sorted(labels, key=edge_key)



def value(x: Any) -> float:
    """A logged number as a float (None, a missing value: NaN)."""
    return math.nan if x is None else float(x)



def weight_matrix(record: Record, cell: str) -> tuple[list[str], list[str], np.ndarray]:
    """``(edges, ops, matrix)``: the op weights of ``cell`` in one record, edges x ops, NaN
    where an edge does not carry an op."""
    weights = record["weights"][cell]
    edges = sorted_edges(weights)
    ops = op_order(o for w in weights.values() for o in w)
    m = np.array([[value(weights[e].get(o)) for o in ops] for e in edges], dtype=float)
    return edges, ops, m.reshape(len(edges), len(ops))


def gamma_matrix(record: Record, cell: str) -> tuple[list[int], list[int], np.ndarray]:
    """``(nodes, inputs, matrix)``: gamma of ``cell`` as node x input (a repeated pair: its
    first edge), NaN where there is no edge."""
    pairs = {(edge_key(lbl)[0], edge_key(lbl)[1]): g
             for lbl, g in record["gamma"][cell].items() if "#" not in lbl}
    nodes = sorted({d for d, _ in pairs})
    inputs = sorted({s for _, s in pairs})
    m = np.array([[value(pairs.get((d, s))) for s in inputs] for d in nodes], dtype=float)
    return nodes, inputs, m.reshape(len(nodes), len(inputs))


def _heatmap(fig: Figure, ax: Axes, m: np.ndarray, rows: Sequence[str], cols: Sequence[str],
             title: str) -> None:
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#eeeeee")
    finite = m[np.isfinite(m)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    image = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, aspect="auto", vmin=lo,
                      vmax=hi if hi > lo else lo + 1e-9, interpolation="nearest")
    for i, j in zip(*np.nonzero(np.isfinite(m))):
        v = m[i, j]
        best = v == np.nanmax(m[i])
        dark = hi <= lo or (v - lo) / (hi - lo) < 0.6
        ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=6.5,
                color="white" if dark else "black", fontweight="bold" if best else "normal")
    ax.set_xticks(range(len(cols)), cols, rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8).ax.tick_params(labelsize=7)


def final_figure(record: Record) -> Figure:
    """Heatmaps of one record: op weights (edges x ops, the largest of each edge in bold) per
    cell type and, where the stage relaxes edges, gamma (node x input)."""
    cells = list(record["weights"])
    gamma = [c for c in cells if c in record.get("gamma", {})]
    n_edges = max(len(record["weights"][c]) for c in cells)
    n_ops = max(len(weight_matrix(record, c)[1]) for c in cells)
    heights = [0.28 * n_edges + 1.3] + ([0.35 * len(gamma_matrix(record, gamma[0])[0]) + 1.4]
                                         if gamma else [])
    fig = new_figure(len(cells) * (0.55 * n_ops + 2.6), sum(heights) + 0.5)
    grid = fig.add_gridspec(len(heights), len(cells), height_ratios=heights)
    for c, cell in enumerate(cells):
        edges, ops, m = weight_matrix(record, cell)
        _heatmap(fig, fig.add_subplot(grid[0, c]), m, [f"{e}" for e in edges], ops,
                 f"cell {cell}: op weights")
        if cell in gamma:
            nodes, inputs, g = gamma_matrix(record, cell)
            ax = fig.add_subplot(grid[1, c])
            _heatmap(fig, ax, g, [str(n) for n in nodes], [str(s) for s in inputs],
                     f"cell {cell}: edge weights γ")
            ax.set_xlabel("input node", fontsize=8)
            ax.set_ylabel("node", fontsize=8)
    fig.suptitle(f"{record['stage']}: architecture weights after epoch {record['epoch']}",
                 fontsize=11)
    return fig


def beta_groups(record: Record, cell: str) -> list[tuple[int, list[tuple[str, float]]]]:
    """beta of ``cell`` per node: ``[(node, [(combination, weight), ...]), ...]``, a combination
    named by its inputs (``"0+1"``).

    The record holds beta flat; the nodes' shares follow from their incoming edges and the
    topology rule, which is found as the one whose combination counts add up to the list's
    length and whose per-node weights each sum to 1 (a softmax per node). When none fits, all
    of beta is one group (node -1) named by position."""
    beta = [float(b) for b in record["beta"][cell]]
    labels = sorted_edges(record.get("gamma", {}).get(cell) or record["weights"][cell])
    nodes = list(dict.fromkeys(edge_key(lbl)[0] for lbl in labels))
    inputs = {n: [lbl.split("->")[0] for lbl in labels if edge_key(lbl)[0] == n] for n in nodes}
    widest = max(len(v) for v in inputs.values())
    rules = [Topology("keep")] + [Topology("pick", lo, hi) for lo in range(1, widest + 1)
                                  for hi in [*range(lo, widest + 1), None]]
    for rule in rules:
        if sum(rule.count(len(inputs[n])) for n in nodes) != len(beta):
            continue
        groups, start = [], 0
        for n in nodes:
            combos = list(rule.combinations(len(inputs[n])))
            part = beta[start:start + len(combos)]
            start += len(combos)
            groups.append((n, [("+".join(inputs[n][i] for i in c), b)
                               for c, b in zip(combos, part)]))
        if all(abs(sum(b for _, b in g) - 1.0) < 1e-3 for _, g in groups):
            return groups
    return [(-1, [(str(i), b) for i, b in enumerate(beta)])]


def beta_figure(record: Record) -> Figure:
    """The combination weights beta of one record: per cell type a panel of horizontal bars,
    grouped and coloured by node."""
    cells = list(record["beta"])
    grouped = {c: beta_groups(record, c) for c in cells}
    bars = max(sum(len(g) for _, g in groups) for groups in grouped.values())
    fig = new_figure(4.2 * len(cells), 0.22 * bars + 1.6)
    axes = fig.subplots(1, len(cells), squeeze=False)[0]
    for ax, cell in zip(axes, cells):
        y, names, values, colours = count(), [], [], []
        ys = []
        for k, (node, items) in enumerate(grouped[cell]):
            for combo, b in items:
                ys.append(next(y))
                names.append(f"node {node}: {combo}" if node >= 0 else combo)
                values.append(b)
                colours.append(SERIES[k % len(SERIES)])
            next(y)  # a gap between nodes
        ax.barh(ys, values, color=colours)
        ax.set_yticks(ys, names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("combination weight β", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_title(f"cell {cell}", fontsize=9)
    fig.suptitle(f"{record['stage']}: edge-combination weights after epoch {record['epoch']}",
                 fontsize=11)
    return fig
