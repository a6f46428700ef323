"""DARTS-PT perturbation selection (paper 004): planted-accuracy unit tests and tiny searches."""

from __future__ import annotations

import math
import os
import random
import signal

import pytest
import torch

from genospec import checkpoint, ir
from genospec.errors import SpecError
from genospec.lang.emit import emit_space
from genospec.lang.loader import load
from genospec.nn.supernet import Supernet
from genospec.progress import Reporter
from genospec.search.engine import SearchInterrupted, resume_search, start_search
from genospec.search.outputs import read_space
from genospec.search.perturbation_stage import readable_decision
from genospec.search.perturbation import (NodeDecision, OpDecision, decision_from_dict,
                                          decision_to_dict, perturbation_select, plan,
                                          selected_space)
from search_fixtures import recipe_text, tiny_dataset, write_recipe

# Noise destroys what it replaces; zero is no candidate where the topology picks edges.
PT_SPACE = """
space pt {
  ops {
    none = zero
    noise = noise
    skip = identity
    pool = avg_pool(3)
  }
  cell normal {
    inputs 2
    nodes 2
    edges all
    topology pick 1
    output concat
  }
  cell reduce extends normal { stride 2 }
  network { cells 3  channels 4 }
}
"""

# One op per edge: only the topology is left to select (node 2 keeps both of its edges).
TOPO_SPACE = """
space topo {
  ops { skip = identity }
  cell normal {
    inputs 2
    nodes 3
    edges all
    topology pick 2
    output concat
  }
  cell reduce extends normal { stride 2 }
  network { cells 3  channels 4 }
}
"""

# NAS-Bench-201 style: every edge kept, zero is an ordinary choice.
KEEP_SPACE = """
space keep {
  ops {
    none = zero
    skip = identity
    pool = avg_pool(3)
  }
  cell normal {
    inputs 1
    nodes 2
    edges all
    topology keep all
    output 2
  }
  network { layout nb201  stem conv(3, channels=C)  cells 3  reduce at 1/3, 2/3  channels 4 }
}
"""

RANGE_SPACE = PT_SPACE.replace("space pt", "space ranged").replace("pick 1", "pick 1..2")


def _space(tmp_path, text: str, name: str) -> ir.Space:
    path = tmp_path / f"{name}.gs"
    path.write_text(text, encoding="utf-8")
    return load(path).get(name)


def _supernet(space: ir.Space, **kw) -> Supernet:
    torch.manual_seed(0)
    return Supernet(space, classes=4, in_chans=1, **kw)


class Planted:
    """evaluate(): 1 - the strengths of the masked candidates - edge_cost(dropped edges), read
    from the supernet's decision buffers; every call is logged."""

    def __init__(self, model: Supernet, strength: dict, edge_cost=None):
        self.model, self.strength, self.edge_cost = model, strength, edge_cost
        self.columns = {c: m.op_names for c, m in model.mixing().items()}
        self.log: list = []

    def __call__(self) -> float:
        acc = 1.0
        for c, arch in self.model.arch.items():
            for e, o in (~arch.op_on).nonzero().tolist():
                acc -= self.strength.get((c, e, self.columns[c][o]), 0.0)
            dropped = frozenset((~arch.edge_on).nonzero().flatten().tolist())
            if self.edge_cost is not None:
                acc -= self.edge_cost(c, dropped)
        self.log.append(("evaluate", acc))
        return acc


def _strengths(space: ir.Space, seed: int) -> dict:
    """Distinct binary-fraction strengths (exact in floating point) for every candidate."""
    rng = random.Random(seed)
    found = {}
    for c, cell in space.cells.items():
        for e, edge in enumerate(cell.edges()):
            values = rng.sample(range(1, 64), len(edge.ops))
            for op, v in zip(edge.ops, values):
                found[(c, e, op)] = v / 1024
    return found


# ---- operation selection (Algorithm 1) ---------------------------------------------------------
def test_ops_discretise_to_the_op_whose_removal_hurts_most_in_seeded_random_order(tmp_path):
    space = _space(tmp_path, PT_SPACE, "pt")
    model = _supernet(space)
    candidates = {c: a.op_on.clone() for c, a in model.arch.items()}
    strength = _strengths(space, 1)
    evaluate = Planted(model, strength)
    tuned: list[int] = []
    decisions = perturbation_select(model, space, evaluate, tuned.append, random.Random(7),
                                    target="ops", epochs=5)

    # the visiting order: each cell type's edges drawn with rng.sample, one edge per cell a round
    rng = random.Random(7)
    order = {c: rng.sample(range(5), 5) for c in ("normal", "reduce")}
    expected_tasks = [(c, order[c][r]) for r in range(5) for c in ("normal", "reduce")]
    assert [(d.cell, d.edge) for d in decisions] == expected_tasks
    for d in decisions:
        assert isinstance(d, OpDecision)
        assert d.candidates == ("noise", "skip", "pool")  # zero never competes under `pick`
        assert d.accuracies == tuple(1 - strength[(d.cell, d.edge, o)] for o in d.candidates)
        assert d.op == max(d.candidates, key=lambda o: strength[(d.cell, d.edge, o)])
    assert len(evaluate.log) == 10 * 3
    assert tuned == [5] * 4  # between the 5 rounds, never after the last

    # the supernet holds the decisions: one-hot rows, every mask lifted again
    mixing = model.mixing()
    for d in decisions:
        row = mixing[d.cell].weights[d.edge]
        col = mixing[d.cell].op_names.index(d.op)
        assert row[col] == 1 and row.sum() == 1
    assert all(torch.equal(a.op_on, candidates[c]) for c, a in model.arch.items())

    # an ops-only result on `pick` cells is a reduced space: one op per edge, topology kept
    result = selected_space(space, decisions, "ops", "pt_ops")
    assert result.kind == "space"
    for d in decisions:
        edge = result.cells[d.cell].edges()[d.edge]
        assert edge.ops == (d.op,)
    assert result.cells["normal"].topology.describe() == "pick 1"


def test_the_visiting_order_depends_only_on_the_seed(tmp_path):
    space = _space(tmp_path, PT_SPACE, "pt")
    orders = []
    for seed in (3, 3, 4):
        model = _supernet(space)
        decisions = perturbation_select(model, space, Planted(model, _strengths(space, 2)),
                                        lambda n: None, random.Random(seed))
        orders.append([(d.cell, d.edge if isinstance(d, OpDecision) else d.node)
                       for d in decisions])
    assert orders[0] == orders[1]
    assert orders[0] != orders[2]


def test_zero_is_a_candidate_where_every_edge_is_kept(tmp_path):
    space = _space(tmp_path, KEEP_SPACE, "keep")
    model = _supernet(space)
    strength = {("normal", e, op): 1 / 64 for e in range(3) for op in ("skip", "pool")}
    strength[("normal", 1, "none")] = 1 / 8  # removing zero hurts most on edge 1
    decisions = perturbation_select(model, space, Planted(model, strength), lambda n: None,
                                    random.Random(0))
    by_edge = {d.edge: d for d in decisions}
    assert set(by_edge) == {0, 1, 2}
    assert by_edge[1].op == "none"
    assert by_edge[0].op == "skip"  # a tie: the op listed first on the edge wins
    assert by_edge[0].candidates == ("none", "skip", "pool")
    genotype = selected_space(space, decisions, "both", "keep_pt")
    assert genotype.is_genotype
    assert [e.op for e in genotype.cells["normal"].edges()] == ["skip", "none", "skip"]


# ---- topology selection -----------------------------------------------------------------------
# Normal cell: node 4's edges are positions 5..8 (from nodes 0..3). Alone, dropping 5 hurts least
# and 6 next, but dropping 5 and 6 together costs 1/4: a one-shot ranking would keep (7, 8), the
# one-at-a-time removal keeps (6, 8). Node 3 (positions 2..4) drops 3. Reduction cell: every
# removal costs nothing, so ties drop the later-listed edges.
_SINGLE_EDGE_COST = {2: 3 / 64, 3: 1 / 64, 4: 2 / 64, 5: 1 / 64, 6: 2 / 64, 7: 3 / 64, 8: 4 / 64}


def _planted_edge_cost(cell: str, dropped: frozenset) -> float:
    if cell == "reduce":
        return 0.0
    return sum(_SINGLE_EDGE_COST[e] for e in dropped) + (1 / 4 if {5, 6} <= dropped else 0)


def test_edges_go_one_at_a_time_the_least_harmful_first(tmp_path):
    space = _space(tmp_path, TOPO_SPACE, "topo")
    model = _supernet(space)
    evaluate = Planted(model, {}, _planted_edge_cost)
    events: list = []
    decisions = perturbation_select(model, space, evaluate, lambda n: events.append(n),
                                    random.Random(5), target="edges", epochs=2,
                                    edge_rule="sequential")
    rng = random.Random(5)
    order = {c: rng.sample([3, 4], 2) for c in ("normal", "reduce")}
    assert all(isinstance(d, NodeDecision) for d in decisions)
    assert [(d.cell, d.node) for d in decisions] == [(c, order[c][r]) for r in range(2)
                                                     for c in ("normal", "reduce")]
    normal = {d.node: d for d in decisions if d.cell == "normal"}
    assert normal[3].kept == (2, 4) and normal[3].dropped == (3,)
    assert normal[4].kept == (6, 8) and normal[4].dropped == (5, 7)
    # the accuracy each removal was chosen at (the node decided first stays dropped)
    first = order["normal"][0]
    assert normal[3].accuracies == (1 - 1 / 64 - (4 / 64 if first == 4 else 0),)
    assert normal[4].accuracies == tuple(a - (1 / 64 if first == 3 else 0)
                                         for a in (1 - 1 / 64, 1 - 4 / 64))
    reduce = {d.node: d for d in decisions if d.cell == "reduce"}
    assert reduce[3].kept == (2, 3) and reduce[4].kept == (5, 6)
    assert reduce[4].dropped == (8, 7) and reduce[4].accuracies == (1 - 5 / 64, 1 - 5 / 64)
    # every remaining edge measured at each removal, in both cell types
    assert len(evaluate.log) == 2 * (3 + (4 + 3))
    assert events == [2]  # two node rounds, fine-tuned once between them
    mixing = model.mixing()
    assert mixing["normal"].dropped == (3, 5, 7) and mixing["reduce"].dropped == (4, 7, 8)

    genotype = selected_space(space, decisions, "edges", "topo_pt")
    text = emit_space(genotype, of="topo")
    assert "3 <- skip(0), skip(2)" in text and "4 <- skip(1), skip(3)" in text
    assert "3 <- skip(0), skip(1)" in text and "4 <- skip(0), skip(1)" in text


def test_edges_ranked_by_single_removals_by_default(tmp_path):
    """The released code's rule (the default): every edge's removal measured once against the
    full node; the same planted costs as above keep (7, 8) where re-measuring keeps (6, 8)."""
    space = _space(tmp_path, TOPO_SPACE, "topo")
    model = _supernet(space)
    evaluate = Planted(model, {}, _planted_edge_cost)
    decisions = perturbation_select(model, space, evaluate, lambda n: None, random.Random(5),
                                    target="edges", epochs=2)
    first = random.Random(5).sample([3, 4], 2)[0]  # the normal cell's first node
    normal = {d.node: d for d in decisions if d.cell == "normal"}
    assert normal[3].kept == (2, 4) and normal[3].dropped == (3,)
    assert normal[4].kept == (7, 8) and normal[4].dropped == (5, 6)
    assert normal[4].accuracies == tuple(a - (1 / 64 if first == 3 else 0)
                                         for a in (1 - 1 / 64, 1 - 2 / 64))
    reduce = {d.node: d for d in decisions if d.cell == "reduce"}
    assert reduce[4].kept == (5, 6) and reduce[4].dropped == (8, 7)  # ties: later-listed first
    assert len(evaluate.log) == 2 * (3 + 4)  # each edge measured once per node
    assert model.mixing()["normal"].dropped == (3, 5, 6)
    with pytest.raises(ValueError, match="edge rule"):
        perturbation_select(_supernet(space), space, evaluate, lambda n: None,
                            random.Random(5), target="edges", edge_rule="greedy")


def test_both_targets_decide_ops_then_nodes_with_finetuning_between_rounds(tmp_path):
    space = _space(tmp_path, PT_SPACE, "pt")
    model = _supernet(space)
    strength = _strengths(space, 3)
    log: list = []
    evaluate = Planted(model, strength, lambda c, dropped: sum(dropped) / 256)
    evaluate.log = log
    decisions = perturbation_select(model, space, evaluate, lambda n: log.append(("tune", n)),
                                    random.Random(1), epochs=3,
                                    on_decision=lambda ds: log.append(("decided", len(ds))))
    rounds = plan(space, "both", random.Random(1))
    assert [len(r) for r in rounds] == [2] * 5 + [2, 2]  # 5 op rounds, nodes 2 and 3
    shape = [k for k, _ in log if k != "evaluate"]
    assert shape == (["decided", "decided", "tune"] * 7)[:-1]
    assert all(n == 3 for k, n in log if k == "tune")
    # pick 1: node 2 drops one of its 2 edges, node 3 two of its 3; the lower position costs less
    for d in decisions[10:]:
        assert len(d.kept) == 1 and d.kept == (max([0, 1] if d.node == 2 else [2, 3, 4]),)
    genotype = selected_space(space, decisions, "both", "pt_pt")
    assert genotype.is_genotype

    # `finetune 0`: the same decisions, no fine-tuning at all
    model = _supernet(space)
    tuned: list[int] = []
    again = perturbation_select(model, space, Planted(model, strength, evaluate.edge_cost),
                                tuned.append, random.Random(1), epochs=0)
    assert again == decisions and tuned == []
    assert all(len(genotype.cells[c].in_edges(j)) == 1 for c in ("normal", "reduce")
               for j in (2, 3))


def test_resuming_replays_decisions_and_asks_for_the_same_finetuning(tmp_path):
    space = _space(tmp_path, PT_SPACE, "pt")
    strength = _strengths(space, 4)

    def cost(c, dropped):
        return sum(dropped) / 256

    model = _supernet(space)
    full = perturbation_select(model, space, Planted(model, strength, cost), lambda n: None,
                               random.Random(9), epochs=1)

    first = _supernet(space)
    saved: dict = {}

    def crash(decisions):
        saved["decisions"] = [decision_to_dict(d) for d in decisions]
        saved["model"] = {k: v.clone() for k, v in first.state_dict().items()}
        if len(decisions) == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        perturbation_select(first, space, Planted(first, strength, cost), lambda n: None,
                            random.Random(9), epochs=1, on_decision=crash)

    second = _supernet(space)
    second.load_state_dict(saved["model"])
    evaluate, tuned = Planted(second, strength, cost), []
    done = [decision_from_dict(d) for d in saved["decisions"]]
    resumed = perturbation_select(second, space, evaluate, tuned.append, random.Random(9),
                                  epochs=1, done=done)
    assert resumed == full
    assert len(tuned) == len(plan(space, "both", random.Random(9))) - 1
    # 3 op decisions and 4 nodes were left; each node's edges measured once (edge_rule single)
    assert len(evaluate.log) == 3 * 3 + (2 + 3) * 2
    for a, b in zip(second.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)


def test_spaces_perturbation_cannot_select_from(tmp_path):
    ranged = _space(tmp_path, RANGE_SPACE, "ranged")
    with pytest.raises(SpecError, match="needs 'pick k' or 'keep all'.*'pick 1..2'"):
        plan(ranged, "both", random.Random(0))
    plan(ranged, "ops", random.Random(0))  # ops alone are fine
    pt = _space(tmp_path, PT_SPACE, "pt")
    with pytest.raises(SpecError, match="needs one op per edge"):
        plan(pt, "edges", random.Random(0))


# ---- inside a search --------------------------------------------------------------------------
# One intermediate node keeps one of its two inputs: 2 op rounds and 1 node round per search.
SEARCH_SPACE = PT_SPACE.replace("nodes 2", "nodes 1")

PT_RECIPE = """
  batch 32
  seed 1
  stage search {
    epochs 1
    finetune 1
    weights sgd lr 0.05 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-3 betas 0.5, 0.999 decay 1e-3
    select perturbation
  }
"""


class Decisions(Reporter):
    """Collects decision events; sends itself SIGINT at decision ``stop_at``."""

    def __init__(self, stop_at: int | None = None):
        self.seen: list[dict] = []
        self.stop_at = stop_at

    def event(self, kind, record):
        if kind == "decision":
            self.seen.append({k: v for k, v in record.items() if k != "stage"})
            if len(self.seen) == self.stop_at:
                os.kill(os.getpid(), signal.SIGINT)


def _search(tmp_path, body: str, out: str, reporter: Reporter):
    recipe = write_recipe(tmp_path, recipe_text(SEARCH_SPACE, body, of="pt"))
    return start_search(recipe, out=tmp_path / out, dataset=tiny_dataset(), reporter=reporter)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted DARTS-PT search and the decisions it reported."""
    seen = Decisions()
    return _search(tmp_path_factory.mktemp("pt"), PT_RECIPE, "run", seen), seen.seen


def test_a_stage_with_select_perturbation_fine_tunes_and_writes_a_genotype(straight):
    result, seen = straight
    genotype = load(result.genotype).get("tiny_search_search")
    assert genotype.is_genotype and genotype.of == "pt"
    for cell in genotype.cells.values():
        assert len(cell.in_edges(2)) == 1
        assert all(e.op in ("noise", "skip", "pool") for e in cell.edges())
    assert [(d["kind"], d["cell"]) for d in seen] == [("op", "normal"), ("op", "reduce")] * 2 + \
        [("node", "normal"), ("node", "reduce")]

    records = result.run.metrics()
    assert [r["epoch"] for r in records] == [1, 2, 3]  # 1 training epoch; 3 rounds, 2 tunings
    records = records[1:]
    assert [r["lr"] for r in records] == pytest.approx([0.005, 0.003])  # lr/10 -> lr_min, cosine
    ck = checkpoint.load(result.run.checkpoint_path)
    assert ck["epoch"] == 3 and ck["pt"]["tuned"] == 2
    space = read_space(result.run.path / "space.gs", "pt")
    assert [decision_from_dict(d) for d in ck["pt"]["decisions"]] == \
        [decision_from_dict(d) for d in seen]
    readable = result.run.metrics()[-1]["decisions"]  # metrics.jsonl: edges as "i->j"
    assert readable == [readable_decision(space, decision_from_dict(d)) for d in seen]
    assert readable[0]["edge"] in ("0->2", "1->2") and set(readable[0]["accuracy_without"]) <= \
        {"noise", "skip", "pool"}
    assert [(r.get("phase"), r.get("finetune_epoch"), r.get("finetune_epochs")) for r in records] \
        == [("finetune", 1, 2), ("finetune", 2, 2)]  # not "epoch=3 epochs=1"


def test_blank_variant_keeps_alpha_exactly_zero(tmp_path):
    body = PT_RECIPE.replace("select perturbation", "relax ops fixed\n    select perturbation")
    result = _search(tmp_path, body, "run", Decisions())
    ck = checkpoint.load(result.run.checkpoint_path)
    for cell in ("normal", "reduce"):
        alpha = ck["model"][f"arch.{cell}.alpha"]
        assert torch.equal(alpha, torch.zeros_like(alpha))
    assert ck["a_opt"] is None
    assert load(result.genotype).get("tiny_search_search").is_genotype


def test_an_interrupted_selection_resumes_to_the_same_genotype(tmp_path, straight):
    whole, decisions = straight
    stopped = Decisions(stop_at=3)
    with pytest.raises(SearchInterrupted, match="perturbation selection"):
        _search(tmp_path, PT_RECIPE, "cut", stopped)
    ck = checkpoint.load(tmp_path / "cut" / "checkpoint.pt")
    assert len(ck["pt"]["decisions"]) == 3 and ck["pt"]["tuned"] == 1

    rest = Decisions()
    resumed = resume_search(tmp_path / "cut", dataset=tiny_dataset(), reporter=rest)
    assert stopped.seen + rest.seen == decisions  # same decisions, same measured accuracies
    assert resumed.genotype.read_text() == whole.genotype.read_text()
