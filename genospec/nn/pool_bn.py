"""Pooling followed by an affine-free BatchNorm, keeping only the pooling's input for backward.

A DARTS supernet follows each pooling op with an affine-free BatchNorm. Under autograd the pair
keeps the pooled activation (BatchNorm's input) and, for max pooling, the argmax indices as
int64, twice the pooled activation's bytes: three activations per max-pool edge, one per
average-pool edge. The pooling's input is a node output, which the graph holds anyway (other ops
of the edge keep it). The function here keeps that input and BatchNorm's batch statistics and
recomputes the pooling in backward, a cheap forward. The same mathematics: the forward is the
plain pair, running statistics are updated once, and max pooling's recomputed indices are the
forward's (the first maximum of each window, deterministic).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.modules.utils import _pair

from .recompute import _batch_norm_updating_stats


def _pool(x: Tensor, pool: nn.Module) -> Tensor:
    if isinstance(pool, nn.MaxPool2d):
        return F.max_pool2d(x, pool.kernel_size, pool.stride, pool.padding, pool.dilation,
                            pool.ceil_mode)
    return F.avg_pool2d(x, pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode,
                        pool.count_include_pad, pool.divisor_override)


class _PoolBN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, pool, bn):
        ctx.modules = (pool, bn)
        out, mean, invstd = _batch_norm_updating_stats(_pool(x, pool), bn)
        ctx.save_for_backward(x, mean, invstd)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, mean, invstd = ctx.saved_tensors
        pool, bn = ctx.modules
        if torch.is_grad_enabled():  # a double backward: differentiate a recomputation
            with torch.enable_grad():
                out = F.batch_norm(_pool(x, pool), None, None, training=True, eps=bn.eps)
            return torch.autograd.grad(out, x, grad, create_graph=True)[0], None, None
        kernel, stride = _pair(pool.kernel_size), _pair(pool.stride or pool.kernel_size)
        padding = _pair(pool.padding)
        if isinstance(pool, nn.MaxPool2d):
            dilation = _pair(pool.dilation)
            pooled, indices = torch.ops.aten.max_pool2d_with_indices(
                x, kernel, stride, padding, dilation, pool.ceil_mode)
        else:
            pooled = _pool(x, pool)
        g = torch.ops.aten.native_batch_norm_backward(
            grad, pooled, None, None, None, mean, invstd, True, bn.eps, [True, False, False])[0]
        del pooled
        if isinstance(pool, nn.MaxPool2d):
            g_x = torch.ops.aten.max_pool2d_with_indices_backward(
                g, x, kernel, stride, padding, dilation, pool.ceil_mode, indices)
        else:
            g_x = torch.ops.aten.avg_pool2d_backward(
                g, x, kernel, stride, padding, pool.ceil_mode, pool.count_include_pad,
                pool.divisor_override)
        return g_x, None, None


def recomputed_pool_bn(x: Tensor, pool: nn.Module, bn: nn.BatchNorm2d) -> Tensor:
    """``bn(pool(x))`` keeping only ``x`` for backward (module docstring)."""
    return _PoolBN.apply(x, pool, bn)


def can_recompute_pool(x: Tensor, pool: nn.Module, bn: nn.Module) -> bool:
    """Whether `recomputed_pool_bn` applies: 2-d max or average pooling into a training-mode
    affine-free BatchNorm, under autograd, on the CPU."""
    return (x.device.type == "cpu" and x.dim() == 4 and torch.is_grad_enabled()
            and x.requires_grad and isinstance(pool, (nn.MaxPool2d, nn.AvgPool2d))
            and not getattr(pool, "return_indices", False)
            and isinstance(bn, nn.BatchNorm2d) and bn.training and not bn.affine
            and not torch.is_autocast_enabled("cpu") and not torch.compiler.is_compiling())
