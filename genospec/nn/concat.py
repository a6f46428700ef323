"""Channel concatenation whose backward hands each input a dense gradient.

``torch.cat`` along channels hands each input a slice of the output's gradient. In channels-last
memory a channel slice is strided in every dimension, and PyTorch's CPU kernels that receive
it fall back to slow generic loops: BatchNorm's backward takes 16.8 ms on a [64, 16, 32, 32]
slice of a [64, 64, 32, 32] gradient against 1.7 ms on a dense copy (two cores; benchmarks/README.md). The
cells' outputs are concatenations, and every node's gradient reaches its ops this way, so the
slices are copied to the layout of the input they belong to before going on.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def memory_format_of(t: Tensor) -> torch.memory_format:
    """``torch.channels_last`` for a dense NHWC tensor, else ``torch.contiguous_format``."""
    if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


class _ConcatChannels(torch.autograd.Function):
    @staticmethod
    def forward(ctx, *parts: Tensor) -> Tensor:
        ctx.sizes = [p.shape[1] for p in parts]
        ctx.layouts = [memory_format_of(p) for p in parts]
        return torch.cat(parts, dim=1)

    @staticmethod
    def backward(ctx, grad: Tensor):
        pieces = torch.split(grad, ctx.sizes, dim=1)
        return tuple(piece.contiguous(memory_format=layout) if needed else None
                     for piece, layout, needed in zip(pieces, ctx.layouts, ctx.needs_input_grad))


def concat_channels(parts: Sequence[Tensor]) -> Tensor:
    """``torch.cat(parts, dim=1)``; under autograd on the CPU each part's gradient comes back
    dense (a CPU kernel's need: other devices take the plain concatenation)."""
    if len(parts) == 1:
        return parts[0]
    if not torch.is_grad_enabled() or torch.compiler.is_compiling() or \
            parts[0].device.type != "cpu" or not any(p.requires_grad for p in parts):
        return torch.cat(list(parts), dim=1)
    return _ConcatChannels.apply(*parts)
