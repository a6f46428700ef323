"""The registry of torch op builders, keyed by op kind (``sep_conv``, ``max_pool``, ...).

A builder takes timm-style arguments ``(op, chs, stride, affine)``: the library entry (its kind
parameters are bound with ``op_arguments``), the channel count (ops keep it), the stride, and
whether BatchNorm layers learn an affine transform (on in evaluation, off in search). Every
built-in op follows the DARTS conventions: bias-free convolutions, padding that keeps the spatial
size at stride 1, and ``identity`` turned into a FactorizedReduce where the stride is 2; in search
the pooling kinds are followed by an affine-free BatchNorm (`PoolBN`).

A kind may declare `OpCapabilities` at registration (what its modules can do beyond
``forward(x)``); its builder then takes a fifth argument, the `OpBuild` the cell compiler chose
(`genospec.nn.capabilities`). A kind that declares nothing is built and run plainly.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..errors import SpecError, did_you_mean
from ..ir import OpDef
from .. import oplib
from .capabilities import PLAIN, OpBuild, OpCapabilities
from .concat import concat_channels
from .depthwise import DepthwiseConv2d
from .pool_bn import can_recompute_pool, recomputed_pool_bn, shared_pool_bn
from .recompute import KEEP_MODES, can_recompute, can_scale, recomputed_chain
from .strided_pointwise import conv2d, subsampled_grids
from ..oplib import KindSignature

OpBuilder = Callable[..., nn.Module]  # (op, chs, stride, affine[, build]) -> module

_BUILDERS: dict[str, tuple[OpBuilder, OpCapabilities]] = {}


def register_op(kind: str, signature: KindSignature | None = None, *,
                capabilities: OpCapabilities = PLAIN) -> Callable[[OpBuilder], OpBuilder]:
    """Decorator registering a builder for a new op kind (and the kind for the spec checker).

    ``signature`` names the kind's parameters (default: none). ``capabilities`` declares what
    the kind's modules can do (`OpCapabilities`); with any declared, the builder is called as
    ``builder(op, chs, stride, affine, build)`` and must honour the `OpBuild`. Raises
    ``ValueError`` when the kind is already registered.
    """

    def add(builder: OpBuilder) -> OpBuilder:
        if kind in _BUILDERS or kind in oplib.KINDS:
            raise ValueError(f"op kind {kind!r} is already registered")
        oplib.register_kind(kind, signature or KindSignature())
        _BUILDERS[kind] = (builder, capabilities)
        return builder

    return add


def _builtin(kind: str, capabilities: OpCapabilities = PLAIN) -> Callable[[OpBuilder], OpBuilder]:
    """Register a builder for a kind that ``genospec.oplib.KINDS`` already lists."""

    def add(builder: OpBuilder) -> OpBuilder:
        _BUILDERS[kind] = (builder, capabilities)
        return builder

    return add


def op_capabilities(op: OpDef) -> OpCapabilities:
    """What the modules of ``op``'s kind declare they can do (`PLAIN` for none)."""
    return _entry(op)[1]


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


def build_op(op: OpDef, chs: int, stride: int, affine: bool = True,
             build: OpBuild | None = None) -> nn.Module:
    """Build the module of one library op.

    With ``affine=False`` (search) pooling ops are followed by an affine-free BatchNorm, as the
    DARTS supernet does. ``build`` (default: everything plain) asks a kind for the variants it
    declares in its `OpCapabilities`; asking a kind for one it does not declare is an error.
    """
    builder, capabilities = _entry(op)
    build = build or OpBuild()
    if not build.relu and not capabilities.leading_relu:
        raise ValueError(f"op kind {op.kind!r} does not declare a leading ReLU to build without")
    if build.keep not in KEEP_MODES:
        raise ValueError(f"keep must be one of {', '.join(KEEP_MODES)}, got {build.keep!r}")
    if capabilities == PLAIN:
        return builder(op, chs, stride, affine)
    return builder(op, chs, stride, affine, build)


def _entry(op: OpDef) -> tuple[OpBuilder, OpCapabilities]:
    entry = _BUILDERS.get(op.kind)
    if entry is None:
        raise SpecError(f"op {op.name!r} has unknown kind {op.kind!r}",
                        hint=did_you_mean(op.kind, _BUILDERS) or "known kinds: " + ", ".join(known_kinds()))
    return entry


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


def _relu(on: bool) -> nn.Module:
    """A block's leading ReLU, or an Identity in its place where the cell compiler computes the
    ReLU once for the edge's source node (`OpCapabilities.leading_relu`)."""
    return nn.ReLU(inplace=False) if on else nn.Identity()


class ReLUConvBN(nn.Sequential):
    """ReLU, bias-free convolution, BatchNorm (``relu=False``: without the ReLU).

    With a 1x1 convolution (a cell's preprocessing) on the CPU under autograd it is a
    recomputing block (`genospec.nn.recompute`, no depthwise convolution): it keeps its input
    and BatchNorm's output (its input where an affine BatchNorm's output cannot give back the
    normalised activation), and the 1x1 convolution is a matrix product in channels-last
    memory. A network hands the cells that read a state its ReLU computed once
    (``after_relu``, `Network.forward`): the blocks keep that one ReLU output, which replaces
    the state in memory, and neither runs nor recomputes a ReLU of their own."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0, dilation: int = 1, affine: bool = True,
                 relu: bool = True):
        super().__init__(
            _relu(relu),
            conv2d(in_chs, out_chs, kernel, stride=stride, padding=padding, dilation=dilation),
            nn.BatchNorm2d(out_chs, affine=affine),
        )

    def forward(self, x: torch.Tensor, after_relu: bool = False,
                pre: torch.Tensor | None = None) -> torch.Tensor:
        """``after_relu``: ``x`` is the ReLU's output already (computed once for every block
        reading the same tensor, `starts_with_relu` blocks only); the block skips its ReLU.
        ``pre`` (with ``after_relu``): the tensor ``x`` is the ReLU of, where that ReLU keeps
        its input (`shared_relu`): a recomputing block then keeps ``pre`` instead of ``x`` and
        hands its gradient to ``pre``, applying the ReLU's backward itself."""
        relu, conv, bn = self
        if after_relu and not self.starts_with_relu:
            raise ValueError("after_relu: this block has no ReLU to skip")
        if pre is not None and not after_relu:
            raise ValueError("pre: only with after_relu")
        if (after_relu or self.starts_with_relu) and can_recompute(x, None, conv, bn, "output"):
            return recomputed_chain(x, None, conv, bn, "output", pre=pre,
                                    relu=not after_relu)
        return bn(conv(x if after_relu else relu(x)))

    @property
    def starts_with_relu(self) -> bool:
        return isinstance(self[0], nn.ReLU)


class DilConv(nn.Sequential):
    """ReLU, depthwise kxk convolution (dilated), pointwise 1x1 convolution, BatchNorm.

    ``relu=False`` builds it without its ReLU: it then runs on ``relu(x)`` computed once for a
    whole edge or node. ``keep`` says what a training forward keeps for backward on the CPU
    (`genospec.nn.recompute`): ``"output"`` (default) its input and output where BatchNorm is
    affine-free (search), and where it is affine (evaluation) unless a channel's bias is large
    against its weight, then its input and BatchNorm's input;
    ``"input"`` its input alone (`supernet checkpoint ops`); ``"all"`` plain autograd. Where the
    chosen way does not apply (GPU, no autograd, no ReLU and no ``pre``) it is plain autograd.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, dilation: int,
                 affine: bool = True, relu: bool = True, keep: str = "output"):
        super().__init__(
            _relu(relu),
            DepthwiseConv2d(in_chs, kernel, stride=stride, padding=dilation * (kernel - 1) // 2,
                            dilation=dilation),
            nn.Conv2d(in_chs, out_chs, 1, bias=False),
            nn.BatchNorm2d(out_chs, affine=affine),
        )
        if keep not in KEEP_MODES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_MODES)}, got {keep!r}")
        self.relu_inside = relu
        self.keep = keep

    def forward(self, x: torch.Tensor, pre: torch.Tensor | None = None,
                scale: torch.Tensor | None = None) -> torch.Tensor:
        """``pre``, for a block built without its ReLU, is the tensor ``x = relu(pre)`` came
        from (an edge's shared ReLU): a recomputing block keeps ``pre``, which the graph holds
        anyway, instead of ``x`` (`relu_keeping_input`). ``scale`` (a 0-d tensor, an op's mixing
        weight) multiplies the output; a recomputing block applies it inside its BatchNorm
        (`genospec.nn.recompute.recomputed_chain`)."""
        relu, dw, pw, bn = self
        if pre is not None and self.relu_inside:
            raise ValueError("pre is for a block built without its ReLU (relu=False)")
        kept = x if pre is None else pre
        if (self.relu_inside or pre is not None) and can_recompute(kept, dw, pw, bn, self.keep):
            inside = scale if scale is not None and can_scale(scale, bn) else None
            out = recomputed_chain(x, dw, pw, bn, self.keep, pre=pre, scale=inside,
                                   scale_checked=True)
            return out if scale is None or inside is not None else out * scale
        out = bn(pw(dw(relu(x))))
        return out if scale is None else out * scale


class SepConv(nn.Sequential):
    """Two separable blocks; only the first one strides (``relu`` and ``pre`` concern the first
    block's ReLU, ``keep`` both blocks)."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, affine: bool = True,
                 relu: bool = True, keep: str = "output"):
        super().__init__(
            DilConv(in_chs, in_chs, kernel, stride, 1, affine, relu=relu, keep=keep),
            DilConv(in_chs, out_chs, kernel, 1, 1, affine, keep=keep),
        )

    def forward(self, x: torch.Tensor, pre: torch.Tensor | None = None,
                scale: torch.Tensor | None = None) -> torch.Tensor:
        """``pre`` as in `DilConv.forward`, for the first block; ``scale`` for the second."""
        return self[1](self[0](x, pre), scale=scale)


class PoolBN(nn.Sequential):
    """A pooling op followed by an affine-free BatchNorm (pooling ops in a DARTS supernet).

    On the CPU under autograd the pair keeps only its input (which the graph holds anyway) and
    BatchNorm's statistics, and recomputes the pooling in backward (`genospec.nn.pool_bn`): the
    pooled activation and max pooling's int64 indices (twice the pooled activation's bytes) are
    not kept. ``keep="all"`` is plain autograd; any other mode keeps the input.
    """

    def __init__(self, pool: nn.Module, chs: int, keep: str = "input"):
        super().__init__(pool, nn.BatchNorm2d(chs, affine=False))
        if keep not in KEEP_MODES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_MODES)}, got {keep!r}")
        self.keep = "all" if keep == "all" else "input"

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
    (`genospec.nn.strided_pointwise`: on the CPU they subsample, then convolve). On the CPU the
    ReLU runs on the two subsampled grids (it commutes with subsampling and zero padding), so
    backward keeps two quarter-size tensors instead of the ReLU's full-size output and the
    grids' copies, and assembles the input's gradient in one pass (`subsampled_grids`)."""

    def __init__(self, in_chs: int, out_chs: int, affine: bool = True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_a = conv2d(in_chs, out_chs // 2, 1, stride=2)
        self.conv_b = conv2d(in_chs, out_chs - out_chs // 2, 1, stride=2)
        self.bn = nn.BatchNorm2d(out_chs, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and x.dim() == 4:  # conv_a, conv_b: stride 2, no padding
            even, odd = subsampled_grids(x)
            return self.bn(concat_channels([
                nn.functional.conv2d(torch.relu(even), self.conv_a.weight, self.conv_a.bias),
                nn.functional.conv2d(torch.relu(odd), self.conv_b.weight, self.conv_b.bias)]))
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


_POOL = OpCapabilities(shared_per_source=True, keep=True)
_SEPARABLE = OpCapabilities(leading_relu=True, keeps_pre_relu=True, scale_inside=True, keep=True)
_RELU_FIRST = OpCapabilities(leading_relu=True)


def _pool_op(pool: nn.Module, chs: int, affine: bool, build: OpBuild) -> nn.Module:
    """A pooling op; in search (affine-free) followed by an affine-free BatchNorm (DARTS)."""
    return pool if affine else PoolBN(pool, chs, build.keep)


@_builtin("max_pool", _POOL)
def _max_pool(op: OpDef, chs: int, stride: int, affine: bool, build: OpBuild) -> nn.Module:
    k = _int(op, "kernel")
    return _pool_op(nn.MaxPool2d(k, stride=stride, padding=k // 2), chs, affine, build)


@_builtin("avg_pool", _POOL)
def _avg_pool(op: OpDef, chs: int, stride: int, affine: bool, build: OpBuild) -> nn.Module:
    k = _int(op, "kernel")
    return _pool_op(nn.AvgPool2d(k, stride=stride, padding=k // 2, count_include_pad=False),
                    chs, affine, build)


@_builtin("sep_conv", _SEPARABLE)
def _sep_conv(op: OpDef, chs: int, stride: int, affine: bool, build: OpBuild) -> nn.Module:
    return SepConv(chs, chs, _int(op, "kernel"), stride, affine, relu=build.relu,
                   keep=build.keep)


@_builtin("dil_conv", _SEPARABLE)
def _dil_conv(op: OpDef, chs: int, stride: int, affine: bool, build: OpBuild) -> nn.Module:
    return DilConv(chs, chs, _int(op, "kernel"), stride, _int(op, "dilation"), affine,
                   relu=build.relu, keep=build.keep)


@_builtin("conv", _RELU_FIRST)
def _conv(op: OpDef, chs: int, stride: int, affine: bool, build: OpBuild) -> nn.Module:
    k = _int(op, "kernel")
    return ReLUConvBN(chs, chs, k, stride, k // 2, affine=affine, relu=build.relu)


@_builtin("nor_conv", _RELU_FIRST)
def _nor_conv(op: OpDef, chs: int, stride: int, affine: bool, build: OpBuild) -> nn.Module:
    k = _int(op, "kernel")
    return ReLUConvBN(chs, chs, k, stride, k // 2, affine=affine, relu=build.relu)


@_builtin("conv_7x1_1x7", _RELU_FIRST)
def _conv_7x1_1x7(op: OpDef, chs: int, stride: int, affine: bool, build: OpBuild) -> nn.Module:
    return nn.Sequential(
        _relu(build.relu),
        nn.Conv2d(chs, chs, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
        nn.Conv2d(chs, chs, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
        nn.BatchNorm2d(chs, affine=affine),
    )
