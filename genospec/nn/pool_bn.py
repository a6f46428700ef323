"""Pooling followed by an affine-free BatchNorm, keeping only the pooling's input for backward.

A DARTS supernet follows each pooling op with an affine-free BatchNorm. Under autograd the pair
keeps the pooled activation (BatchNorm's input) and, for max pooling, the argmax indices as
int64, twice the pooled activation's bytes: three activations per max-pool edge, one per
average-pool edge. The pooling's input is a node output, which the graph holds anyway (other ops
of the edge keep it). The function here keeps that input and BatchNorm's batch statistics and
recomputes the pooling in backward, a cheap forward. The same mathematics: the forward is the
plain pair, running statistics are updated once, and max pooling's recomputed indices are the
forward's (the first maximum of each window, deterministic).

Every edge leaving the same node pools the same tensor, and an affine-free BatchNorm in training
mode normalises with the batch's own statistics, so ``bn(pool(x))`` is the same tensor on each of
those edges. A supernet cell computes it once per node and pooling configuration
(`shared_pool_bn`); each further edge's BatchNorm only takes the batch statistics into its
running statistics (`follow_batch_stats`). On the DARTS space that is 5 poolings per op and cell
instead of 14.
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
    """``bn(pool(x))`` and BatchNorm's batch mean and inverse deviation (not differentiable)."""

    @staticmethod
    def forward(ctx, x, pool, bn):
        ctx.modules = (pool, bn)
        out, mean, invstd = _batch_norm_updating_stats(_pool(x, pool), bn)
        ctx.save_for_backward(x, mean, invstd)
        ctx.mark_non_differentiable(mean, invstd)
        return out, mean, invstd

    @staticmethod
    def backward(ctx, grad, _grad_mean=None, _grad_invstd=None):
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
    return _PoolBN.apply(x, pool, bn)[0]


def pool_key(pool: nn.Module, bn: nn.BatchNorm2d) -> tuple:
    """What fixes ``bn(pool(x))`` for a given ``x`` (affine-free, training mode): edges whose
    pairs have equal keys compute the same tensor from the same input."""
    conf = tuple(getattr(pool, a, None) for a in (
        "kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad",
        "divisor_override"))
    return (type(pool), conf, bn.num_features, bn.eps)


def shared_pool_bn(x: Tensor, pool: nn.Module, bn: nn.BatchNorm2d, shared: dict) -> Tensor:
    """`recomputed_pool_bn` computed once per ``x`` and `pool_key` across the edges that hand
    the same ``shared`` dict (one per source node and cell forward): a later edge gets the first
    one's output, and its own BatchNorm takes the batch statistics into its running ones."""
    key = pool_key(pool, bn)
    found = shared.get(key)
    if found is None:
        out, mean, invstd = _PoolBN.apply(x, pool, bn)
        shared[key] = (out, mean, invstd)
        return out
    out, mean, invstd = found
    follow_batch_stats(bn, mean, invstd, out.numel() // out.shape[1])
    return out


@torch.no_grad()
def follow_batch_stats(bn: nn.BatchNorm2d, mean: Tensor, invstd: Tensor, count: int) -> None:
    """Update ``bn``'s running statistics as its own training-mode forward would have from a
    batch with this mean and inverse standard deviation over ``count`` values per channel
    (PyTorch's rule: the unbiased variance, weighted by the momentum or the cumulative
    average)."""
    if not bn.track_running_stats or bn.running_mean is None:
        return
    factor = 0.0 if bn.momentum is None else bn.momentum
    if bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:
            factor = 1.0 / float(bn.num_batches_tracked)
    var = (invstd.double().pow(-2) - bn.eps) * (count / max(count - 1, 1))
    bn.running_mean.mul_(1.0 - factor).add_(mean.to(bn.running_mean.dtype), alpha=factor)
    bn.running_var.mul_(1.0 - factor).add_(var.to(bn.running_var.dtype), alpha=factor)


def can_recompute_pool(x: Tensor, pool: nn.Module, bn: nn.Module) -> bool:
    """Whether `recomputed_pool_bn` applies: 2-d max or average pooling into a training-mode
    affine-free BatchNorm, under autograd, on the CPU."""
    return (x.device.type == "cpu" and x.dim() == 4 and torch.is_grad_enabled()
            and x.requires_grad and isinstance(pool, (nn.MaxPool2d, nn.AvgPool2d))
            and not getattr(pool, "return_indices", False)
            and isinstance(bn, nn.BatchNorm2d) and bn.training and not bn.affine
            and not torch.is_autocast_enabled("cpu") and not torch.compiler.is_compiling())
