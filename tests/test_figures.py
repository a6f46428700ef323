"""Run figures (matplotlib) drawn from metrics.jsonl records: what each figure shows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

from genospec.render.figures import (REDRAW_AFTER, curves_figure, edges_figure, read_records,
                                     weights_figure, write_run_figures)
from genospec.render.heatmaps import beta_figure, beta_groups, final_figure, weight_matrix
from genospec.render.palette import OP_COLOURS, op_colour

DARTS_OPS = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
             "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]
EDGES = [f"{i}->{j}" for j in range(2, 6) for i in range(j)]  # the DARTS cell's 14 edges


def darts_records(epochs: int = 4, stage: str = "search", ops: list[str] = DARTS_OPS) -> list[dict]:
    """A DARTS-like stage whose op weights move between 0.12 and 0.13 (skip_connect rises from
    0.12 to 0.13 on every edge, the others share the rest)."""
    records = []
    for epoch in range(1, epochs + 1):
        skip = 0.12 + 0.01 * (epoch - 1) / max(epochs - 1, 1)
        rest = (1 - skip) / (len(ops) - 1)
        edge = {o: round(skip if o == "skip_connect" else rest, 6) for o in ops}
        records.append({
            "stage": stage, "epoch": epoch, "epochs": epochs, "lr": 0.025 / epoch,
            "train_loss": 2.0 / epoch, "val_loss": 2.1 / epoch, "arch_val_loss": 2.2 / epoch,
            "train_acc": 0.2 * epoch, "val_acc": 0.19 * epoch, "t_op": None, "t_edge": None,
            "weights": {"normal": {e: dict(edge) for e in EDGES},
                        "reduce": {e: dict(edge) for e in EDGES}}})
    return records


def line_colours(fig) -> dict[str, str]:
    """Legend label -> colour of the figure's shared legend."""
    (legend,) = fig.legends
    return {t.get_text(): to_hex(h.get_color())
            for t, h in zip(legend.get_texts(), legend.legend_handles)}


def test_a_small_movement_fills_the_axis() -> None:
    fig = weights_figure(darts_records(), "normal")
    panels = [ax for ax in fig.axes if ax.get_title().startswith("edge")]
    assert len(panels) == 14
    for ax in panels:
        lo, hi = ax.get_ylim()
        assert 0.11 <= lo < 0.12 and 0.13 < hi <= 0.14, (lo, hi)  # not a fixed 0-1 axis
        assert ax.get_xlim()[0] <= 1 and ax.get_xlim()[1] >= 4
    first = panels[0]
    assert first.get_title() == "edge 0 → 2" and first.get_ylabel() == "weight"
    assert [t.get_text() for t in first.get_yticklabels() if t.get_text()]  # labelled ticks
    assert panels[-1].get_xlabel() == "epoch"
    skip = next(line for line in first.get_lines()
                if to_hex(line.get_color()) == op_colour("skip_connect"))
    assert list(skip.get_ydata()) == pytest.approx(
        [0.12, 0.12 + 0.01 / 3, 0.12 + 0.02 / 3, 0.13], abs=1e-6)


def test_one_colour_per_op_in_every_panel_and_figure() -> None:
    full = weights_figure(darts_records(), "normal")
    few = weights_figure(darts_records(ops=["skip_connect", "sep_conv_3x3", "my_op"]), "reduce")
    assert line_colours(full) == {o: OP_COLOURS[o] for o in DARTS_OPS}
    assert line_colours(few) == {o: op_colour(o) for o in ("skip_connect", "sep_conv_3x3", "my_op")}
    for fig in (full, few):
        colours = line_colours(fig)
        for ax in fig.axes:
            assert {to_hex(line.get_color()) for line in ax.get_lines()} <= set(colours.values())
    assert op_colour("my_op") == op_colour("my_op") not in OP_COLOURS.values()
    assert len(set(OP_COLOURS.values())) == len(OP_COLOURS)  # known ops never share a colour


def test_weights_that_never_move_are_named_not_drawn() -> None:
    records = darts_records(ops=["skip_connect", "none", "conv"])
    for r in records:  # "conv" alone in its group: weight 1 throughout
        for edge in r["weights"]["normal"].values():
            edge["conv"] = 1.0
    ax = weights_figure(records, "normal").axes[0]
    assert len(ax.get_lines()) == 2 and ax.get_ylim()[1] < 0.5
    assert any(t.get_text() == "conv = 1 throughout" for t in ax.texts)


def test_final_heatmap_is_edges_by_ops() -> None:
    record = darts_records()[-1]
    record["weights"]["normal"]["0->2"] = {"skip_connect": 0.4, "sep_conv_3x3": 0.6}  # 2 ops
    edges, ops, m = weight_matrix(record, "normal")
    assert (edges, ops) == (EDGES, DARTS_OPS) and m.shape == (14, 8)
    assert math.isnan(m[0, 0]) and m[0, DARTS_OPS.index("sep_conv_3x3")] == 0.6
    fig = final_figure(record)
    maps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in maps] == ["cell normal: op weights", "cell reduce: op weights"]
    assert [ax.images[0].get_array().shape for ax in maps] == [(14, 8), (14, 8)]
    assert [t.get_text() for t in maps[0].get_xticklabels()] == DARTS_OPS
    assert [t.get_text() for t in maps[0].get_yticklabels()] == EDGES


def test_topology_stage_heatmaps_and_beta_per_node() -> None:
    record = darts_records(1)[-1]
    weights = record["weights"]
    n_in = {j: j for j in range(2, 6)}  # node j has j inputs; pick 2: C(j, 2) combinations
    beta = [b for j in range(2, 6) for b in [1 / math.comb(n_in[j], 2)] * math.comb(n_in[j], 2)]
    record.update(gamma={c: {e: 0.5 for e in EDGES} for c in weights},
                  beta={c: beta for c in weights})
    groups = beta_groups(record, "normal")
    assert [n for n, _ in groups] == [2, 3, 4, 5]
    assert [len(items) for _, items in groups] == [1, 3, 6, 10]
    assert [c for c, _ in groups[1][1]] == ["0+1", "0+2", "1+2"]
    fig = final_figure(record)
    gamma = [ax for ax in fig.axes if ax.get_title().endswith("edge weights γ")]
    assert [ax.images[0].get_array().shape for ax in gamma] == [(4, 5), (4, 5)]  # nodes x inputs
    over_epochs = edges_figure([record], "normal")  # gamma per node, a line per input
    assert [ax.get_title() for ax in over_epochs.axes] == ["node 2", "node 3", "node 4", "node 5"]
    assert [len(ax.get_lines()) for ax in over_epochs.axes] == [2, 3, 4, 5]
    assert [line.get_label() for line in over_epochs.axes[1].get_lines()] == [
        "from 0", "from 1", "from 2"]
    bars = beta_figure(record).axes[0]
    assert len(bars.patches) == 20 and bars.get_yticklabels()[0].get_text() == "node 2: 0+1"
    # pick any: every non-empty subset, 2^n - 1 per node
    record["beta"]["normal"] = [b for j in range(2, 6) for b in [1 / (2**j - 1)] * (2**j - 1)]
    assert [len(items) for _, items in beta_groups(record, "normal")] == [3, 7, 15, 31]


def test_curves_per_stage() -> None:
    fig = curves_figure(darts_records())
    loss, acc, schedule = fig.axes
    assert [line.get_label() for line in loss.get_lines()] == [
        "training", "validation", "architecture validation"]
    assert [line.get_label() for line in acc.get_lines()] == ["training", "validation"]
    assert [line.get_label() for line in schedule.get_lines()] == ["learning rate"]
    assert schedule.get_yscale() == "log"


def small_records(epochs: int, stage: str) -> list[dict]:
    """A 1-input, 2-node cell with 2 ops: records that draw fast."""
    return [{"stage": stage, "epoch": e, "epochs": epochs, "train_loss": 1.0 / e,
             "weights": {"normal": {"0->1": {"skip_connect": 0.4 + 0.1 * e, "none": 0.6 - 0.1 * e},
                                    "1->2": {"skip_connect": 0.5, "none": 0.5}}}}
            for e in range(1, epochs + 1)]


def test_run_directory_figures_in_every_format(tmp_path: Path) -> None:
    records = small_records(2, "ops") + small_records(2, "topology")[:1]
    records[-1]["seconds"] = REDRAW_AFTER  # a long epoch: the running stage is redrawn
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert read_records(tmp_path) == records
    paths = write_run_figures(tmp_path)
    names = sorted(p.name for p in paths)
    # the finished stage in PNG, SVG and PDF; the running one (epoch 1 of 2): its figures over
    # epochs, in PNG
    assert names == sorted([f"ops_{n}.{k}" for n in ("curves", "weights_normal", "final")
                            for k in ("png", "svg", "pdf")]
                           + [f"topology_{n}.png" for n in ("curves", "weights_normal")])
    assert all(p.parent == tmp_path / "plots" for p in paths)
    magic = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF-"}
    assert all(p.read_bytes().startswith(magic[p.suffix]) for p in paths)
    # a stage chosen by name, the formats asked for; the same data gives the same SVG
    again = write_run_figures(tmp_path, stages=["ops"], formats=["svg"])
    assert sorted(p.name for p in again) == [f"ops_{n}.svg" for n in (
        "curves", "final", "weights_normal")]
    svg = (tmp_path / "plots" / "ops_final.svg").read_bytes()
    write_run_figures(tmp_path, stages=["ops"], formats=["svg"])
    assert (tmp_path / "plots" / "ops_final.svg").read_bytes() == svg
    assert np.isfinite(weight_matrix(records[0], "normal")[2]).all()
    # after a short epoch a running stage is left as it was; so is a fine-tuning epoch (DARTS-PT
    # numbers them past the stage's epochs)
    records[-1]["seconds"] = REDRAW_AFTER / 2
    assert write_run_figures(tmp_path / "short", records, stages=["topology"]) == []
    tuned = {**records[1], "epoch": 3, "seconds": 1.0}
    assert write_run_figures(tmp_path / "short", records[:2] + [tuned]) == []
