"""The method recipes of specs/searches (DOTS, DOTS on DARTS, the edge-level sigmoid baseline,
eDARTS): their settings against the papers, every recipe end to end at test scale, and each
method's distinctive rule."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import pytest
from dataclasses import astuple
import torch

from genospec import checkpoint, ir
from genospec.lang.loader import load, loads
from genospec.nn import build_network
from genospec.nn.supernet import Supernet
from genospec.relax import EDARTS_OP_BIAS, cell_layout
from genospec.lang.settings import StageSettings, stage_settings
from genospec.search.relaxations import temperature
from genospec.search.engine import start_search
from genospec.search.select import select
from genospec.search.update import arch_optimizer, step, weight_optimizer
from search_fixtures import tiny_dataset

SPECS = Path(__file__).resolve().parents[1] / "specs"
RECIPE_FILES = {
    "dots": "dots.gs", "dots_group_v1": "dots.gs", "dots_flexible": "dots.gs",
    "dots_cvpr": "dots.gs", "dots_on_darts": "dots_on_darts.gs",
    "sigmoid_baseline": "sigmoid_baseline.gs", "edarts_search": "edarts.gs",
}
DOTS_FAMILY = ("dots", "dots_group_v1", "dots_flexible", "dots_cvpr")


@lru_cache(maxsize=None)
def recipe(name: str) -> ir.Recipe:
    found = load(SPECS / "searches" / RECIPE_FILES[name]).get(name)
    assert isinstance(found, ir.Recipe)
    return found


def settings(name: str, stage: str, quick: bool = False) -> StageSettings:
    r = recipe(name)
    return stage_settings(r, next(s for s in r.stages if s.name == stage), quick)


def tiny(r: ir.Recipe, epochs: dict[str, int], **stage: object) -> ir.Recipe:
    """``r`` at test scale: 3-cell, 4-channel supernets, ``epochs[stage]`` epochs (default 1; the
    first of them weights only where the stage has warm-up and more than one epoch), batch 16;
    every method setting of the recipe kept, ``stage`` settings added to every stage."""
    def shrink(st: ir.Stage) -> ir.Stage:
        n = epochs.get(st.name, 1)
        small = {"epochs": n, "warmup": min(int(st.settings.get("warmup", 0)), 1, n - 1),
                 "supernet": {"cells": 3, "channels": 4}, **stage}
        return replace(st, settings={**st.settings, **small})
    return replace(r, settings={**r.settings, "batch": 16}, stages=[shrink(s) for s in r.stages])


# ---- the papers' settings ----------------------------------------------------------------------
def test_dots_settings_follow_paper_000_appendix_a2():
    ops, top = settings("dots", "operations"), settings("dots", "topology")
    assert (ops.epochs, ops.warmup, ops.supernet.cells) == (25, 15, 8)
    assert (top.epochs, top.warmup, top.supernet.cells) == (35, 15, 17)
    assert ops.supernet.channels == top.supernet.channels == 16
    for s in (ops, top):
        assert astuple(s.arch) == ("adam", 1e-4, (0.9, 0.999), 1e-3)
        assert (s.weights.lr, s.weights.lr_min, s.batch) == (0.025, 0.001, 64)
    assert ops.update.mode == "bilevel" and ops.update.order == "first_order"
    assert top.update.mode == "onelevel"
    assert ops.op_relaxation()[0] == "group_softmax"
    assert (ops.select.name, top.select.name) == ("best_per_group", "best_combination")
    # group annealing: T0 = 10, theta = 0.65 over the 10 search epochs, ending near 0.2
    t = temperature(ops.relaxation("groups"), 10, 1)
    assert t.at(0) == 10 and t.at(9) == pytest.approx(10 * 0.65 ** 9) and t.at(9) > 0.2
    # edge annealing: T0 = 10, theta = 0.72, down to 0.02 at the last of the 20 search epochs
    e = temperature(top.relaxation("edges"), 20, 1)
    assert e.at(0) == 10 and e.at(18) == pytest.approx(10 * 0.72 ** 18) and e.at(19) == 0.02
    assert top.relaxation("edges").options["normalise"]  # paper 002 eq. 7: beta_c / N(c)
    cvpr = settings("dots_cvpr", "topology")
    assert (cvpr.epochs, cvpr.warmup, cvpr.supernet.cells) == (40, 20, 20)


@pytest.mark.parametrize("quick", [False, True])
@pytest.mark.parametrize("name", DOTS_FAMILY)
def test_topology_op_temperature_is_edge_temperature_over_1000(name, quick):
    """Paper 002 Fig. 3: T_alpha = T_beta / 1000 at every epoch of the topology stage."""
    s = settings(name, "topology", quick)
    anneal = s.epochs - s.warmup
    op = temperature(s.relaxation("ops"), anneal, 7)
    edge = temperature(s.relaxation("edges"), anneal, 7)
    for t in range(s.epochs + 3):
        assert op.at(t) == pytest.approx(edge.at(t) / 1000, rel=1e-12)
        assert op.at(t) == pytest.approx(edge.scaled(1e-3).at(t), rel=1e-12)
    assert edge.at(anneal - 1) == pytest.approx(0.02)


def test_edarts_settings_follow_paper_001():
    s = settings("edarts_search", "operations")
    assert s.bias == EDARTS_OP_BIAS
    assert s.data.subset == (2500, 2500) and s.warmup == 0 and s.epochs == 50
    assert astuple(s.update) == ("bilevel", "second_order", 1, "epoch")
    assert (s.supernet.cells, s.supernet.channels) == (5, 16)
    cell = recipe("edarts_search").space.cells["normal"]
    assert [(e.src, e.dst) for e in cell.edges()] == [(0, 2), (1, 2), (0, 3), (2, 3), (1, 4),
                                                       (3, 4), (0, 5), (4, 5)]
    assert cell.topology.describe() == "pick 2"  # both path edges kept, the zero op never chosen


def test_sigmoid_baseline_and_dots_on_darts_settings():
    s = settings("sigmoid_baseline", "topology")
    assert s.relaxation("edges").method == "sigmoid"
    assert (s.select.name, s.select.options) == ("threshold", {"threshold": 0.5})
    assert recipe("sigmoid_baseline").space.cells["normal"].topology.describe() == "pick any"
    ops = settings("dots_on_darts", "operations")
    assert ops.select.name == "best_per_edge" and ops.epochs == 50
    assert ops.op_relaxation()[0] == "softmax"
    assert settings("dots_on_darts", "topology").select.name == "best_combination"


# ---- every recipe end to end -------------------------------------------------------------------
def _group_winners_ok(reduced: ir.Space, searched: ir.Space) -> None:
    """One op of every group that had candidates on an edge, nothing else."""
    for name, cell in reduced.cells.items():
        before = {(e.src, e.dst): e.ops for e in searched.cells[name].edges()}
        for e in cell.edges():
            groups = [g for g, members in searched.groups.items()
                      if any(o in members for o in before[(e.src, e.dst)])]
            assert sorted(next(g for g in groups if o in searched.groups[g]) for o in e.ops) \
                == sorted(groups)


@pytest.mark.parametrize("name", list(RECIPE_FILES))
def test_recipe_runs_end_to_end(name, tmp_path):
    r = recipe(name)
    # one epoch per stage, except: DOTS' topology stage, a warm-up epoch and two annealing epochs;
    # eDARTS, two epochs with the architecture learning rate at 0, so that alpha moves by the op
    # bias alone
    epochs = {"dots": {"topology": 3}, "edarts_search": {"operations": 2}}.get(name, {})
    extra = {"arch": {"lr": 0.0}} if name == "edarts_search" else {}
    result = start_search(tiny(r, epochs, **extra), out=tmp_path / "run",
                          dataset=tiny_dataset(n_train=64))
    genotype = load(result.genotype).get(f"{name}_{r.stages[-1].name}")
    assert genotype.is_genotype
    logits = build_network(genotype, cells=3, channels=4, classes=4, in_chans=1).eval()(
        torch.randn(2, 1, 8, 8))
    assert logits.shape == (2, 4) and torch.isfinite(logits).all()

    searched = r.space
    if len(r.stages) == 2:
        reduced = load(result.outputs[r.stages[0].name]).get(f"{name}_{r.stages[0].name}")
        if searched.groups:
            _group_winners_ok(reduced, searched)
        else:  # DARTS-Top1: one non-zero op per edge
            assert all(len(e.ops) == 1 and e.ops[0] != "none"
                       for c in reduced.cells.values() for e in c.edges())
        searched = reduced
    for cell_name, cell in genotype.cells.items():
        space_cell = searched.cells[cell_name]
        allowed = {(e.src, e.dst): e.ops for e in space_cell.edges()}
        assert all(e.op in allowed[(e.src, e.dst)] and e.op != "none" for e in cell.edges())
        for j in cell.node_ids:
            n = len(space_cell.in_edges(j))
            assert len(cell.in_edges(j)) in space_cell.topology.sizes(n)

    records = result.run.metrics()
    if name == "dots":  # metrics: T_alpha = T_beta / 1000 in each topology epoch, annealing
        top = [rec for rec in records if rec["stage"] == "topology"]
        assert [rec["t_edge"] for rec in top] == pytest.approx([10, 10, 7.2])
        assert [rec["t_op"] for rec in top] == pytest.approx([0.01, 0.01, 0.0072])
        # warm-up, then every step; `split 1`: the 64 training images, 4 batches of 16
        assert [rec["arch_updates"] for rec in top] == [0, 4, 4]
    if name == "edarts_search":
        assert [rec["arch_updates"] for rec in records] == [1, 1]  # sparse update: 1 of 2 steps
        # the last epoch's single update moved alpha by the op bias, exactly once
        before = checkpoint.load(checkpoint.previous_path(result.run.checkpoint_path))
        after = checkpoint.load(result.run.checkpoint_path)
        assert (before["epoch"], after["epoch"]) == (1, 2)
        ops = r.space.cells["normal"].op_names()
        delta = after["model"]["arch.normal.alpha"] - before["model"]["arch.normal.alpha"]
        expected = torch.tensor([EDARTS_OP_BIAS.get(o, 0.0) for o in ops]).expand_as(delta)
        assert torch.allclose(delta, expected, rtol=0, atol=1e-7)


# ---- each method's distinctive rule ------------------------------------------------------------
def _random_alpha(net: Supernet, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for arch in net.arch.values():
            arch.alpha.copy_(torch.randn(arch.alpha.shape, generator=g))


@pytest.mark.parametrize("space_name, per_edge", [("darts_group_v2", 2), ("darts_group_v1", 4)])
def test_group_search_keeps_the_argmax_of_every_group(space_name, per_edge):
    space = load(SPECS / "spaces" / "darts_groups.gs").get(space_name)
    net = Supernet(space, cells=3, channels=2, classes=2, in_chans=1, op_relax="group_softmax")
    _random_alpha(net, 0)
    net.set_temperature(op=0.2)
    for cell_name, m in net.mixing().items():
        alpha = net.arch[cell_name].alpha.detach()
        reduced = select("best_per_group", space, cell_name, m.weights, m.op_names)
        for e, edge in enumerate(reduced.edges()):
            winners = set()
            for members in space.groups.values():
                cols = [m.op_names.index(o) for o in members if o in m.op_names]
                # DOTS eq. 4: a softmax inside each group
                assert float(m.weights[e, cols].sum()) == pytest.approx(1.0, abs=1e-5)
                winners.add(m.op_names[max(cols, key=lambda c: float(alpha[e, c]))])
            assert len(edge.ops) == per_edge and set(edge.ops) == winners


def test_pick_any_keeps_the_edge_subsets_beta_favours():
    """DOTS flexible edges (paper 002 §4.1.2): a node keeps its most likely combination, of any
    size; gamma (eq. 7) is largest on the favoured edges."""
    space = load(SPECS / "searches" / "dots.gs").get("darts_group_v2_pick_any")
    net = Supernet(space, cells=3, channels=2, classes=2, in_chans=1, edge_relax="combination")
    _random_alpha(net, 1)
    favoured = [(0, 1), (0, 1, 2), (0, 2, 3), (0, 1, 2, 3, 4)]  # per node, local edge indices
    layout = cell_layout(space.cells["normal"], space.groups)
    with torch.no_grad():
        for arch in net.arch.values():
            arch.beta.zero_()
            for k, members in enumerate(favoured):
                arch.beta[layout.beta_slices[k].start + layout.combinations[k].index(members)] = 5.0
    cells = {}
    for cell_name, m in net.mixing().items():
        for k, members in enumerate(favoured):
            gamma = m.gamma[list(layout.node_edges[k])]
            kept = gamma[list(members)].min()
            others = [i for i in range(len(gamma)) if i not in members]
            assert all(kept > gamma[i] for i in others)
        cells[cell_name] = select("best_combination", space, cell_name, m.weights, m.op_names,
                                  beta=net.arch[cell_name].beta, gamma=m.gamma)
        assert [len(cells[cell_name].in_edges(j)) for j in (2, 3, 4, 5)] == [2, 3, 3, 5]
        assert [e.src for e in cells[cell_name].in_edges(5)] == [0, 1, 2, 3, 4]
    genotype = ir.Space("flexible", "genotype", dict(space.ops), cells, space.network)
    out = build_network(genotype, cells=3, channels=4, classes=3, in_chans=1).eval()(
        torch.randn(2, 1, 8, 8))
    assert out.shape == (2, 3)


# The eDARTS ops on one node of two edges: a supernet small enough for a few quick steps.
BIAS_SPACE = """
space biased {
  ops {
    none = zero
    skip_connect = identity
    sep_conv_3x3 = sep_conv(3)
    sep_conv_5x5 = sep_conv(5)
    dil_conv_3x3 = dil_conv(3, dilation=2)
    dil_conv_5x5 = dil_conv(5, dilation=2)
  }
  cell normal { inputs 2  nodes 1  edges all  topology pick 2  output concat }
  cell reduce extends normal { stride 2 }
}
"""


def test_op_bias_moves_alpha_by_exactly_the_bias_per_architecture_update():
    space = loads(BIAS_SPACE).get("biased")
    net = Supernet(space, cells=3, channels=2, classes=4, in_chans=1, op_bias=EDARTS_OP_BIAS)
    w_opt, a_opt = weight_optimizer(net), arch_optimizer(net, lr=0.0)  # the bias alone moves alpha
    ops = net.mixing()["normal"].op_names
    offsets = torch.tensor([EDARTS_OP_BIAS.get(o, 0.0) for o in ops])
    start = {n: a.alpha.detach().clone() for n, a in net.arch.items()}
    expected = dict(start)
    x, y = torch.randn(2, 1, 8, 8), torch.randint(0, 4, (2,))
    for update in (True, False, True):
        step(net, (x, y), (x, y), w_opt=w_opt, a_opt=a_opt, update_arch=update)
        for n, arch in net.arch.items():
            if update:
                expected[n] = expected[n] + offsets
            assert torch.equal(arch.alpha.detach(), expected[n])
    for n, arch in net.arch.items():  # two updates: twice the bias, other ops untouched
        moved = arch.alpha.detach() - start[n]
        assert torch.allclose(moved, (2 * offsets).expand_as(moved), rtol=0, atol=1e-7)
        assert not moved[:, offsets == 0].any()


QUICK_RESULTS = Path(__file__).resolve().parents[1] / "studies" / "quick_searches"


@pytest.mark.parametrize("run", sorted(p.name for p in QUICK_RESULTS.iterdir() if p.is_dir()))
def test_recorded_quick_search_genotypes_compile(run):
    """The genotypes the quick searches wrote (studies/quick_searches, see its summary.json) are
    whole genotypes of their spaces and compile into evaluation networks with the parameter
    count their `genospec train --quick` run reported."""
    import json

    genotype = load(QUICK_RESULTS / run / "genotype.gs").get()
    assert genotype.is_genotype
    report = json.loads((QUICK_RESULTS / "summary.json").read_text())["runs"][run]["train_quick"]
    net = build_network(genotype, cells=5, channels=8, classes=10, in_chans=1, auxiliary=False)
    assert sum(p.numel() for p in net.parameters()) == report["params"]
    net.eval()
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
