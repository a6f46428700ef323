"""Selection rules (genospec.search.select) on hand-made architecture weights."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from genospec.errors import GenospecError, SpecError
from genospec.ir import Cell, Edge, Output, Space, Topology
from genospec.oplib import STANDARD_OPS
from genospec.relax import cell_layout, make_edge_relaxation, make_op_relaxation
from genospec.search.select import SELECTIONS, decided_genotype, select

DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
             "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
GROUP_V2 = {"free": DARTS_OPS[:4], "param": DARTS_OPS[4:]}
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
PICK2 = Topology("pick", 2, 2)
ANY = Topology("pick", 1, None)


def darts_cell(topology: Topology = PICK2, pairs=None, ops=DARTS_OPS) -> Cell:
    pairs = pairs or [(i, j) for j in range(2, 6) for i in range(j)]
    edges = [Edge(i, j, ops, order=i) for i, j in pairs]
    return Cell.build("normal", 2, 4, 1, topology, edges, Output("concat", (2, 3, 4, 5)))


def space(c: Cell, groups=None) -> Space:
    ops = {o: STANDARD_OPS[o] for o in c.op_names()}
    return Space("test", "space", ops, {c.name: c}, groups=groups)


def rows(spec: dict[int, dict[str, float]], n_edges: int = 14, fill: float = 0.1) -> list:
    """Op weights: ``fill`` everywhere, except the listed edges' listed ops."""
    out = [[fill] * len(DARTS_OPS) for _ in range(n_edges)]
    for e, ops in spec.items():
        for o, v in ops.items():
            out[e][DARTS_OPS.index(o)] = v
    return out


def listing(c: Cell) -> list[tuple[str, int]]:
    """A genotype cell as DARTS lists it: (op, input) per kept edge, node by node."""
    assert c.is_fixed
    return [(e.op, e.src) for j in c.node_ids for e in c.in_edges(j)]


# -- magnitude (DARTS) --------------------------------------------------------------------------
def test_magnitude_follows_the_darts_rule_with_ties():
    w = rows({
        0: {"sep_conv_3x3": 0.3}, 1: {"skip_connect": 0.5},                 # node 2
        2: {"dil_conv_3x3": 0.4},                                           # node 3: tie 0.4 ...
        3: {"none": 0.9, "sep_conv_3x3": 0.2},                              # zero never counts
        4: {"sep_conv_5x5": 0.4, "dil_conv_5x5": 0.4},                      # ... and op tie
        **{e: {o: 0.125 for o in DARTS_OPS} for e in range(5, 9)},          # node 4: all equal
        11: {"sep_conv_3x3": 0.35}, 13: {"avg_pool_3x3": 0.6, "none": 0.99},
    })
    c = darts_cell()
    out = select("magnitude", space(c), "normal", torch.tensor(w), DARTS_OPS)
    # strongest input first, as DARTS lists them; ties: lower edge, then first op column
    assert listing(out) == [("skip_connect", 1), ("sep_conv_3x3", 0),
                            ("dil_conv_3x3", 0), ("sep_conv_5x5", 2),
                            ("max_pool_3x3", 0), ("max_pool_3x3", 1),
                            ("avg_pool_3x3", 4), ("sep_conv_3x3", 2)]
    assert out.topology == Topology("keep") and out.output == c.output
    assert (out.name, out.inputs, out.nodes, out.stride) == ("normal", 2, 4, 1)
    assert [e.order for e in out.in_edges(2)] == [0, 1]


def darts_reference(w: list, k: int = 2) -> list[tuple[str, int]]:
    """The DARTS derivation written out independently: rank a node's edges by their largest
    non-zero op weight (stable, so ties keep the lower edge), keep k, take each one's argmax
    non-zero op (first maximum)."""
    out, first = [], 0
    for n in (2, 3, 4, 5):
        node = w[first:first + n]
        strength = [max(v for o, v in enumerate(r) if DARTS_OPS[o] != "none") for r in node]
        for i in sorted(range(n), key=lambda i: -strength[i])[:k]:
            best = max((v, -o) for o, v in enumerate(node[i]) if DARTS_OPS[o] != "none")
            out.append((DARTS_OPS[-best[1]], i))
        first += n
    return out


@pytest.mark.parametrize("seed", range(5))
def test_magnitude_matches_the_darts_derivation_on_random_weights(seed):
    gen = torch.Generator().manual_seed(seed)
    alpha = torch.randint(0, 4, (14, 8), generator=gen).float()  # coarse values: many ties
    w = torch.softmax(alpha, dim=1).requires_grad_()
    out = select("magnitude", space(darts_cell()), "normal", w, DARTS_OPS)
    assert listing(out) == darts_reference(w.tolist())


def test_magnitude_keeps_every_edge_of_a_keep_all_cell_and_may_pick_zero():
    edges = [Edge(i, j, NB201_OPS, order=i) for j in range(1, 4) for i in range(j)]
    c = Cell.build("cell", 1, 3, 1, Topology("keep"), edges, Output("node", (3,)))
    w = torch.full((6, 5), 0.1)
    w[0, 3] = 0.5            # nor_conv_3x3
    w[1, 0] = 0.9            # none: an ordinary choice in NAS-Bench-201
    out = select("magnitude", space(c), "cell", w, NB201_OPS)
    assert listing(out) == [("nor_conv_3x3", 0), ("none", 0), ("none", 1),
                            ("none", 0), ("none", 1), ("none", 2)]


def test_magnitude_needs_a_fixed_edge_count():
    c = darts_cell(Topology("pick", 1, 3))
    with pytest.raises(SpecError, match="magnitude selection needs 'pick k'"):
        select("magnitude", space(c), "normal", rows({}), DARTS_OPS)


# -- best per edge / per group ------------------------------------------------------------------
def test_best_per_edge_gives_a_reduced_space():
    c = darts_cell()
    w = rows({0: {"none": 0.9, "dil_conv_5x5": 0.3}, 7: {"skip_connect": 0.2}})
    out = select("best_per_edge", space(c), "normal", w, DARTS_OPS)
    assert out.topology == PICK2 and not out.is_fixed
    ops = [e.ops for e in out.edges()]
    assert ops[0] == ("dil_conv_5x5",) and ops[7] == ("skip_connect",)
    assert all(o == ("max_pool_3x3",) for i, o in enumerate(ops) if i not in (0, 7))
    assert [(e.src, e.dst, e.order) for e in out.edges()] == \
        [(e.src, e.dst, e.order) for e in c.edges()]


def test_best_per_group_keeps_one_op_per_group_zero_included():
    c = darts_cell()
    w = rows({13: {"none": 0.5, "skip_connect": 0.3, "sep_conv_3x3": 0.4},
              0: {"skip_connect": 0.4, "dil_conv_3x3": 0.3, "dil_conv_5x5": 0.3}})
    out = select("best_per_group", space(c, GROUP_V2), "normal", w, DARTS_OPS)
    ops = [e.ops for e in out.edges()]
    assert ops[13] == ("none", "sep_conv_3x3")        # DOTS keeps a Zero winner (Fig. 5a)
    assert ops[0] == ("skip_connect", "dil_conv_3x3")  # tie -> first column
    assert ops[5] == ("none", "sep_conv_3x3")          # all equal: first column of each group
    assert all(len(o) == 2 for o in ops) and out.topology == PICK2


def test_best_per_group_where_a_group_has_no_candidate():
    c = darts_cell(ops=("skip_connect", "sep_conv_3x3", "sep_conv_5x5"))
    w = torch.zeros(14, 3)
    w[:, 2] = 1.0
    out = select("best_per_group", space(c, GROUP_V2), "normal", w,
                 ("skip_connect", "sep_conv_3x3", "sep_conv_5x5"))
    assert {e.ops for e in out.edges()} == {("skip_connect", "sep_conv_5x5")}
    with pytest.raises(SpecError, match="has no groups"):
        select("best_per_group", space(c), "normal", w, ("skip_connect", "sep_conv_3x3",
                                                         "sep_conv_5x5"))


# -- best combination (DOTS) --------------------------------------------------------------------
def test_best_combination_pairs():
    c = darts_cell()
    beta = torch.zeros(20)
    beta[1 + 2] = 1.0          # node 3: third pair (1, 2) -> inputs 1 and 2
    beta[10 + 9] = 2.0         # node 5: last pair (3, 4)
    w = rows({3: {"none": 0.9, "skip_connect": 0.3}, 4: {"dil_conv_3x3": 0.2}})
    out = select("best_combination", space(c), "normal", w, DARTS_OPS, beta=beta)
    # node 2's only pair; node 4 ties everywhere -> first pair (0, 1)
    assert listing(out) == [("max_pool_3x3", 0), ("max_pool_3x3", 1),
                            ("skip_connect", 1), ("dil_conv_3x3", 2),
                            ("max_pool_3x3", 0), ("max_pool_3x3", 1),
                            ("max_pool_3x3", 3), ("max_pool_3x3", 4)]


def test_best_combination_pick_any_keeps_more_than_two_inputs():
    c = darts_cell(ANY, ops=("skip_connect",))
    combos5 = list(ANY.combinations(5))
    per_node = [torch.zeros(ANY.count(n)) for n in (2, 3, 4, 5)]
    per_node[1][-1] = 1.0                       # node 3: all three inputs
    per_node[3][combos5.index((0, 2, 4))] = 1.0
    out = select("best_combination", space(c), "normal", None, ("skip_connect",),
                 beta=per_node)                 # one tensor per node; ops already decided
    assert [[e.src for e in out.in_edges(j)] for j in out.node_ids] == \
        [[0], [0, 1, 2], [0], [0, 2, 4]]        # ties (all-zero beta) -> first combination
    flat = torch.cat(per_node)
    assert listing(select("best_combination", space(c), "normal", None, ("skip_connect",),
                          beta=flat)) == listing(out)


def test_best_combination_needs_op_weights_to_choose_ops():
    c = darts_cell()
    with pytest.raises(SpecError, match="op weights are needed"):
        select("best_combination", space(c), "normal", None, DARTS_OPS, beta=torch.zeros(20))
    with pytest.raises(ValueError, match="needs 20 combination logits"):
        select("best_combination", space(c), "normal", rows({}), DARTS_OPS, beta=torch.zeros(9))


def test_dots_two_stages_through_relax_and_select():
    """Group softmax -> best per group -> combination relaxation -> best combination."""
    c = darts_cell()
    sp = space(c, GROUP_V2)
    alpha = torch.zeros(14, 8)
    alpha[:, DARTS_OPS.index("skip_connect")] = 1.0
    alpha[:, DARTS_OPS.index("sep_conv_3x3")] = 1.0
    alpha[13, 0] = 3.0                                   # Zero wins the free group on 4->5
    w = make_op_relaxation("group_softmax").weights(alpha, cell_layout(c, GROUP_V2), 0.2)
    reduced = select("best_per_group", sp, "normal", w, DARTS_OPS)
    assert reduced.edges()[13].ops == ("none", "sep_conv_3x3")

    stage2 = space(reduced, GROUP_V2)
    lay = cell_layout(reduced)
    assert lay.ops == ("skip_connect", "sep_conv_3x3", "none")
    alpha2 = torch.zeros(lay.alpha_shape)
    alpha2[:, 0] = 0.01                                  # skip_connect slightly ahead
    alpha2[13, 2] = 0.05                                 # Zero ahead on 4->5: never selected
    w2 = make_op_relaxation("softmax").weights(alpha2, lay, 1e-2)
    edge = make_edge_relaxation("combination")
    beta = torch.zeros(edge.num_params(lay))
    beta[10 + 9] = 1.0                                   # node 5 keeps inputs 3 and 4
    assert edge.weights(beta, lay, 0.02)[12:].tolist() == pytest.approx([0.5, 0.5], abs=1e-6)
    out = select("best_combination", stage2, "normal", w2, lay.ops, beta=beta)
    assert listing(out)[-2:] == [("skip_connect", 3), ("sep_conv_3x3", 4)]


# -- threshold (edge-level sigmoid baseline) ----------------------------------------------------
GAMMA = [0.7, 0.2,  0.1, 0.3, 0.2,  0.9, 0.8, 0.6, 0.51,  0.6, 0.4, 0.7, 0.5, 0.55]


def test_threshold_keeps_edges_above_and_at_least_one():
    c = darts_cell(ANY, ops=("sep_conv_3x3",))
    out = select("threshold", space(c), "normal", None, ("sep_conv_3x3",),
                 gamma=torch.tensor(GAMMA))
    assert [[e.src for e in out.in_edges(j)] for j in out.node_ids] == \
        [[0], [1], [0, 1, 2, 3], [0, 2, 4]]      # 0.5 is not above 0.5
    higher = select("threshold", space(c), "normal", None, ("sep_conv_3x3",), gamma=GAMMA,
                    threshold=0.65)
    assert [len(higher.in_edges(j)) for j in higher.node_ids] == [1, 1, 2, 1]


def test_threshold_honours_the_topology_range():
    c = darts_cell(Topology("pick", 2, 3), ops=("sep_conv_3x3",))
    out = select("threshold", space(c), "normal", None, ("sep_conv_3x3",), gamma=GAMMA)
    assert [[e.src for e in out.in_edges(j)] for j in out.node_ids] == \
        [[0, 1], [1, 2], [0, 1, 2], [0, 2, 4]]


# -- decided genotypes, registry, errors --------------------------------------------------------
def test_ops_only_search_on_a_fixed_path_gives_a_genotype():
    path = [(0, 2), (1, 2), (0, 3), (2, 3), (1, 4), (3, 4), (0, 5), (4, 5)]
    c = darts_cell(Topology("keep"), pairs=path)
    w = rows({0: {"sep_conv_5x5": 0.9}, 7: {"dil_conv_3x3": 0.9}}, n_edges=8)
    w = [[0.0] + r[1:] for r in w]              # keep all: zero selectable, so keep it low
    reduced = select("best_per_edge", space(c), "normal", w, DARTS_OPS)
    assert reduced.is_fixed
    geno = decided_genotype(reduced)
    assert listing(geno) == [("sep_conv_5x5", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 0),
                             ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3),
                             ("max_pool_3x3", 0), ("dil_conv_3x3", 4)]
    with pytest.raises(SpecError, match="still has 8 ops"):
        decided_genotype(c)
    with pytest.raises(SpecError, match="still chooses among its edges"):
        decided_genotype(darts_cell(ops=("skip_connect",)))


def test_selection_registry_and_errors():
    # the built-in rules (a plugin loaded by an earlier test may have added its own)
    assert {"best_combination", "best_per_edge", "best_per_group", "fair_threshold", "magnitude",
            "perturbation", "progressive_magnitude", "threshold", "top_k"} <= set(SELECTIONS.names())
    assert SELECTIONS.names() == sorted(SELECTIONS.names())
    c = darts_cell()
    with pytest.raises(SpecError, match="unknown selection rule 'magnitud'") as err:
        select("magnitud", space(c), "normal", rows({}), DARTS_OPS)
    assert "did you mean 'magnitude'" in str(err.value)
    with pytest.raises(SpecError, match="has no cell 'reduce'"):
        select("magnitude", space(c), "reduce", rows({}), DARTS_OPS)
    with pytest.raises(ValueError, match="op weights of shape \\(14, 8\\)"):
        select("magnitude", space(c), "normal", rows({}, n_edges=13), DARTS_OPS)
    nan = torch.zeros(14, 8)
    nan[3, 2] = float("nan")
    with pytest.raises(GenospecError, match="contain NaN"):
        select("best_per_edge", space(c), "normal", nan, DARTS_OPS)
    with pytest.raises(ValueError, match="needs 14 edge weights"):
        select("threshold", space(c), "normal", rows({}), DARTS_OPS, gamma=[0.5])


def test_selection_and_schedules_import_without_torch():
    code = ("import sys, genospec.search.select, genospec.relax.schedule; "
            "from genospec.relax import Temperature; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ties_go_to_the_op_first_in_the_library_whatever_the_column_order():
    """A reduced cell's weight columns follow first use on its edges; an exact tie (DOTS starts
    the topology stage's logits at 0) goes to the op listed first in the space's op library,
    as the DOTS and DARTS codes take the first maximum over their PRIMITIVES."""
    edges = [Edge(0, 2, ("sep_conv_3x3", "avg_pool_3x3"), order=0),
             Edge(1, 2, ("avg_pool_3x3", "sep_conv_3x3"), order=1)]
    cell = Cell.build("normal", 2, 1, 1, Topology("pick", 1, 1), edges, Output("concat", (2,)))
    ops = {o: STANDARD_OPS[o] for o in DARTS_OPS}  # library order: avg_pool before sep_conv
    sp = Space("test", "space", ops, {"normal": cell})
    columns = cell.op_names()
    assert columns == ["sep_conv_3x3", "avg_pool_3x3"]
    tied = [[0.5, 0.5], [0.5, 0.5]]
    out = select("best_per_edge", sp, "normal", tied, columns)
    assert [e.ops for e in out.edges()] == [("avg_pool_3x3",)] * 2
