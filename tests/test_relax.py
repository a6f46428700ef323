"""Relaxations, parameter layout, eDARTS op bias and temperature schedules (genospec.relax)."""

from __future__ import annotations

import math
from itertools import combinations

import pytest
import torch

from genospec.errors import SpecError
from genospec.ir import Cell, Edge, Output, Topology
from genospec.relax import (EDARTS_OP_BIAS, Temperature, apply_op_bias, cell_layout,
                            make_edge_relaxation, make_op_relaxation, register_op_relaxation)
from genospec.relax.ops import Softmax

DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
             "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
GROUP_V2 = {"free": DARTS_OPS[:4], "param": DARTS_OPS[4:]}
PICK2 = Topology("pick", 2, 2)


def cell(topology: Topology = PICK2, ops=DARTS_OPS, nodes: int = 4) -> Cell:
    """A DARTS-shaped cell: 2 inputs, every earlier node feeds every later one."""
    per_edge = ops if callable(ops) else (lambda i, j: ops)
    edges = [Edge(i, j, tuple(per_edge(i, j)), order=i)
             for j in range(2, 2 + nodes) for i in range(j)]
    return Cell.build("normal", 2, nodes, 1, topology, edges,
                      Output("concat", tuple(range(2, 2 + nodes))))


# RobustDARTS S1 normal cell (fixtures/search_spaces.md), one pair of ops per edge.
S1_NORMAL = [("skip_connect", "dil_conv_3x3"), ("skip_connect", "dil_conv_5x5"),
             ("skip_connect", "dil_conv_5x5"), ("skip_connect", "sep_conv_3x3"),
             ("skip_connect", "dil_conv_3x3"), ("max_pool_3x3", "skip_connect"),
             ("skip_connect", "sep_conv_3x3"), ("skip_connect", "sep_conv_3x3"),
             ("skip_connect", "dil_conv_3x3"), ("skip_connect", "sep_conv_3x3"),
             ("max_pool_3x3", "skip_connect"), ("skip_connect", "dil_conv_3x3"),
             ("dil_conv_3x3", "dil_conv_5x5"), ("dil_conv_3x3", "dil_conv_5x5")]


def s1_cell() -> Cell:
    ids = [(i, j) for j in range(2, 6) for i in range(j)]
    return cell(ops=lambda i, j: S1_NORMAL[ids.index((i, j))])


# -- layout ------------------------------------------------------------------------------------
def test_layout_of_the_darts_cell():
    lay = cell_layout(cell())
    assert lay.alpha_shape == (14, 8)
    assert lay.ops == DARTS_OPS
    assert bool(lay.mask.all())
    assert lay.node_edges == ((0, 1), (2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12, 13))
    assert lay.num_combinations == 1 + 3 + 6 + 10  # C(n, 2) for n = 2..5, as DOTS
    assert [(s.start, s.stop) for s in lay.beta_slices] == [(0, 1), (1, 4), (4, 10), (10, 20)]
    assert lay.combinations[1] == ((0, 1), (0, 2), (1, 2))


def test_layout_of_flexible_topologies():
    assert cell_layout(cell(Topology("pick", 1, None))).num_combinations == 3 + 7 + 15 + 31
    assert cell_layout(cell(Topology("pick", 1, 3))).num_combinations == 3 + 7 + 14 + 25
    assert cell_layout(cell(Topology("keep"))).num_combinations == 4


def test_layout_mask_follows_per_edge_ops():
    lay = cell_layout(s1_cell())
    assert lay.ops == ("skip_connect", "dil_conv_3x3", "dil_conv_5x5", "sep_conv_3x3",
                       "max_pool_3x3")
    assert lay.mask.sum(dim=1).tolist() == [2] * 14
    assert lay.mask[0].tolist() == [True, True, False, False, False]
    assert lay.mask[13].tolist() == [False, True, True, False, False]


def test_layout_rejects_a_node_the_topology_cannot_serve():
    with pytest.raises(SpecError, match="node 2 has 2 incoming edges"):
        cell_layout(cell(Topology("pick", 3, 3)))


def test_layout_rejects_ops_outside_every_group():
    with pytest.raises(SpecError, match="none belong to no group"):
        cell_layout(cell(), {"free": DARTS_OPS[1:4], "param": DARTS_OPS[4:]})


# -- op relaxations ------------------------------------------------------------------------------
def test_softmax_with_temperature_exact_values():
    lay = cell_layout(cell(ops=("skip_connect", "sep_conv_3x3"), nodes=1))
    alpha = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])
    relax = make_op_relaxation("softmax")
    w = relax.weights(alpha, lay, 1.0)
    assert w.flatten().tolist() == pytest.approx([0.25, 0.75, 0.5, 0.5])
    # T = 0.5 squares the odds: 3 -> 9
    w = relax.weights(alpha, lay, 0.5)
    assert w.flatten().tolist() == pytest.approx([0.1, 0.9, 0.5, 0.5])


def test_softmax_masked_entries_are_exactly_zero():
    lay = cell_layout(s1_cell())
    alpha = torch.randn(lay.alpha_shape, requires_grad=True)
    w = make_op_relaxation("softmax").weights(alpha, lay, 0.3)
    assert bool((w[~lay.mask] == 0).all())
    assert w.sum(dim=1).tolist() == pytest.approx([1.0] * 14)
    expected = torch.softmax(alpha[0, :2] / 0.3, dim=0)
    assert torch.allclose(w[0, :2], expected)
    w.square().sum().backward()
    assert torch.isfinite(alpha.grad).all()
    assert bool((alpha.grad[~lay.mask] == 0).all())


def test_group_softmax_normalises_each_group_separately():
    lay = cell_layout(cell(), GROUP_V2)
    alpha = torch.randn(lay.alpha_shape)
    w = make_op_relaxation("group_softmax").weights(alpha, lay, 2.0)
    assert torch.allclose(w[:, :4], torch.softmax(alpha[:, :4] / 2.0, dim=1))
    assert torch.allclose(w[:, 4:], torch.softmax(alpha[:, 4:] / 2.0, dim=1))
    assert w.sum(dim=1).tolist() == pytest.approx([2.0] * 14)  # sum of the two group mixtures


def test_group_softmax_on_a_reduced_space_with_an_empty_group():
    # edge 0->2 kept only a parametric op: its free group has no candidate there
    reduced = cell(ops=lambda i, j: ("sep_conv_3x3",) if (i, j) == (0, 2)
                   else ("skip_connect", "dil_conv_3x3"), nodes=1)
    lay = cell_layout(reduced, GROUP_V2)
    alpha = torch.tensor([[5.0, 1.0, 2.0], [0.0, 1.0, 2.0]], requires_grad=True)
    assert lay.ops == ("sep_conv_3x3", "skip_connect", "dil_conv_3x3")
    w = make_op_relaxation("group_softmax").weights(alpha, lay)
    assert w.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
    w.sum().backward()
    assert torch.isfinite(alpha.grad).all()


def test_group_softmax_needs_groups():
    lay = cell_layout(cell())
    with pytest.raises(SpecError, match="needs a space with `groups`"):
        make_op_relaxation("group_softmax").weights(torch.zeros(lay.alpha_shape), lay)


def test_fixed_is_uniform_and_not_learnable():
    relax = make_op_relaxation("fixed")
    assert relax.learnable is False and make_op_relaxation("softmax").learnable is True
    lay = cell_layout(cell())
    w = relax.weights(torch.randn(lay.alpha_shape), lay)
    assert bool((w == 1 / 8).all())
    lay = cell_layout(s1_cell())
    w = relax.weights(torch.zeros(lay.alpha_shape), lay)
    assert w[lay.mask].tolist() == [0.5] * 28 and bool((w[~lay.mask] == 0).all())


def test_relaxations_follow_the_parameters_device():
    # "meta" tensors stand in for an accelerator: the layout's CPU tensors move with alpha/beta
    lay = cell_layout(cell(), GROUP_V2)
    for name in ("softmax", "group_softmax", "fixed"):
        w = make_op_relaxation(name).weights(torch.zeros(lay.alpha_shape, device="meta"), lay)
        assert w.device.type == "meta" and w.shape == (14, 8)
    gamma = make_edge_relaxation("combination").weights(torch.zeros(20, device="meta"), lay)
    assert gamma.device.type == "meta" and gamma.shape == (14,)
    moved = lay.to("meta")
    assert moved.mask.device.type == "meta" and moved.group_of.device.type == "meta"
    assert moved.ops == lay.ops


def test_bad_temperature_and_shape():
    lay = cell_layout(cell())
    relax = make_op_relaxation("softmax")
    with pytest.raises(SpecError, match="temperature must be positive"):
        relax.weights(torch.zeros(lay.alpha_shape), lay, 0.0)
    with pytest.raises(ValueError, match="needs \\(14, 8\\)"):
        relax.weights(torch.zeros(14, 7), lay)


# -- edge relaxations ----------------------------------------------------------------------------
def brute_gamma(beta: torch.Tensor, c: Cell, temperature: float, normalise: bool) -> list[float]:
    """gamma by walking every combination of every node (DOTS paper 002 eq. 6-7)."""
    gamma, start, first = [], 0, 0
    for j in c.node_ids:
        n = len(c.in_edges(j))
        combos = [s for k in c.topology.sizes(n) for s in combinations(range(n), k)]
        probs = torch.softmax(beta[start:start + len(combos)] / temperature, dim=0).tolist()
        node = [0.0] * n
        for p, s in zip(probs, combos):
            for m in s:
                node[m] += p / len(s) if normalise else p
        gamma += node
        start += len(combos)
        first += n
    return gamma


@pytest.mark.parametrize("topology", [PICK2, Topology("pick", 1, 3), Topology("pick", 1, None)],
                         ids=["pick 2", "pick 1..3", "pick any"])
@pytest.mark.parametrize("normalise", [True, False])
def test_combination_gamma_matches_enumeration(topology, normalise):
    c = cell(topology)
    lay = cell_layout(c)
    relax = make_edge_relaxation("combination", normalise=normalise)
    torch.manual_seed(0)
    beta = torch.randn(relax.num_params(lay))
    gamma = relax.weights(beta, lay, 0.7)
    assert gamma.tolist() == pytest.approx(brute_gamma(beta, c, 0.7, normalise), abs=1e-6)
    if normalise:  # with 1/N(c) each node's edge weights sum to 1
        assert [float(gamma[list(e)].sum()) for e in lay.node_edges] == pytest.approx([1.0] * 4)


def test_combination_exact_values_for_the_first_node():
    lay = cell_layout(cell())
    beta = torch.zeros(20)
    paper = make_edge_relaxation("combination").weights(beta, lay)
    code = make_edge_relaxation("combination", normalise=False).weights(beta, lay)
    assert paper[:2].tolist() == [0.5, 0.5]   # one pair, N(c) = 2
    assert code[:2].tolist() == [1.0, 1.0]    # the released code's plain sum
    # node 3: three equally likely pairs, each edge in two of them
    assert code[2:5].tolist() == pytest.approx([2 / 3] * 3)
    assert paper[2:5].tolist() == pytest.approx([1 / 3] * 3)


def test_combination_gradients_and_many_combinations():
    # a node with 14 inputs under `pick any`: 2^14 - 1 combinations, only beta grows
    wide = cell(Topology("pick", 1, None), ops=("skip_connect",), nodes=12)
    lay = cell_layout(wide)
    assert lay.combinations[-1][-1] == tuple(range(13))
    relax = make_edge_relaxation("combination")
    beta = torch.randn(relax.num_params(lay), requires_grad=True)
    assert beta.numel() == sum(2 ** n - 1 for n in range(2, 14))
    gamma = relax.weights(beta, lay, 0.5)
    assert gamma.shape == (len(lay.edges),)
    assert float(gamma.detach()[list(lay.node_edges[-1])].sum()) == pytest.approx(1.0, abs=1e-5)
    gamma[0].backward()
    assert torch.isfinite(beta.grad).all() and float(beta.grad.abs().sum()) > 0


def test_sigmoid_edge_relaxation():
    lay = cell_layout(cell())
    relax = make_edge_relaxation("sigmoid")
    assert relax.num_params(lay) == 14
    beta = torch.linspace(-2, 2, 14)
    assert torch.allclose(relax.weights(beta, lay), torch.sigmoid(beta))
    assert relax.weights(torch.zeros(14), lay).tolist() == [0.5] * 14
    with pytest.raises(ValueError, match="needs \\(14,\\)"):
        relax.weights(torch.zeros(20), lay)


# -- registries ----------------------------------------------------------------------------------
def test_registry_errors():
    with pytest.raises(ValueError, match="already registered"):
        register_op_relaxation("softmax")(Softmax)
    with pytest.raises(SpecError) as err:
        make_op_relaxation("sofmax")
    known = str(err.value).split("known: ")[1].split(")")[0].split(", ")
    assert {"fixed", "group_softmax", "softmax"} <= set(known) and known == sorted(known)
    assert "did you mean 'softmax'" in str(err.value)
    with pytest.raises(SpecError) as err:
        make_edge_relaxation("pairs")
    known = str(err.value).split("known: ")[1].split(")")[0].split(", ")
    assert {"combination", "sigmoid"} <= set(known) and known == sorted(known)


# -- eDARTS op bias --------------------------------------------------------------------------------
def test_edarts_op_bias_values_and_accumulation():
    assert EDARTS_OP_BIAS == {"sep_conv_3x3": 0.0006, "sep_conv_5x5": 0.0004,
                              "dil_conv_5x5": -0.0006, "dil_conv_3x3": -0.0004}
    alpha = torch.zeros(3, 8, dtype=torch.float64, requires_grad=True)
    apply_op_bias(alpha, DARTS_OPS, EDARTS_OP_BIAS)
    apply_op_bias(alpha, DARTS_OPS, EDARTS_OP_BIAS)  # once per architecture update
    assert alpha.detach()[1].tolist() == pytest.approx([0, 0, 0, 0, 0.0012, 0.0008, -0.0008,
                                                        -0.0012])
    assert alpha.grad is None


def test_op_bias_respects_mask_and_rejects_unknown_ops():
    alpha = torch.zeros(2, 8)
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1, 4] = False
    apply_op_bias(alpha, DARTS_OPS, {"sep_conv_3x3": 1.0}, mask)
    assert alpha[:, 4].tolist() == [1.0, 0.0]
    with pytest.raises(SpecError, match="'sep_conv_3x33'") as err:
        apply_op_bias(alpha, DARTS_OPS, {"sep_conv_3x33": 1.0})
    assert "did you mean 'sep_conv_3x3'" in str(err.value)


# -- temperature schedules --------------------------------------------------------------------------
def test_dots_topology_temperatures():
    edge = Temperature(10, 0.72, minimum=0.02)
    assert [edge.at(t) for t in range(3)] == pytest.approx([10, 7.2, 5.184])
    assert edge.at(18) == pytest.approx(10 * 0.72 ** 18)   # 0.0270
    assert edge.at(19) == 0.02                             # 10 * 0.72^19 = 0.0195, clamped
    op = edge.scaled(1e-3)                                 # paper 002 Fig. 3: T_beta / 1000
    assert op.at(0) == pytest.approx(0.01) and op.at(40) == pytest.approx(2e-5)
    # the released code's rate: (0.02/10)^(1/19) over 20 annealing epochs
    ranged = Temperature.from_range(10, 0.02, 20)
    assert ranged.theta == pytest.approx(0.7210, abs=1e-4) and round(ranged.theta, 2) == 0.72
    assert ranged.at(19) == pytest.approx(0.02) and ranged.at(30) == 0.02


def test_dots_operation_stage_range_matches_its_theta():
    # paper 000 §A.2: T0 = 10, theta = 0.65, ending at 0.2 after 10 annealing epochs
    assert Temperature.from_range(10, 0.2, 10).theta == pytest.approx(0.6475, abs=1e-4)


def test_temperature_per_step_or_epoch_is_stateless():
    per_step = Temperature(1.0, 0.5, per="step")
    per_epoch = Temperature(1.0, 0.5)
    assert per_step(epoch=1, step=3) == 0.125
    assert per_epoch(epoch=1, step=3) == 0.5
    assert Temperature(2.0)(epoch=7, step=70) == 2.0


@pytest.mark.parametrize("make", [
    lambda: Temperature(0, 0.5), lambda: Temperature(1, -0.5),
    lambda: Temperature(1, 0.5, "batch"),
    lambda: Temperature(1, 0.5, minimum=0), lambda: Temperature.from_range(10, 0.02, 1),
    lambda: Temperature.from_range(1, 2, 5),
])
def test_temperature_errors(make):
    with pytest.raises(SpecError):
        make()
