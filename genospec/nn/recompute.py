"""Depthwise, pointwise, BatchNorm: one block that keeps only its input for backward.

Every separable and dilated convolution of a DARTS space ends in the chain depthwise kxk conv
-> pointwise 1x1 conv -> BatchNorm. Under autograd the chain saves the depthwise output (the
pointwise conv's input) and the pointwise output (BatchNorm's input), two activations the size
of the block's input; on the DARTS supernet these are most of what a step keeps in memory. The
block here saves its input alone (which the ReLU in front of it keeps anyway) and BatchNorm's
batch statistics, and recomputes the two convolutions in backward (their forward is the cheap
part of the chain on the CPU). The same mathematics: the forward is the plain chain, running
statistics are updated once, and the backward computes the chain's gradients from the
recomputed activations. Used under `supernet checkpoint ops`; on the DARTS supernet at batch 64
on two cores it took the peak from 7.5 to 5.4 GiB for 17-19% more time per step
(benchmarks/README.md), too much time to be the default.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .depthwise import DepthwiseConv2d, _input_grad, _weight_grad, depthwise_conv


def _chain(x: Tensor, dw: DepthwiseConv2d, w_dw: Tensor, w_pw: Tensor, gamma: Tensor | None,
           beta: Tensor | None, eps: float) -> Tensor:
    """The chain in batch-statistics mode without touching the running statistics."""
    h = depthwise_conv(x, w_dw, dw.stride[0], dw.padding[0], dw.dilation[0])
    h = F.conv2d(h, w_pw)
    return F.batch_norm(h, None, None, gamma, beta, training=True, eps=eps)


def _convolutions(x: Tensor, dw: DepthwiseConv2d, w_dw: Tensor,
                  w_pw: Tensor) -> tuple[Tensor, Tensor]:
    """The depthwise output and the pointwise output of the chain (no autograd)."""
    d = F.conv2d(x, w_dw, stride=dw.stride, padding=dw.padding, dilation=dw.dilation,
                 groups=dw.groups)
    return d, F.conv2d(d, w_pw)


class _RecomputedChain(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_dw, w_pw, gamma, beta, block):
        dw, _, bn = block
        ctx.block = block
        _, h = _convolutions(x, dw, w_dw, w_pw)
        out, mean, invstd = _batch_norm_updating_stats(h, bn)
        ctx.save_for_backward(x, w_dw, w_pw, gamma, beta, mean, invstd)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, w_dw, w_pw, gamma, beta, mean, invstd = ctx.saved_tensors
        dw, _, bn = ctx.block
        inputs = [x, w_dw, w_pw, gamma, beta]
        needed = ctx.needs_input_grad[:5]
        if torch.is_grad_enabled():  # a double backward: differentiate the recomputed chain
            with torch.enable_grad():  # the saved tensors themselves, so the graph reaches them
                out = _chain(x, dw, w_dw, w_pw, gamma, beta, eps=bn.eps)
            wanted = [t for t, n in zip(inputs, needed) if n and t is not None]
            grads = iter(torch.autograd.grad(out, wanted, grad, create_graph=True))
            return (*(next(grads) if n and t is not None else None
                      for t, n in zip(inputs, needed)), None)
        stride, padding, dilation = dw.stride[0], dw.padding[0], dw.dilation[0]
        d, p = _convolutions(x, dw, w_dw, w_pw)
        want_affine = gamma is not None and (needed[3] or needed[4])
        g_p, g_gamma, g_beta = torch.ops.aten.native_batch_norm_backward(
            grad, p, gamma, None, None, mean, invstd, True, bn.eps,
            [True, want_affine, want_affine])
        del p
        g_d, g_pw = _pointwise_grads(g_p, d, w_pw, needed[0] or needed[1], needed[2])
        del d, g_p
        g_x = g_dw = None
        if needed[0]:
            g_x = _input_grad(g_d, w_dw, x.shape, stride, padding, dilation)
        if needed[1]:
            g_dw = _weight_grad(g_d, x, w_dw, stride, padding, dilation)
        return (g_x, g_dw, g_pw, g_gamma if needed[3] else None, g_beta if needed[4] else None,
                None)


def _pointwise_grads(grad: Tensor, x: Tensor, weight: Tensor, want_x: bool,
                     want_w: bool) -> tuple[Tensor | None, Tensor | None]:
    """Gradients of a bias-free 1x1 convolution. In channels-last memory the layer is a matrix
    product on the [N*H*W, C] view, and two matrix products beat oneDNN's backward (0.92 against
    1.58 ms at [64, 16, 32, 32] on two cores)."""
    out_chs, in_chs = weight.shape[:2]
    if _channels_last(grad) and _channels_last(x):
        n, _, h, w = x.shape
        g2 = grad.permute(0, 2, 3, 1).reshape(-1, out_chs)
        g_x = g_w = None
        if want_x:
            g_x = (g2 @ weight.view(out_chs, in_chs)).view(n, h, w, in_chs).permute(0, 3, 1, 2)
        if want_w:
            x2 = x.permute(0, 2, 3, 1).reshape(-1, in_chs)
            g_w = (g2.t() @ x2).view_as(weight)
        return g_x, g_w
    g_x, g_w, _ = torch.ops.aten.convolution_backward(
        grad, x, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, [want_x, want_w, False])
    return g_x, g_w


def _channels_last(t: Tensor) -> bool:
    return t.is_contiguous(memory_format=torch.channels_last)


def _batch_norm_updating_stats(h: Tensor, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor, Tensor]:
    """``bn(h)`` in training mode as nn.BatchNorm2d computes it (running statistics included),
    with the batch mean and inverse standard deviation its backward needs."""
    factor = 0.0 if bn.momentum is None else bn.momentum
    if bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:
            factor = 1.0 / float(bn.num_batches_tracked)
    return torch.ops.aten.native_batch_norm(h, bn.weight, bn.bias, bn.running_mean,
                                            bn.running_var, True, factor, bn.eps)


def recomputed_chain(x: Tensor, dw: DepthwiseConv2d, pw: nn.Conv2d, bn: nn.BatchNorm2d) -> Tensor:
    """``bn(pw(dw(x)))`` saving only ``x`` for backward (see the module docstring)."""
    return _RecomputedChain.apply(x, dw.weight, pw.weight, bn.weight, bn.bias, (dw, pw, bn))


def can_recompute(x: Tensor, dw: nn.Module, pw: nn.Module, bn: nn.Module) -> bool:
    """Whether `recomputed_chain` applies: a training-mode chain under autograd, on the CPU."""
    return (isinstance(dw, DepthwiseConv2d) and dw.fast_backward(x) and isinstance(pw, nn.Conv2d)
            and pw.kernel_size == (1, 1) and pw.stride == (1, 1) and pw.bias is None
            and pw.groups == 1 and isinstance(bn, nn.BatchNorm2d) and bn.training)
