"""Issue 16 §2: the settings that choose between two readings of a paper (eDARTS op bias, DOTS'
data and learning-rate schedule across stages, DARTS-PT's edge rule, DOTS on DARTS as in CVPR)
are read from recipes, checked, and reach the engine."""

from __future__ import annotations

import math
import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from genospec import checkpoint

from genospec.errors import SpecError
from genospec.lang.loader import load
from genospec.lang.settings import StageSettings, stage_settings
from genospec.progress import Reporter
from genospec.relax import cell_layout
from genospec.relax.bias import OffsetBias
from genospec.relax.ops import make_op_relaxation, masked_softmax
from genospec.search.engine import SearchInterrupted, resume_search, start_search

from search_fixtures import TINY_SPACE, recipe_text, tiny_dataset, write_recipe

SPECS = Path(__file__).resolve().parents[1] / "specs" / "searches"


def _settings(tmp_path, body: str, stage: int = 0):
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, body))
    return stage_settings(recipe, recipe.stages[stage])


def test_perturbation_edge_rule_is_read_and_defaults_to_the_released_code(tmp_path):
    s = _settings(tmp_path, "stage a { select perturbation edges }")
    assert s.select.options == {"target": "edges", "edge_rule": "single"}
    s = _settings(tmp_path, "stage a { select perturbation edge_rule sequential }")
    assert s.select.options == {"target": "both", "edge_rule": "sequential"}
    s = _settings(tmp_path, "stage a { select progressive magnitude edge_rule sequential }")
    assert s.select.options["edge_rule"] == "sequential"
    with pytest.raises(SpecError, match="unexpected .greedy"):
        _settings(tmp_path, "stage a { select perturbation edge_rule greedy }")


# ---- DOTS' one-level topology stage on the whole training set (§2.2) -----------------------------
class _Headers(Reporter):
    def __init__(self) -> None:
        self.headers: list[dict] = []

    def event(self, kind, record):
        if kind == "header":
            self.headers.append(record)


TWO_STAGES = """
  batch 32
  seed 3
  weights sgd lr 0.05 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
  stage operations {
    epochs 1
    update bilevel first_order
    select best per edge
  }
  stage topology {
    epochs 1
    split 1
    update onelevel
    relax edges combination temperature 10 decay 0.72
    select best combination
  }
"""


def test_split_1_trains_a_onelevel_stage_on_the_whole_training_set(tmp_path):
    assert _settings(tmp_path, TWO_STAGES, 1).data.split == 1.0
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, TWO_STAGES))
    events = _Headers()
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset(), reporter=events)
    assert result.genotype is not None
    (ops, topo) = events.headers
    assert (ops["train_images"], ops["val_images"]) == (64, 64)  # the bilevel halves
    assert (topo["train_images"], topo["val_images"]) == (128, 32)  # all of train; test
    with pytest.raises(SpecError, match="split 1.*bilevel"):
        _settings(tmp_path, "split 1\nstage a { update bilevel first_order }")
    with pytest.raises(SpecError, match="split"):
        _settings(tmp_path, "split 1.5\nstage a { update onelevel }")


def test_dots_recipes_train_the_topology_stage_on_all_the_training_data():
    for name in ("dots", "dots_group_v1", "dots_flexible", "dots_cvpr"):
        recipe = load(SPECS / "dots.gs").get(name)
        ops, topo = (stage_settings(recipe, s) for s in recipe.stages)
        assert (ops.data.split, ops.update.mode) == (0.5, "bilevel")
        assert (topo.data.split, topo.update.mode) == (1.0, "onelevel")


# ---- one cosine over both DOTS stages (§2.3) ------------------------------------------------------
RUN_COSINE = """
  batch 32
  seed 5
  weights sgd lr 0.05 -> 0.001 cosine over run momentum 0.9 decay 3e-4 clip 5
  stage operations {
    epochs 2
    update bilevel first_order
    select best per edge
  }
  stage topology {
    epochs 2
    split 1
    update onelevel
    relax edges combination temperature 10 decay 0.72
    select best combination
  }
"""


def _lrs(run) -> list[float]:
    return [r["lr"] for r in run.metrics()]


def test_cosine_over_run_spans_the_stages_and_resumes_to_the_same_run(tmp_path):
    s = _settings(tmp_path, RUN_COSINE, 1)
    assert (s.weights.schedule, s.weights.span) == ("cosine", "run")
    assert _settings(tmp_path, "stage a { epochs 1 }").weights.span == "each_stage"
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, RUN_COSINE))
    full = start_search(recipe, out=tmp_path / "full", dataset=tiny_dataset())
    # lr_t = lr_min + (lr - lr_min) (1 + cos(pi t / 4)) / 2 over the run's 4 epochs
    assert _lrs(full.run) == pytest.approx(
        [0.001 + 0.049 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(4)])
    per_stage = RUN_COSINE.replace("cosine over run", "cosine over each_stage")
    again = start_search(write_recipe(tmp_path, recipe_text(TINY_SPACE, per_stage)),
                         out=tmp_path / "stages", dataset=tiny_dataset())
    assert _lrs(again.run) == pytest.approx([0.05, 0.0255, 0.05, 0.0255])

    # interrupted in the topology stage's first epoch: the resumed run is the same run
    with pytest.raises(SearchInterrupted):
        start_search(recipe, out=tmp_path / "cut", dataset=tiny_dataset(),
                     reporter=_SigintAt(2 * 2 + 1))
    resumed = resume_search(tmp_path / "cut", dataset=tiny_dataset())
    assert _lrs(resumed.run) == _lrs(full.run)
    assert resumed.genotype.read_text() == full.genotype.read_text()
    mine, theirs = (checkpoint.load(r.run.checkpoint_path)["model"] for r in (resumed, full))
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)


class _SigintAt(Reporter):
    """Ctrl-C once ``at`` training steps have been reported."""

    def __init__(self, at: int):
        self.at, self.steps = at, 0

    def update(self, n: int = 1, **values: float) -> None:
        self.steps += n
        if n and self.steps == self.at:
            os.kill(os.getpid(), signal.SIGINT)


# ---- eDARTS op bias: accumulating, or a constant offset inside the softmax (§2.1) -----------------
def test_offset_bias_is_softmax_of_alpha_plus_b_with_the_same_gradient_form():
    layout = cell_layout(load_space_cell(), None)
    torch.manual_seed(0)
    alpha = (torch.randn(layout.alpha_shape) * 0.1).requires_grad_()
    bias = {"conv": 0.5, "pool": -0.25, "not_here": 3.0}  # another cell type's op: ignored
    b = torch.tensor([{"conv": 0.5, "pool": -0.25}.get(o, 0.0) for o in layout.ops])
    w = OffsetBias(make_op_relaxation("softmax"), bias).weights(alpha, layout, 2.0)
    expect = masked_softmax((alpha + b) / 2.0, layout.mask)
    assert torch.allclose(w, expect, atol=1e-7)
    (g,) = torch.autograd.grad((w * torch.arange(w.numel()).view_as(w)).sum(), alpha)
    a2 = alpha.detach().clone().requires_grad_()
    (g2,) = torch.autograd.grad((masked_softmax((a2 + b) / 2.0, layout.mask) *
                                 torch.arange(w.numel()).view_as(w)).sum(), a2)
    assert torch.allclose(g, g2, atol=1e-7)


def load_space_cell():
    from genospec.lang.loader import loads
    return loads(TINY_SPACE).get("tiny").cells["normal"]


BIASED = """
  batch 32
  seed 6
  stage a {
    epochs 2
    arch adam lr 1e-9 betas 0.5, 0.999 decay 0
    update bilevel first_order
    bias MODE conv=0.5 pool=-0.25
    select best per edge
  }
"""


@pytest.mark.parametrize("mode", ["accumulate", "offset"])
def test_op_bias_modes_end_to_end(tmp_path, mode):
    body = BIASED.replace("MODE", mode)
    s = _settings(tmp_path, body)
    assert (s.bias_mode, s.bias) == (mode, {"conv": 0.5, "pool": -0.25})
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, body))
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset())
    first, last = result.run.metrics()[0], result.run.metrics()[-1]
    model = checkpoint.load(result.run.checkpoint_path)["model"]
    alpha = model["arch.normal.alpha"]
    cols = load_space_cell()  # ops in layout order: none, skip, conv, pool
    conv = cell_layout(cols, None).ops.index("conv")
    updates = sum(r["arch_updates"] for r in result.run.metrics())
    assert updates == 4  # 128 images -> 64 for the weights, 2 steps per epoch
    if mode == "accumulate":  # 4 updates moved conv's logits by 4 * 0.5 (lr ~ 0)
        assert alpha[:, conv].abs().min() > 1.9
    else:  # alpha stays near its 1e-3 init; the weights carry the offset
        assert alpha.abs().max() < 0.01
        w = last["weights"]["normal"]
        assert all(row[conv] > row[0] for row in w)  # conv above the zero op on every edge
    assert first["epoch"] == 1


def test_op_bias_mode_words_and_old_runs(tmp_path):
    assert _settings(tmp_path, "stage a { bias conv=0.1 }").bias_mode == "accumulate"
    with pytest.raises(SpecError, match="unexpected 'offsets'"):
        _settings(tmp_path, "stage a { bias offsets conv=0.1 }")
    s = _settings(tmp_path, "stage a { bias offset conv=0.1 }")
    data = s.to_json()
    assert StageSettings.from_json(data) == s
    del data["bias_mode"]  # resolved.json written before the option existed
    assert StageSettings.from_json(data).bias_mode == "accumulate"
    with pytest.raises(SpecError, match="not an op of space"):
        recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, BIASED.replace(
            "MODE conv=0.5", "offset cnv=0.5")))
        start_search(recipe, out=tmp_path / "bad", dataset=tiny_dataset())


# ---- DOTS on DARTS as in the CVPR paper (§2.5) -----------------------------------------------------
def test_dots_on_darts_cvpr_settings_and_zero_op_kept_by_eq_14():
    recipe = load(SPECS / "dots_on_darts.gs").get("dots_on_darts_cvpr")
    ops, topo = (stage_settings(recipe, s) for s in recipe.stages)
    assert (ops.epochs, ops.select.name, ops.select.options) == (50, "best_per_edge",
                                                                 {"zero": True})
    assert (topo.epochs, topo.warmup, topo.supernet.cells, topo.data.split) == (40, 20, 20, 1.0)
    assert load(SPECS / "dots_on_darts.gs").get("dots_on_darts").stages[0].settings[
        "select"] == {"rule": "best_per_edge", "zero": False}

    from genospec.lang.loader import loads
    from genospec.search.select import best_combination, best_per_edge
    space = loads(TINY_SPACE).get("tiny")
    names = ["none", "skip", "conv", "pool"]
    rows = [[0.9, 0.05, 0.03, 0.02], [0.1, 0.6, 0.2, 0.1], [0.4, 0.1, 0.3, 0.2],
            [0.1, 0.1, 0.1, 0.7], [0.2, 0.2, 0.5, 0.1]]
    darts = best_per_edge(space, "normal", rows, names)
    cvpr = best_per_edge(space, "normal", rows, names, zero=True)
    assert [e.ops for e in darts.edges()] == [("skip",), ("skip",), ("conv",), ("pool",),
                                              ("conv",)]
    assert [e.ops for e in cvpr.edges()] == [("none",), ("skip",), ("none",), ("pool",),
                                             ("conv",)]
    reduced = replace(space, cells={**space.cells, "normal": cvpr})
    # node 2 keeps its 2 edges (one a zero op), node 3 the combination (0->3, 2->3)
    genotype = best_combination(reduced, "normal", None, names, beta=[[0.0], [0.1, 0.9, 0.2]])
    assert [(e.src, e.dst, e.op) for e in genotype.edges()] == [
        (0, 2, "none"), (1, 2, "skip"), (0, 3, "none"), (2, 3, "conv")]
