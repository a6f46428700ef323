"""Depthwise convolution with a faster backward on the CPU.

The separable and dilated convolutions of DARTS spaces are depthwise (one filter per channel).
On the CPU, oneDNN runs their forward fast but their backward slowly where the kernel is dilated,
strided and dilated, or 5x5: on two cores at the DARTS search setting (batch 64) the input
gradient of a dilated 3x3 at 32x32 takes 4.1 ms against 0.46 ms for the forward, and a stride-2
dilated 5x5 takes 60 ms. Both gradients are themselves correlations, so this module computes
them with the fast kernels instead (same mathematics, float rounding aside):

- input gradient, stride 1: the forward correlation of the output gradient with the spatially
  flipped filter (a transposed convolution at stride 1 is a convolution);
- input gradient, stride s > 1, no dilation: oneDNN's transposed convolution;
- input gradient, stride > 1 and dilation > 1, and weight gradient where oneDNN is slow: the
  sub-grid (phase) decomposition. Output position ``s*h + d*i`` of tap ``i`` visits the padded
  input on a grid of step ``L = lcm(s, d)``; splitting output rows by ``h mod L/s`` and taps by
  ``i mod L/d`` turns the layer into a sum of stride-1, undilated depthwise correlations on
  sub-sampled tensors, each of which the fast kernels handle (taps split in blocks of at most 3
  for the weight gradient, whose oneDNN kernel is fast only up to 3x3).

The weight gradient goes first to genospec's C kernel (``genospec.nn.native``: each
output-gradient row against the input rows it meets, a row's taps at once), which beats both
oneDNN and the decomposition everywhere but on large undilated stride-1 3x3 layers
(``_native_weight_grad``); where the kernel cannot load (no C compiler) the rules below apply.
The forward correlation, and with it the stride-1 input gradient, goes to genospec's C forward
kernel on small tensors, where oneDNN's fixed cost per call dominates (``_native_forward``).

Which gradient takes which path is a fixed rule (``_weight_grad_plan``), measured on this
project's benchmark machine (benchmarks/README.md); a fixed rule keeps runs reproducible bit for
bit, which an autotuner choosing by timing would not. Off the CPU, without gradients, under
autocast or under torch.compile/export tracing, the layer is a plain ``nn.Conv2d``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import native
from .concat import memory_format_of


class _Term(NamedTuple):
    """One stride-1 undilated correlation of a 1-D phase decomposition."""

    out_start: int  # first output position used
    out_step: int  # output positions used: out_start, out_start + out_step, ...
    count: int  # how many output positions
    in_start: int  # first padded-input position of the term's first tap
    in_step: int  # the sub-grid step of the padded input (lcm of stride and dilation)
    taps: tuple[int, ...]  # kernel taps of the term, in order; consecutive on the sub-grid


def phase_terms(n_out: int, kernel: int, stride: int, dilation: int,
                block: int | None = None) -> list[_Term]:
    """Decompose a 1-D strided, dilated correlation into stride-1 undilated ones.

    Output ``h`` and tap ``i`` read padded input ``stride*h + dilation*i``. With
    ``L = lcm(stride, dilation)``, ``h = (L/stride)*u + r`` and ``i = (L/dilation)*t + q`` give
    input ``L*(u + t) + stride*r + dilation*q``: for each pair (r, q), a stride-1 correlation of
    the sub-sampled input with taps ``q, q + L/dilation, ...`` (split in runs of ``block`` taps).
    """
    step = stride * dilation // math.gcd(stride, dilation)
    out_every, tap_every = step // stride, step // dilation
    block = block or kernel
    terms = []
    for r in range(out_every):
        count = len(range(r, n_out, out_every))
        if count == 0:
            continue
        for q in range(tap_every):
            taps = tuple(range(q, kernel, tap_every))
            for b in range(0, len(taps), block):
                run = taps[b:b + block]
                terms.append(_Term(r, out_every, count, stride * r + dilation * run[0], step, run))
    return terms


def _taps(run: tuple[int, ...]) -> slice:
    return slice(run[0], run[-1] + 1, run[1] - run[0] if len(run) > 1 else 1)


def _weight_grad_plan(kernel: int, stride: int, dilation: int, numel: int) -> int | None:
    """Tap block size for the phase-decomposed weight gradient, or None for oneDNN's own;
    ``numel``: elements of the output gradient (batch x channels x height x width).

    Measured per call (two cores, channels-last, 2026-12-07; benchmarks/README.md), oneDNN's
    weight gradient against the decomposition: stride 2 with dilation 2 3.8 against 0.7 ms
    (3x3) and 8.1 against 2.1 ms (5x5) at [64, 16, 32, 32]; dilated 3x3 at stride 1 12.0
    against 2.6 ms there and 1.7 against 1.2 ms at [32, 16, 16, 16], but 0.7 against 1.3 ms at
    [8, 8, 32, 32]; dilated 5x5 at stride 1 27.8 against 8.3 ms at [64, 16, 32, 32] and 11.1
    against 5.5 ms at [64, 64, 8, 8], slower below 200k elements (4.1 against 4.6 ms at
    [32, 16, 16, 16]); undilated 5x5 4.7 against 4.3 ms at [64, 16, 32, 32], slower below
    (0.6 against 0.9 ms at [32, 16, 16, 16]). Small tensors go to oneDNN, whose one call costs
    less than the decomposition's several (a batch-1 step is all per-call overhead).
    """
    if stride > 1 and dilation > 1:  # 3x3: 0.92 -> 0.32 ms at a [32, 32, 4, 4] gradient (16k)
        return 3 if numel >= 16_000 else None
    if stride == 1 and dilation > 1:
        return 3 if numel >= (100_000 if kernel <= 3 else 200_000) else None
    if stride == 1 and kernel > 3:
        return 3 if numel >= 1_000_000 else None
    return None


def _native_forward(kernel: int, dilation: int, numel: int, gradient: bool = False) -> bool:
    """Whether a depthwise correlation with ``numel`` output elements goes to the C kernel
    (`genospec.nn.native`) where it loads: the small tensors of small networks, where oneDNN's
    fixed cost of 55-100 us a call dominates (the C kernel's: 35-45 us). Up to 300k output
    elements for a stride-1 input gradient (``gradient``), 150k for a forward and for dilated
    5x5 and larger filters. Per call, oneDNN / C kernel (two cores, channels-last, 2026-12-07,
    `python benchmarks/kernels.py --only forward`,
    benchmarks/results/kernels-forward-cpu2-2026-12-07-sixth.json): at [1, 8, 32, 32] 97 / 40 us
    (3x3); at [32, 16, 16, 16] 146 / 89 us (3x3), 218 / 134 us (5x5), 179 / 138 us (dilated
    5x5); at [32, 8, 32, 32] (262k) 202 / 129 us (3x3), 256 / 242 us (dilated 5x5). Above, the C
    kernel is still 10-25% faster on undilated filters (at [64, 16, 32, 32] 464 against 428 us
    for 3x3) but slower on dilated ones (346 against 372 us for 3x3, 651 against 1066 us for
    5x5). The forward's lower limit is memory's: with the C kernel taking forwards of 262k
    elements and more, glibc's heap grew by 40-130 MiB over a step (the same bytes in use,
    another pattern of holes among the step's large blocks; benchmarks/README.md), on the
    DARTS_V2 evaluation step more than its memory target can spare; input gradients of that
    size did not move it."""
    limit = 300_000 if gradient and not (dilation > 1 and kernel > 3) else 150_000
    return numel <= limit


def _output_numel(x: Tensor, kernel: int, stride: int, padding: int, dilation: int) -> int:
    n, chs, height, width = x.shape
    rows, cols = (max(0, native.output_size(size, kernel, stride, padding, dilation))
                  for size in (height, width))
    return n * chs * rows * cols


def correlate(x: Tensor, weight: Tensor, stride: int, padding: int, dilation: int,
              flip: bool = False) -> Tensor:
    """``F.conv2d(x, weight, stride, padding, dilation, groups=C)`` (``flip``: with
    ``weight.flip(2, 3)``) by the C kernel where `_native_forward` chooses it and it applies
    (`native.depthwise_forward`), else oneDNN's. Not differentiable through the C kernel: for
    the forwards and backwards of genospec's own autograd functions."""
    kernel = weight.shape[-1]
    if _native_forward(kernel, dilation, _output_numel(x, kernel, stride, padding, dilation),
                       flip):
        out = native.depthwise_forward(x, weight, stride, padding, dilation, flip)
        if out is not None:
            return out
    return F.conv2d(x, weight.flip(2, 3) if flip else weight, stride=stride, padding=padding,
                    dilation=dilation, groups=weight.shape[0])


def _input_grad(grad: Tensor, weight: Tensor, in_shape: torch.Size, stride: int, padding: int,
                dilation: int) -> Tensor:
    chs, kernel = weight.shape[0], weight.shape[-1]
    if stride == 1:
        # A stride-1 transposed correlation is the correlation with the flipped filter.
        return correlate(grad, weight, 1, dilation * (kernel - 1) - padding, dilation, flip=True)
    height, width = in_shape[-2:]
    if dilation == 1:
        extra = [size + 2 * padding - (kernel - 1) - 1 - (n - 1) * stride
                 for size, n in zip((height, width), grad.shape[-2:])]
        return F.conv_transpose2d(grad, weight, stride=stride, padding=padding,
                                  output_padding=extra, groups=chs)
    # zeros made in the gradient's layout: made NCHW and converted, the copy cost 10x the
    # arithmetic (12.4 against 1.2 ms for a dilated 5x5 at stride 2, [64, 32, 32, 32] input)
    padded = torch.empty(grad.shape[0], chs, height + 2 * padding, width + 2 * padding,
                         dtype=grad.dtype, device=grad.device,
                         memory_format=memory_format_of(grad)).zero_()
    for row in phase_terms(grad.shape[-2], kernel, stride, dilation):
        for col in phase_terms(grad.shape[-1], kernel, stride, dilation):
            g = grad[:, :, row.out_start::row.out_step, col.out_start::col.out_step]
            w = weight[:, :, _taps(row.taps), _taps(col.taps)]
            kh, kw = len(row.taps), len(col.taps)
            part = F.conv2d(g, w.flip(2, 3), padding=(kh - 1, kw - 1), groups=chs)
            padded[:, :, row.in_start::row.in_step, col.in_start::col.in_step][
                :, :, :row.count + kh - 1, :col.count + kw - 1] += part
    return padded[:, :, padding:padding + height, padding:padding + width]


def _native_weight_grad(kernel: int, stride: int, dilation: int, numel: int) -> bool:
    """Whether the weight gradient goes to the C kernel (`genospec.nn.native`) where it loads:
    everywhere but undilated stride-1 3x3 layers of 200k gradient elements or more, where oneDNN's
    is about as fast. Per call, C kernel / decomposition / oneDNN (two cores, channels-last,
    2026-12-07, `python benchmarks/kernels.py --only depthwise`, benchmarks/README.md): at
    [64, 16, 32, 32] dilated 5x5 0.64 / 6.1 / 21.5 ms, undilated 5x5 0.60 / 2.7 / 3.4 ms, dilated
    3x3 0.31 / 1.9 / 9.3 ms, undilated 3x3 0.45 / 0.77 / 0.38 ms; at [64, 64, 8, 8] undilated 3x3
    0.18 / 0.33 / 0.16 ms."""
    return not (kernel == 3 and stride == 1 and dilation == 1 and numel >= 200_000)


def _weight_grad(grad: Tensor, x: Tensor, weight: Tensor, stride: int, padding: int,
                 dilation: int) -> Tensor:
    chs, kernel = weight.shape[0], weight.shape[-1]
    if _native_weight_grad(kernel, stride, dilation, grad.numel()):
        out = native.depthwise_weight_grad(grad, x, kernel, stride, padding, dilation)
        if out is not None:
            return out
    block = _weight_grad_plan(kernel, stride, dilation, grad.numel())
    if block is None:
        return torch.ops.aten.convolution_backward(
            grad, x, weight, None, [stride] * 2, [padding] * 2, [dilation] * 2, False, [0, 0],
            chs, [False, True, False])[1]
    fmt = memory_format_of(x)
    padded = F.pad(x, (padding,) * 4)
    out = torch.zeros_like(weight)
    grids: dict[tuple[int, int], Tensor] = {}  # the gradient's sub-grids, one copy each
    for row in phase_terms(grad.shape[-2], kernel, stride, dilation, block):
        for col in phase_terms(grad.shape[-1], kernel, stride, dilation, block):
            kh, kw = len(row.taps), len(col.taps)
            key = (row.out_start, col.out_start)  # tap blocks of one phase share its grid
            if key not in grids:
                grids[key] = grad[:, :, row.out_start::row.out_step,
                                  col.out_start::col.out_step].contiguous(memory_format=fmt)
            g = grids[key]
            xs = padded[:, :, row.in_start::row.in_step, col.in_start::col.in_step][
                :, :, :row.count + kh - 1, :col.count + kw - 1].contiguous(memory_format=fmt)
            shape = weight.new_empty(chs, 1, kh, kw)
            part = torch.ops.aten.convolution_backward(
                g, xs, shape, None, [1, 1], [0, 0], [1, 1], False, [0, 0], chs,
                [False, True, False])[1]
            out[:, :, _taps(row.taps), _taps(col.taps)] += part
    return out


class _DepthwiseFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, stride: int, padding: int, dilation: int) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation)
        return correlate(x, weight, stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        stride, padding, dilation = ctx.conf
        grad_x = grad_w = None
        if torch.is_grad_enabled():
            # Double backward (create_graph=True): oneDNN's backward, which autograd can differentiate.
            mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], False]
            grad_x, grad_w, _ = torch.ops.aten.convolution_backward(
                grad, x, weight, None, [stride] * 2, [padding] * 2, [dilation] * 2, False, [0, 0],
                weight.shape[0], mask)
            return grad_x, grad_w, None, None, None
        if ctx.needs_input_grad[0]:
            grad_x = _input_grad(grad, weight, x.shape, stride, padding, dilation)
        if ctx.needs_input_grad[1]:
            grad_w = _weight_grad(grad, x, weight, stride, padding, dilation)
        return grad_x, grad_w, None, None, None


def cpu_autograd(x: Tensor, weight: Tensor) -> bool:
    """Whether a layer with ``weight`` on ``x`` runs genospec's float32/float64 CPU kernels: a
    4-d CPU input under autograd (input or weight taking a gradient), matching dtypes, neither
    autocast nor torch.compile tracing."""
    return (x.device.type == "cpu" and x.dim() == 4 and torch.is_grad_enabled()
            and (x.requires_grad or weight.requires_grad) and x.dtype == weight.dtype
            and not torch.is_autocast_enabled("cpu") and not torch.compiler.is_compiling())


def depthwise_conv(x: Tensor, weight: Tensor, stride: int, padding: int, dilation: int) -> Tensor:
    """``F.conv2d(x, weight, groups=channels)`` with the fast CPU backward described above."""
    return _DepthwiseFn.apply(x, weight, stride, padding, dilation)


class DepthwiseConv2d(nn.Conv2d):
    """A bias-free depthwise ``nn.Conv2d`` (same parameters, same state dict) whose CPU backward
    takes the fast paths of this module."""

    def __init__(self, chs: int, kernel: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1):
        super().__init__(chs, chs, kernel, stride=stride, padding=padding, dilation=dilation,
                         groups=chs, bias=False)

    def fast_backward(self, x: Tensor) -> bool:
        """Whether a forward on ``x`` takes this module's CPU backward (see the module docstring)."""
        k = self.kernel_size[0]
        return (cpu_autograd(x, self.weight)
                and self.padding[0] == self.padding[1] and self.stride[0] == self.stride[1]
                and self.dilation[0] == self.dilation[1] and self.kernel_size[1] == k
                and self.padding[0] <= self.dilation[0] * (k - 1)
                and self.padding_mode == "zeros")

    def forward(self, x: Tensor) -> Tensor:
        if not self.fast_backward(x):
            return super().forward(x)
        return depthwise_conv(x, self.weight, self.stride[0], self.padding[0], self.dilation[0])
