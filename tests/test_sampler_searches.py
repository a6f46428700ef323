"""GDAS, SNAS and DrNAS recipes (specs/searches/gdas.gs, snas.gs, drnas.gs), DOTS' topology
stage on their op searches (dots_on_samplers.gs, DOTS Table 2) and the compositions of
sampler_compositions.gs: the papers' and codes' settings, each recipe end to end on synthetic
data at test scale, and a seeded sampling search repeating and resuming to the same result."""

from __future__ import annotations

import signal
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import pytest
import torch

from genospec import checkpoint, ir
from genospec.lang.loader import load
from genospec.nn import build_network
from genospec.lang.settings import StageSettings, stage_settings
from genospec.search.relaxations import temperature
from genospec.search.engine import SearchInterrupted, resume_search, start_search
from search_fixtures import TINY_SPACE, recipe_text, tiny_dataset, write_recipe
from test_search_resume import SignalAt

SPECS = Path(__file__).resolve().parents[1] / "specs" / "searches"
RECIPES = {
    "gdas": "gdas.gs", "gdas_201": "gdas.gs", "snas": "snas.gs", "drnas": "drnas.gs",
    "drnas_kl": "drnas.gs", "drnas_201": "drnas.gs", "dots_on_gdas": "dots_on_samplers.gs",
    "dots_on_snas": "dots_on_samplers.gs", "dots_group_gdas": "sampler_compositions.gs",
    "dots_group_snas": "sampler_compositions.gs", "drnas_pt_s2": "sampler_compositions.gs",
}


@lru_cache(maxsize=None)
def recipe(name: str) -> ir.Recipe:
    return load(SPECS / RECIPES[name]).get(name)


def settings(name: str, stage: str | None = None, quick: bool = False) -> StageSettings:
    r = recipe(name)
    st = r.stages[0] if stage is None else next(s for s in r.stages if s.name == stage)
    return stage_settings(r, st, quick)


def tiny(r: ir.Recipe) -> ir.Recipe:
    """``r`` at test scale: 3-cell supernets, 4 channels (6 under DrNAS' pc 6), one epoch per
    stage (two where it has warm-up: one of warm-up, one annealing), DARTS-PT without
    fine-tuning, batch 16; every method setting kept."""
    def shrink(st: ir.Stage) -> ir.Stage:
        pc = st.settings.get("supernet", {}).get("pc")
        net = {"cells": 3, "channels": 6 if pc else 4, **({"pc": pc} if pc else {})}
        warm = min(int(st.settings.get("warmup", 0)), 1)
        small = {"epochs": 1 + warm, "warmup": warm, "supernet": net, "batch": 16}
        if "finetune" in st.settings:
            small["finetune"] = 0
        return replace(st, settings={**st.settings, **small})
    return replace(r, settings={**r.settings, "batch": 16}, stages=[shrink(s) for s in r.stages])


# ---- the papers' and codes' settings ------------------------------------------------------------
def test_gdas_settings_follow_the_released_code():
    s = settings("gdas")
    op = s.relaxation("ops")
    assert (op.method, op.t0, op.t_end, op.options["anneal"], op.options["carry"]) == \
        ("gdas", 10.0, 0.1, "linear", False)  # the DARTS-space cell: sampled op only
    assert (s.epochs, s.batch, s.warmup) == (250, 256, 0)
    assert (s.weights.decay, s.weights.lr, s.weights.lr_min) == (5e-4, 0.025, 0.001)
    assert (s.arch.lr, tuple(s.arch.betas), s.arch.decay) == (3e-4, (0.5, 0.999), 1e-3)
    assert (s.supernet.cells, s.supernet.channels) == (8, 16)
    t = temperature(op, s.epochs - s.warmup, 100)
    assert [t.at(e) for e in (0, 249)] == [10.0, 0.1]  # GDAS.py: tau_max - (max-min)*e/(E-1)
    assert t.at(125) == pytest.approx(10 - 9.9 * 125 / 249)
    nb = settings("gdas_201")
    assert nb.relaxation("ops").options["carry"] and nb.batch == 64


def test_snas_and_drnas_settings_follow_the_released_code():
    s = settings("snas")
    op = s.relaxation("ops")
    assert (op.method, op.t0, op.t_end, op.options["anneal"]) == ("snas", 1.0, 0.03, "linear")
    assert s.update.mode == "onelevel" and s.epochs == 150 and s.batch == 64
    d = settings("drnas")
    assert d.op_relaxation()[0] == "drnas"
    assert (d.epochs, d.warmup) == (50, 10)
    assert (d.supernet.cells, d.supernet.channels, d.supernet.pc) == (20, 36, 6)
    assert (d.weights.lr, d.weights.lr_min, d.arch.lr) == (0.1, 0.0, 6e-4)
    assert d.arch.decay == 1e-3 and d.regularise == ()  # the code's l2
    kl = settings("drnas_kl")
    assert kl.arch.decay == 0 and [(r.name, r.options) for r in kl.regularise] == [
        ("dirichlet_kl", {"weight": 1e-3, "prior": 1.0})]


def test_dots_table2_recipes_put_dots_topology_on_the_samplers():
    for name, method in (("dots_on_gdas", "gdas"), ("dots_on_snas", "snas")):
        ops, top = settings(name, "operations"), settings(name, "topology")
        assert ops.op_relaxation()[0] == method
        assert ops.select.name == "best_per_edge"
        assert top.select.name == "best_combination" and top.update.mode == "onelevel"
        assert top.relaxation("edges").method == "combination"
    assert settings("dots_group_gdas", "operations").op_relaxation()[0] == "group_gdas"


# ---- end to end ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(RECIPES))
def test_recipe_runs_end_to_end(name, tmp_path):
    r = recipe(name)
    result = start_search(tiny(r), out=tmp_path / "run", dataset=tiny_dataset(n_train=32))
    genotype = load(result.genotype).get(f"{name}_{r.stages[-1].name}")
    assert genotype.is_genotype
    layout = "nb201" if "201" in name else None
    net = build_network(genotype, cells=3, channels=4, classes=4, in_chans=1, layout=layout)
    logits = net.eval()(torch.randn(2, 1, 8, 8))
    assert logits.shape == (2, 4) and torch.isfinite(logits).all()
    records = result.run.metrics()
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in records)
    first = next(s for s in records if s["stage"] == r.stages[0].name and s["arch_updates"])
    if settings(name, r.stages[0].name).op_relaxation()[0] in ("gdas", "snas"):
        assert first["t_op"] is not None
    if name == "drnas_kl":
        assert records[-1]["dirichlet_kl"] > 0
    if name.startswith("dots_group"):  # one winner per group survives the sampled op search
        reduced = load(result.outputs["operations"]).get(f"{name}_operations")
        assert all(len(e.ops) == 2 for e in reduced.cells["normal"].edges())


def _text(relax: str) -> str:
    return recipe_text(TINY_SPACE, f"""
  batch 16
  seed 7
  stage search {{
    epochs 2
    weights sgd lr 0.05 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-2 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    relax ops {relax}
    select magnitude
  }}
""")


def _run(tmp: Path, relax: str, reporter=None):
    tmp.mkdir(parents=True, exist_ok=True)
    return start_search(write_recipe(tmp, _text(relax)), out=tmp / "run",
                        dataset=tiny_dataset(n_train=64), reporter=reporter)


def _state(run: Path) -> dict:
    return checkpoint.load(run / "checkpoint.pt")["model"]


@pytest.mark.parametrize("relax", ["gdas temperature 10 -> 0.1", "drnas"])
def test_seeded_sampling_search_repeats_and_resumes_identically(relax, tmp_path):
    a = _run(tmp_path / "a", relax)
    b = _run(tmp_path / "b", relax)
    assert a.genotype.read_text() == b.genotype.read_text()
    sa, sb = _state(a.run.path), _state(b.run.path)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # Ctrl-C in epoch 2 (2 steps an epoch: 32 training images), then resume: the same draws
    with pytest.raises(SearchInterrupted):
        _run(tmp_path / "c", relax, reporter=SignalAt(3, signal.SIGINT))
    resumed = resume_search(tmp_path / "c" / "run", dataset=tiny_dataset(n_train=64))
    assert resumed.genotype.read_text() == a.genotype.read_text()
    sc = _state(resumed.run.path)
    assert all(torch.equal(sa[k], sc[k]) for k in sa)
    assert [r["weights"] for r in resumed.run.metrics()] == [r["weights"] for r in a.run.metrics()]
