"""Issue 15 recipes end to end at test scale on synthetic data (every stage and part each recipe
names: SDARTS-RS/ADV, FairDARTS, PC-DARTS, DOTS on PC-DARTS, and the compositions no library
offers: PC-DARTS + DARTS-PT, DOTS on SDARTS, SDARTS + PT-Mag), and a seeded SDARTS search that
repeats itself and resumes to the same genotype and weights."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import signal

import pytest
import torch

from genospec import checkpoint, ir
from genospec.lang.loader import load
from genospec.search.engine import SearchInterrupted, resume_search, start_search
from search_fixtures import tiny_dataset
from test_search_resume import SignalAt

SEARCHES = Path(__file__).resolve().parents[1] / "specs" / "searches"
RECIPES = {  # name: (file, what the recipe must carry)
    "sdarts_rs": ("sdarts.gs", "sdarts_random"),
    "sdarts_adv": ("sdarts.gs", "sdarts_adv"),
    "fair_darts": ("fair_darts.gs", "zero_one"),
    "pc_darts": ("pc_darts.gs", "normalisation"),
    "dots_on_pc_darts": ("dots_on_pc_darts.gs", "normalisation"),
    "pc_darts_pt": ("compositions.gs", "perturbation"),
    "dots_on_sdarts": ("compositions.gs", "sdarts_random"),
    "sdarts_pt_mag": ("compositions.gs", "progressive_magnitude"),
}


def _recipe(name: str) -> ir.Recipe:
    found = load(SEARCHES / RECIPES[name][0]).get(name)
    assert isinstance(found, ir.Recipe)
    return found


def _tiny(r: ir.Recipe) -> ir.Recipe:
    """3-cell, 4-channel supernets, 1 epoch per stage (2 with 1 of warm-up where the stage warms
    up), batch 16, no fine-tuning between DARTS-PT decisions: every part the recipe names is kept."""
    def shrink(st: ir.Stage) -> ir.Stage:
        warm = int(st.settings.get("warmup", 0)) > 0
        net = {**st.settings.get("supernet", {}), "cells": 3, "channels": 4}
        small = {"epochs": 2 if warm else 1, "warmup": 1 if warm else 0, "supernet": net,
                 "batch": 16}
        if "finetune" in st.settings:
            small["finetune"] = 0  # decisions only: fine-tuning between them is DARTS-PT's own
        settings = {**st.settings, **small}
        for r in settings.get("regularise", []):
            if r["name"] == "sdarts_adv":
                r["steps"] = 1
        return replace(st, settings=settings)
    return replace(r, settings={**r.settings, "batch": 16}, stages=[shrink(s) for s in r.stages])


def test_recipes_carry_their_papers_settings():
    text = {f: (SEARCHES / f).read_text() for f, _ in RECIPES.values()}
    for name, (f, part) in RECIPES.items():
        assert part in str(_recipe(name).stages), name
        assert "quick {" in text[f]
    pc = _recipe("pc_darts").stages[0].settings
    assert pc["supernet"]["pc"] == 4 and pc["warmup"] == 15 and pc["epochs"] == 50
    assert pc["weights"]["lr"] == 0.1 and pc["weights"]["lr_min"] == 0
    assert pc["arch"]["lr"] == 6e-4
    adv = _recipe("sdarts_adv").stages[0].settings["regularise"][0]
    assert (adv["epsilon"], adv["start"], adv["steps"]) == (0.3, 0.03, 7)
    fair = _recipe("fair_darts").stages[0].settings
    assert fair["select"]["threshold"] == 0.85 and fair["regularise"][0]["weight"] == 10


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_runs_end_to_end(tmp_path, name):
    torch.set_num_threads(1)
    result = start_search(_tiny(_recipe(name)), out=tmp_path / "run",
                          dataset=tiny_dataset(32, size=8))
    assert result.genotype is not None and result.space.is_genotype
    last = result.run.metrics()[-1]
    assert last["val_acc"] is not None
    if name.startswith("sdarts"):
        kind = "sdarts_adv" if name == "sdarts_adv" else "sdarts_random"
        assert last[f"{kind}_eps"] > 0


def test_seeded_sdarts_search_repeats_and_resumes(tmp_path):
    torch.set_num_threads(1)
    recipe = _tiny(_recipe("sdarts_rs"))
    recipe = replace(recipe, stages=[replace(recipe.stages[0], settings={
        **recipe.stages[0].settings, "epochs": 2})])
    data = tiny_dataset(32, size=8)
    a = start_search(recipe, out=tmp_path / "a", dataset=data)
    b = start_search(recipe, out=tmp_path / "b", dataset=data)
    assert a.genotype.read_text() == b.genotype.read_text()
    ma = checkpoint.load(a.run.checkpoint_path)["model"]
    assert all(torch.equal(ma[k], v) for k, v in checkpoint.load(b.run.checkpoint_path)["model"].items())
    # interrupted (Ctrl-C) after the first epoch, then resumed: the same weights and genotype
    with pytest.raises(SearchInterrupted):
        start_search(recipe, out=tmp_path / "c", dataset=data, reporter=SignalAt(1, signal.SIGINT))
    c = resume_search(tmp_path / "c", dataset=data)
    assert c.genotype.read_text() == a.genotype.read_text()
    mc = checkpoint.load(c.run.checkpoint_path)["model"]
    assert all(torch.equal(ma[k], v) for k, v in mc.items())
