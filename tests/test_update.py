"""Supernet update steps: first/second-order bilevel, one-level, clipping, op bias, DDP."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.func import functional_call

from genospec.ir import Cell, Edge, Output, Space, Topology
from genospec.nn.supernet import Supernet
from genospec.oplib import STANDARD_OPS
from genospec.search.update import (arch_optimizer, step, unrolled_arch_gradients,
                                    weight_optimizer)

TINY = dict(cells=3, channels=4, classes=3)
F = nn.functional


def supernet(seed: int = 0, **options) -> Supernet:
    """A tiny supernet: 3 cells of 2 nodes (5 edges), 3 ops per edge, 4 channels."""
    torch.manual_seed(seed)
    ops = ("skip_connect", "max_pool_3x3", "sep_conv_3x3")

    def cell(name: str, stride: int) -> Cell:
        edges = [Edge(i, j, ops, order=i) for j in (2, 3) for i in range(j)]
        return Cell.build(name, 2, 2, stride, Topology("pick", 2, 2), edges,
                          Output("concat", (2, 3)))

    space = Space("small", "space", {o: STANDARD_OPS[o] for o in ops},
                  {"normal": cell("normal", 1), "reduce": cell("reduce", 2)})
    return Supernet(space, **TINY, **options)


def data(seed: int, n: int = 4, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g, dtype=dtype), torch.randint(0, 3, (n,), generator=g)


def snapshot(params) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def loss_grads(net: Supernet, batch, params) -> list[torch.Tensor]:
    return list(torch.autograd.grad(F.cross_entropy(net(batch[0]), batch[1]), list(params)))


def expected_weight_step(net: Supernet, batch, lr: float, clip: float) -> list[torch.Tensor]:
    """Plain SGD (no momentum, no decay) on clipped gradients of ``batch``'s loss."""
    grads = loss_grads(net, batch, net.weight_parameters())
    norm = torch.cat([g.flatten() for g in grads]).norm()
    scale = min(1.0, clip / (norm.item() + 1e-6))
    return [p.detach() - lr * scale * g for p, g in zip(net.weight_parameters(), grads)]


def close(a, b, **tol) -> bool:
    return all(torch.allclose(x, y, **tol) for x, y in zip(a, b))


def test_first_order_bilevel_steps_architecture_on_val_then_weights_on_train():
    net = supernet(edge_relax="sigmoid")
    ref = copy.deepcopy(net)
    train, val = data(1), data(2)
    w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.1)
    a_opt = torch.optim.SGD(net.arch_parameters(), lr=1.0)
    out = step(net, train, val, mode="bilevel", order=1, w_opt=w_opt, a_opt=a_opt, clip=5.0)

    # architecture: gradient of the validation loss at the current weights
    g = loss_grads(ref, val, ref.arch_parameters())
    with torch.no_grad():
        for p, gi in zip(ref.arch_parameters(), g):
            p.sub_(gi)
    assert close(snapshot(net.arch_parameters()), snapshot(ref.arch_parameters()), atol=1e-6)
    # weights: then a clipped SGD step on the training batch, with the new architecture
    assert close(snapshot(net.weight_parameters()), expected_weight_step(ref, train, 0.1, 5.0),
                 atol=1e-6)
    assert set(out) == {"loss", "acc", "val_loss", "val_acc"}
    assert out["val_loss"] > 0 and 0 <= out["acc"] <= 1 and 0 <= out["val_acc"] <= 1


def test_skipped_architecture_update_leaves_alpha_alone():
    net = supernet(op_bias={"sep_conv_3x3": 1.0})
    w_opt, a_opt = weight_optimizer(net), arch_optimizer(net)
    alpha, weights = snapshot(net.arch_parameters()), snapshot(net.weight_parameters())
    out = step(net, data(1), None, mode="bilevel", w_opt=w_opt, a_opt=a_opt, update_arch=False)
    assert close(snapshot(net.arch_parameters()), alpha, rtol=0, atol=0)
    assert not close(snapshot(net.weight_parameters()), weights, rtol=0, atol=1e-9)
    assert out["val_loss"] is None and out["val_acc"] is None


def test_one_level_steps_weights_and_architecture_on_one_batch():
    net = supernet(edge_relax="combination")
    ref = copy.deepcopy(net)
    batch = data(3)
    w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.05)
    a_opt = torch.optim.SGD(net.arch_parameters(), lr=2.0)
    out = step(net, batch, mode="onelevel", w_opt=w_opt, a_opt=a_opt, clip=0.01)
    g = loss_grads(ref, batch, ref.arch_parameters())
    expect_arch = [p.detach() - 2.0 * gi for p, gi in zip(ref.arch_parameters(), g)]
    assert close(snapshot(net.arch_parameters()), expect_arch, atol=1e-6)
    assert close(snapshot(net.weight_parameters()), expected_weight_step(ref, batch, 0.05, 0.01),
                 atol=1e-7)
    assert out["val_loss"] is None
    # clip 0.01 bounds the step: ||delta w|| <= lr * clip
    delta = torch.cat([(a - b.detach()).flatten()
                       for a, b in zip(snapshot(net.weight_parameters()), ref.weight_parameters())])
    assert delta.norm().item() <= 0.05 * 0.01 * (1 + 1e-4)


def test_op_bias_is_added_after_each_architecture_update():
    bias = {"sep_conv_3x3": 0.25, "max_pool_3x3": -0.5}
    net = supernet(op_bias=bias)
    before = snapshot(net.arch_parameters())
    w_opt = weight_optimizer(net)
    a_opt = torch.optim.SGD(net.arch_parameters(), lr=0.0)  # only the bias moves alpha
    for _ in range(2):
        step(net, data(1), data(2), mode="bilevel", w_opt=w_opt, a_opt=a_opt)
    ops = net.mixing()["normal"].op_names
    shift = torch.tensor([2 * bias.get(o, 0.0) for o in ops])
    for a, b in zip(net.arch_parameters(), before):
        assert torch.allclose(a - b, shift.expand_as(a))


def test_step_argument_errors():
    net = supernet()
    w_opt, a_opt = weight_optimizer(net), arch_optimizer(net)
    with pytest.raises(ValueError, match="bilevel only"):
        step(net, data(1), mode="onelevel", order=2, w_opt=w_opt, a_opt=a_opt)
    with pytest.raises(ValueError, match="validation batch"):
        step(net, data(1), mode="bilevel", w_opt=w_opt, a_opt=a_opt)
    with pytest.raises(ValueError, match="architecture optimiser"):
        step(net, data(1), data(2), w_opt=w_opt, a_opt=None)
    with pytest.raises(ValueError, match="'bilevel' or 'onelevel'"):
        step(net, data(1), data(2), mode="twolevel", w_opt=w_opt, a_opt=a_opt)


def test_optimisers_split_the_parameters_with_darts_defaults():
    net = supernet()
    w_opt, a_opt = weight_optimizer(net), arch_optimizer(net)
    weights = {id(p) for p in net.weight_parameters()}
    assert {id(p) for p in w_opt.param_groups[0]["params"]} == weights
    group = a_opt.param_groups[0]
    assert group["params"] == net.arch_parameters()
    assert (group["lr"], group["betas"], group["weight_decay"]) == (3e-4, (0.5, 0.999), 1e-3)
    assert (w_opt.param_groups[0]["momentum"], w_opt.param_groups[0]["weight_decay"]) == (0.9, 3e-4)
    assert arch_optimizer(supernet(op_relax="fixed")) is None


# -- second order ------------------------------------------------------------------------------
class SmoothSupernet(nn.Module):
    """An MLP-like supernet with smooth ops (tanh, sigmoid, identity), BN and an edge gate, so
    that finite differences converge: DARTS' eps = 0.01 crosses ReLU and max-pool kinks in a
    tiny convolutional supernet, whose second derivatives then differ at that scale."""

    def __init__(self):
        super().__init__()
        self.inner = nn.ModuleList(nn.Linear(6, 6) for _ in range(4))
        self.norm = nn.BatchNorm1d(6, affine=False)
        self.head = nn.Linear(6, 3)
        self.alpha = nn.Parameter(torch.randn(2, 3))
        self.beta = nn.Parameter(torch.randn(2))

    def forward(self, x):
        w = torch.softmax(self.alpha, dim=1) * torch.sigmoid(self.beta)[:, None]
        for e in range(2):
            a, b = self.inner[2 * e], self.inner[2 * e + 1]
            x = w[e, 0] * torch.tanh(a(x)) + w[e, 1] * torch.sigmoid(b(x)) + w[e, 2] * x
            x = self.norm(x) if e == 0 else x
        return self.head(x)

    def named_weight_parameters(self):
        return [(n, p) for n, p in self.named_parameters() if n not in ("alpha", "beta")]

    def weight_parameters(self):
        return [p for _, p in self.named_weight_parameters()]

    def named_arch_parameters(self):
        return [("alpha", self.alpha), ("beta", self.beta)]

    def arch_parameters(self):
        return [self.alpha, self.beta]

    def apply_op_bias(self):
        pass


def exact_unrolled_gradient(net, train, val, w_opt, xi: float) -> list[torch.Tensor]:
    """d/d(arch) of L_val(w - xi * (SGD step direction of L_train at w), arch), by autograd
    through the unrolled step (DARTS eq. 7 with the exact Hessian-vector product)."""
    weights = list(net.named_weight_parameters())
    archs = net.named_arch_parameters()
    group = w_opt.param_groups[0]

    def loss_at(w, batch):
        state = {n: b.clone() for n, b in net.named_buffers()}
        state.update((n, x) for (n, _), x in zip(weights, w))
        state.update(archs)
        return F.cross_entropy(functional_call(net, state, (batch[0],)), batch[1])

    w0 = [p.detach().clone().requires_grad_() for _, p in weights]
    g = torch.autograd.grad(loss_at(w0, train), w0, create_graph=True)
    unrolled = [w - xi * (gi + group["weight_decay"] * w.detach()
                          + group["momentum"] * w_opt.state[p]["momentum_buffer"])
                for w, gi, (_, p) in zip(w0, g, weights)]
    return list(torch.autograd.grad(loss_at(unrolled, val), [p for _, p in archs]))


def test_second_order_finite_differences_match_the_exact_derivative():
    torch.manual_seed(0)
    net = SmoothSupernet().double()
    g = torch.Generator().manual_seed(1)
    train, val = [(torch.randn(16, 6, generator=g, dtype=torch.float64),
                   torch.randint(0, 3, (16,), generator=g)) for _ in range(2)]
    w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.5, momentum=0.9, weight_decay=3e-4)
    step(net, train, mode="bilevel", w_opt=w_opt, a_opt=None, update_arch=False)  # momentum on
    params, buffers = snapshot(net.parameters()), snapshot(net.buffers())

    approx, val_loss = unrolled_arch_gradients(net, train, val, w_opt, xi=0.5)
    # nothing of the model moved: parameters and BN statistics as before
    assert close(snapshot(net.parameters()), params, rtol=0, atol=0)
    assert close(snapshot(net.buffers()), buffers, rtol=0, atol=0)
    exact = exact_unrolled_gradient(net, train, val, w_opt, xi=0.5)
    first_order = loss_grads(net, val, net.arch_parameters())

    flat = lambda xs: torch.cat([x.flatten() for x in xs])  # noqa: E731
    error = (flat(approx) - flat(exact)).norm() / flat(exact).norm()
    hessian_term = (flat(first_order) - flat(exact)).norm() / flat(exact).norm()
    assert error < 1e-4 and hessian_term > 0.1, (error, hessian_term)
    assert val_loss.item() > 0


def test_second_order_on_a_supernet_changes_neither_weights_nor_bn_statistics():
    net = supernet(seed=3, edge_relax="sigmoid")
    train, val = data(4), data(5)
    w_opt = weight_optimizer(net)
    step(net, train, mode="bilevel", w_opt=w_opt, a_opt=None, update_arch=False)
    params, buffers = snapshot(net.parameters()), snapshot(net.buffers())
    grads, val_loss = unrolled_arch_gradients(net, train, val, w_opt, xi=0.025)
    assert [g.shape for g in grads] == [p.shape for p in net.arch_parameters()]
    assert all(torch.isfinite(g).all() for g in grads) and torch.isfinite(val_loss)
    assert close(snapshot(net.parameters()), params, rtol=0, atol=0)
    assert close(snapshot(net.buffers()), buffers, rtol=0, atol=0)


def test_second_order_step_uses_the_unrolled_gradient_with_xi_the_weight_lr():
    net = supernet(seed=4).double()
    train, val = data(6, dtype=torch.float64), data(7, dtype=torch.float64)
    w_opt = weight_optimizer(net, lr=0.2)
    a_opt = torch.optim.SGD(net.arch_parameters(), lr=1.0)
    expect, val_loss = unrolled_arch_gradients(net, train, val, w_opt, xi=0.2)
    alpha = snapshot(net.arch_parameters())
    out = step(net, train, val, mode="bilevel", order=2, w_opt=w_opt, a_opt=a_opt)
    assert close(snapshot(net.arch_parameters()), [a - g for a, g in zip(alpha, expect)],
                 atol=1e-10)
    assert out["val_loss"] == pytest.approx(val_loss.item()) and out["val_acc"] is None


# -- DistributedDataParallel -------------------------------------------------------------------
def test_steps_through_a_single_process_ddp_wrapper(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        net = supernet(seed=5)
        ref = copy.deepcopy(net)
        model = nn.parallel.DistributedDataParallel(net)
        w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.1)
        a_opt = torch.optim.SGD(net.arch_parameters(), lr=1.0)
        step(model, data(1), data(2), mode="bilevel", order=1, w_opt=w_opt, a_opt=a_opt)
        g = loss_grads(ref, data(2), ref.arch_parameters())
        expect = [p.detach() - gi for p, gi in zip(ref.arch_parameters(), g)]
        assert close(snapshot(net.arch_parameters()), expect, atol=1e-6)
        alpha = snapshot(net.arch_parameters())
        step(model, data(3), data(4), mode="bilevel", order=2, w_opt=w_opt, a_opt=a_opt)
        assert not close(snapshot(net.arch_parameters()), alpha, rtol=0, atol=1e-9)
    finally:
        dist.destroy_process_group()


def test_architecture_graph_is_dropped_before_the_weight_step():
    """Kept alive through the weight step, the architecture step's graph raised the DARTS
    supernet's peak from 7.5 to 9.8 GiB (benchmarks/README.md): the weight step's forward must
    find the architecture step's output gone."""
    import weakref

    net = supernet()
    w_opt, a_opt = weight_optimizer(net, 0.1, 0.9, 3e-4), arch_optimizer(net, 3e-3)
    outputs: list[weakref.ref] = []
    alive_at_call: list[int] = []
    forward = net.forward

    def tracked(*args, **kwargs):
        alive_at_call.append(sum(r() is not None for r in outputs))
        out = forward(*args, **kwargs)
        outputs.append(weakref.ref(out))
        return out

    net.forward = tracked
    step(net, data(1), data(2), mode="bilevel", w_opt=w_opt, a_opt=a_opt)
    assert alive_at_call == [0, 0]
