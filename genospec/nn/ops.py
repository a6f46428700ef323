"""The registry of torch op builders, keyed by op kind (``sep_conv``, ``max_pool``, ...).

A builder takes timm-style arguments ``(op, chs, stride, affine)``: the library entry (its kind
parameters are bound with ``op_arguments``), the channel count (ops keep it), the stride, and
whether BatchNorm layers learn an affine transform (on in evaluation, off in search). Every
built-in op follows the DARTS conventions: bias-free convolutions, padding that keeps the spatial
size at stride 1, and ``identity`` turned into a FactorizedReduce where the stride is 2.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..errors import SpecError, did_you_mean
from ..ir import OpDef
from .. import oplib
from .concat import concat_channels
from .depthwise import DepthwiseConv2d
from .pool_bn import can_recompute_pool, recomputed_pool_bn, shared_pool_bn
from .recompute import can_recompute, can_scale, recomputed_chain
from .strided_pointwise import conv2d
from ..oplib import KindSignature

OpBuilder = Callable[[OpDef, int, int, bool], nn.Module]

_BUILDERS: dict[str, OpBuilder] = {}

# Kinds whose output is not normalised: DARTS follows them with an affine-free BN in search.
POOL_KINDS = frozenset({"max_pool", "avg_pool"})


def register_op(kind: str, signature: KindSignature | None = None) -> Callable[[OpBuilder], OpBuilder]:
    """Decorator registering a builder for a new op kind (and the kind for the spec checker).

    ``signature`` names the kind's parameters (default: none). Raises ``ValueError`` when the
    kind is already registered.
    """

    def add(builder: OpBuilder) -> OpBuilder:
        if kind in _BUILDERS or kind in oplib.KINDS:
            raise ValueError(f"op kind {kind!r} is already registered")
        oplib.register_kind(kind, signature or KindSignature())
        _BUILDERS[kind] = builder
        return builder

    return add


def _builtin(kind: str) -> Callable[[OpBuilder], OpBuilder]:
    """Register a builder for a kind that ``genospec.oplib.KINDS`` already lists."""

    def add(builder: OpBuilder) -> OpBuilder:
        _BUILDERS[kind] = builder
        return builder

    return add


def known_kinds() -> list[str]:
    """Every kind with a torch builder, sorted."""
    return sorted(_BUILDERS)


def op_arguments(op: OpDef) -> dict[str, object]:
    """Bind ``op.args``/``op.kwargs`` to the kind's parameter names, filling in defaults."""
    sig = _signature(op)
    if len(op.args) > len(sig.positional):
        raise SpecError(f"op {op.name!r}: {op.kind} takes {len(sig.positional)} positional "
                        f"argument(s), got {len(op.args)}")
    values: dict[str, object] = dict(sig.keywords)
    values.update(zip(sig.positional, op.args))
    for key, value in op.kwargs:
        if key not in values and key not in sig.positional:
            raise SpecError(f"op {op.name!r}: {op.kind} has no parameter {key!r}",
                            hint=did_you_mean(key, [*sig.positional, *dict(sig.keywords)]))
        values[key] = value
    missing = [p for p in sig.positional if p not in values]
    if missing:
        raise SpecError(f"op {op.name!r}: {op.kind} needs {', '.join(missing)}")
    return values


def build_op(op: OpDef, chs: int, stride: int, affine: bool = True) -> nn.Module:
    """Build the module of one library op.

    With ``affine=False`` (search) pooling ops are followed by an affine-free BatchNorm, as the
    DARTS supernet does.
    """
    builder = _BUILDERS.get(op.kind)
    if builder is None:
        raise SpecError(f"op {op.name!r} has unknown kind {op.kind!r}",
                        hint=did_you_mean(op.kind, _BUILDERS) or "known kinds: " + ", ".join(known_kinds()))
    module = builder(op, chs, stride, affine)
    if not affine and op.kind in POOL_KINDS:
        module = PoolBN(module, chs)
    return module


def _signature(op: OpDef) -> KindSignature:
    sig = oplib.KINDS.get(op.kind)
    if sig is None:
        raise SpecError(f"op {op.name!r} has unknown kind {op.kind!r}",
                        hint=did_you_mean(op.kind, oplib.KINDS) or "known kinds: " + ", ".join(sorted(oplib.KINDS)))
    return sig


def _int(op: OpDef, name: str) -> int:
    value = op_arguments(op)[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"op {op.name!r}: {name} must be a positive integer, got {value!r}")
    return value


# -- building blocks ---------------------------------------------------------------------


class ReLUConvBN(nn.Sequential):
    """ReLU, bias-free convolution, BatchNorm."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0, dilation: int = 1, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            conv2d(in_chs, out_chs, kernel, stride=stride, padding=padding, dilation=dilation),
            nn.BatchNorm2d(out_chs, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU, depthwise kxk convolution (dilated), pointwise 1x1 convolution, BatchNorm.

    ``keep`` says what a training forward keeps for backward on the CPU (`genospec.nn.recompute`):
    ``"output"`` (default) its input and output, where BatchNorm is affine-free (search);
    ``"input"`` its input alone (`supernet checkpoint ops`); ``"all"`` plain autograd. Where the
    chosen way does not apply (GPU, no autograd, affine BatchNorm with ``"output"``) it is plain
    autograd.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, dilation: int,
                 affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            DepthwiseConv2d(in_chs, kernel, stride=stride, padding=dilation * (kernel - 1) // 2,
                            dilation=dilation),
            nn.Conv2d(in_chs, out_chs, 1, bias=False),
            nn.BatchNorm2d(out_chs, affine=affine),
        )
        self.keep = "output"

    def forward(self, x: torch.Tensor, relu_x: torch.Tensor | None = None,
                scale: torch.Tensor | None = None) -> torch.Tensor:
        """``relu_x``, when given, is ``relu(x)`` computed once for a whole edge (this block's
        own ReLU taken out by `take_leading_relu`): the block runs on it, and a recomputing
        block keeps ``x``, which the graph holds anyway, instead (`relu_keeping_input`).
        ``scale`` (a 0-d tensor, an op's mixing weight) multiplies the output; a recomputing
        block applies it inside its BatchNorm (`genospec.nn.recompute.recomputed_chain`)."""
        relu, dw, pw, bn = self
        shared_relu = relu_x is not None
        if (shared_relu or isinstance(relu, nn.ReLU)) and can_recompute(x, dw, pw, bn, self.keep):
            inside = scale if scale is not None and can_scale(scale, bn) else None
            out = recomputed_chain(relu_x if shared_relu else x, dw, pw, bn, self.keep,
                                   pre=x if shared_relu else None, scale=inside)
            return out if scale is None or inside is not None else out * scale
        out = bn(pw(dw(relu_x if shared_relu else relu(x))))
        return out if scale is None else out * scale


class SepConv(nn.Sequential):
    """Two separable blocks; only the first one strides."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, affine: bool = True):
        super().__init__(
            DilConv(in_chs, in_chs, kernel, stride, 1, affine),
            DilConv(in_chs, out_chs, kernel, 1, 1, affine),
        )

    def forward(self, x: torch.Tensor, relu_x: torch.Tensor | None = None,
                scale: torch.Tensor | None = None) -> torch.Tensor:
        """``relu_x`` as in `DilConv.forward`, for the first block; ``scale`` for the second."""
        return self[1](self[0](x, relu_x), scale=scale)


class PoolBN(nn.Sequential):
    """A pooling op followed by an affine-free BatchNorm (pooling ops in a DARTS supernet).

    On the CPU under autograd the pair keeps only its input (which the graph holds anyway) and
    BatchNorm's statistics, and recomputes the pooling in backward (`genospec.nn.pool_bn`): the
    pooled activation and max pooling's int64 indices (twice the pooled activation's bytes) are
    not kept. ``keep = "all"`` is plain autograd.
    """

    def __init__(self, pool: nn.Module, chs: int):
        super().__init__(pool, nn.BatchNorm2d(chs, affine=False))
        self.keep = "input"

    def forward(self, x: torch.Tensor, shared: dict | None = None) -> torch.Tensor:
        """``bn(pool(x))``; with ``shared`` (one dict per source node and cell forward, see
        `genospec.nn.pool_bn.shared_pool_bn`) computed once across the edges leaving the node."""
        pool, bn = self
        if self.keep != "all" and can_recompute_pool(x, pool, bn):
            if shared is not None:
                return shared_pool_bn(x, pool, bn, shared)
            return recomputed_pool_bn(x, pool, bn)
        return bn(pool(x))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two stride-2 1x1 convolutions, one shifted by a pixel
    (`genospec.nn.strided_pointwise`: on the CPU they subsample, then convolve)."""

    def __init__(self, in_chs: int, out_chs: int, affine: bool = True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_a = conv2d(in_chs, out_chs // 2, 1, stride=2)
        self.conv_b = conv2d(in_chs, out_chs - out_chs // 2, 1, stride=2)
        self.bn = nn.BatchNorm2d(out_chs, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[:, :, 1:, 1:]  # a view: the backward saves no second copy of x
        if x.shape[-2] % 2 or x.shape[-1] % 2:
            # Padding right/bottom keeps both halves the same size for odd inputs as well.
            shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(concat_channels([self.conv_a(x), self.conv_b(shifted)]))


class Zero(nn.Module):
    """Zeros shaped like the strided input."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return x.mul(0.0)


class Noise(nn.Module):
    """Standard normal noise shaped like the strided input (RobustDARTS S4)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return torch.randn_like(x)


# -- built-in kinds ----------------------------------------------------------------------


@_builtin("zero")
def _zero(op: OpDef, chs: int, stride: int, affine: bool) -> nn.Module:
    return Zero(stride)


@_builtin("noise")
def _noise(op: OpDef, chs: int, stride: int, affine: bool) -> nn.Module:
    return Noise(stride)


@_builtin("identity")
def _identity(op: OpDef, chs: int, stride: int, affine: bool) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(chs, chs, affine)


@_builtin("max_pool")
def _max_pool(op: OpDef, chs: int, stride: int, affine: bool) -> nn.Module:
    k = _int(op, "kernel")
    return nn.MaxPool2d(k, stride=stride, padding=k // 2)


@_builtin("avg_pool")
def _avg_pool(op: OpDef, chs: int, stride: int, affine: bool) -> nn.Module:
    k = _int(op, "kernel")
    return nn.AvgPool2d(k, stride=stride, padding=k // 2, count_include_pad=False)


@_builtin("sep_conv")
def _sep_conv(op: OpDef, chs: int, stride: int, affine: bool) -> nn.Module:
    return SepConv(chs, chs, _int(op, "kernel"), stride, affine)


@_builtin("dil_conv")
def _dil_conv(op: OpDef, chs: int, stride: int, affine: bool) -> nn.Module:
    return DilConv(chs, chs, _int(op, "kernel"), stride, _int(op, "dilation"), affine)


@_builtin("conv")
def _conv(op: OpDef, chs: int, stride: int, affine: bool) -> nn.Module:
    k = _int(op, "kernel")
    return ReLUConvBN(chs, chs, k, stride, k // 2, affine=affine)


@_builtin("nor_conv")
def _nor_conv(op: OpDef, chs: int, stride: int, affine: bool) -> nn.Module:
    k = _int(op, "kernel")
    return ReLUConvBN(chs, chs, k, stride, k // 2, affine=affine)


@_builtin("conv_7x1_1x7")
def _conv_7x1_1x7(op: OpDef, chs: int, stride: int, affine: bool) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(chs, chs, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
        nn.Conv2d(chs, chs, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
        nn.BatchNorm2d(chs, affine=affine),
    )
