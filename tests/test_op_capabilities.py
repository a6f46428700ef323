"""Op capabilities (genospec/nn/capabilities.py): the cell compiler picks each op's implementation
at build time from what its kind declares. A user kind that declares nothing runs plain; one that
declares a leading ReLU is built without it and shares its source node's ReLU, with the same
numbers as the plain op."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genospec import oplib
from genospec.ir import Cell, Edge, OpDef, Output, Space, Topology
from genospec.nn import ops
from genospec.nn.capabilities import PLAIN, OpBuild, OpCapabilities
from genospec.nn.mixed import MixedEdge
from genospec.nn.network import build_network
from genospec.nn.ops import build_op, op_capabilities, register_op
from genospec.nn.supernet import Supernet
from genospec.oplib import STANDARD_OPS

TINY = dict(cells=3, channels=4, classes=5)


@pytest.fixture
def user_kinds(monkeypatch):
    """Two user kinds computing ReLU, 3x3 conv, BN: ``relu_conv`` declares nothing,
    ``lean_conv`` declares its leading ReLU; their modules record the inputs they see."""
    monkeypatch.setattr(ops, "_BUILDERS", dict(ops._BUILDERS))
    monkeypatch.setattr(oplib, "KINDS", dict(oplib.KINDS))
    seen: dict[str, list[torch.Tensor]] = {"relu_conv": [], "lean_conv": []}

    def body(kind, chs, stride, affine, relu):
        m = nn.Sequential(nn.ReLU() if relu else nn.Identity(),
                          nn.Conv2d(chs, chs, 3, stride, 1, bias=False),
                          nn.BatchNorm2d(chs, affine=affine))
        m.register_forward_pre_hook(lambda _, args: seen[kind].append(args[0]))
        return m

    @register_op("relu_conv")
    def relu_conv(op, chs, stride, affine):
        return body("relu_conv", chs, stride, affine, True)

    @register_op("lean_conv", capabilities=OpCapabilities(leading_relu=True))
    def lean_conv(op, chs, stride, affine, build):
        return body("lean_conv", chs, stride, affine, build.relu)

    return seen


def _space(kind: str, genotype: bool = False) -> Space:
    library = {"mine": OpDef("mine", kind), "sep_conv_3x3": STANDARD_OPS["sep_conv_3x3"],
               "max_pool_3x3": STANDARD_OPS["max_pool_3x3"]}

    def cell(name: str, stride: int) -> Cell:
        edges = [Edge(i, j, ("mine",) if genotype else tuple(library), order=i)
                 for j in (2, 3) for i in range(j)]
        return Cell.build(name, 2, 2, stride, Topology("keep" if genotype else "pick", 2, 2),
                          edges, Output("concat", (2, 3)))

    return Space("caps", "space", library, {"normal": cell("normal", 1),
                                            "reduce": cell("reduce", 2)})


def test_builtin_kinds_declare_what_the_compiler_uses():
    sep = op_capabilities(STANDARD_OPS["sep_conv_3x3"])
    assert sep.leading_relu and sep.keeps_pre_relu and sep.scale_inside and sep.keep
    assert op_capabilities(STANDARD_OPS["dil_conv_3x3"]) == sep
    for name in ("conv_3x3", "nor_conv_1x1", "conv_7x1_1x7"):
        assert op_capabilities(STANDARD_OPS[name]) == OpCapabilities(leading_relu=True)
    pool = op_capabilities(STANDARD_OPS["avg_pool_3x3"])
    assert pool.shared_per_source and not pool.leading_relu
    for name in ("none", "skip_connect", "noise"):
        assert op_capabilities(STANDARD_OPS[name]) == PLAIN


def test_a_build_asks_only_for_what_a_kind_declares():
    with pytest.raises(ValueError, match="does not declare a leading ReLU"):
        build_op(STANDARD_OPS["skip_connect"], 4, 1, build=OpBuild(relu=False))
    with pytest.raises(ValueError, match="keep must be one of"):
        build_op(STANDARD_OPS["sep_conv_3x3"], 4, 1, build=OpBuild(keep="inputs"))
    with pytest.raises(ValueError, match="keeps_pre_relu needs leading_relu"):
        OpCapabilities(keeps_pre_relu=True)
    # built without its ReLU at build time, not rewritten afterwards
    lean = build_op(STANDARD_OPS["sep_conv_3x3"], 4, 1, False, OpBuild(relu=False, keep="input"))
    assert isinstance(lean[0][0], nn.Identity) and isinstance(lean[1][0], nn.ReLU)
    assert lean[0].keep == lean[1].keep == "input"
    assert isinstance(build_op(STANDARD_OPS["conv_3x3"], 4, 1)[0], nn.ReLU)


def test_checkpoint_ops_reaches_the_ops_at_build_time():
    for checkpoint, keep in ((False, "output"), ("ops", "input")):
        net = Supernet(_space("identity"), **TINY, checkpoint=checkpoint)
        kept = {m.keep for m in net.modules() if isinstance(m, ops.DilConv)}
        assert kept == {keep}
        assert {m.keep for m in net.modules() if isinstance(m, ops.PoolBN)} == {"input"}
    net = Supernet(_space("identity"), **TINY, keep="all")
    assert {m.keep for m in net.modules() if isinstance(m, (ops.DilConv, ops.PoolBN))} == {"all"}


def test_a_user_op_without_capabilities_runs_plain(user_kinds):
    """Its own ReLU stays and it sees the edge input itself, in a supernet and in an evaluation
    network; the built-in ops beside it still share their ReLU."""
    torch.manual_seed(0)
    net = Supernet(_space("relu_conv"), **TINY)
    x = torch.randn(2, 3, 8, 8)
    net(x).square().mean().backward()
    built = [m for m in net.modules() if isinstance(m, MixedEdge)]
    assert all(isinstance(e.ops[0][0], nn.ReLU) for e in built)
    assert all(isinstance(e.ops[1][0][0], nn.Identity) for e in built)  # sep_conv: shared ReLU
    assert user_kinds["relu_conv"] and all((t < 0).any() for t in user_kinds["relu_conv"])
    assert all(p.grad is not None for p in net.weight_parameters())

    user_kinds["relu_conv"].clear()
    evaluation = build_network(_space("relu_conv", genotype=True), **TINY)
    evaluation(x)
    assert not any(getattr(e, "after_relu", False) for c in evaluation.cells for e in c.edges)
    assert all((t < 0).any() for t in user_kinds["relu_conv"])


@pytest.mark.parametrize("genotype", [False, True], ids=["supernet", "evaluation"])
def test_a_user_op_declaring_a_leading_relu_takes_part(user_kinds, genotype):
    """Built without its ReLU, it runs on one ReLU per source node (the same tensor on every
    edge leaving the node) and computes exactly what the plain op computes: the same state_dict
    keys, outputs and gradients (float64)."""
    nets = []
    for kind in ("relu_conv", "lean_conv"):
        torch.manual_seed(1)
        space = _space(kind, genotype)
        net = (build_network(space, **TINY) if genotype else Supernet(space, **TINY)).double()
        nets.append(net)
    plain, lean = nets
    lean.load_state_dict(plain.state_dict())  # the same keys
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    grads = []
    for net in nets:
        out = net(x)
        out.square().mean().backward()
        grads.append((out, [p.grad for p in net.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=0, atol=1e-12)
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    if genotype:
        assert all(e.after_relu for c in lean.cells for e in c.edges)
    built = [m.ops[0] for m in lean.modules() if isinstance(m, MixedEdge)] or [
        e.op for c in lean.cells for e in c.edges]
    assert all(isinstance(m[0], nn.Identity) for m in built)
    seen = user_kinds["lean_conv"]
    assert seen and all((t >= 0).all() for t in seen)
    # 3 cells x 5 edges, two forwards of which one here; 2 source nodes per intermediate node
    # pair: 3 distinct ReLUs per cell (nodes 0, 1, 2), shared by the edges leaving each
    assert len(seen) == 3 * 5 and len({t.data_ptr() for t in seen}) == 3 * 3
