"""ReLU, depthwise, pointwise, BatchNorm: one block that keeps less for backward.

Every separable and dilated convolution of a DARTS space is made of the chain ReLU -> depthwise
kxk conv -> pointwise 1x1 conv -> BatchNorm. Under autograd the chain saves the ReLU's output
(the depthwise conv's input), the depthwise output (the pointwise conv's input) and the pointwise
output (BatchNorm's input): three activations the size of the block's input, which on the DARTS
supernet are most of what a training step keeps in memory. The block here computes the same
forward and keeps instead:

- ``keep="output"`` (the default in search): the block's input ``x`` before the ReLU, which the
  graph keeps anyway (a node's output, or the block before it), and its own output ``y``.
  With an affine-free BatchNorm (every supernet) ``y`` is the normalised activation, so
  BatchNorm's backward runs from it (the input-gradient formula uses only ``y`` and the inverse
  standard deviation); the pointwise output is never needed again. When the weights want a
  gradient, backward recomputes the ReLU and the depthwise output (a cheap forward) for the two
  weight gradients; when they do not (the architecture phase of a search, which freezes the
  weights) nothing is recomputed at all. A separable convolution keeps two activations instead of
  five, a dilated one one instead of three.
- ``keep="output"`` with an affine BatchNorm (evaluation networks): the output gives back the
  normalised activation as ``(y - beta) / gamma`` where no channel's ``|gamma|`` is small
  against its ``|beta|`` (`AFFINE_RECOVERY_RATIO`, checked at every forward); the block then
  keeps ``x`` and ``y`` as above, so a separable convolution keeps its input and its two blocks'
  outputs (the first block's is the second's input, kept anyway): three activations where plain
  autograd keeps six. Where the check fails the block keeps ``x`` and the pointwise output
  (BatchNorm's input) instead. Either way backward recomputes the ReLU and the depthwise output
  for the weight gradients.
- ``keep="input"`` (`supernet checkpoint ops`): ``x`` alone; backward recomputes both
  convolutions and runs BatchNorm's backward from the recomputed pointwise output. A separable
  convolution keeps one activation (its second block's input), a dilated one none.

Both keep BatchNorm's batch statistics. The same mathematics as the plain chain: running
statistics are updated once, the gradients are those of the chain (float rounding aside); a
double backward differentiates a recomputation of the chain. Used on the CPU under autograd
(`can_recompute`); elsewhere the modules run their plain chain. On the DARTS supernet at batch 64
on two cores, with the pooling of `genospec.nn.pool_bn`, the first-order step's peak went from
7.5 to 4.2 GiB for about 5-10% more time (benchmarks/README.md).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import native
from .depthwise import DepthwiseConv2d, _input_grad, _weight_grad, correlate, cpu_autograd

KEEP_MODES = ("output", "input", "all")  # "all": plain autograd, everything kept


def _chain_after_relu(r: Tensor, dw: DepthwiseConv2d | None, w_dw: Tensor | None, w_pw: Tensor,
                      gamma: Tensor | None, beta: Tensor | None, eps: float) -> Tensor:
    """The chain after its ReLU under autograd, in batch-statistics mode, without touching the
    running statistics (for double backward)."""
    if dw is not None:
        r = F.conv2d(r, w_dw, stride=dw.stride, padding=dw.padding, dilation=dw.dilation,
                     groups=dw.groups)
    return F.batch_norm(F.conv2d(r, w_pw), None, None, gamma, beta, training=True, eps=eps)


def _depthwise(r: Tensor, dw: DepthwiseConv2d, w_dw: Tensor) -> Tensor:
    """The block's depthwise correlation, outside autograd (forward, recomputation)."""
    return correlate(r, w_dw, dw.stride[0], dw.padding[0], dw.dilation[0])


class _Chain(torch.autograd.Function):
    """Input ``x``, or ``relu(pre)`` computed outside when ``pre`` is given (a shared ReLU);
    either way the block keeps the tensor before the ReLU, which the graph holds anyway. With
    ``relu=False`` (and no ``pre``) ``x`` is a ReLU's output the caller's graph keeps: the
    block keeps it and has no ReLU of its own."""

    @staticmethod
    def forward(ctx, x, pre, w_dw, w_pw, gamma, beta, scale, block, kept, relu):
        dw, _, bn = block
        ctx.block, ctx.kept = block, kept
        ctx.relu_inside = pre is None and relu
        ctx.pre_given = pre is not None
        ctx.recompute_relu = relu or pre is not None  # backward's relu(saved x)
        r = torch.relu(x) if ctx.relu_inside else x
        p = _pointwise(r if dw is None else _depthwise(r, dw, w_dw), w_pw)
        del r
        # a scale (affine-free BatchNorm only) is BatchNorm's weight: the output comes scaled
        out, mean, invstd = _batch_norm_updating_stats(p, bn, scale=scale)
        if kept == "bn_input" and _output_recovers_input(gamma, beta):
            kept = ctx.kept = "affine_output"
        saved = {"output": out, "affine_output": out, "bn_input": p}.get(kept)
        del p
        ctx.save_for_backward(x if pre is None else pre, saved, w_dw,
                              w_pw, gamma, beta, scale, mean, invstd)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, kept, w_dw, w_pw, gamma, beta, scale, mean, invstd = ctx.saved_tensors  # x: pre-ReLU
        dw, _, bn = ctx.block
        needed = ctx.needs_input_grad
        if torch.is_grad_enabled():  # a double backward: differentiate the recomputed chain
            with torch.enable_grad():  # the saved tensors themselves, so the graph reaches them
                r = torch.relu(x) if ctx.recompute_relu else x
                out = _chain_after_relu(r, dw, w_dw, w_pw, gamma, beta, eps=bn.eps)
                if scale is not None:
                    out = out * scale
            # with a shared ReLU the gradient is for relu(x), the block's input; recomputed from
            # the saved x, its own derivatives reach x through the same ReLU mask
            inputs = [x if ctx.relu_inside else r, w_dw, w_pw, gamma, beta, scale]
            wants = [needed[0], *needed[2:7]]
            wanted = [t for t, n in zip(inputs, wants) if n and t is not None]
            grads = iter(torch.autograd.grad(out, wanted, grad, create_graph=True))
            g = [next(grads) if n and t is not None else None for t, n in zip(inputs, wants)]
            return g[0], None, *g[1:], None, None, None
        want_weights = needed[2] or needed[3]
        want_affine = gamma is not None and (needed[4] or needed[5])
        want_scale = scale is not None and needed[6]
        r = d = fused = None
        to_pre = False  # the input gradient goes to `pre`, the ReLU's backward applied
        if (ctx.kept in ("output", "affine_output")
                and _fuses(w_pw, dw is None and ctx.recompute_relu)):
            # BatchNorm's and the pointwise convolution's backward in one C kernel, which reads
            # the pointwise input in place: x or relu(x) (no copy of relu(x) made) without a
            # depthwise, else the recomputed depthwise output, needed for the weight only
            if dw is not None:
                if want_weights:
                    r = torch.relu(x) if ctx.recompute_relu else x
                if needed[3]:
                    d = _depthwise(r, dw, w_dw)
                src, relu_src = d, False
            else:
                src, relu_src = x, ctx.recompute_relu
                # a shared ReLU's input (``pre``, saved as x): the kernel masks the gradient
                # with x > 0 and hands it to ``pre``, so the ReLU's own backward does not run
                to_pre = ctx.pre_given and needed[1]
            fused = _fused_backward(grad, kept, src if needed[3] or to_pre else None, relu_src,
                                    w_pw, gamma, beta, scale, invstd,
                                    ctx.kept == "affine_output",
                                    needed[0] or needed[2] or to_pre, needed[3], want_affine,
                                    want_scale, mask=to_pre)
            del src
            to_pre = to_pre and fused is not None
        if fused is not None:
            g_d, g_pw, g_gamma, g_beta, g_scale = fused
            del d
        else:
            g_scale = None
            if r is None and (want_weights or ctx.kept == "input"):
                r = torch.relu(x) if ctx.recompute_relu else x
            if d is None and (want_weights or ctx.kept == "input"):
                d = r if dw is None else _depthwise(r, dw, w_dw)
            if ctx.kept == "affine_output":
                g_p, g_gamma, g_beta = _affine_batch_norm_backward_from_output(
                    grad, kept, gamma, beta, invstd, want_affine)
            elif ctx.kept != "output":  # BatchNorm's backward from the pointwise output: kept,
                p = kept if ctx.kept == "bn_input" else _pointwise(d, w_pw)  # or recomputed
                weight = gamma if scale is None else scale.expand(p.shape[1]).contiguous()
                g_p, g_gamma, g_beta = torch.ops.aten.native_batch_norm_backward(
                    grad, p, weight, None, None, mean, invstd, True, bn.eps,
                    [True, want_affine or want_scale, want_affine])
                del p
                if scale is not None:  # BatchNorm's weight gradient is the scale's, per channel
                    g_scale, g_gamma = (g_gamma.sum() if want_scale else None), None
            else:
                g_p, g_scale = _batch_norm_backward_from_output(grad, kept, invstd, scale,
                                                                want_scale)
                g_gamma = g_beta = None
            # the depthwise weight's gradient needs the pointwise input's gradient too
            g_d, g_pw = _pointwise_grads(g_p, d, w_pw, needed[0] or needed[2], needed[3])
            del d, g_p
        if not needed[2]:
            r = None
        if dw is None:  # ReLU -> pointwise -> BatchNorm: d is the ReLU's output
            g_dw, g_x = None, g_d
        else:
            stride, padding, dilation = dw.stride[0], dw.padding[0], dw.dilation[0]
            g_dw = _weight_grad(g_d, r, w_dw, stride, padding, dilation) if needed[2] else None
            g_x = _input_grad(g_d, w_dw, x.shape, stride, padding, dilation) if needed[0] \
                else None
        del r
        if needed[0] and ctx.relu_inside:  # x > 0 exactly where relu(x) > 0
            g_x = torch.ops.aten.threshold_backward(g_x, x, 0)
        return ((None, g_x) if to_pre else (g_x, None)) + (
            g_dw, g_pw, g_gamma if needed[4] else None, g_beta if needed[5] else None, g_scale,
            None, None, None)


class _ReLUKeepingInput(torch.autograd.Function):
    """``relu(x)`` whose backward uses ``x`` (held anyway) instead of keeping the output."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        # no gradient at all where every reader handed its gradient to x itself (a recomputing
        # block with ``pre``): nothing to do then, not a mask of zeros
        ctx.set_materialize_grads(False)
        return torch.relu(x)

    @staticmethod
    def backward(ctx, grad):
        if grad is None:
            return None
        (x,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(grad, x, 0)


def relu_keeping_input(x: Tensor) -> Tensor:
    """An edge's shared ReLU for recomputing blocks (`recomputed_chain` with ``pre``): the
    output lives only as long as the forward needs it."""
    return _ReLUKeepingInput.apply(x)


def shared_relu(x: Tensor, shared: dict) -> Tensor:
    """A source node's one ReLU, taken from (or left in) ``shared`` under ``"relu"``, for the
    ops built without their own. Under autograd on the CPU its backward uses ``x`` (held
    anyway) and its output lives only through the forward where the ops recompute from ``x``
    (`relu_keeping_input`)."""
    if "relu" not in shared:
        if x.device.type == "cpu" and torch.is_grad_enabled() and x.requires_grad:
            shared["relu"] = relu_keeping_input(x)
        else:
            shared["relu"] = torch.relu(x)
    return shared["relu"]


def _batch_norm_backward_from_output(grad: Tensor, y: Tensor, invstd: Tensor,
                                     scale: Tensor | None = None, want_scale: bool = False
                                     ) -> tuple[Tensor, Tensor | None]:
    """The input gradient of an affine-free training-mode BatchNorm from its output ``y``, and
    with ``scale`` (``y = scale * normalised``, the block's output scaled by its mixing weight)
    the scale's gradient.

    With ``y = (x - mean) * invstd`` the gradient is
    ``invstd * (grad - mean(grad) - y * mean(grad * y))`` (means over batch and space, per
    channel): PyTorch's own kernel computes it when handed ``y`` as the input, a zero mean, a
    unit inverse deviation, and ``invstd`` as the weight that scales the result. A scaled output
    takes ``1/scale`` as the inverse deviation (its normalised activation is ``y / scale``) and
    ``scale**2 * invstd`` as the weight; the kernel's weight gradient, ``sum(grad * y / scale)``
    per channel, is then the scale's gradient.
    """
    if invstd.shape[0] < NARROW_CHANNELS and _channels_last(grad) and _channels_last(y):
        return _narrow_batch_norm_backward(grad, y, invstd, scale, want_scale)
    zeros = torch.zeros_like(invstd)
    if scale is None:
        return torch.ops.aten.native_batch_norm_backward(
            grad, y, invstd, None, None, zeros, torch.ones_like(invstd), True, 0.0,
            [True, False, False])[0], None
    g, g_weight, _ = torch.ops.aten.native_batch_norm_backward(
        grad, y, invstd * (scale * scale), None, None, zeros,
        scale.reciprocal().expand_as(invstd).contiguous(), True, 0.0, [True, want_scale, False])
    return g, (g_weight.sum() if want_scale else None)


# An affine BatchNorm's output gives back its normalised input, ``xhat = (y - beta) / gamma``,
# where no channel's ``beta`` is large against its ``gamma``: the rounding of ``y`` (relative
# to ``|y|``) then grows by at most this factor in ``xhat``.
AFFINE_RECOVERY_RATIO = 8.0


def _output_recovers_input(gamma: Tensor | None, beta: Tensor | None) -> bool:
    """Whether an affine BatchNorm's backward can run from its output: every channel's
    ``|gamma|`` above 1e-6 and above ``|beta| / AFFINE_RECOVERY_RATIO`` (float32 and float64)."""
    if gamma is None or beta is None or gamma.dtype not in (torch.float32, torch.float64):
        return False
    g = gamma.detach().abs()
    return bool(torch.all(g > torch.clamp(beta.detach().abs() / AFFINE_RECOVERY_RATIO, min=1e-6)))


def _affine_batch_norm_backward_from_output(grad: Tensor, y: Tensor, gamma: Tensor, beta: Tensor,
                                            invstd: Tensor, want_affine: bool
                                            ) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """The gradients of a training-mode affine BatchNorm (input, ``gamma``, ``beta``) from its
    output ``y = gamma * xhat + beta`` (`_output_recovers_input` holds).

    PyTorch's kernel, handed ``y`` as the input, ``beta`` as the mean and ``1 / gamma`` as the
    inverse deviation, normalises ``y`` back to ``xhat``; its weight ``gamma**2 * invstd`` makes
    the input gradient ``gamma * invstd * (grad - mean(grad) - xhat * mean(grad * xhat))``,
    and its weight and bias gradients are ``sum(grad * xhat)`` and ``sum(grad)``: gamma's and
    beta's."""
    g_x, g_gamma, g_beta = torch.ops.aten.native_batch_norm_backward(
        grad, y, gamma * gamma * invstd, None, None, beta, gamma.reciprocal(), True, 0.0,
        [True, want_affine, want_affine])
    return g_x, g_gamma, g_beta


# A channels-last 1x1 convolution is a matrix product on the [N*H*W, C] view. Measured per
# call (two cores, 2026-12-07, interleaved, best of three medians; benchmarks/README.md), the
# product beats oneDNN's convolution on short matrices (forward, product against oneDNN: 43
# against 80 us at [32, 16, 16, 16], 214 against 241 us at [64, 64, 8, 8]) and loses on tall
# ones (422 against 338 us at [64, 16, 32, 32]; 313 against 90 us at [32, 8, 32, 32]; 3.2
# against 2.4 ms for 32 -> 64 channels at [64, 32, 32, 32]); the input gradient follows the
# forward, the weight gradient is even or better with oneDNN at these sizes
# (`benchmarks/kernels.py --only pointwise`).
MATMUL_MAX_ROWS = 16_384


def _as_matmul(t: Tensor) -> bool:
    """Whether a 1x1 convolution on ``t`` (its input, or its output's gradient) runs as a matrix
    product: channels-last and at most `MATMUL_MAX_ROWS` pixels (N*H*W)."""
    n, _, h, w = t.shape
    return n * h * w <= MATMUL_MAX_ROWS and _channels_last(t)


# PyTorch's channels-last BatchNorm kernels vectorise over channels and are slow below 16 of
# them: backward 735 us at [32, 8, 32, 32] against 76 us at [32, 16, 16, 16] (half the elements)
# on two cores, 2026-12-07. Below 16 channels the input gradient from the output is computed
# from two per-channel sums on the [N*H*W, C] view instead (352 us at [32, 8, 32, 32]; slower
# than PyTorch's from 16 channels on: 939 against 720 us at [64, 16, 32, 32]).
NARROW_CHANNELS = 16


def _narrow_batch_norm_backward(grad: Tensor, y: Tensor, invstd: Tensor, scale: Tensor | None,
                                want_scale: bool) -> tuple[Tensor, Tensor | None]:
    """`_batch_norm_backward_from_output` for channels-last tensors with few channels. With
    ``y = s * xhat`` (``s = 1`` without a scale), ``n`` values per channel and the per-channel
    sums ``S1 = sum(grad)``, ``S2 = sum(grad * y)``: the input gradient is
    ``invstd * s * (grad - S1 / n) - invstd * y * S2 / (s * n)`` and the scale's
    ``sum(S2) / s``."""
    chs = invstd.shape[0]
    g, out = _rows(grad), _rows(y)
    count = g.shape[0]
    # per-channel sums over rows, on a wide view (k pixels per row) where the rows allow it
    wide = max(1, 64 // chs)
    if count % wide:
        wide = 1
    sum_g = g.reshape(-1, wide * chs).sum(0).view(wide, chs).sum(0)
    sum_gy = (g * out).view(-1, wide * chs).sum(0).view(wide, chs).sum(0)
    s = 1.0 if scale is None else scale
    a = invstd * s
    g_x = torch.addcmul(-a * sum_g / count, out, -invstd * sum_gy / (s * count))
    g_x.addcmul_(g, a)
    n, _, h, w = grad.shape
    g_scale = sum_gy.sum() / s if scale is not None and want_scale else None
    return _from_rows(g_x, n, h, w), g_scale


# BatchNorm's backward from the output and the pointwise convolution's two gradients in one C
# kernel (`native.batch_norm_pointwise_backward`) where the filter has at most
# `FUSED_MAX_WEIGHTS` weights, or `FUSED_MAX_WEIGHTS_RELU` where the kernel also reads the ReLU
# before the convolution in place (a preprocessing block: PyTorch's way recomputes the ReLU's
# output). Per call against PyTorch's three (BatchNorm backward from the output, the two products
# or oneDNN's backward), glibc keeping freed memory as training does, two cores, 2026-12-07,
# `benchmarks/kernels.py --only fused` (results/kernels-fused-cpu2-2026-12-07-seventh.json): 1.31
# against 2.02 ms at 16 -> 16 channels of [64, 16, 32, 32], 0.90 against 1.18 ms at 32 -> 32 of
# [64, 32, 16, 16], 0.35 against 1.98 ms at 8 -> 8 of [32, 8, 32, 32]; even at 64 -> 64 of
# [64, 64, 8, 8] (0.75 against 0.82 ms there, 0.89 against 0.80 in the run before: the kernel's
# per-row products grow with the filter, PyTorch's blocked ones stay fast), where it stops. With
# the ReLU: 2.1 against 4.7 ms at 48 -> 16 of [64, 48, 32, 32], 4.0 against 5.5 ms at 128 -> 32
# of [64, 128, 16, 16]; even at 256 -> 64 of [64, 256, 8, 8] (3.5 against 3.7 ms), where it
# stops.
FUSED_MAX_WEIGHTS = 1024
FUSED_MAX_WEIGHTS_RELU = 8192


def _fuses(w_pw: Tensor, relu_in_place: bool) -> bool:
    """Whether the chain's backward tries the fused kernel for this pointwise filter
    (``relu_in_place``: the kernel would read the ReLU before it in place)."""
    limit = FUSED_MAX_WEIGHTS_RELU if relu_in_place else FUSED_MAX_WEIGHTS
    return w_pw.shape[0] * w_pw.shape[1] <= limit


def _fused_backward(grad: Tensor, y: Tensor, src: Tensor | None, relu_src: bool, w_pw: Tensor,
                    gamma: Tensor | None, beta: Tensor | None, scale: Tensor | None,
                    invstd: Tensor, affine: bool, want_src: bool, want_w: bool,
                    want_affine: bool, want_scale: bool, mask: bool = False) -> tuple | None:
    """The gradients of the pointwise input, the pointwise filter, BatchNorm's ``gamma`` and
    ``beta`` and the scale, from BatchNorm's output ``y`` (``affine``: an affine BatchNorm whose
    output gives back its normalised input; else affine-free, scaled by ``scale`` or not), by
    the C kernel; None where it does not apply. ``src`` is the pointwise input (``relu(src)``
    with ``relu_src``; with ``mask`` as well the first gradient is ``src``'s, through the ReLU),
    needed for the filter's gradient and the mask only."""
    found = native.batch_norm_pointwise_backward(
        grad, y, src, w_pw, invstd, gamma if affine else None, beta if affine else None,
        None if affine else scale, relu_src, mask, want_src, want_w,
        (affine and want_affine) or (scale is not None and want_scale))
    if found is None:
        return None
    g_src, g_w, g_gamma, g_beta = found
    g_scale = None
    if not affine:  # per channel sum(grad * xhat): summed, the scale's gradient
        g_scale = g_gamma.sum() if scale is not None and want_scale else None
        g_gamma = g_beta = None
    return g_src, g_w, g_gamma, g_beta, g_scale


def _pointwise(x: Tensor, weight: Tensor) -> Tensor:
    """A bias-free 1x1 convolution: a matrix product or oneDNN's, by size (`_as_matmul`)."""
    if not _as_matmul(x):
        return F.conv2d(x, weight)
    n, c, h, w = x.shape
    out_chs = weight.shape[0]
    return _from_rows(_rows(x) @ weight.view(out_chs, c).t(), n, h, w)


def _pointwise_grads(grad: Tensor, x: Tensor | None, weight: Tensor, want_x: bool,
                     want_w: bool) -> tuple[Tensor | None, Tensor | None]:
    """Gradients of a bias-free 1x1 convolution with input ``x`` (needed for the weight's
    gradient only): two matrix products on the [N*H*W, C] views where `_as_matmul`, else one
    call of oneDNN's backward for both."""
    out_chs, in_chs = weight.shape[:2]
    n, _, h, w = grad.shape
    g_x = g_w = None
    if _as_matmul(grad) and (x is None or _channels_last(x)):
        g2 = _rows(grad)
        if want_x:
            g_x = _from_rows(g2 @ weight.view(out_chs, in_chs), n, h, w)
        if want_w:
            g_w = (g2.t() @ _rows(x)).view_as(weight)
        return g_x, g_w
    if not want_w:
        return (F.conv2d(grad, weight.transpose(0, 1)) if want_x else None), None
    g_x, g_w, _ = torch.ops.aten.convolution_backward(
        grad, x, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
        [want_x, True, False])
    return g_x, g_w


def _channels_last(t: Tensor) -> bool:
    return t.is_contiguous(memory_format=torch.channels_last)


def _rows(t: Tensor) -> Tensor:
    """A channels-last [N, C, H, W] tensor as its [N*H*W, C] matrix (a view)."""
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def _from_rows(m: Tensor, n: int, h: int, w: int) -> Tensor:
    """An [N*H*W, C] matrix as the channels-last [N, C, H, W] tensor it lays out (a view)."""
    return m.view(n, h, w, m.shape[1]).permute(0, 3, 1, 2)


def _batch_norm_updating_stats(h: Tensor, bn: nn.BatchNorm2d, weight: Tensor | None = None,
                               scale: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """``bn(h)`` in training mode as nn.BatchNorm2d computes it (running statistics included),
    with the batch mean and inverse standard deviation its backward needs. ``weight`` replaces
    an affine-free BatchNorm's absent weight (a per-channel scale of the output); ``scale``, a
    0-d tensor, does so with one value for every channel."""
    factor = 0.0 if bn.momentum is None else bn.momentum
    if bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:
            factor = 1.0 / float(bn.num_batches_tracked)
    weight = bn.weight if weight is None and scale is None else weight
    if _native_batch_norm(h):
        done = native.batch_norm_forward(h, weight, bn.bias, bn.running_mean, bn.running_var,
                                         factor, bn.eps, scale=scale)
        if done is not None:
            return done
    if scale is not None:
        weight = scale.expand(h.shape[1]).contiguous()
    if _pixel_groups(h):
        return _narrow_batch_norm(h, weight, bn.bias, bn.running_mean, bn.running_var, factor,
                                  bn.eps)
    return torch.ops.aten.native_batch_norm(h, weight, bn.bias, bn.running_mean, bn.running_var,
                                            True, factor, bn.eps)


# BatchNorm's training forward by the C kernel (`native.batch_norm_forward`) from this many
# elements, and on every tensor of fewer than 16 channels. Per call, PyTorch / C kernel (two
# cores of an AMD EPYC, channels-last, 2026-12-07, `python benchmarks/kernels.py --only
# batchnorm-forward`): at [64, 16, 32, 32] 309 / 120 us, [64, 32, 16, 16] 108 / 66 us,
# [32, 16, 16, 16] 48 / 27 us, [32, 8, 32, 32] 440 / 47 us, [1, 8, 32, 32] 24 / 15 us; even at
# [32, 32, 8, 8] (23 / 25 us) and slower on small tensors of 16 channels and more
# ([1, 16, 16, 16] 12 / 14 us).
NATIVE_BN_MIN_ELEMENTS = 100_000


def _native_batch_norm(h: Tensor) -> bool:
    """Whether BatchNorm's training forward of ``h`` goes to the C kernel where it applies."""
    return h.dim() == 4 and (h.shape[1] < NARROW_CHANNELS or h.numel() >= NATIVE_BN_MIN_ELEMENTS)


# Without the C kernel, the forward's statistics below 16 channels: PyTorch's channels-last
# kernel collects them slowly there (907 us at [32, 8, 32, 32] against 392 us taking pixel pairs
# as 16 channels and normalising with the inference kernel, two cores, 2026-12-07; 315 against
# 143 us at [8, 8, 32, 32]) but is faster on tiny tensors (47 against 113 us at [1, 8, 32, 32]).
NARROW_MIN_ELEMENTS = 65_536


def _pixel_groups(h: Tensor) -> int:
    """How many neighbouring pixels of a row `_narrow_batch_norm` takes as one wider pixel
    (enough for 16 channels), or 0 where PyTorch's kernel is used."""
    if h.dim() != 4 or h.shape[1] >= NARROW_CHANNELS or h.numel() < NARROW_MIN_ELEMENTS:
        return 0
    group = _pixel_group(h.shape[1])
    return group if h.shape[3] % group == 0 and _channels_last(h) else 0


def _pixel_group(chs: int) -> int:
    """Neighbouring pixels taken together to read ``chs`` channels as at least 16."""
    return -(-NARROW_CHANNELS // chs)


def _narrow_batch_norm(h: Tensor, weight: Tensor | None, bias: Tensor | None,
                       running_mean: Tensor | None, running_var: Tensor | None, factor: float,
                       eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``native_batch_norm`` in training mode for a channels-last tensor with few channels:
    the statistics of the same memory read as ``k`` times the channels (``k`` neighbouring
    pixels of a row as one, `_pixel_groups`), combined per channel (the ``k`` groups are
    equally large: the mean of their means, and the mean of their variances plus the variance
    of their means), then the inference kernel normalises with them. Running statistics as
    PyTorch updates them (the unbiased variance, weighted by ``factor``)."""
    n, chs, height, width = h.shape
    group = _pixel_group(chs)
    if width % group or not _channels_last(h):
        raise ValueError(f"pixel groups of {group} need a channels-last tensor whose width they "
                         f"divide, got {tuple(h.shape)}")
    wide = h.permute(0, 2, 3, 1).reshape(n, height, width // group, group * chs)
    means, variances = torch.batch_norm_update_stats(wide.permute(0, 3, 1, 2), None, None, 0.0)
    means, variances = means.view(group, chs), variances.view(group, chs)
    mean = means.mean(0)
    var = variances.mean(0) + (means - mean).square_().mean(0)
    out = torch.ops.aten.native_batch_norm(h, weight, bias, mean, var, False, 0.0, eps)[0]
    if running_mean is not None and running_var is not None:
        count = n * height * width
        with torch.no_grad():
            running_mean.mul_(1.0 - factor).add_(mean.to(running_mean.dtype), alpha=factor)
            running_var.mul_(1.0 - factor).add_((var * (count / (count - 1))).to(
                running_var.dtype), alpha=factor)
    return out, mean, torch.rsqrt(var + eps)


def recomputed_chain(x: Tensor, dw: DepthwiseConv2d | None, pw: nn.Conv2d, bn: nn.BatchNorm2d,
                     keep: str = "output", pre: Tensor | None = None,
                     scale: Tensor | None = None, *, scale_checked: bool = False,
                     relu: bool = True) -> Tensor:
    """``bn(pw(dw(relu(x))))`` (``dw=None``: ``bn(pw(relu(x)))``) keeping ``x`` (and with
    ``keep="output"`` the result, or BatchNorm's input where it is affine and its output cannot
    give back the normalised activation) for backward
    (module docstring). With ``pre``, ``x`` is ``relu(pre)`` already computed (an edge's
    shared ReLU, `relu_keeping_input`): the block computes ``bn(pw(dw(x)))``, keeps ``pre``
    instead of ``x`` and hands the gradient to ``x``. With ``scale`` (a 0-d tensor, affine-free
    BatchNorm only; see `can_scale`) the result is ``scale * bn(...)``: an op's mixing weight
    applied inside BatchNorm, at no cost, and its gradient taken from BatchNorm's backward,
    instead of a multiplication of the output and of its gradient; ``scale_checked``: the
    caller has just asked `can_scale` (which reads the scale's value: once per op is enough).
    With ``relu=False`` (no ``pre``) ``x`` is already a ReLU's output that the caller's graph
    keeps (a cell output's ReLU shared by the cells reading it): the block computes
    ``bn(pw(dw(x)))``, keeps ``x`` and neither runs nor recomputes a ReLU."""
    if keep not in ("output", "input"):
        raise ValueError(f"keep must be 'output' or 'input', got {keep!r}")
    if scale is not None and not scale_checked and not can_scale(scale, bn):
        raise ValueError("a scaled block needs an affine-free BatchNorm and a 0-d scale that is "
                         "not tiny (can_scale)")
    kept = "input" if keep == "input" else "bn_input" if bn.affine else "output"
    return _Chain.apply(x, pre, None if dw is None else dw.weight, pw.weight, bn.weight,
                        bn.bias, scale, (dw, pw, bn), kept, relu)


def can_scale(scale: Tensor, bn: nn.Module) -> bool:
    """Whether `recomputed_chain` can apply ``scale`` inside BatchNorm: an affine-free
    BatchNorm and a 0-d scale whose square and reciprocal stay normal floats (backward from a
    scaled output divides by it); a softmax weight that has all but vanished is applied outside."""
    if scale.dim() != 0 or getattr(bn, "affine", True):
        return False
    return (scale.dtype in (torch.float32, torch.float64)
            and 1e-15 < abs(float(scale.detach())) < 1e15)


def can_recompute(x: Tensor, dw: nn.Module | None, pw: nn.Module, bn: nn.Module, keep: str
                  ) -> bool:
    """Whether `recomputed_chain` applies: a training-mode chain under autograd, on the CPU
    (``keep="output"`` with an affine BatchNorm keeps the pointwise output instead of the
    block's output where the output cannot give back the normalised activation)."""
    if keep not in ("output", "input"):
        return False
    if dw is None:  # ReLU -> pointwise -> BatchNorm (a cell's preprocessing)
        fast = cpu_autograd(x, pw.weight)
    else:
        fast = isinstance(dw, DepthwiseConv2d) and dw.fast_backward(x)
    return (fast and isinstance(pw, nn.Conv2d)
            and pw.kernel_size == (1, 1) and pw.stride == (1, 1) and pw.padding == (0, 0)
            and pw.bias is None and pw.padding_mode == "zeros"
            and pw.groups == 1 and isinstance(bn, nn.BatchNorm2d) and bn.training)
