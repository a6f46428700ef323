"""Figures of a search run, drawn from its ``metrics.jsonl`` alone (no engine, no torch).

Each line of ``metrics.jsonl`` is one epoch of one stage: ``stage``, ``epoch``, losses and
accuracies (``train_*``, ``val_*``, ``arch_val_*``), ``lr``, temperatures ``t_op`` and
``t_edge``, and the architecture weights: ``weights[cell][edge][op]`` (edges labelled
``"src->dst"``, ``#k`` on a repeated pair), ``gamma[cell][edge]`` and ``beta[cell]`` (a flat list,
node after node) where the stage relaxes edges. :func:`write_run_figures` writes, per stage, to
``<run>/plots/`` (PNG, SVG and PDF each):

- ``<stage>_weights_<cell>``: every edge's op weights per epoch, one panel per edge, each axis
  scaled to its own data, one colour per op (:func:`~genospec.render.palette.op_colour`);
- ``<stage>_edges_<cell>``: the edge weights gamma per epoch, one panel per node;
- ``<stage>_final``: heatmaps of the last epoch's op weights (edges x ops) per cell type and of
  gamma (node x input) (``heatmaps.py``);
- ``<stage>_beta``: the last epoch's combination weights beta, grouped by node;
- ``<stage>_curves``: loss and accuracy per epoch (training, validation, architecture
  validation) and the learning rate and temperatures.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..checkpoint import read_jsonl
from .charts import FORMATS, SERIES, new_figure, save, wrap
from .heatmaps import Record, beta_figure, edge_key, final_figure, sorted_edges, value
from .palette import op_colour, op_order
MARKERS_UP_TO = 15  # epochs; longer series are drawn as plain lines


# ---- reading ---------------------------------------------------------------------------------
def read_records(run_dir: str | Path) -> list[Record]:
    """The epoch records of a run directory's ``metrics.jsonl`` (none: an empty list)."""
    return read_jsonl(Path(run_dir) / "metrics.jsonl")


def by_stage(records: Iterable[Record]) -> dict[str, list[Record]]:
    """Records grouped by stage, stages in the order they ran."""
    out: dict[str, list[Record]] = {}
    for r in records:
        if "stage" in r and "epoch" in r:
            out.setdefault(str(r["stage"]), []).append(r)
    return out


def _cell_ops(records: Sequence[Record], cell: str) -> list[str]:
    return op_order(o for r in records for w in r["weights"].get(cell, {}).values() for o in w)


# ---- shared drawing --------------------------------------------------------------------------
# panel grids are laid out by hand (inches), not by constrained layout: a search redraws them
# after every epoch, and the layout solver would double the time that takes
PANEL_W, PANEL_H = 2.2, 1.45
LEFT, RIGHT, TOP, BOTTOM, GAP_W, GAP_H, LEGEND_ROW = 0.85, 0.15, 0.7, 0.45, 0.75, 0.6, 0.25


def _panels(n: int, columns: int, legend_rows: int = 0) -> tuple[Figure, list[Axes]]:
    """A figure with ``n`` panels, ``columns`` a row, room for a suptitle and a legend."""
    rows = -(-n // columns)
    width = LEFT + columns * PANEL_W + (columns - 1) * GAP_W + RIGHT
    bottom = BOTTOM + legend_rows * LEGEND_ROW
    height = TOP + rows * PANEL_H + (rows - 1) * GAP_H + bottom
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=LEFT / width, right=1 - RIGHT / width, top=1 - TOP / height,
                        bottom=bottom / height, wspace=GAP_W / PANEL_W, hspace=GAP_H / PANEL_H)
    axes = list(fig.subplots(rows, columns, squeeze=False).flat)
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, axes[:n]


def _epoch_axis(ax: Axes, last_row: bool) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    if last_row:
        ax.set_xlabel("epoch", fontsize=8)


def _marker(epochs: Sequence[int]) -> dict[str, Any]:
    return {"marker": "o", "markersize": 2.5} if len(epochs) <= MARKERS_UP_TO else {}


# ---- figures ---------------------------------------------------------------------------------
def weights_figure(records: Sequence[Record], cell: str) -> Figure:
    """Op weights of every edge of ``cell`` per epoch over ``records`` (one stage's).

    Each panel's y axis fits its own data. A weight that is 0 or 1 at every epoch (a group of one
    op, an op masked from the start) is named in the panel instead of drawn, so that it does not
    squash the others' axis."""
    epochs = [r["epoch"] for r in records]
    edges = sorted_edges(records[-1]["weights"][cell])
    ops = _cell_ops(records, cell)
    columns = min(len(edges), 5 if len(edges) > 8 else 4)
    per_row = min(len(ops), 2 * columns)
    fig, axes = _panels(len(edges), columns, legend_rows=-(-len(ops) // per_row))
    for k, (ax, edge) in enumerate(zip(axes, edges)):
        series = {o: [value(r["weights"][cell].get(edge, {}).get(o)) for r in records]
                  for o in ops}
        series = {o: ys for o, ys in series.items() if not all(math.isnan(y) for y in ys)}
        fixed = {o: ys[0] for o, ys in series.items()
                 if ys[0] in (0.0, 1.0) and all(y == ys[0] for y in ys)}
        if len(fixed) == len(series):
            fixed = {}
        for o, ys in series.items():
            if o not in fixed:
                ax.plot(epochs, ys, color=op_colour(o), linewidth=1.4, **_marker(epochs))
        if fixed:
            ax.text(0.02, 0.03, "\n".join(f"{o} = {v:g} throughout" for o, v in fixed.items()),
                    transform=ax.transAxes, fontsize=6.5, color="dimgray")
        ax.set_title(f"edge {edge.replace('->', ' → ')}", fontsize=9)
        _epoch_axis(ax, last_row=k + columns >= len(edges))
        if k % columns == 0:
            ax.set_ylabel("weight", fontsize=8)
    handles = [Line2D([], [], color=op_colour(o), linewidth=2) for o in ops]
    fig.legend(handles, ops, loc="lower center", ncol=per_row, fontsize=8, frameon=False)
    stage = records[-1]["stage"]
    fig.suptitle(f"{stage}: op weights of cell {cell} per epoch", fontsize=11)
    return fig


def edges_figure(records: Sequence[Record], cell: str) -> Figure:
    """Edge weights gamma of ``cell`` per epoch, one panel per node, one line per input."""
    epochs = [r["epoch"] for r in records]
    labels = sorted_edges(records[-1]["gamma"][cell])
    nodes = list(dict.fromkeys(edge_key(lbl)[0] for lbl in labels))
    fig, axes = _panels(len(nodes), columns := min(len(nodes), 4))
    for k, (ax, node) in enumerate(zip(axes, nodes)):
        for i, lbl in enumerate(lbl for lbl in labels if edge_key(lbl)[0] == node):
            ys = [value(r.get("gamma", {}).get(cell, {}).get(lbl)) for r in records]
            src = lbl.split("->")[0] + ("#" + lbl.split("#")[1] if "#" in lbl else "")
            ax.plot(epochs, ys, color=SERIES[i % len(SERIES)], linewidth=1.4,
                    label=f"from {src}", **_marker(epochs))
        ax.set_title(f"node {node}", fontsize=9)
        ax.legend(fontsize=6.5, frameon=False)
        _epoch_axis(ax, last_row=k + columns >= len(nodes))
        if k % columns == 0:
            ax.set_ylabel("edge weight γ", fontsize=8)
    fig.suptitle(f"{records[-1]['stage']}: edge weights of cell {cell} per epoch", fontsize=11)
    return fig


_CURVES = (
    ("loss", (("train_loss", "training"), ("val_loss", "validation"),
              ("arch_val_loss", "architecture validation"))),
    ("accuracy", (("train_acc", "training"), ("val_acc", "validation"),
                  ("arch_val_acc", "architecture validation"))),
    ("schedule (log scale)", (("lr", "learning rate"), ("t_op", "op temperature"),
                              ("t_edge", "edge temperature"))),
)


def curves_figure(records: Sequence[Record]) -> Figure:
    """Loss, accuracy and schedule (learning rate, temperatures) per epoch of one stage."""
    epochs = [r["epoch"] for r in records]
    panels = [(title, [(key, label) for key, label in lines
                       if any(r.get(key) is not None for r in records)])
              for title, lines in _CURVES]
    panels = [(title, lines) for title, lines in panels if lines]
    fig = new_figure(3.6 * len(panels), 3.3)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, lines) in zip(axes, panels):
        for i, (key, label) in enumerate(lines):
            ax.plot(epochs, [value(r.get(key)) for r in records], color=SERIES[i],
                    linestyle="--" if key.startswith("arch_") else "-", linewidth=1.5,
                    label=label, **_marker(epochs))
        if title.startswith("schedule"):
            ax.set_yscale("log")
        else:
            ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(wrap(f"{records[-1]['stage']}: training curves", 80), fontsize=11)
    return fig


# ---- a run directory -------------------------------------------------------------------------
def stage_figures(records: Sequence[Record], final: bool = True) -> dict[str, Figure]:
    """The figures of one stage's records, by file name without the stage (``weights_normal``,
    ``final``, ``curves``, ...); without ``final``, only those over epochs (no heatmaps, no
    beta)."""
    figures = {"curves": curves_figure(records)}
    arch = [r for r in records if "weights" in r]
    if arch:
        last = arch[-1]
        for cell in last["weights"]:
            figures[f"weights_{cell}"] = weights_figure(arch, cell)
        for cell in last.get("gamma", {}):
            figures[f"edges_{cell}"] = edges_figure(arch, cell)
        if final:
            figures["final"] = final_figure(last)
            if last.get("beta"):
                figures["beta"] = beta_figure(last)
    return figures


REDRAW_AFTER = 10.0  # seconds: a running stage is redrawn after epochs at least this long


def finished(records: Sequence[Record]) -> bool:
    """Whether one stage's records end with its last training epoch (``epoch`` == ``epochs``).
    Epochs numbered past it (DARTS-PT's fine-tuning between decisions) count as running: how
    many more follow is not in the records."""
    last = records[-1]
    return last.get("epochs") is None or last["epoch"] == last["epochs"]


def write_run_figures(run_dir: str | Path, records: Sequence[Record] | None = None,
                      stages: Sequence[str] | None = None,
                      formats: Sequence[str] | None = None) -> list[Path]:
    """Write the figures of a run directory (see the module docstring) to ``<run_dir>/plots``.

    ``records`` default to the run's ``metrics.jsonl``; ``stages`` limits the stages drawn
    (default: all). With ``formats`` every figure is written in each of them. By default a
    finished stage gets every figure in PNG, SVG and PDF, and a stage still running only its
    figures over epochs, in PNG, and only when its last epoch took ``REDRAW_AFTER`` seconds or
    more: a search calls this after every epoch, and drawing takes a second or two (several for
    a finished stage's every figure and format). Returns the files written."""
    records = read_records(run_dir) if records is None else records
    paths: list[Path] = []
    for stage, stage_records in by_stage(records).items():
        if stages is not None and stage not in stages:
            continue
        done = formats is not None or finished(stage_records)
        if not done and (stage_records[-1].get("seconds") or 0.0) < REDRAW_AFTER:
            continue
        kinds = formats or (FORMATS if done else ("png",))
        for name, fig in stage_figures(stage_records, final=done).items():
            paths += save(fig, Path(run_dir) / "plots" / f"{stage}_{name}", kinds)
    return paths
