"""An SVG line plot of architecture weights over epochs, written by hand (no plotting library).

One picture per stage and cell type: a grid of small panels, one per edge, each with one line
per candidate op (its relaxed weight after every epoch) and, when the stage relaxes edges, a
dashed black line for the edge weight gamma. The y axis spans [0, 1] (softmax, group-softmax and
sigmoid weights all lie there); the x axis spans the stage's epochs.
"""

from __future__ import annotations

from html import escape
from typing import Mapping, Sequence

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
PANEL_W, PANEL_H, PAD, GAP = 180, 110, 28, 14
LEGEND_ROW = 18


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _polyline(points: Sequence[tuple[float, float]], colour: str, dashed: bool = False) -> str:
    if len(points) == 1:
        x, y = points[0]
        return f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="2" fill="{colour}"/>'
    coords = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in points)
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (f'<polyline points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="1.5"{dash}/>')


def weights_plot_svg(epochs: Sequence[int], ops: Mapping[str, Sequence[Mapping[str, float]]],
                     gamma: Mapping[str, Sequence[float]] | None = None, title: str = "") -> str:
    """The SVG text of the plot.

    ``epochs`` are the x values; ``ops[edge]`` holds, for every epoch, that edge's op weights by
    op name (edges keyed by a label such as ``"0->2"``, drawn in the given order); ``gamma[edge]``
    the edge weight for every epoch, when there is one.
    """
    edges = list(ops)
    names: dict[str, None] = {}
    for series in ops.values():
        for snapshot in series:
            for name in snapshot:
                names.setdefault(name, None)
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    columns = min(4, max(1, len(edges)))
    rows = (len(edges) + columns - 1) // columns
    legend = list(names) + (["edge weight"] if gamma else [])
    legend_rows = (len(legend) + 3) // 4
    top = PAD + 10
    width = columns * (PANEL_W + GAP) + 2 * PAD
    height = top + rows * (PANEL_H + GAP + 12) + legend_rows * LEGEND_ROW + PAD
    x0, x1 = (min(epochs), max(epochs)) if epochs else (0, 1)
    span = max(x1 - x0, 1)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{PAD}" y="{PAD - 8}" font-size="13">{escape(title)}</text>']
    for k, edge in enumerate(edges):
        left = PAD + (k % columns) * (PANEL_W + GAP)
        upper = top + (k // columns) * (PANEL_H + GAP + 12)

        def point(epoch: int, value: float) -> tuple[float, float]:
            return (left + (epoch - x0) / span * PANEL_W,
                    upper + PANEL_H - max(0.0, min(1.0, value)) * PANEL_H)

        out.append(f'<rect x="{left}" y="{upper}" width="{PANEL_W}" height="{PANEL_H}" '
                   f'fill="none" stroke="#999"/>')
        out.append(f'<text x="{left + 4}" y="{upper + 12}">edge {escape(edge)}</text>')
        middle = upper + PANEL_H / 2  # the 0.5 grid line
        out.append(f'<line x1="{left}" y1="{_fmt(middle)}" x2="{left + PANEL_W}" '
                   f'y2="{_fmt(middle)}" stroke="#eee"/>')
        out.append(f'<text x="{left}" y="{upper + PANEL_H + 11}">{x0}</text>')
        out.append(f'<text x="{left + PANEL_W}" y="{upper + PANEL_H + 11}" '
                   f'text-anchor="end">{x1}</text>')
        for name in names:
            pts = [point(e, snap[name]) for e, snap in zip(epochs, ops[edge]) if name in snap]
            if pts:
                out.append(_polyline(pts, colour[name]))
        if gamma and edge in gamma:
            out.append(_polyline([point(e, g) for e, g in zip(epochs, gamma[edge])], "#000",
                                 dashed=True))
    legend_top = top + rows * (PANEL_H + GAP + 12) + 4
    for i, name in enumerate(legend):
        x = PAD + (i % 4) * 170
        y = legend_top + (i // 4) * LEGEND_ROW
        c = colour.get(name, "#000")
        dash = ' stroke-dasharray="4 3"' if name == "edge weight" else ""
        out.append(f'<line x1="{x}" y1="{y}" x2="{x + 20}" y2="{y}" stroke="{c}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{x + 26}" y="{y + 4}">{escape(name)}</text>')
    out.append(f'<text x="{width - PAD}" y="{height - 8}" text-anchor="end">epoch</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
