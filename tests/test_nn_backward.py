"""The CPU backward paths of genospec.nn: the depthwise convolution's own backward agrees with
PyTorch's convolution (to double-precision rounding) for every stride/dilation/padding/kernel
combination, and channel concatenation hands back dense gradients."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from torch.nn import functional as F

from genospec.nn.depthwise import (DepthwiseConv2d, _native_weight_grad, _weight_grad_plan,
                                   depthwise_conv, phase_terms)
from genospec.nn.ops import DilConv, PoolBN, SepConv
from genospec.nn.recompute import recomputed_chain, relu_keeping_input

CONFIGS = [(k, s, d, p) for k, s, d in itertools.product((1, 2, 3, 5, 7), (1, 2, 3), (1, 2))
           for p in sorted({0, d * (k - 1) // 2, d * (k - 1)})]


@pytest.mark.parametrize("kernel,stride,dilation,padding", CONFIGS)
@pytest.mark.parametrize("size", [(8, 8), (9, 6)])
def test_gradients_match_torch_convolution(kernel, stride, dilation, padding, size):
    if min(size) + 2 * padding < dilation * (kernel - 1) + 1:
        pytest.skip("the filter is larger than the padded input")
    torch.manual_seed(0)
    conv = DepthwiseConv2d(3, kernel, stride, padding, dilation).double()
    x = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    out = conv(x)
    assert out.grad_fn.name().endswith("_DepthwiseFnBackward")
    grad = torch.randn_like(out)
    gx, gw = torch.autograd.grad(out, (x, conv.weight), grad)
    ref = F.conv2d(x, conv.weight, stride=stride, padding=padding, dilation=dilation, groups=3)
    rgx, rgw = torch.autograd.grad(ref, (x, conv.weight), grad)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(gx, rgx, rtol=0, atol=1e-11)
    torch.testing.assert_close(gw, rgw, rtol=0, atol=1e-11)


@pytest.mark.parametrize("stride,dilation,kernel,size", [(1, 2, 5, 32), (2, 2, 3, 32),
                                                          (2, 2, 5, 16), (1, 1, 5, 32),
                                                          (1, 2, 5, 8), (2, 1, 5, 16)])
def test_channels_last_float_paths(stride, dilation, kernel, size):
    """The float32 channels-last tensors of a CPU search, through every rule of the plan."""
    torch.manual_seed(1)
    pad = dilation * (kernel - 1) // 2
    x = torch.randn(4, 8, size, size).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    w = torch.randn(8, 1, kernel, kernel, requires_grad=True)
    out = depthwise_conv(x, w, stride, pad, dilation)
    grad = torch.randn_like(out)
    gx, gw = torch.autograd.grad(out, (x, w), grad)
    ref = F.conv2d(x, w, stride=stride, padding=pad, dilation=dilation, groups=8)
    rgx, rgw = torch.autograd.grad(ref, (x, w), grad)
    torch.testing.assert_close(gx, rgx, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gw, rgw, rtol=1e-4, atol=1e-3)


def test_double_backward_is_supported():
    torch.manual_seed(2)
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda a, b: depthwise_conv(a, b, 2, 2, 2), (x, w))


def test_phase_terms_cover_every_tap_and_output_once():
    for n_out, kernel, stride, dilation in itertools.product((5, 8), (3, 5), (1, 2, 3), (1, 2, 3)):
        for block in (None, 3, 2):
            seen = set()
            for t in phase_terms(n_out, kernel, stride, dilation, block):
                for u in range(t.count):
                    for j, tap in enumerate(t.taps):
                        h = t.out_start + t.out_step * u
                        # the term reads the padded input where the strided, dilated layer does
                        assert t.in_start + t.in_step * (u + j) == stride * h + dilation * tap
                        assert (h, tap) not in seen
                        seen.add((h, tap))
            assert seen == set(itertools.product(range(n_out), range(kernel)))


def test_weight_grad_plan_rule():
    big, mid, small = 64 * 16 * 32 * 32, 32 * 16 * 16 * 16, 8 * 8 * 32 * 32
    assert _weight_grad_plan(3, 2, 2, small) == 3 and _weight_grad_plan(5, 2, 2, big) == 3
    assert _weight_grad_plan(3, 2, 2, 8 * 16 * 16) is None  # a batch-1 tensor: oneDNN's one call
    assert _weight_grad_plan(3, 1, 2, big) == 3 and _weight_grad_plan(3, 1, 2, mid) == 3
    assert _weight_grad_plan(3, 1, 2, small) is None
    assert _weight_grad_plan(5, 1, 2, big) == 3 and _weight_grad_plan(5, 1, 2, mid) is None
    assert _weight_grad_plan(5, 1, 1, big) == 3 and _weight_grad_plan(5, 1, 1, mid) is None
    assert _weight_grad_plan(3, 1, 1, big) is None


def test_native_weight_grad_rule():
    """The C kernel everywhere but where oneDNN's undilated stride-1 3x3 is as fast."""
    big, small = 64 * 16 * 32 * 32, 32 * 16 * 16 * 16
    assert not _native_weight_grad(3, 1, 1, big) and _native_weight_grad(3, 1, 1, small)
    for kernel, stride, dilation in [(3, 2, 1), (3, 1, 2), (5, 1, 1), (5, 2, 2), (7, 1, 2)]:
        assert _native_weight_grad(kernel, stride, dilation, big)


def test_plain_convolution_where_no_gradient_is_taken():
    conv = DepthwiseConv2d(4, 3, 1, 2, 2)
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        assert conv(x).grad_fn is None
    assert conv(x).grad_fn.name().endswith("_DepthwiseFnBackward")  # weight requires grad
    conv.weight.requires_grad_(False)
    assert conv(x).grad_fn is None


def test_ops_keep_their_parameters_and_state_dict_names():
    dil, sep = DilConv(16, 16, 3, 1, 2, affine=False), SepConv(16, 16, 5, 2, affine=True)
    assert isinstance(dil[1], DepthwiseConv2d)
    assert sum(p.numel() for p in dil.parameters()) == 16 * 9 + 16 * 16
    assert sum(p.numel() for p in sep.parameters()) == 2 * (16 * 25 + 16 * 16 + 2 * 16)
    assert list(dil.state_dict()) == ["1.weight", "2.weight", "3.running_mean", "3.running_var",
                                      "3.num_batches_tracked"]


def test_concat_channels_gives_dense_gradients_in_each_inputs_layout():
    from genospec.nn.concat import concat_channels

    torch.manual_seed(3)
    parts = [torch.randn(2, c, 4, 4).contiguous(memory_format=torch.channels_last).requires_grad_()
             for c in (3, 5)] + [torch.randn(2, 2, 4, 4, requires_grad=True)]
    out = concat_channels(parts)
    torch.testing.assert_close(out, torch.cat(parts, dim=1), rtol=0, atol=0)
    grad = torch.randn_like(out).contiguous(memory_format=torch.channels_last)
    grads = torch.autograd.grad(out, parts, grad)
    for g, p, ref in zip(grads, parts, torch.split(grad, [3, 5, 2], dim=1)):
        torch.testing.assert_close(g, ref, rtol=0, atol=0)
        if p.is_contiguous():
            assert g.is_contiguous()
        else:
            assert g.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert concat_channels(parts).grad_fn is None


def _twin(make, keep):
    """``make(keep)``, and ``make("all")`` (plain autograd) with the same weights."""
    block, plain = make(keep), make("all")
    plain.load_state_dict(block.state_dict())
    return block, plain


def _big_saved(fn, x, *, min_numel=None):
    """Run ``fn(x)``; the storages (data pointers) of the tensors its graph keeps for backward
    that are at least as large as ``x``."""
    kept: list[int] = []

    def pack(t):
        if t.numel() >= (min_numel or x.numel()):
            kept.append(t.untyped_storage().data_ptr())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(x)
    return out, set(kept)


def _assert_same_training(module, plain, run, x, extra=()):
    """Output, every gradient (also for the tensors ``extra``) and the running statistics of
    ``run(module, x)`` agree with the plain module's (double precision)."""
    out, ref = run(module, x), run(plain, x)
    grad = torch.randn_like(out)
    params = [p for p in module.parameters() if p.requires_grad]
    got = torch.autograd.grad(out, [x, *params, *extra], grad)
    want = torch.autograd.grad(
        ref, [x, *(p for p in plain.parameters() if p.requires_grad), *extra], grad)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-10)
    for (name, a), b in zip(module.state_dict().items(), plain.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=name)


def _own_relu(module, x):
    return module(x)


def _shared_relu(module, x):
    """A block built without its ReLU, run on an edge's shared ReLU of ``x``, keeping ``x``."""
    return module(relu_keeping_input(x), pre=x)


BLOCKS = [(3, 1, 1), (5, 2, 1), (3, 2, 2), (5, 1, 2)]


def _block_and_plain(kernel, stride, dilation, affine, keep, relu):
    """A separable (dilation 1) or dilated convolution in float64 keeping ``keep``, and its
    plain-autograd twin; with ``relu == "shared"`` both are built without their leading ReLU.
    Affine BatchNorms get weights and biases away from their initial 1 and 0 (signs mixed)."""
    def make(k):
        if dilation == 1:
            return SepConv(6, 6, kernel, stride, affine=affine, relu=relu == "own", keep=k).double()
        return DilConv(6, 6, kernel, stride, dilation, affine=affine, relu=relu == "own",
                       keep=k).double()

    block = make(keep)
    if affine:
        with torch.no_grad():
            for bn in (m for m in block.modules() if isinstance(m, torch.nn.BatchNorm2d)):
                signs = torch.tensor([(-1.0) ** i for i in range(bn.num_features)])
                bn.weight.copy_(torch.linspace(0.5, 2.0, bn.num_features) * signs)
                bn.bias.uniform_(-0.5, 0.5)
    plain = make("all")
    plain.load_state_dict(block.state_dict())
    return block, plain


@pytest.mark.parametrize("keep,affine", [("output", False), ("input", False), ("input", True),
                                         ("output", True)])
@pytest.mark.parametrize("kernel,stride,dilation", BLOCKS)
@pytest.mark.parametrize("relu", ["own", "shared"])
def test_recomputing_blocks_match_plain_autograd(keep, affine, kernel, stride, dilation, relu):
    """Separable and dilated convolutions that keep only their input (and output) for backward
    compute the plain chain's output, gradients and running statistics; with the edge's shared
    ReLU as well."""
    torch.manual_seed(4)
    block, plain = _block_and_plain(kernel, stride, dilation, affine, keep, relu)
    run = _own_relu if relu == "own" else _shared_relu
    x = torch.randn(3, 6, 9, 9, dtype=torch.float64, requires_grad=True)
    assert run(block, x).grad_fn.name() == "_ChainBackward"
    assert run(plain, x).grad_fn.name() != "_ChainBackward"
    _assert_same_training(block, plain, run, x)


@pytest.mark.parametrize("keep", ["output", "input"])
@pytest.mark.parametrize("kernel,stride,dilation", BLOCKS)
@pytest.mark.parametrize("relu", ["own", "shared"])
def test_scaled_blocks_match_the_scaled_plain_chain(keep, kernel, stride, dilation, relu):
    """An op's mixing weight applied inside BatchNorm (``scale``): the plain chain's output times
    the weight, with the weight's gradient and every other gradient and running statistic."""
    torch.manual_seed(14)
    block, plain = _block_and_plain(kernel, stride, dilation, False, keep, relu)
    scale = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)

    def run(module, t, s=scale):
        if relu == "own":
            return s * module(t) if module is plain else module(t, scale=s)
        r = relu_keeping_input(t)
        return s * module(r, pre=t) if module is plain else module(r, pre=t, scale=s)

    x = torch.randn(3, 6, 9, 9, dtype=torch.float64, requires_grad=True)
    assert run(block, x).grad_fn.name() == "_ChainBackward"
    assert run(plain, x).grad_fn.name() == "MulBackward0"  # both have run once
    _assert_same_training(block, plain, run, x, extra=[scale])
    # differentiable twice, in the input and in the scale
    small = torch.randn(2, 6, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t, s: run(block, t, s), (small, scale))


def test_a_vanishing_scale_is_applied_outside_batchnorm():
    """Backward from a scaled output divides by the scale: a weight that has all but vanished
    (softmax underflow) multiplies the output instead, and its gradients stay finite."""
    block = DilConv(4, 4, 3, 1, 2, affine=False)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    for value, inside in ((0.5, True), (1e-30, False)):
        scale = torch.tensor(value, requires_grad=True)
        out = block(x, scale=scale)
        assert (out.grad_fn.name() == "_ChainBackward") is inside
        out.sum().backward()
        assert torch.isfinite(x.grad).all() and torch.isfinite(scale.grad)
    with pytest.raises(ValueError, match="affine-free BatchNorm"):
        recomputed_chain(x, block[1], block[2], block[3], scale=torch.tensor(1e-30))


def test_affine_block_keeps_its_output_where_it_gives_back_batchnorm_input():
    """An affine BatchNorm's output gives back the normalised activation, ``(y - beta) /
    gamma``, where no ``|beta|`` is large against its ``|gamma|``: an evaluation network's
    separable convolution then keeps its input and each block's output (the first block's is the
    second block's input): three activations where plain autograd keeps six. Where a channel's
    ``gamma`` is 0, or small against its ``beta``, each block keeps BatchNorm's input instead
    (four), and the gradients stay those of the plain chain."""
    torch.manual_seed(4)
    x = torch.randn(2, 8, 16, 16, requires_grad=True)
    plain = SepConv(8, 8, 3, 1, affine=True, keep="all")
    _, plain_kept = _big_saved(plain, x)
    assert len(plain_kept) == 6  # per block the ReLU's, depthwise and pointwise outputs
    for gamma, beta, count in ((1.0, 0.0, 3), (-0.5, 3.9, 3), (0.0, 0.0, 4), (0.1, 0.9, 4),
                               (1e-7, 0.0, 4)):
        block = SepConv(8, 8, 3, 1, affine=True)
        assert block[0].keep == "output"
        with torch.no_grad():
            for bn in (block[0][3], block[1][3]):
                bn.weight[3] = gamma
                bn.bias[3] = beta
        out, kept = _big_saved(block, x)
        assert out.grad_fn.name() == "_ChainBackward"
        assert x.untyped_storage().data_ptr() in kept
        assert (out.untyped_storage().data_ptr() in kept) is (count == 3), (gamma, beta)
        assert len(kept) == count, (gamma, beta)
        # float32 gradients as close to float64's as plain autograd's in float32
        twin = SepConv(8, 8, 3, 1, affine=True, keep="all")
        twin.load_state_dict(block.state_dict())
        exact = copy.deepcopy(twin).double()
        grad = torch.randn_like(out)
        got = torch.autograd.grad(out, [x, *block.parameters()], grad)
        plain32 = torch.autograd.grad(twin(x), [x, *twin.parameters()], grad)
        xd = x.detach().double().requires_grad_(True)
        want = torch.autograd.grad(exact(xd), [xd, *exact.parameters()], grad.double())
        for g, g32, w in zip(got, plain32, want):
            err, err32 = (g.double() - w).abs().max(), (g32.double() - w).abs().max()
            assert err <= 3 * err32 + 1e-7 * w.abs().max(), (gamma, beta, err, err32)


@pytest.mark.parametrize("keep", ["output", "input", "all"])
def test_what_a_separable_convolution_keeps_for_backward(keep):
    """Plain autograd keeps five activations of a separable convolution beside the shared ReLU's
    output; keeping outputs, the edge input and the two blocks' outputs; keeping inputs, the
    edge input and the second block's input."""
    torch.manual_seed(5)
    block = SepConv(8, 8, 3, 1, affine=False, relu=False, keep=keep)
    x = torch.randn(2, 8, 16, 16, requires_grad=True)
    out, kept = _big_saved(lambda t: _shared_relu(block, t), x)
    if keep == "output":
        assert len(kept) == 3 and x.untyped_storage().data_ptr() in kept
        assert out.untyped_storage().data_ptr() in kept
    elif keep == "input":
        assert len(kept) == 2 and x.untyped_storage().data_ptr() in kept
        assert out.untyped_storage().data_ptr() not in kept
    else:
        assert len(kept) == 7  # x (the ReLU's input), ReLU out, dw, pw, ReLU, dw, pw


def test_frozen_weights_recompute_nothing(monkeypatch):
    """In a search's architecture phase the weights take no gradient: the block runs backward
    from what it kept, without recomputing its depthwise convolution."""
    from genospec.nn import recompute

    calls = []
    original = recompute._depthwise
    monkeypatch.setattr(recompute, "_depthwise", lambda *a: calls.append(1) or original(*a))
    block = DilConv(4, 4, 3, 1, 2, affine=False)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    block(x).sum().backward()
    assert len(calls) == 2  # forward and the recomputation for the weight gradients
    block.requires_grad_(False)
    block(x).sum().backward()
    assert len(calls) == 3 and x.grad is not None


@pytest.mark.parametrize("keep,affine", [("output", False), ("input", True)])
@pytest.mark.parametrize("relu", ["own", "shared"])
def test_recomputing_blocks_support_double_backward(keep, affine, relu):
    torch.manual_seed(6)
    block = DilConv(2, 2, 3, 1, 2, affine=affine, relu=relu == "own", keep=keep).double()
    run = _own_relu if relu == "own" else _shared_relu
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    weights = list(block.parameters())
    assert torch.autograd.gradgradcheck(lambda t: run(block, t), (x,))
    # gradients with respect to the weights, differentiated again
    g = torch.autograd.grad(run(block, x).pow(2).sum(), weights[:2], create_graph=True)
    (sum(t.pow(2).sum() for t in g)).backward()
    assert all(w.grad is not None and torch.isfinite(w.grad).all() for w in weights[:2])
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("affine", [False, True])
def test_preprocessing_after_a_shared_relu_matches_and_supports_double_backward(affine):
    """A cell's preprocessing handed its input's ReLU (``after_relu``): the plain chain's
    output and gradients, and differentiable twice."""
    from genospec.nn.ops import ReLUConvBN

    torch.manual_seed(16)
    block = ReLUConvBN(3, 4, 1, affine=affine).double()
    plain = ReLUConvBN(3, 4, 1, affine=affine).double()
    plain.load_state_dict(block.state_dict())
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64, requires_grad=True)

    def run(module, t):
        if module is plain:
            relu, conv, bn = plain
            return bn(conv(relu(t)))  # plain autograd
        return module(torch.relu(t), after_relu=True)

    assert run(block, x).grad_fn.name() == "_ChainBackward"
    assert run(plain, x).grad_fn.name() != "_ChainBackward"  # both have run once
    _assert_same_training(block, plain, run, x)
    assert torch.autograd.gradgradcheck(lambda t: run(block, t), (x,))
    with pytest.raises(ValueError, match="no ReLU to skip"):
        ReLUConvBN(3, 4, 1, relu=False)(x, after_relu=True)


@pytest.mark.parametrize("pool", [torch.nn.MaxPool2d(3, 1, 1), torch.nn.MaxPool2d(3, 2, 1),
                                  torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False),
                                  torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)],
                         ids=["max1", "max2", "avg1", "avg2"])
def test_pooling_with_batchnorm_keeps_only_its_input(pool):
    """A supernet's pooling op and its affine-free BatchNorm: the plain pair's output, gradient and
    running statistics, keeping only the input (no pooled copy, no int64 indices)."""
    torch.manual_seed(7)
    pair, plain = _twin(lambda keep: PoolBN(pool, 5, keep).double(), "input")
    x = torch.randn(3, 5, 9, 9, dtype=torch.float64, requires_grad=True)
    _assert_same_training(pair, plain, _own_relu, x)
    out, kept = _big_saved(pair, x, min_numel=6)  # anything larger than the 5-channel statistics
    assert out.grad_fn.name() == "_PoolBNBackward"
    assert kept == {x.untyped_storage().data_ptr()}
    assert torch.autograd.gradgradcheck(lambda t: pair(t), (x,))


def test_mixed_edge_sum_and_gradients_match_plain_ops():
    """The mixed edge's in-place weighted sum and shared ReLU: the plain ops' result, with
    gradients for the input and for the mixing weights; the shared ReLU's output is not kept."""
    from genospec.ir import Edge, OpDef
    from genospec.nn.mixed import EdgeMix, MixedEdge

    torch.manual_seed(8)
    ops = {"sep": OpDef("sep", "sep_conv", (3,)), "dil": OpDef("dil", "dil_conv", (3,), (("dilation", 2),)),
           "max": OpDef("max", "max_pool", (3,)), "skip": OpDef("skip", "identity")}
    edge = MixedEdge(Edge(0, 2, tuple(ops)), ops, 4, 1, affine=False).double()
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64, requires_grad=True)
    w = torch.softmax(torch.randn(4, dtype=torch.float64), 0)
    # mixing weights without gradient (a search's weight phase):
    # x, the separable blocks' outputs (2), the dilated block's output
    _, kept = _big_saved(lambda t: edge(t, EdgeMix(w, (0, 1, 2, 3))), x)
    assert len(kept) == 4 and x.untyped_storage().data_ptr() in kept
    # the mixing weights' gradient needs every op's output: the pooled one as well
    w.requires_grad_()
    out, kept = _big_saved(lambda t: edge(t, EdgeMix(w, (0, 1, 2, 3))), x)
    assert len(kept) == 5
    plain_edge = MixedEdge(Edge(0, 2, tuple(ops)), ops, 4, 1, affine=False, keep="all").double()
    plain_edge.load_state_dict(edge.state_dict())
    plain_ops = plain_edge.ops
    ref = sum(w[i] * (m(torch.relu(x)) if i < 2 else m(x)) for i, m in enumerate(plain_ops))
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, [x, w], grad)
    want = torch.autograd.grad(ref, [x, w], grad)
    for g, h in zip(got, want):
        torch.testing.assert_close(g, h, rtol=1e-9, atol=1e-10)


def test_mixed_edge_sum_promotes_like_plain_addition_under_autocast():
    """Under autocast the ops of an edge return different dtypes; the in-place sum must not
    round the total down to the first op's dtype."""
    from genospec.ir import Edge, OpDef
    from genospec.nn.mixed import EdgeMix, MixedEdge

    torch.manual_seed(9)
    ops = {"skip": OpDef("skip", "identity"), "sep": OpDef("sep", "sep_conv", (3,))}
    edge = MixedEdge(Edge(0, 2, tuple(ops)), ops, 4, 1, affine=False)
    x = torch.randn(2, 4, 8, 8, dtype=torch.bfloat16, requires_grad=True)
    w = torch.tensor([0.25, 0.75])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        parts = [edge.ops[0](x), edge.ops[1](torch.relu(x))]
        want = w[0] * parts[0] + w[1] * parts[1]
        out = edge(x, EdgeMix(w, (0, 1)))
    assert out.dtype == want.dtype
    torch.testing.assert_close(out, want, rtol=1e-2, atol=1e-2)  # bf16 rounding, order of sums
