"""The search engine: settings resolution, training schedules, selection, stage chaining."""

from __future__ import annotations

import json
import math
import re

import pytest
from dataclasses import astuple

from genospec import checkpoint
from genospec.errors import SpecError
from genospec.lang.loader import load
from genospec.lang.settings import stage_settings
from genospec.search.relaxations import temperature
from genospec.search.engine import SearchOptions, start_search
from search_fixtures import DARTS_LIKE, NOISE_SPACE, TINY_SPACE, recipe_text, tiny_dataset, write_recipe


# ---- settings --------------------------------------------------------------------------------
MERGE = recipe_text(TINY_SPACE, """
  batch 64
  seed 5
  weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
  relax ops temperature 10 -> 0.2
  quick { subset 100, 50  batch 8 }
  stage one {
    epochs 30  warmup 15
    supernet cells 8 channels 16
    relax edges combination temperature 10 decay 0.72 min 0.02
    select best combination
    quick { epochs 2  supernet cells 2  relax ops temperature 1 }
  }
""")


def test_stage_settings_merge_order(tmp_path):
    recipe = write_recipe(tmp_path, MERGE)
    full = stage_settings(recipe, recipe.stages[0])
    assert (full.epochs, full.warmup, full.batch, full.seed) == (30, 15, 64, 5)
    assert (full.supernet.cells, full.supernet.channels, full.supernet.pc) == (8, 16, 1)
    assert full.data.subset is None
    assert astuple(full.arch) == ("adam", 3e-4, (0.5, 0.999), 1e-3)
    assert [r.target for r in full.relax] == ["ops", "edges"]

    quick = stage_settings(recipe, recipe.stages[0], quick=True)
    assert (quick.epochs, quick.warmup, quick.batch) == (2, 15, 8)
    assert quick.data.subset == (100, 50)  # the recipe's quick block beats QUICK_DEFAULTS
    assert (quick.supernet.cells, quick.supernet.channels) == (2, 16)  # merged key by key
    ops = quick.relaxation("ops")
    assert (ops.t0, ops.t_end) == (1.0, None)  # replaced by target
    assert quick.relaxation("edges").decay == 0.72


def test_temperature_schedules(tmp_path):
    recipe = write_recipe(tmp_path, MERGE)
    s = stage_settings(recipe, recipe.stages[0])
    # 10 -> 0.2 over the 15 architecture epochs: theta = 0.02^(1/14)
    t = temperature(s.relaxation("ops"), 15, 100)
    assert t.theta == pytest.approx(0.02 ** (1 / 14))
    assert t.at(0) == 10 and t.at(14) == pytest.approx(0.2) and t.at(30) == pytest.approx(0.2)
    e = temperature(s.relaxation("edges"), 15, 100)
    assert e.at(3) == pytest.approx(10 * 0.72 ** 3)
    assert e.at(40) == 0.02
    assert temperature(None, 15, 100).at(7) == 1.0


def test_bad_settings_fail_before_training(tmp_path):
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, """
  stage one { epochs 1  supernet channels 6 pc 4  select magnitude }
"""))
    with pytest.raises(SpecError, match=r"partial channels \(supernet pc 4\) need channels "
                                        "divisible by 4, not 6"):
        start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset())
    assert not (tmp_path / "run").exists()
    with pytest.raises(SpecError, match="has no stage 'two'"):
        start_search(recipe, out=tmp_path / "run", options=SearchOptions(start="two"))


# ---- training -------------------------------------------------------------------------------
def test_search_prefers_identity_over_noise(tmp_path):
    recipe = write_recipe(tmp_path, recipe_text(NOISE_SPACE, """
  batch 32
  seed 1
  stage ops {
    epochs 3
    weights sgd lr 0.05 -> 0.01 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 0.05 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    select magnitude
  }
""", name="noise_search", of="noisy"), "noise_search")
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset(n_train=512))
    genotype = load(result.genotype).get("noise_search_ops")
    for cell in genotype.cells.values():
        assert [e.op for e in cell.edges()] == ["skip"] * 5
    last = result.run.metrics()[-1]
    assert last["val_acc"] > 0.5  # 4 classes: the supernet learnt through its skip edges
    for cell in ("normal", "reduce"):
        for edge, w in last["weights"][cell].items():
            assert w["skip"] > 0.55, (cell, edge, w)  # from 0.5: a clear margin, not a tie


@pytest.mark.figures
def test_tiny_darts_search_end_to_end(tmp_path):
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, DARTS_LIKE))
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset())
    run = result.run.path

    genotype = load(run / "genotype.gs").get("tiny_search_search")
    assert genotype.is_genotype and genotype.of == "tiny"
    for cell in genotype.cells.values():
        assert [len(cell.in_edges(j)) for j in cell.node_ids] == [2, 2]  # pick 2
        assert all(e.op != "none" for e in cell.edges())  # zero never selected
    assert (run / "genotype.gs").read_text() == (run / "search.gs").read_text()

    records = result.run.metrics()
    assert [r["epoch"] for r in records] == [1, 2, 3]
    # cosine from 0.05 to 0.001 over 3 epochs, set per epoch (DARTS' CosineAnnealingLR)
    lrs = [0.001 + 0.049 * (1 + math.cos(math.pi * e / 3)) / 2 for e in range(3)]
    assert [r["lr"] for r in records] == pytest.approx(lrs)
    assert [r["arch_updates"] for r in records] == [4, 4, 4]  # 64 training images, batch 16
    for r in records:
        assert set(r["weights"]) == {"normal", "reduce"}
        assert len(r["weights"]["normal"]) == 5
        assert sum(r["weights"]["normal"]["0->2"].values()) == pytest.approx(1.0, abs=1e-5)
        assert 0.0 <= r["val_acc"] <= 1.0 and r["train_loss"] > 0

    plan = json.loads((run / "resolved.json").read_text())
    assert plan["stages"][0]["settings"]["epochs"] == 3
    assert (run / "recipe.gs").read_text() == (tmp_path / "recipe.gs").read_text()
    state = checkpoint.load(run / "checkpoint.pt")  # weights_only=True
    assert (state["stage"], state["epoch"], state["step"]) == (0, 3, 0)
    alpha = state["model"]["arch.normal.alpha"]
    assert alpha.shape == (5, 4)
    for name in ("search_normal", "search_reduce", "genotype_normal", "genotype_reduce"):
        assert (run / "cells" / f"{name}.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    plots = sorted(p.name for p in (run / "plots").iterdir())
    assert plots == sorted(f"search_{n}.{k}" for n in ("curves", "final", "weights_normal",
                                                       "weights_reduce")
                           for k in ("png", "svg", "pdf"))  # the last epoch: every format


def test_second_order_with_annealed_op_and_edge_relaxations(tmp_path):
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, """
  batch 16
  stage topology {
    epochs 2
    update bilevel second_order
    relax ops temperature 2 -> 0.5 per step
    relax edges combination temperature 10 decay 0.5
    select best combination
  }
"""))
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset(n_train=64))
    records = result.run.metrics()
    # ops: 2 -> 0.5 over the 2 x 2 steps, theta = 0.25^(1/3); the record holds the last step's
    theta = 0.25 ** (1 / 3)
    assert [r["t_op"] for r in records] == pytest.approx([2 * theta, 0.5])
    assert [r["t_edge"] for r in records] == pytest.approx([10.0, 5.0])  # per epoch
    assert [r["arch_updates"] for r in records] == [2, 2]
    last = records[-1]
    # combination weights: a node's gammas sum to 1 (paper 002 eq. 7, normalised)
    gamma = last["gamma"]["normal"]
    assert gamma["0->2"] + gamma["1->2"] == pytest.approx(1.0, abs=1e-5)
    assert len(last["beta"]["normal"]) == 1 + 3  # node 2: C(2,2); node 3: C(3,2)
    for cell in result.space.cells.values():
        assert [len(cell.in_edges(j)) for j in cell.node_ids] == [2, 2]


TWO_STAGES = """
  batch 16
  stage a {
    epochs 3  warmup 1
    update bilevel first_order every epoch
    arch adam lr 0.01
    select best per edge
  }
  stage b {
    epochs 2
    update onelevel every 3 steps
    select magnitude
  }
"""


def test_two_stages_chain_through_gs_files(tmp_path):
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, TWO_STAGES))
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset())
    run = result.run
    records = run.metrics()
    assert [(r["stage"], r["epoch"]) for r in records] == [("a", 1), ("a", 2), ("a", 3),
                                                          ("b", 1), ("b", 2)]
    # stage a: no update in the warm-up epoch, then one per epoch (on its last step);
    # stage b: every 3rd of 8 steps (0, 3 | 6)
    assert [r["arch_updates"] for r in records] == [0, 1, 1, 2, 1]

    text = (run.path / "a.gs").read_text()
    assert text.startswith('import "space.gs"') and "space tiny_search_a extends tiny {" in text
    reduced = load(run.path / "a.gs").get("tiny_search_a")
    assert not reduced.is_genotype
    assert all(len(e.ops) == 1 and e.ops[0] != "none" for c in reduced.cells.values()
               for e in c.edges())
    # stage b searched the reduced space: one candidate per edge
    assert all(len(ops) == 1 for ops in records[-1]["weights"]["normal"].values())
    genotype = load(run.genotype_path).get("tiny_search_b")
    for name, cell in genotype.cells.items():
        allowed = {(e.src, e.dst): e.ops[0] for e in reduced.cells[name].edges()}
        assert all(allowed[(e.src, e.dst)] == e.op for e in cell.edges())
        # ties (every weight is 1) go to the lower edge: node 3 keeps 0->3 and 1->3
        assert [(e.src, e.dst) for e in cell.in_edges(3)] == [(0, 3), (1, 3)]

    # --from b --space EDITED: the edited reduced space is what stage b searches
    normal, rest = text.split("cell reduce")
    was = re.search(r"edge 0->2: (\w+)", normal).group(1)
    now = "conv" if was != "conv" else "pool"
    (run.path / "edited.gs").write_text(normal.replace(f"edge 0->2: {was}", f"edge 0->2: {now}")
                                        + "cell reduce" + rest)
    again = start_search(recipe, out=tmp_path / "again", dataset=tiny_dataset(),
                         options=SearchOptions(start="b", space_file=str(run.path / "edited.gs")))
    assert list(again.outputs) == ["b"]
    assert (now, 0) in [(e.op, e.src) for e in again.space.cells["normal"].in_edges(2)]
    assert "space tiny_search_a {" in (tmp_path / "again" / "space.gs").read_text()
    assert "genotype tiny_search_b of tiny_search_a {" in again.genotype.read_text()


def test_resolved_json_reads_back_typed_and_old_formats_resume_or_are_refused(tmp_path):
    """Format 3 holds StageSettings.to_json; a format-2 run (merged layers) resumes to the same
    settings; an unknown format is refused naming the versions."""
    from genospec.lang.settings import merged_layers
    from genospec.runtime.directory import RunDirError
    from genospec.search.engine import resume_search
    from genospec.search.plan import read_plan
    from genospec.search.run import RunDir

    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, """
  batch 16
  stage one { epochs 1  relax ops temperature 2 -> 1  select magnitude }
"""))
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset(n_train=32))
    run = RunDir(tmp_path / "run")
    saved = json.loads((run.path / "resolved.json").read_text())
    assert saved["format"] == 3
    settings = stage_settings(recipe, recipe.stages[0])
    assert read_plan(run).stages[0] == ("one", settings)  # round trip through the types

    old = {**saved, "format": 2, "stages": [{"name": "one", "settings": merged_layers(
        [recipe.settings, recipe.stages[0].settings])}]}
    (run.path / "resolved.json").write_text(json.dumps(old))
    assert read_plan(run).stages[0] == ("one", settings)
    again = resume_search(run.path, dataset=tiny_dataset(n_train=32))  # finished: re-selects
    def edges(space):
        return sorted((c, e.src, e.dst, tuple(e.ops)) for c, cell in space.cells.items()
                      for e in cell.edges())
    assert again.genotype is not None and edges(again.space) == edges(result.space)

    (run.path / "resolved.json").write_text(json.dumps({**saved, "format": 99}))
    with pytest.raises(RunDirError, match="run format 99; this version reads 1, 2, 3"):
        resume_search(run.path, dataset=tiny_dataset(n_train=32))
