"""Matplotlib figures: what the run figures (``figures.py``) and the studies share, and the
studies' two chart kinds (scatter panels, grouped bars).

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``), never pyplot:
no GUI backend is chosen, nothing is shown, no global figure list grows, and a figure is freed
like any other object. PNG goes through Agg, SVG and PDF through matplotlib's own writers;
files are written under a temporary name and renamed, and carry no date (SVG and PDF of the
same data are byte-identical). SVG keeps its text as text (selectable, searchable, small).
"""

from __future__ import annotations

import io
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import matplotlib
from matplotlib.figure import Figure

FORMATS = ("png", "svg", "pdf")
DPI = 150
_METADATA = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
# series colours of the study charts (matplotlib's tab10)
SERIES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches with constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")


def wrap(title: str, width: int) -> str:
    """``title`` broken into lines of at most ``width`` characters."""
    return "\n".join(textwrap.wrap(title, width)) or title


def save(fig: Figure, stem: str | Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``fig`` as ``stem.<format>`` for every format (png, svg, pdf); the paths written."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    if len(formats) > 1:  # lay out once, then keep that layout for every format
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    with matplotlib.rc_context({"svg.hashsalt": "genospec", "svg.fonttype": "none"}):
        for fmt in formats:
            if fmt not in _METADATA:
                raise ValueError(f"unknown figure format {fmt!r}; known: {', '.join(FORMATS)}")
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=DPI, metadata=_METADATA[fmt])
            path = stem.with_name(f"{stem.name}.{fmt}")
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(buffer.getvalue())
            os.replace(tmp, path)
            paths.append(path)
    return paths


# ---- studies ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Panel:
    """One scatter panel: ``points`` are (x, y, label); the caption goes above the panel."""

    caption: str
    x_label: str
    y_label: str
    points: Sequence[tuple[float, float, str]]


def scatter_figure(panels: Sequence[Panel], title: str) -> Figure:
    """Panels side by side, each with its axes, ticks, points and point labels."""
    fig = new_figure(4.2 * len(panels), 3.9)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for k, (ax, panel) in enumerate(zip(axes, panels)):
        xs = [p[0] for p in panel.points]
        ys = [p[1] for p in panel.points]
        ax.scatter(xs, ys, color=SERIES[k % len(SERIES)], zorder=3)
        for x, y, label in panel.points:
            ax.annotate(label, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8)
        ax.set_title(panel.caption, fontsize=10)
        ax.set_xlabel(panel.x_label)
        ax.set_ylabel(panel.y_label)
        ax.grid(True, alpha=0.3)
        ax.margins(0.15)
    fig.suptitle(wrap(title, int(22 * len(panels) + 20)), fontsize=11)
    return fig


def bars_figure(groups: Sequence[tuple[str, dict[str, float]]], title: str, y_label: str,
                y_max: float | None = None) -> Figure:
    """Grouped bars: one group per (label, {series: value}) (labels may hold line breaks),
    series coloured alike across groups, each bar labelled with its value; the y axis runs
    from 0 to ``y_max`` (default: a little above the largest value)."""
    series = list(dict.fromkeys(s for _, values in groups for s in values))
    fig = new_figure(max(4.5, 0.35 * len(groups) * (len(series) + 1) + 1.5), 4.2)
    ax = fig.subplots()
    width = 0.8 / max(len(series), 1)
    for s, name in enumerate(series):
        xs = [g + (s - (len(series) - 1) / 2) * width
              for g, (_, values) in enumerate(groups) if name in values]
        heights = [values[name] for _, values in groups if name in values]
        bars = ax.bar(xs, heights, width * 0.92, label=name, color=SERIES[s % len(SERIES)])
        ax.bar_label(bars, fmt="%.3g", fontsize=8, padding=1)
    ax.set_xticks(range(len(groups)), [label for label, _ in groups], fontsize=8)
    ax.set_ylabel(y_label)
    top = max([v for _, values in groups for v in values.values()] + [1.0])
    ax.set_ylim(0, (y_max if y_max is not None else top) * 1.08)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(wrap(title, 70), fontsize=11)
    return fig
