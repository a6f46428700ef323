"""Issue 15 parts against their equations: FairDARTS' sigmoid relaxation and zero-one loss, PC-DARTS'
edge normalisation (and its use in selection), SDARTS-RS/ADV (restored exactly, seeded), the cost
regulariser, top-k, FairDARTS' threshold and PT-Mag's decisions."""

from __future__ import annotations

import random

import pytest
import torch

from genospec.ir import Cell, Edge, Space, Topology
from genospec.lang.loader import loads
from genospec.nn.supernet import Supernet
from genospec.registry import REGULARISER, SELECTION, registry
from genospec.relax import cell_layout
from genospec.relax.independent import EdgeNormalisation, IndependentSigmoid
from genospec.search import regularisers as R
from genospec.search.hooks import Regularisers
from genospec.search.pt_mag import decide_by_magnitude
from genospec.search.select import fair_threshold, magnitude, top_k
from search_fixtures import TINY_SPACE

torch.set_default_dtype(torch.float32)


def _space(text: str = TINY_SPACE) -> Space:
    return loads(text).get("tiny")


def _net(**kw) -> Supernet:
    torch.manual_seed(0)
    return Supernet(_space(), classes=3, in_chans=1, **kw).double()


def _x(n: int = 4):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 1, 8, 8, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 0][:n])


# ---- relaxations ---------------------------------------------------------------------------
def test_independent_sigmoid_is_elementwise_sigmoid_with_mask():
    lay = cell_layout(_space().cells["normal"])
    alpha = torch.randn(lay.alpha_shape, dtype=torch.float64, requires_grad=True)
    lay.mask[0, 0] = False  # a non-candidate stays exactly 0
    w = IndependentSigmoid().weights(alpha, lay, 2.0)
    expected = torch.sigmoid(alpha / 2.0) * lay.mask  # FairDARTS: w_o = sigma(alpha_o)
    assert torch.equal(w, expected) and w[0, 0] == 0
    # d sigma(a/T)/da = sigma (1 - sigma) / T, independently per entry (no competition)
    w.sum().backward()
    s = torch.sigmoid(alpha.detach() / 2.0)
    assert torch.allclose(alpha.grad, s * (1 - s) / 2.0 * lay.mask)


def test_edge_normalisation_softmax_per_node_and_gradient():
    lay = cell_layout(_space().cells["normal"])  # node 2: edges 0, 1; node 3: edges 2, 3, 4
    beta = torch.tensor([0.3, -0.2, 1.0, 0.0, -1.0], dtype=torch.float64, requires_grad=True)
    gamma = EdgeNormalisation().weights(beta, lay, 0.5)
    # PC-DARTS edge normalisation: gamma_ij = exp(beta_ij/T) / sum_i' exp(beta_i'j/T) per node j
    exp = torch.exp(beta.detach() / 0.5)
    ref = torch.cat([exp[:2] / exp[:2].sum(), exp[2:] / exp[2:].sum()])
    assert torch.allclose(gamma, ref)
    assert torch.allclose(gamma[:2].sum(), torch.tensor(1.0, dtype=torch.float64))
    gamma[2].backward()  # d gamma_a / d beta_b = gamma_a (delta_ab - gamma_b) / T, same node only
    g = ref[2:]
    expect = torch.zeros(5, dtype=torch.float64)
    expect[2:] = g[0] * (torch.tensor([1.0, 0, 0], dtype=torch.float64) - g) / 0.5
    assert torch.allclose(beta.grad, expect)


def test_edge_normalisation_in_the_supernet_multiplies_each_edge():
    net = _net(edge_relax="normalisation")
    with torch.no_grad():
        net.arch["normal"].beta.copy_(torch.tensor([2.0, -2.0, 0.5, 0.0, 1.0]))
    w, gamma = net.arch_weights("normal")
    mix = net.mixing()["normal"]
    assert torch.allclose(mix.gamma, gamma)
    x, y = _x()
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    assert net.arch["normal"].beta.grad.abs().sum() > 0  # the forward uses gamma


def test_magnitude_selection_multiplies_gamma_into_edge_strength():
    space = _space()
    ops = ("none", "skip", "conv", "pool")
    w = [[0.0, 0.1, 0.8, 0.1]] * 2 + [[0.0, 0.7, 0.2, 0.1], [0.0, 0.6, 0.3, 0.1],
                                      [0.0, 0.1, 0.1, 0.8]]
    plain = magnitude(space, "normal", w, ops)
    node3 = [(e.src, e.ops[0]) for e in plain.in_edges(3)]
    assert node3 == [(2, "pool"), (0, "skip")]
    # gamma demotes edge 2->3: its 0.8 * 0.1 loses to 0.7 * 0.45 and 0.6 * 0.45
    weighted = magnitude(space, "normal", w, ops, gamma=[0.5, 0.5, 0.45, 0.45, 0.1])
    assert [(e.src, e.ops[0]) for e in weighted.in_edges(3)] == [(0, "skip"), (1, "skip")]


# ---- selection -----------------------------------------------------------------------------
def test_top_k_keeps_the_k_strongest_selectable_ops_in_listed_order():
    space = _space()
    ops = ("none", "skip", "conv", "pool")
    w = [[0.9, 0.1, 0.5, 0.4]] * 5
    cell = top_k(space, "normal", w, ops, k=2)
    assert all(e.ops == ("conv", "pool") for e in cell.edges())  # zero is never selectable
    assert cell.topology == space.cells["normal"].topology
    assert all(len(e.ops) == 3 for e in top_k(space, "normal", w, ops, k=5).edges())


FAIR = TINY_SPACE.replace("topology pick 2", "topology pick 1..2")


def test_fair_threshold_keeps_passing_edges_and_tops_up():
    space = loads(FAIR).get("tiny")
    ops = ("none", "skip", "conv", "pool")
    # node 2: edge 1 passes 0.85, edge 0 does not -> 1 edge; node 3: none passes -> topped up
    # to pick's minimum 1 with its strongest edge; code parse `threshold_sparse`
    w = [[0.0, 0.2, 0.5, 0.1], [0.0, 0.1, 0.9, 0.2],
         [0.0, 0.3, 0.2, 0.1], [0.0, 0.1, 0.1, 0.7], [0.0, 0.6, 0.1, 0.1]]
    cell = fair_threshold(space, "normal", w, ops, threshold=0.85)
    assert [(e.src, e.ops[0]) for e in cell.in_edges(2)] == [(1, "conv")]
    assert [(e.src, e.ops[0]) for e in cell.in_edges(3)] == [(1, "pool")]
    both = fair_threshold(space, "normal", w, ops, threshold=0.45)
    assert [(e.src, e.ops[0]) for e in both.in_edges(2)] == [(1, "conv"), (0, "conv")]
    # on a pick 2 cell it is DARTS' rule: every node keeps two
    darts = fair_threshold(_space(), "normal", w, ops, threshold=0.99)
    assert all(len(darts.in_edges(j)) == 2 for j in (2, 3))


def test_pt_mag_decides_by_the_current_weights():
    net = _net()
    space = _space()
    with torch.no_grad():
        net.arch["normal"].alpha.zero_()
        net.arch["normal"].alpha[3, 3] = 2.0  # pool on edge 3
        net.arch["normal"].alpha[3, 0] = 5.0  # zero op: never chosen where edges are picked
    called = []
    d = decide_by_magnitude(net, space, space.cells["normal"], 3, lambda: called.append(1))
    assert d.op == "pool" and not called and d.candidates == ("skip", "conv", "pool")


def test_registered_words_parse_in_a_recipe():
    sel = registry(SELECTION)
    assert sel.part("top_k").words == ("top",)
    assert sel.part("fair_threshold").words == ("fair", "threshold")
    assert sel.part("progressive_magnitude").words == ("progressive", "magnitude")
    assert {"sdarts_random", "sdarts_adv", "zero_one", "cost"} <= set(registry(REGULARISER).names())


# ---- regularisers --------------------------------------------------------------------------
def test_zero_one_loss_is_minus_mean_squared_distance_to_a_half():
    net = _net(op_relax="sigmoid")
    reg = R.ZeroOne(weight=10.0)
    term = reg.loss(net, "arch")
    sig = [torch.sigmoid(a.alpha)[net.layout(n).mask] for n, a in net.arch.items()]
    ref = -10.0 * torch.cat(sig).sub(0.5).pow(2).mean()  # w0 * L01, L01 = -1/N sum (s - .5)^2
    assert torch.allclose(term, ref)
    assert reg.loss(net, "weights") is None
    term.backward()  # pushes sigmoids away from 0.5: gradient sign(alpha) * positive, negated
    a = net.arch["normal"].alpha
    s = torch.sigmoid(a.detach())
    n = sum(int(net.layout(k).mask.sum()) for k in net.arch)
    assert torch.allclose(a.grad, -10.0 * 2 * (s - 0.5) * s * (1 - s) / n * net.layout("normal").mask)


def test_clip_rows_projects_as_sdarts():
    w = torch.tensor([[0.5, 0.7, -0.2, 0.0], [-0.1, -0.3, -0.2, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False], [True, True, True, False]])
    out = R.clip_rows(w, mask, torch.ones(2, 1, dtype=torch.float64))
    assert torch.allclose(out[0], torch.tensor([0.5, 0.7, 0.0, 0.0], dtype=torch.float64) / 1.2)
    assert torch.equal(out[1], torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64))
    assert R.ramp(0.03, 0.3, 0, 50) == 0.03 and R.ramp(0.03, 0.3, 25, 50) == pytest.approx(0.165)
    assert R.ramp(0.03, 0.3, 60, 50) == pytest.approx(0.3)


@pytest.mark.parametrize("space", ["weights", "alpha"])
def test_sdarts_random_perturbs_the_weight_step_only_and_restores_exactly(space):
    net = _net()
    reg = R.SDARTSRandom(epsilon=0.3, start=0.3, space=space)
    alphas = {n: a.alpha.detach().clone() for n, a in net.arch.items()}
    x, y = _x()
    clean = net(x).detach()
    before = {n: net.arch_weights(n)[0].detach() for n in net.arch}
    torch.manual_seed(5)
    reg.before_weight_step(net, (x, y))
    perturbed = {n: net.arch_weights(n)[0].detach() for n in net.arch}
    diff = max((perturbed[n] - before[n]).abs().max() for n in net.arch)
    assert diff > 0.01
    if space == "weights":  # rows stay distributions, zero where masked
        for n in net.arch:
            assert torch.allclose(perturbed[n].sum(-1), torch.ones(perturbed[n].shape[0],
                                                                     dtype=torch.float64))
            assert (perturbed[n] >= 0).all()
    reg.after_weight_step(net)
    assert type(net.op_relax).__name__ == "Softmax"
    for n, a in net.arch.items():
        assert torch.equal(a.alpha, alphas[n])
    assert torch.equal(net(x).detach(), clean)  # restored bit for bit
    # the same seed draws the same perturbation (the run's seed stream)
    torch.manual_seed(5)
    reg.before_weight_step(net, (x, y))
    again = {n: net.arch_weights(n)[0].detach() for n in net.arch}
    reg.after_weight_step(net)
    assert all(torch.equal(again[n], perturbed[n]) for n in net.arch)


def test_sdarts_adv_raises_the_loss_within_the_ball():
    net = _net()
    x, y = _x()
    reg = R.SDARTSAdversarial(epsilon=0.2, start=0.2, steps=3)
    base = {n: net.arch_weights(n)[0].detach() for n in net.arch}
    with torch.no_grad():
        clean = torch.nn.functional.cross_entropy(net(x), y)
    bn = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    stats = [m.running_mean.clone() for m in bn]
    torch.manual_seed(0)
    reg.before_weight_step(net, (x, y))
    # the batch-statistics attack leaves BN running statistics untouched
    assert all(torch.equal(m.running_mean, s) for m, s in zip(bn, stats))
    with torch.no_grad():
        attacked = torch.nn.functional.cross_entropy(net(x), y)
    adv = {n: net.arch_weights(n)[0].detach() for n in net.arch}
    reg.after_weight_step(net)
    assert attacked >= clean  # kept only when the attack raised the loss
    for n in net.arch:  # L-inf ball of radius eps before the row rescaling, then a distribution
        assert torch.allclose(adv[n].sum(-1), torch.ones(adv[n].shape[0], dtype=torch.float64))
        assert (adv[n] - base[n]).abs().max() <= 2 * 0.2 + 1e-9
    with torch.no_grad():
        assert torch.equal(torch.nn.functional.cross_entropy(net(x), y), clean)


def test_cost_is_weighted_sum_of_counted_op_costs():
    from genospec.nn.count import count_macs, count_parameters
    net = _net(edge_relax="normalisation").float()  # count_macs feeds float32 images
    costs = R.op_costs(net, (1, 8, 8), "macs")
    params = R.op_costs(net, (1, 8, 8), "params")
    lay = net.layout("normal")
    conv, none = lay.ops.index("conv"), lay.ops.index("none")
    assert costs["normal"][0, none] == 0 and costs["normal"][0, conv] > 0
    # every normal cell's conv on edge 0, counted by genospec.nn.count
    cells = [c for c in net.net.cells if getattr(c, "cell_type", None) == "normal"]
    want = sum(count_parameters(c.edges[0].ops[c.edges[0].op_names.index("conv")])
               for c in cells) / 1e6
    assert params["normal"][0, conv] == pytest.approx(want)
    reg = R.Cost(weight=0.5)
    reg.image_shape = (1, 8, 8)
    term = reg.loss(net, "arch")
    ref = sum((net.arch_weights(n)[0] * net.arch_weights(n)[1].unsqueeze(1) * costs[n]).sum()
              for n in net.arch)
    assert torch.allclose(term, 0.5 * ref.to(term.dtype))
    term.backward()
    assert net.arch["normal"].alpha.grad.abs().sum() > 0
    assert net.arch["normal"].beta.grad.abs().sum() > 0
    assert count_macs  # the counter the costs come from


def test_regularisers_hooks_run_in_reverse_order_for_restoring():
    calls = []

    class P(R.Regulariser):
        def __init__(self, k):
            self.k = k

        def before_weight_step(self, model, batch=None):
            calls.append(("b", self.k, batch))

        def after_weight_step(self, model):
            calls.append(("a", self.k))

    regs = Regularisers([P(1), P(2)])
    regs.before_weight_step(None, "B")
    regs.after_weight_step(None)
    assert calls == [("b", 1, "B"), ("b", 2, "B"), ("a", 2), ("a", 1)]
