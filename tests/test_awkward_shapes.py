"""Every custom autograd path of genospec.nn against plain autograd, on awkward shapes.

The CPU fast paths (depthwise convolution's backward, recomputing ReLU-conv-BN blocks, pooling
with BatchNorm, channel concatenation, the shared ReLU, strided 1x1 convolutions) run in float32
on the shapes a user's space can produce: odd sizes, 1x1 and 2x2 maps, stride 2 on odd inputs,
batch 1, channels-last tensors, views that are dense in no layout. Each is compared, value and
gradients, with the same function computed by plain PyTorch ops in float64. `.ci/run` runs
this file (with the rest of the suite) under glibc's malloc checks, where a write out of bounds
aborts.
"""

from __future__ import annotations


import pytest
import torch
from torch import nn
from torch.nn import functional as F

from genospec.nn import depthwise, native, recompute
from genospec.nn.concat import concat_channels
from genospec.nn.depthwise import depthwise_conv
from genospec.nn.ops import DilConv, FactorizedReduce, PoolBN, ReLUConvBN, SepConv
from genospec.nn.recompute import relu_keeping_input
from genospec.nn.strided_pointwise import StridedPointwiseConv2d
from nn_fixtures import graph_nodes

# (batch, channels, height, width, layout); "view": a slice dense in neither layout
SHAPES = [
    (1, 3, 7, 5, "channels_last"),
    (2, 5, 1, 1, "channels_last"),
    (2, 4, 2, 2, "channels_last"),
    (3, 6, 9, 9, "view"),
    (2, 3, 5, 4, "contiguous"),
    (4, 2, 8, 8, "channels_last"),  # the shape that broke oneDNN's strided 1x1 weight gradient
    (1, 4, 3, 3, "view"),
]
IDS = [f"{n}x{c}x{h}x{w}-{layout}" for n, c, h, w, layout in SHAPES]


def _input(shape, seed: int = 0) -> torch.Tensor:
    n, c, h, w, layout = shape
    gen = torch.Generator().manual_seed(seed)
    if layout == "view":  # every other channel of a channels-last tensor, shifted by a pixel
        big = torch.randn(n, 2 * c, h + 1, w + 1, generator=gen)
        x = big.contiguous(memory_format=torch.channels_last)[:, ::2, 1:, 1:]
        assert not x.is_contiguous() and not x.is_contiguous(memory_format=torch.channels_last)
    else:
        x = torch.randn(n, c, h, w, generator=gen)
        if layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
    return x.detach().requires_grad_(True)


def _reference(x: torch.Tensor) -> torch.Tensor:
    return x.detach().double().contiguous().requires_grad_(True)


# The output gradient `_check` hands backward: laid out as the output is (what the next layer
# of a network gives back), or, set to False, dense in NCHW order whatever the output's layout.
GRAD_LIKE_OUTPUT = True


def _check(out, ref, inputs, ref_inputs, tol: float = 2e-4) -> None:
    """Values and gradients (for a fixed random output gradient) agree."""
    assert out.shape == ref.shape
    torch.testing.assert_close(out.double(), ref, rtol=tol, atol=tol)
    grad = torch.randn(ref.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    grad_out = grad.to(out.dtype)
    if GRAD_LIKE_OUTPUT and out.dim() == 4 and out.is_contiguous(
            memory_format=torch.channels_last):
        grad_out = grad_out.contiguous(memory_format=torch.channels_last)
    got = torch.autograd.grad(out, inputs, grad_out, allow_unused=True)
    want = torch.autograd.grad(ref, ref_inputs, grad, allow_unused=True)
    for g, r in zip(got, want):
        assert (g is None) == (r is None)
        if g is not None:
            assert torch.isfinite(g).all()
            torch.testing.assert_close(g.double(), r.double(), rtol=tol,
                                       atol=tol * max(1.0, r.abs().max()))


def _batchnorm_ok(n: int, h: int, w: int, stride: int) -> bool:
    """BatchNorm in training mode needs more than one value per channel."""
    return n * (-(-h // stride)) * (-(-w // stride)) > 1


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("kernel,stride,dilation", [(3, 1, 1), (3, 2, 1), (5, 2, 1), (3, 1, 2),
                                                    (3, 2, 2), (5, 2, 2), (5, 1, 2), (7, 1, 1),
                                                    (1, 2, 1)])
@pytest.mark.parametrize("path", ["rule", "native", "decomposed", "onednn"])
def test_depthwise_convolution(shape, kernel, stride, dilation, path, monkeypatch):
    """Each path, whatever the size: the rules' choices, the C kernels (forward, stride-1 input
    gradient, weight gradient), the sub-grid decomposition and oneDNN's own (forward and
    backward)."""
    if path == "native" and native.library() is None:
        pytest.skip(f"no C kernels here: {native.failure()}")
    for rule in ("_native_weight_grad", "_native_forward"):
        monkeypatch.setattr(depthwise, rule, {"rule": getattr(depthwise, rule),
                                              "native": lambda *a: True}.get(
                                                  path, lambda *a: False))
    if path != "rule":
        monkeypatch.setattr(depthwise, "_weight_grad_plan",
                            lambda *args: 3 if path == "decomposed" else None)
    x = _input(shape)
    chs = shape[1]
    pad = dilation * (kernel - 1) // 2
    w = torch.randn(chs, 1, kernel, kernel, generator=torch.Generator().manual_seed(1))
    w.requires_grad_(True)
    rx, rw = _reference(x), _reference(w)
    out = depthwise_conv(x, w, stride, pad, dilation)
    ref = F.conv2d(rx, rw, stride=stride, padding=pad, dilation=dilation, groups=chs)
    _check(out, ref, (x, w), (rx, rw))


def _plain_chain(block: DilConv, x: torch.Tensor, w_dw: torch.Tensor, w_pw: torch.Tensor
                 ) -> torch.Tensor:
    """``bn(pw(dw(relu(x))))`` in float64 with the block's configuration, batch statistics."""
    _, dw, _, bn = block
    h = F.conv2d(torch.relu(x), w_dw, stride=dw.stride, padding=dw.padding,
                 dilation=dw.dilation, groups=dw.groups)
    h = F.conv2d(h, w_pw)
    weight = None if bn.weight is None else bn.weight.double()
    bias = None if bn.bias is None else bn.bias.double()
    return F.batch_norm(h, None, None, weight, bias, training=True, eps=bn.eps)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("keep", ["output", "input"])
@pytest.mark.parametrize("mode", ["own_relu", "shared_relu", "scaled", "affine"])
@pytest.mark.parametrize("kernel,stride,dilation", [(3, 1, 2), (5, 2, 2), (3, 2, 1)])
def test_recomputing_blocks(shape, keep, mode, kernel, stride, dilation):
    n, chs, h, w, _ = shape
    if not _batchnorm_ok(n, h, w, stride):
        pytest.skip("BatchNorm needs more than one value per channel")
    torch.manual_seed(2)
    # "affine": an evaluation network's block (its BatchNorm has weight and bias; keeping the
    # output, the block keeps BatchNorm's input)
    block = DilConv(chs, chs, kernel, stride, dilation, affine=keep == "input" or mode == "affine",
                    relu=mode in ("own_relu", "affine"), keep=keep)
    if mode == "affine":
        with torch.no_grad():
            block[3].weight.uniform_(0.5, 1.5)
            block[3].bias.uniform_(-0.5, 0.5)
    if shape[4] != "contiguous":
        block = block.to(memory_format=torch.channels_last)
    x = _input(shape, seed=3)
    rx = _reference(x)
    params = [block[1].weight, block[2].weight]
    ref_params = [p.detach().double().requires_grad_(True) for p in params]
    scale = torch.tensor(0.7, requires_grad=True)
    ref_scale = scale.detach().double().requires_grad_(True)
    if mode in ("own_relu", "affine"):
        out = block(x)
        ref = _plain_chain(block, rx, *ref_params)
        if mode == "affine":  # BatchNorm's weight and bias take gradients too
            params = params + [block[3].weight, block[3].bias]
            ref_params = ref_params + [block[3].weight, block[3].bias]
    elif mode == "shared_relu":
        out = block(relu_keeping_input(x), pre=x)
        ref = _plain_chain(block, rx, *ref_params)
    else:
        out = block(relu_keeping_input(x), pre=x, scale=scale)
        ref = ref_scale * _plain_chain(block, rx, *ref_params)
        params, ref_params = params + [scale], ref_params + [ref_scale]
    if keep == "output" or mode != "scaled":
        assert out.grad_fn.name() == "_ChainBackward"
    _check(out, ref, (x, *params), (rx, *ref_params), tol=1e-3)


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("depthwise_first", [False, True])
def test_recomputing_block_running_statistics(momentum, affine, depthwise_first):
    """Two training forwards of a recomputing block leave BatchNorm's running mean, variance and
    batch count as nn.BatchNorm2d leaves them after the plain chain."""
    torch.manual_seed(21)
    block = (DilConv(6, 6, 3, 1, 2, affine=affine) if depthwise_first
             else ReLUConvBN(6, 6, 1, affine=affine)).to(memory_format=torch.channels_last)
    bn = block[-1]
    bn.momentum = momentum
    twin = nn.BatchNorm2d(6, affine=affine, momentum=momentum)
    twin.load_state_dict(bn.state_dict())
    for seed in (1, 2):
        x = _input((3, 6, 5, 7, "channels_last"), seed=seed)
        block(x)
        h = torch.relu(x)
        if depthwise_first:
            h = F.conv2d(h, block[1].weight, padding=2, dilation=2, groups=6)
        twin(F.conv2d(h, block[-2].weight))
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(bn, name), getattr(twin, name), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("keep", ["output", "input"])
@pytest.mark.parametrize("mode", ["own_relu", "shared_relu", "scaled", "affine"])
def test_recomputing_blocks_with_onednn_pointwise(shape, keep, mode, monkeypatch):
    """The same blocks with the 1x1 convolution (forward and both gradients) and the depthwise
    correlations through oneDNN, as tensors above `recompute.MATMUL_MAX_ROWS` pixels and
    `depthwise._native_forward`'s sizes run: these shapes are all below them."""
    monkeypatch.setattr(recompute, "MATMUL_MAX_ROWS", 0)
    monkeypatch.setattr(recompute, "_fuses", lambda *a: False)
    monkeypatch.setattr(depthwise, "_native_forward", lambda *a: False)
    test_recomputing_blocks(shape, keep, mode, 3, 2, 1)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("mode", ["own_relu", "shared_relu", "scaled", "affine"])
@pytest.mark.parametrize("backward", ["fused", "unfused", "nchw_gradient"])
def test_recomputing_blocks_fused_backward(shape, mode, backward, monkeypatch):
    """Keeping their output, the blocks run BatchNorm's and the pointwise convolution's
    backward in the fused C kernel where the tensors are channels-last (its calls counted);
    as BatchNorm's backward and two products with it turned off; and PyTorch's way where the
    output gradient comes in NCHW order (the kernel passes on)."""
    calls = []
    original = native.batch_norm_pointwise_backward

    def spy(*args, **kwargs):
        found = original(*args, **kwargs)
        calls.append(found is not None)
        return found

    monkeypatch.setattr(native, "batch_norm_pointwise_backward", spy)
    if backward == "unfused":
        monkeypatch.setattr(recompute, "_fuses", lambda *a: False)
    if backward == "nchw_gradient":
        monkeypatch.setitem(globals(), "GRAD_LIKE_OUTPUT", False)
    test_recomputing_blocks(shape, "output", mode, 3, 1, 2)
    # (a 1x1 map is dense in both layouts: the kernel takes it either way)
    channels_last = shape[2] * shape[3] == 1 or (backward == "fused" and shape[4] != "contiguous")
    if backward == "unfused":
        assert not calls
    elif not channels_last:
        assert calls and not any(calls)
    elif native.library() is not None:
        assert calls and all(calls)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_separable_convolution_block_pair(shape):
    n, chs, h, w, _ = shape
    if not _batchnorm_ok(n, h, w, 2):
        pytest.skip("BatchNorm needs more than one value per channel")
    torch.manual_seed(5)
    block = SepConv(chs, chs, 3, 2, affine=False).to(memory_format=torch.channels_last)
    plain = SepConv(chs, chs, 3, 2, affine=False, keep="all")  # plain autograd
    plain.load_state_dict(block.state_dict())
    plain = plain.double()
    x = _input(shape, seed=6)
    out = block(x)
    assert out.grad_fn.name() == "_ChainBackward"
    rx = _reference(x)
    ref = plain(rx)
    assert ref.grad_fn.name() != "_ChainBackward"
    _check(out, ref, (x, *block.parameters()), (rx, *plain.parameters()), tol=1e-3)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("pool", [nn.MaxPool2d(3, 1, 1), nn.MaxPool2d(3, 2, 1),
                                  nn.AvgPool2d(3, 1, 1, count_include_pad=False),
                                  nn.AvgPool2d(3, 2, 1, count_include_pad=False)],
                         ids=["max1", "max2", "avg1", "avg2"])
@pytest.mark.parametrize("shared", [False, True])
def test_pooling_with_batchnorm(shape, pool, shared):
    n, chs, h, w, _ = shape
    if not _batchnorm_ok(n, h, w, pool.stride):
        pytest.skip("BatchNorm needs more than one value per channel")
    op = PoolBN(pool, chs)
    x = _input(shape, seed=8)
    rx = _reference(x)
    out = op(x, {} if shared else None)
    assert out.grad_fn.name() == "_PoolBNBackward"
    ref = F.batch_norm(pool(rx), None, None, training=True, eps=op[1].eps)
    _check(out, ref, (x,), (rx,), tol=1e-3)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_concatenation_and_shared_relu(shape):
    x = _input(shape, seed=9)
    y = _input(shape, seed=10)
    rx, ry = _reference(x), _reference(y)
    out = concat_channels([relu_keeping_input(x), y * 2, x])
    ref = torch.cat([torch.relu(rx), ry * 2, rx], dim=1)
    _check(out, ref, (x, y), (rx, ry), tol=1e-5)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("stride,padding", [(2, 0), (3, 0), (2, 1)])
def test_strided_pointwise_convolution(shape, stride, padding):
    torch.manual_seed(11)
    conv = StridedPointwiseConv2d(shape[1], 6, stride, padding).to(
        memory_format=torch.channels_last)
    x = _input(shape, seed=12)
    rx, rw = _reference(x), _reference(conv.weight)
    out = conv(x)
    ref = F.conv2d(rx, rw, stride=stride, padding=padding)
    _check(out, ref, (x, conv.weight), (rx, rw))


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_factorized_reduce(shape):
    n, chs, h, w, _ = shape
    if not _batchnorm_ok(n, h, w, 2):
        pytest.skip("BatchNorm needs more than one value per channel")
    torch.manual_seed(13)
    fr = FactorizedReduce(chs, 6, affine=True).to(memory_format=torch.channels_last)
    x = _input(shape, seed=14)
    rx = _reference(x)
    wa, wb = _reference(fr.conv_a.weight), _reference(fr.conv_b.weight)
    r = torch.relu(rx)
    shifted = F.pad(r, (0, 1, 0, 1))[:, :, 1:, 1:]
    ref = torch.cat([F.conv2d(r, wa, stride=2), F.conv2d(shifted, wb, stride=2)], dim=1)
    ref = F.batch_norm(ref, None, None, fr.bn.weight.double(), fr.bn.bias.double(),
                       training=True, eps=fr.bn.eps)
    out = fr(x)
    # the CPU path: ReLU on the two subsampled grids, one gradient assembly for x
    assert "_SubsampledGridsBackward" in graph_nodes(out)
    assert "ReluBackward0" in graph_nodes(out)
    _check(out, ref, (x, fr.conv_a.weight, fr.conv_b.weight), (rx, wa, wb), tol=1e-3)



@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("pointwise", ["rule", "unfused", "onednn"])
@pytest.mark.parametrize("after_relu", [False, True, "keeping_input"])
def test_preprocessing_relu_pointwise_batchnorm(shape, affine, pointwise, after_relu,
                                                monkeypatch):
    """A cell's preprocessing (ReLU, 1x1 convolution, BatchNorm) as a recomputing block, its
    backward as the rules run it (the fused C kernel reading the ReLU in place, on these
    channels-last shapes), with the kernel off (a matrix product on these small shapes) and
    through oneDNN (as above `recompute.MATMUL_MAX_ROWS` pixels); running its own ReLU or handed
    the ReLU's output (``after_relu``, a state's ReLU shared by two cells), that ReLU keeping
    its input (``"keeping_input"``, as `Network.forward` runs it on the CPU: the block keeps the
    state and hands the gradient to it, the ReLU's backward applied by the fused kernel)."""
    if pointwise != "rule":
        monkeypatch.setattr(recompute, "_fuses", lambda *a: False)
    if pointwise == "onednn":
        monkeypatch.setattr(recompute, "MATMUL_MAX_ROWS", 0)
    n, chs, h, w, _ = shape
    if not _batchnorm_ok(n, h, w, 1):
        pytest.skip("BatchNorm needs more than one value per channel")
    torch.manual_seed(15)
    block = ReLUConvBN(chs, 5, 1, affine=affine).to(memory_format=torch.channels_last)
    if affine:
        with torch.no_grad():
            block[2].weight.uniform_(0.5, 1.5)
            block[2].bias.uniform_(-0.5, 0.5)
    x = _input(shape, seed=16)
    rx, rw = _reference(x), _reference(block[1].weight)
    if after_relu == "keeping_input":
        out = block(relu_keeping_input(x), after_relu=True, pre=x)
    else:
        out = block(torch.relu(x), after_relu=True) if after_relu else block(x)
    assert out.grad_fn.name() == "_ChainBackward"
    bn = block[2]
    ref = F.batch_norm(F.conv2d(torch.relu(rx), rw), None, None,
                       None if bn.weight is None else bn.weight.double(),
                       None if bn.bias is None else bn.bias.double(), training=True, eps=bn.eps)
    params, ref_params = [block[1].weight], [rw]
    if affine:
        params += [bn.weight, bn.bias]
        ref_params += [bn.weight, bn.bias]
    _check(out, ref, (x, *params), (rx, *ref_params), tol=1e-3)


# channels-last shapes with fewer than 16 channels whose width the pixel groups divide
NARROW = [(2, 8, 4, 6), (3, 4, 5, 8), (2, 6, 3, 9), (1, 3, 7, 12), (4, 5, 2, 4)]


@pytest.mark.parametrize("shape", NARROW, ids=[f"{n}x{c}x{h}x{w}" for n, c, h, w in NARROW])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("path", ["native", "narrow"])
def test_narrow_batchnorm_forward_matches_pytorch(shape, dtype, affine, momentum, path,
                                                  monkeypatch):
    """Below 16 channels the training forward runs in the C kernel (`native.batch_norm_forward`)
    or, without it, takes its statistics from the pixel groups (`recompute._narrow_batch_norm`):
    either way output, batch mean, inverse deviation and the running statistics after two
    batches as nn.BatchNorm2d's own forward (the size floor is lifted: these shapes are all
    below it)."""
    from genospec.nn import recompute

    if path == "native" and native.library() is None:
        pytest.skip(f"no C kernels here: {native.failure()}")
    monkeypatch.setattr(recompute, "NARROW_MIN_ELEMENTS", 0)
    if path == "narrow":
        monkeypatch.setattr(recompute, "_native_batch_norm", lambda h: False)
    calls = []
    original = native.batch_norm_forward
    monkeypatch.setattr(native, "batch_norm_forward",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    ours = nn.BatchNorm2d(shape[1], affine=affine, momentum=momentum).to(dtype)
    if affine:
        with torch.no_grad():
            ours.weight.uniform_(0.5, 1.5)
            ours.bias.uniform_(-0.5, 0.5)
    theirs = nn.BatchNorm2d(shape[1], affine=affine, momentum=momentum).to(dtype)
    theirs.load_state_dict(ours.state_dict())
    gen = torch.Generator().manual_seed(21)
    for _ in range(2):
        x = (torch.randn(shape, generator=gen, dtype=dtype) * 3 + 2).contiguous(
            memory_format=torch.channels_last)
        assert recompute._pixel_groups(x) > 0
        out, mean, invstd = recompute._batch_norm_updating_stats(x, ours)
        ref, ref_mean, ref_invstd = torch.ops.aten.native_batch_norm(
            x, theirs.weight, theirs.bias, theirs.running_mean, theirs.running_var, True,
            0.0 if momentum is None else momentum, theirs.eps)
        if momentum is None:  # nn.BatchNorm2d's cumulative average, done by hand for theirs
            theirs.num_batches_tracked.add_(1)
            with torch.no_grad():
                factor = 1.0 / float(theirs.num_batches_tracked)
                n = x.numel() // shape[1]
                var = x.transpose(0, 1).reshape(shape[1], -1).var(1, unbiased=False) * n / (n - 1)
                theirs.running_mean.mul_(1 - factor).add_(ref_mean, alpha=factor)
                theirs.running_var.mul_(1 - factor).add_(var, alpha=factor)
        else:
            theirs.num_batches_tracked.add_(1)
        assert out.is_contiguous(memory_format=torch.channels_last)
        for got, want in ((out, ref), (mean, ref_mean), (invstd, ref_invstd)):
            torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(ours, name), getattr(theirs, name), rtol=tol, atol=tol)
    assert bool(calls) == (path == "native")


@pytest.mark.parametrize("shape", [(2, 8, 4, 6, "channels_last"), (3, 4, 5, 8, "channels_last")],
                         ids=["2x8x4x6", "3x4x5x8"])
@pytest.mark.parametrize("mode", ["own_relu", "shared_relu", "scaled", "affine"])
def test_recomputing_blocks_with_narrow_batchnorm_forward(shape, mode, monkeypatch):
    """The recomputing blocks (values and every gradient) with the pixel-group statistics (the
    fused kernels off: they take these blocks otherwise)."""
    monkeypatch.setattr(recompute, "NARROW_MIN_ELEMENTS", 0)
    monkeypatch.setattr(recompute, "_fuses", lambda *a: False)
    monkeypatch.setattr(recompute, "_native_batch_norm", lambda h: False)
    calls = []
    original = recompute._narrow_batch_norm

    def spy(*args):
        calls.append(args[0].shape)
        return original(*args)

    monkeypatch.setattr(recompute, "_narrow_batch_norm", spy)
    test_recomputing_blocks(shape, "output", mode, 3, 1, 2)
    assert calls
