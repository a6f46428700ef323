"""A strided 1x1 convolution computed as a 1x1 convolution of the subsampled input.

A 1x1 convolution with stride s reads only every s-th row and column of its input, so it is
the stride-1 1x1 convolution of ``x[:, :, ::s, ::s]`` (with padding p: of the padded input):
the same products and sums. The DARTS FactorizedReduce (``identity`` at stride 2, and the
preprocessing of a cell after a reduction) is two such convolutions.

Why not ``nn.Conv2d(..., stride=2)`` itself: on the CPU, PyTorch hands the weight gradient of a
strided 1x1 convolution in channels-last memory to oneDNN's ``jit_avx2_1x1_convolution_bwd_weights``
kernel, which writes past the end of a heap buffer for small channel counts (torch 2.14.1 on an
AVX2 machine: found with valgrind, "Invalid write of size 8 ... 0 bytes after a block"; e.g.
2 to 5 input channels at 8x8, batch 4 or 32; `tests/test_torch_reproducers.py` keeps a torch-only
reproducer). The corruption made seeded searches measure different accuracies and abort under
glibc's malloc checks. The subsampled input is a quarter of the input's size and dense in the
input's memory format; the stride-1 kernels that then run are checked under the same malloc
checks on the shapes of every supernet (tests/test_nn_backward.py). Off the CPU the convolution
is PyTorch's own.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class StridedPointwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(in_chs, out_chs, 1, stride=stride, padding=padding)`` (same parameters, same
    state dict) whose CPU forward subsamples first (module docstring)."""

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1, padding: int = 0,
                 bias: bool = False):
        super().__init__(in_chs, out_chs, 1, stride=stride, padding=padding, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == (1, 1) or x.device.type != "cpu" or x.dim() != 4:
            return super().forward(x)
        (sh, sw), (ph, pw) = self.stride, self.padding
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph))
        sub = x[:, :, ::sh, ::sw].contiguous(memory_format=_layout(x))
        return F.conv2d(sub, self.weight, self.bias)


class _SubsampledGrids(torch.autograd.Function):
    """``x[:, :, ::2, ::2]`` and the grid shifted by one pixel, ``x[:, :, 1::2, 1::2]``
    (zero-padded at the bottom and right to the first grid's size for odd inputs), each dense
    in ``x``'s memory format. The two grids share no element, so backward writes both gradients
    into one zero tensor: one fill and two copies, where slicing under autograd fills a zero
    tensor of ``x``'s size per slice and adds them."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape, ctx.layout = x.shape, _layout(x)
        return _grids(x, ctx.layout)

    @staticmethod
    def backward(ctx, g_even, g_odd):
        like = g_even if g_even is not None else g_odd
        g = torch.empty(ctx.shape, dtype=like.dtype, device=like.device,
                        memory_format=ctx.layout).zero_()
        h, w = ctx.shape[-2:]
        if g_even is not None:
            g[:, :, ::2, ::2] = g_even
        if g_odd is not None:
            g[:, :, 1::2, 1::2] = g_odd[:, :, :h // 2, :w // 2]
        return g


def subsampled_grids(x: Tensor) -> tuple[Tensor, Tensor]:
    """The two stride-2 grids a FactorizedReduce convolves: ``x[:, :, ::2, ::2]`` and
    ``x[:, :, 1::2, 1::2]`` padded to the same size (what ``pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]``
    subsampled by 2 reads), dense; under autograd their gradient is assembled in one pass."""
    if torch.is_grad_enabled() and x.requires_grad and not torch.compiler.is_compiling():
        return _SubsampledGrids.apply(x)
    return _grids(x, _layout(x))  # plain tensor operations


def _grids(x: Tensor, layout: torch.memory_format) -> tuple[Tensor, Tensor]:
    h, w = x.shape[-2:]
    even = x[:, :, ::2, ::2].contiguous(memory_format=layout)
    odd = x[:, :, 1::2, 1::2]
    if h % 2 or w % 2:
        odd = F.pad(odd, (0, w % 2, 0, h % 2))
    return even, odd.contiguous(memory_format=layout)


def _layout(x: Tensor) -> torch.memory_format:
    """The memory format whose element order ``x`` follows, views included: channels-last
    where channels are adjacent in memory (the shifted view of FactorizedReduce is one)."""
    if x.shape[1] > 1 and x.stride(1) == 1:
        return torch.channels_last
    return torch.contiguous_format


def conv2d(in_chs: int, out_chs: int, kernel: int | tuple[int, int], stride: int = 1,
           padding: int | tuple[int, int] = 0, dilation: int = 1, bias: bool = False) -> nn.Conv2d:
    """An ``nn.Conv2d``; a strided 1x1 one is a `StridedPointwiseConv2d`."""
    if kernel in (1, (1, 1)) and stride != 1 and dilation == 1 and isinstance(padding, int):
        return StridedPointwiseConv2d(in_chs, out_chs, stride, padding, bias)
    return nn.Conv2d(in_chs, out_chs, kernel, stride=stride, padding=padding, dilation=dilation,
                     bias=bias)
