"""The op registry and the built-in op builders (DARTS / NAS-Bench-201 conventions)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genospec import oplib
from genospec.errors import SpecError
from genospec.ir import OpDef
from genospec.nn import ops
from genospec.nn.ops import FactorizedReduce, build_op, known_kinds, op_arguments, register_op
from genospec.oplib import STANDARD_OPS, KindSignature


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


BUILTIN_KINDS = {"zero", "identity", "max_pool", "avg_pool", "sep_conv", "dil_conv", "conv",
                 "conv_7x1_1x7", "nor_conv", "noise"}


def test_every_builtin_kind_has_a_builder():
    assert BUILTIN_KINDS <= set(known_kinds()) and BUILTIN_KINDS <= set(oplib.KINDS)


@pytest.mark.parametrize("name", sorted(STANDARD_OPS))
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [8, 7])
def test_ops_keep_channels_and_divide_resolution(name, stride, size):
    op = build_op(STANDARD_OPS[name], 6, stride)
    y = op(torch.randn(2, 6, size, size))
    expected = (size + stride - 1) // stride
    assert y.shape == (2, 6, expected, expected)


# Hand counts at C=16: depthwise k*k*C, pointwise C*C, BN 2C.
@pytest.mark.parametrize("name, stride, count", [
    ("sep_conv_3x3", 1, 2 * (16 * 9 + 256 + 32)),
    ("sep_conv_5x5", 2, 2 * (16 * 25 + 256 + 32)),
    ("sep_conv_7x7", 1, 2 * (16 * 49 + 256 + 32)),
    ("dil_conv_3x3", 1, 16 * 9 + 256 + 32),
    ("dil_conv_5x5", 2, 16 * 25 + 256 + 32),
    ("skip_connect", 1, 0),
    ("skip_connect", 2, 2 * 16 * 8 + 32),
    ("conv_7x1_1x7", 2, 2 * 16 * 16 * 7 + 32),
    ("conv_3x3", 1, 16 * 16 * 9 + 32),
    ("nor_conv_1x1", 1, 16 * 16 + 32),
    ("max_pool_3x3", 2, 0),
    ("none", 2, 0),
])
def test_parameter_counts(name, stride, count):
    assert n_params(build_op(STANDARD_OPS[name], 16, stride)) == count


def test_convolutions_are_bias_free_and_shaped_as_darts():
    sep = build_op(STANDARD_OPS["sep_conv_5x5"], 8, 2)
    convs = [m for m in sep.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.stride, c.padding, c.groups) for c in convs] == [
        ((5, 5), (2, 2), (2, 2), 8), ((1, 1), (1, 1), (0, 0), 1),
        ((5, 5), (1, 1), (2, 2), 8), ((1, 1), (1, 1), (0, 0), 1)]
    dil = build_op(STANDARD_OPS["dil_conv_5x5"], 8, 1)
    dw = [m for m in dil.modules() if isinstance(m, nn.Conv2d)][0]
    assert (dw.dilation, dw.padding) == ((2, 2), (4, 4))
    for name in STANDARD_OPS:
        for m in build_op(STANDARD_OPS[name], 8, 2).modules():
            if isinstance(m, nn.Conv2d):
                assert m.bias is None


def test_identity_and_factorized_reduce():
    assert isinstance(build_op(STANDARD_OPS["skip_connect"], 8, 1), nn.Identity)
    assert isinstance(build_op(STANDARD_OPS["skip_connect"], 8, 2), FactorizedReduce)


def test_avg_pool_does_not_count_padding():
    y = build_op(STANDARD_OPS["avg_pool_3x3"], 2, 1)(torch.ones(1, 2, 5, 5))
    assert torch.equal(y, torch.ones(1, 2, 5, 5))


def test_zero_and_noise():
    x = torch.randn(4, 3, 9, 9)
    z = build_op(STANDARD_OPS["none"], 3, 2)(x)
    assert z.shape == (4, 3, 5, 5) and not z.any()
    torch.manual_seed(0)
    noise = build_op(STANDARD_OPS["noise"], 3, 1)(torch.full((64, 3, 8, 8), 5.0))
    assert abs(noise.mean().item()) < 0.05 and abs(noise.std().item() - 1.0) < 0.05


def test_search_mode_is_affine_free_and_wraps_pools():
    sep = build_op(STANDARD_OPS["sep_conv_3x3"], 8, 1, affine=False)
    assert n_params(sep) == 2 * (8 * 9 + 64)
    for name in ("max_pool_3x3", "avg_pool_3x3"):
        pool = build_op(STANDARD_OPS[name], 8, 2, affine=False)
        assert isinstance(pool, nn.Sequential) and isinstance(pool[1], nn.BatchNorm2d)
        assert not pool[1].affine and n_params(pool) == 0
    assert isinstance(build_op(STANDARD_OPS["max_pool_3x3"], 8, 2), nn.MaxPool2d)


def test_op_arguments_bind_defaults_and_reject_bad_ones():
    assert op_arguments(OpDef("d", "dil_conv", (3,))) == {"kernel": 3, "dilation": 2}
    assert op_arguments(OpDef("d", "dil_conv", (), (("kernel", 5), ("dilation", 3)))) == {
        "kernel": 5, "dilation": 3}
    with pytest.raises(SpecError, match="needs kernel"):
        op_arguments(OpDef("p", "max_pool"))
    with pytest.raises(SpecError, match="positional"):
        op_arguments(OpDef("p", "max_pool", (3, 3)))
    with pytest.raises(SpecError, match="no parameter 'dilaton'") as e:
        op_arguments(OpDef("d", "dil_conv", (3,), (("dilaton", 2),)))
    assert "dilation" in e.value.hint
    with pytest.raises(SpecError, match="positive integer"):
        build_op(OpDef("p", "max_pool", ("3",)), 4, 1)


def test_unknown_kind_names_the_near_one():
    with pytest.raises(SpecError, match="unknown kind 'sep_cnv'") as e:
        build_op(OpDef("x", "sep_cnv", (3,)), 4, 1)
    assert "sep_conv" in e.value.hint


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(ops, "_BUILDERS", dict(ops._BUILDERS))
    monkeypatch.setattr(oplib, "KINDS", dict(oplib.KINDS))


def test_register_op_adds_a_kind_for_builder_and_checker(clean_registry):
    @register_op("scaled", KindSignature(("factor",)))
    def scaled(op, chs, stride, affine):
        return nn.Sequential(nn.AvgPool2d(1, stride), nn.Conv2d(chs, chs, 1, bias=False))

    assert "scaled" in oplib.KINDS and "scaled" in known_kinds()
    m = build_op(OpDef("s", "scaled", (2,)), 4, 2)
    assert m(torch.randn(1, 4, 8, 8)).shape == (1, 4, 4, 4)
    with pytest.raises(ValueError, match="already registered"):
        register_op("scaled")(scaled)
    with pytest.raises(ValueError, match="already registered"):
        register_op("sep_conv")(scaled)
