"""The supernet: mixed edges, architecture parameters, zero-weight skipping, DARTS-PT decisions."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from genospec.errors import SpecError
from genospec.ir import Cell, Edge, Network, Output, Space, Topology
from genospec.nn.mixed import EdgeMix, MixedEdge
from genospec.nn.ops import build_op
from genospec.nn.supernet import Supernet
from genospec.oplib import STANDARD_OPS
from nn_fixtures import DARTS_OPS, darts_space

# RobustDARTS S1 (fixtures/search_spaces.md): one pair of ops per edge, DARTS edge order.
S1 = {
    "normal": [("skip_connect", "dil_conv_3x3"), ("skip_connect", "dil_conv_5x5"),
               ("skip_connect", "dil_conv_5x5"), ("skip_connect", "sep_conv_3x3"),
               ("skip_connect", "dil_conv_3x3"), ("max_pool_3x3", "skip_connect"),
               ("skip_connect", "sep_conv_3x3"), ("skip_connect", "sep_conv_3x3"),
               ("skip_connect", "dil_conv_3x3"), ("skip_connect", "sep_conv_3x3"),
               ("max_pool_3x3", "skip_connect"), ("skip_connect", "dil_conv_3x3"),
               ("dil_conv_3x3", "dil_conv_5x5"), ("dil_conv_3x3", "dil_conv_5x5")],
    "reduce": [("max_pool_3x3", "avg_pool_3x3"), ("max_pool_3x3", "dil_conv_3x3"),
               ("max_pool_3x3", "avg_pool_3x3"), ("max_pool_3x3", "avg_pool_3x3"),
               ("skip_connect", "dil_conv_5x5"), ("max_pool_3x3", "avg_pool_3x3"),
               ("max_pool_3x3", "sep_conv_3x3"), ("skip_connect", "dil_conv_3x3"),
               ("skip_connect", "dil_conv_5x5"), ("max_pool_3x3", "avg_pool_3x3"),
               ("max_pool_3x3", "avg_pool_3x3"), ("skip_connect", "dil_conv_5x5"),
               ("skip_connect", "dil_conv_5x5"), ("skip_connect", "dil_conv_5x5")],
}
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
TINY = dict(cells=3, channels=4, classes=5)


def s1_space() -> Space:
    ids = [(i, j) for j in range(2, 6) for i in range(j)]

    def cell(name: str, stride: int) -> Cell:
        edges = [Edge(i, j, S1[name][k], order=i) for k, (i, j) in enumerate(ids)]
        return Cell.build(name, 2, 4, stride, Topology("pick", 2, 2), edges,
                          Output("concat", (2, 3, 4, 5)))

    return Space("s1", "space", {o: STANDARD_OPS[o] for o in DARTS_OPS},
                 {"normal": cell("normal", 1), "reduce": cell("reduce", 2)})


def nb201_space() -> Space:
    edges = [Edge(j, i, NB201_OPS, order=j) for i in range(1, 4) for j in range(i)]
    cell = Cell.build("normal", 1, 3, 1, Topology("keep"), edges, Output("node", (3,)))
    return Space("nb201", "space", {o: STANDARD_OPS[o] for o in NB201_OPS}, {"normal": cell},
                 Network(layout="nb201", cells=3, channels=4))


def small_space(ops=DARTS_OPS, topology: Topology = Topology("pick", 2, 2)) -> Space:
    """A DARTS-like space with two intermediate nodes (5 edges), to keep tests fast."""
    def cell(name: str, stride: int) -> Cell:
        edges = [Edge(i, j, tuple(ops), order=i) for j in (2, 3) for i in range(j)]
        return Cell.build(name, 2, 2, stride, topology, edges, Output("concat", (2, 3)))

    return Space("small", "space", {o: STANDARD_OPS[o] for o in ops},
                 {"normal": cell("normal", 1), "reduce": cell("reduce", 2)})


def pick_any_space() -> Space:
    return small_space(("skip_connect", "sep_conv_3x3"), Topology("pick", 1, None))


def backward(net: Supernet, size: int = 8, batch: int = 2) -> torch.Tensor:
    y = net(torch.randn(batch, 3, size, size))
    y.square().mean().backward()
    return y


def op_calls(net: Supernet, cell_type: str, edge: int) -> dict[str, int]:
    """Count forward calls of each op module on edge ``edge`` of every cell of ``cell_type``."""
    calls: dict[str, int] = {}
    for cell in net.net.cells:
        if getattr(cell, "cell_type", None) != cell_type:
            continue
        mixed = cell.edges[edge]
        for name, op in zip(mixed.op_names, mixed.ops):
            calls.setdefault(name, 0)
            op.register_forward_hook(lambda *_, n=name: calls.__setitem__(n, calls[n] + 1))
    return calls


# -- parameters -----------------------------------------------------------------------------
def test_darts_supernet_parameter_counts():
    torch.manual_seed(0)
    net = Supernet(darts_space(), cells=8, channels=16, classes=10)
    weights = list(net.weight_parameters())
    arch = net.arch_parameters()
    assert sum(p.numel() for p in weights) == 1_930_618  # reference_numbers.md
    assert [tuple(p.shape) for p in arch] == [(14, 8), (14, 8)]
    assert {id(p) for p in weights}.isdisjoint(id(p) for p in arch)
    assert {id(p) for p in net.parameters()} == {id(p) for p in weights} | {id(p) for p in arch}
    assert {"arch.normal.alpha", "arch.reduce.alpha"} <= set(net.state_dict())
    assert [n for n, _ in net.named_arch_parameters()] == ["arch.normal.alpha", "arch.reduce.alpha"]
    # DARTS init: 1e-3 * N(0, 1)
    alpha = torch.cat([p.detach().flatten() for p in arch])
    assert 0.5e-3 < alpha.std().item() < 2e-3 and alpha.abs().max().item() < 1e-2


def test_fixed_relaxation_holds_alpha_at_zero_and_beta_starts_at_zero():
    net = Supernet(pick_any_space(), **TINY, op_relax="fixed", edge_relax="combination")
    alpha = net.arch["normal"].alpha
    assert not alpha.requires_grad and bool((alpha == 0).all())
    beta = net.arch["normal"].beta
    assert net.arch_parameters() == [beta, net.arch["reduce"].beta]
    assert beta.shape == (3 + 7,) and bool((beta == 0).all())  # DOTS: 0
    w = net.mixing()["normal"].weights
    assert torch.equal(w, torch.full((5, 2), 0.5))


def test_every_weight_and_alpha_gets_a_gradient_in_a_tiny_darts_supernet():
    torch.manual_seed(1)
    net = Supernet(small_space(), **TINY)
    backward(net)
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for arch in net.arch.values():
        assert bool((arch.alpha.grad != 0).all())


def test_s1_per_edge_ops_forward_backward():
    torch.manual_seed(2)
    net = Supernet(s1_space(), **TINY)
    lay = net._layout("normal")
    assert lay.ops == ("skip_connect", "dil_conv_3x3", "dil_conv_5x5", "sep_conv_3x3",
                       "max_pool_3x3")
    first = net.net.cells[0].edges[0]
    assert first.op_names == ("skip_connect", "dil_conv_3x3") and len(first.ops) == 2
    y = backward(net)
    assert y.shape == (2, 5) and torch.isfinite(y).all()
    for name, arch in net.arch.items():
        mask = net._layout(name).mask
        assert bool((arch.alpha.grad[mask] != 0).all())
        assert bool((arch.alpha.grad[~mask] == 0).all())  # not a candidate: no gradient
    w = net.mixing()["reduce"].weights
    assert torch.allclose(w.sum(dim=1), torch.ones(14))
    assert bool((w[~net._layout("reduce").mask] == 0).all())


def test_nas_bench_201_supernet():
    torch.manual_seed(3)
    net = Supernet(nb201_space(), classes=5)
    assert [tuple(p.shape) for p in net.arch_parameters()] == [(6, 5)]
    kinds = [type(c).__name__ for c in net.net.cells]
    assert kinds == ["CompiledCell", "ResidualReduction", "CompiledCell", "ResidualReduction",
                     "CompiledCell"]
    y = backward(net)
    assert y.shape == (2, 5)
    assert bool((net.arch["normal"].alpha.grad != 0).all())
    assert all(p.grad is not None for p in net.weight_parameters())


def test_pick_any_with_the_combination_relaxation():
    torch.manual_seed(4)
    net = Supernet(pick_any_space(), **TINY, edge_relax="combination")
    with torch.no_grad():  # at beta = 0 the full subset's gradient is 0 by symmetry
        for arch in net.arch.values():
            arch.beta.normal_()
    net.set_temperature(op=0.5, edge=2.0)
    mix = net.mixing()["normal"]
    lay = net._layout("normal")
    for s, edges in zip(lay.beta_slices, lay.node_edges):
        assert mix.beta[s].sum().item() == pytest.approx(1.0)
        assert mix.gamma[list(edges)].sum().item() == pytest.approx(1.0)  # paper's 1/N(c)
    backward(net)
    for arch in net.arch.values():
        assert bool((arch.beta.grad != 0).all()) and bool((arch.alpha.grad != 0).all())
    unnormalised = Supernet(pick_any_space(), **TINY, edge_relax="combination", normalise=False)
    g = unnormalised.mixing()["normal"].gamma  # code's sum: half of all subsets hold an edge
    assert g[:2].tolist() == pytest.approx([2 / 3, 2 / 3])


def test_sigmoid_edges_have_gamma_but_no_node_softmax():
    net = Supernet(small_space(("skip_connect", "sep_conv_3x3")), **TINY, edge_relax="sigmoid")
    mix = net.mixing()["normal"]
    assert mix.beta is None and mix.gamma.tolist() == [0.5] * 5
    assert net.arch["normal"].beta.shape == (5,)


# -- zero-weight ops are skipped -------------------------------------------------------------
def test_mixed_edge_sums_only_active_ops_and_shares_the_relu():
    torch.manual_seed(5)
    names = ("none", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")
    edge = MixedEdge(Edge(0, 2, names), STANDARD_OPS, 4, 1, affine=False)
    plain = [build_op(STANDARD_OPS[o], 4, 1, affine=False) for o in names]
    for a, b in zip(edge.ops, plain):
        b.load_state_dict(a.state_dict())
    assert isinstance(edge.ops[3][0][0], nn.Identity) and isinstance(plain[3][0][0], nn.ReLU)
    x = torch.randn(2, 4, 6, 6)
    w = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5])
    full = sum(wi * op(x) for wi, op in zip(w, plain))
    assert torch.allclose(edge(x, EdgeMix(w, (0, 1, 2, 3, 4))), full, atol=1e-6)
    part = 0.2 * plain[1](x) + 0.5 * plain[4](x)
    assert torch.allclose(edge(x, EdgeMix(w, (1, 4))), part, atol=1e-6)
    assert torch.equal(edge(x, EdgeMix(w, ())), torch.zeros(2, 4, 6, 6))
    reduce = MixedEdge(Edge(0, 2, names), STANDARD_OPS, 4, 2, affine=False)
    assert reduce(torch.randn(1, 4, 7, 7), EdgeMix(w, (0,))).shape == (1, 4, 4, 4)


def test_ops_with_exactly_zero_weight_are_not_computed():
    torch.manual_seed(6)
    net = Supernet(small_space(), **TINY)
    calls = op_calls(net, "normal", 0)
    net(torch.randn(1, 3, 8, 8))
    assert calls == {o: 0 if o == "none" else 1 for o in DARTS_OPS}  # one normal cell

    # annealed away: softmax underflows to exactly 0
    with torch.no_grad():
        net.arch["normal"].alpha[0].copy_(torch.tensor([0., 0, 0, 0, 9, 0, 0, 0]))
    net.set_temperature(op=0.01)
    assert net.mixing()["normal"].weights[0].tolist() == [0, 0, 0, 0, 1, 0, 0, 0]
    calls.update(dict.fromkeys(calls, 0))
    net(torch.randn(1, 3, 8, 8))
    assert calls == {o: int(o == "sep_conv_3x3") for o in DARTS_OPS}


def test_mask_discretize_and_drop():
    torch.manual_seed(7)
    net = Supernet(small_space(), **TINY)
    calls = op_calls(net, "normal", 3)
    x = torch.randn(1, 3, 8, 8)

    net.mask_op("normal", 3, "sep_conv_5x5")
    w = net.mixing()["normal"].weights
    assert w[3, DARTS_OPS.index("sep_conv_5x5")] == 0 and w[3].sum() < 1  # not renormalised
    assert w[4].sum().item() == pytest.approx(1.0)
    net(x)
    assert calls["sep_conv_5x5"] == 0 and calls["sep_conv_3x3"] == 1
    net.unmask_op("normal", 3, "sep_conv_5x5")

    net.discretize_edge("normal", 3, "dil_conv_3x3")
    assert net.mixing()["normal"].weights[3].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
    calls.update(dict.fromkeys(calls, 0))
    net(x)
    assert calls == {o: int(o == "dil_conv_3x3") for o in DARTS_OPS}

    net.drop_edge("normal", 3)
    mix = net.mixing()["normal"]
    assert mix.dropped == (3,) and mix.gamma is None
    calls.update(dict.fromkeys(calls, 0))
    y = net(x)
    assert set(calls.values()) == {0} and torch.isfinite(y).all()
    y.sum().backward()  # a dropped edge's alpha row takes no gradient
    assert bool((net.arch["normal"].alpha.grad[3] == 0).all())
    net.restore_edge("normal", 3)
    assert net.mixing()["normal"].dropped == ()

    with pytest.raises(SpecError, match="did you mean 'sep_conv_3x3'"):
        net.mask_op("normal", 0, "sep_conv_3")
    with pytest.raises(SpecError, match="no cell type 'normall'"):
        net.drop_edge("normall", 0)
    with pytest.raises(ValueError, match="edges 0..4"):
        net.drop_edge("normal", 5)


def test_decisions_and_architecture_travel_in_the_state_dict():
    torch.manual_seed(8)
    space = small_space(("skip_connect", "sep_conv_3x3"))
    a = Supernet(space, **TINY, edge_relax="sigmoid")
    a.discretize_edge("reduce", 1, "skip_connect")
    a.mask_op("normal", 2, "sep_conv_3x3")
    a.drop_edge("normal", 4)
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    b = Supernet(space, **TINY, edge_relax="sigmoid")
    b.load_state_dict(torch.load(buffer, weights_only=True))
    for name in ("normal", "reduce"):
        ma, mb = a.mixing()[name], b.mixing()[name]
        assert torch.equal(ma.weights, mb.weights) and torch.equal(ma.gamma, mb.gamma)
    a.eval(), b.eval()
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(a(x), b(x))


# -- configuration -----------------------------------------------------------------------------
def test_two_spaces_compile_and_run_in_one_process():
    torch.manual_seed(9)
    darts = Supernet(small_space(("skip_connect", "sep_conv_3x3")), **TINY)
    nb = Supernet(nb201_space(), classes=3)
    s1 = Supernet(s1_space(), **TINY)
    assert darts.mixing()["normal"].op_names == ("skip_connect", "sep_conv_3x3")
    assert nb.mixing()["normal"].op_names == NB201_OPS
    assert set(s1.mixing()) == {"normal", "reduce"} and set(nb.mixing()) == {"normal"}
    x = torch.randn(2, 3, 8, 8)
    assert darts(x).shape == (2, 5) and nb(x).shape == (2, 3) and s1(x).shape == (2, 5)
    darts.mask_op("normal", 0, "skip_connect")
    assert s1.mixing()["normal"].weights[0].sum().item() == pytest.approx(1.0)


def test_temperature_sharpens_op_and_edge_weights():
    net = Supernet(small_space(("skip_connect", "sep_conv_3x3")), **TINY, edge_relax="sigmoid")
    with torch.no_grad():
        net.arch["normal"].alpha[0].copy_(torch.tensor([0.0, 1.0]))
        net.arch["normal"].beta[0] = 1.0
    net.set_temperature(op=0.5)
    mix = net.mixing()["normal"]
    assert mix.weights[0, 1].item() == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())
    net.set_temperature(edge=0.25)
    assert net.mixing()["normal"].gamma[0].item() == pytest.approx(
        torch.sigmoid(torch.tensor(4.0)).item())
    assert net.op_temperature == 0.5
    with pytest.raises(SpecError, match="positive"):
        net.set_temperature(op=0)


def test_op_bias_and_relaxation_errors():
    torch.manual_seed(10)
    net = Supernet(s1_space(), **TINY, op_bias={"sep_conv_3x3": 0.5, "dil_conv_5x5": -0.25})
    before = {n: a.alpha.detach().clone() for n, a in net.arch.items()}
    net.apply_op_bias()
    for name, arch in net.arch.items():
        lay = net._layout(name)
        expect = torch.zeros(lay.alpha_shape)
        for op, v in {"sep_conv_3x3": 0.5, "dil_conv_5x5": -0.25}.items():
            if op in lay.ops:
                expect[:, lay.ops.index(op)] = v
        assert torch.allclose(arch.alpha - before[name], expect * lay.mask)
    with pytest.raises(SpecError, match="did you mean 'sep_conv_3x3'"):
        Supernet(s1_space(), **TINY, op_bias={"sep_conv3x3": 0.1})
    with pytest.raises(SpecError, match="needs a space with `groups`"):
        Supernet(s1_space(), **TINY, op_relax="group_softmax")
    with pytest.raises(SpecError, match="unknown op relaxation"):
        Supernet(s1_space(), **TINY, op_relax="softmin")


def test_group_softmax_sums_to_one_per_group():
    space = small_space()
    space.groups = {"free": tuple(DARTS_OPS[:4]), "param": tuple(DARTS_OPS[4:])}
    net = Supernet(space, **TINY, op_relax="group_softmax")
    w = net.mixing()["normal"].weights
    assert torch.allclose(w[:, :4].sum(dim=1), torch.ones(5))
    assert torch.allclose(w[:, 4:].sum(dim=1), torch.ones(5))


@pytest.mark.parametrize("checkpoint", ["cells", "ops"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_checkpointed_cells_and_channels_last_compute_the_same_gradients(channels_last, checkpoint):
    """`supernet checkpoint cells|ops` and the CPU channels-last layout change how, not what:
    the loss and every gradient match the plain supernet's."""
    torch.manual_seed(0)
    plain = Supernet(darts_space(), **TINY)
    other = Supernet(darts_space(), **TINY, checkpoint=checkpoint)
    other.load_state_dict(plain.state_dict())
    if channels_last:
        other.net.channels_last()
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    losses = []
    for net in (plain, other):
        net.train()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for (name, a), b in zip(plain.named_parameters(), other.parameters()):
        assert a.grad is not None and b.grad is not None, name
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_supernet_keeps_less_for_backward_than_plain_autograd():
    """A weight step (architecture frozen) of the DARTS supernet keeps under half of what plain
    autograd keeps; `supernet checkpoint ops` keeps less again (genospec/nn/recompute.py)."""
    from genospec.nn.memory import saved_activation_bytes

    x = torch.randn(4, 3, 8, 8)
    kept = {}
    for name in ("all", "default", "ops"):
        torch.manual_seed(0)
        net = Supernet(darts_space(), **TINY, checkpoint="ops" if name == "ops" else False,
                       keep="all" if name == "all" else None)
        for p in net.arch_parameters():
            p.requires_grad_(False)
        kept[name] = saved_activation_bytes(net, x)
    assert kept["default"] < 0.5 * kept["all"], kept
    assert kept["ops"] < 0.8 * kept["default"], kept
    with pytest.raises(ValueError, match="keep must be one of output, input, all"):
        Supernet(darts_space(), **TINY, keep="inputs")
    with pytest.raises(ValueError, match="checkpoint 'ops' keeps the ops' inputs"):
        Supernet(darts_space(), **TINY, checkpoint="ops", keep="output")
    with pytest.raises(ValueError, match="checkpoint must be"):
        Supernet(darts_space(), **TINY, checkpoint="edges")


def test_edges_leaving_a_node_pool_once_and_match_plain_autograd(monkeypatch):
    """A cell computes each pooling+BatchNorm once per source node (the same tensor on every
    edge leaving it, genospec/nn/pool_bn.py): the loss, every gradient and every BatchNorm's
    running statistics match plain autograd, which pools on each edge."""
    from genospec.nn import pool_bn

    calls = []
    real = pool_bn._PoolBN.apply
    monkeypatch.setattr(pool_bn._PoolBN, "apply", lambda *a: calls.append(a[1]) or real(*a))
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    nets = []
    for keep in ("output", "all"):
        torch.manual_seed(0)
        net = Supernet(small_space(), **TINY, keep=keep)
        net.train()
        for _ in range(2):  # running statistics over two batches
            net.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
        nets.append(net)
    # 3 cells of 5 edges from 3 source nodes, 2 pooling ops, 2 forwards; plain: none
    assert len(calls) == 3 * 3 * 2 * 2
    shared, plain = nets
    for (name, a), b in zip(shared.named_parameters(), plain.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)
    for (name, a), b in zip(shared.named_buffers(), plain.buffers()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
