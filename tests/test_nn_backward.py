"""The CPU backward paths of genospec.nn: the depthwise convolution's own backward agrees with
PyTorch's convolution (to double-precision rounding) for every stride/dilation/padding/kernel
combination, and channel concatenation hands back dense gradients."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn import functional as F

from genospec.nn.depthwise import DepthwiseConv2d, _weight_grad_plan, depthwise_conv, phase_terms
from genospec.nn.ops import DilConv, SepConv

CONFIGS = [(k, s, d, p) for k, s, d in itertools.product((1, 2, 3, 5), (1, 2, 3), (1, 2))
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
    assert _weight_grad_plan(3, 2, 2, 16) == 3
    assert _weight_grad_plan(5, 1, 1, 32) == 3
    assert _weight_grad_plan(5, 1, 2, 8) == 3
    assert _weight_grad_plan(3, 1, 1, 32) is None
    assert _weight_grad_plan(5, 1, 2, 32) is None


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


def _plain(module, x):
    """The module's chain through plain autograd (no recomputation)."""
    relu, dw, pw, bn = module
    return bn(pw(torch.nn.functional.conv2d(relu(x), dw.weight, stride=dw.stride,
                                            padding=dw.padding, dilation=dw.dilation,
                                            groups=dw.groups)))


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("kernel,stride,dilation", [(3, 1, 1), (5, 2, 1), (3, 2, 2), (5, 1, 2)])
def test_recomputed_chain_matches_plain_autograd(affine, kernel, stride, dilation):
    """With ``recompute`` (`supernet checkpoint ops`) DilConv keeps only its input for backward
    and recomputes its convolutions: same output, gradients and running statistics."""
    import copy

    torch.manual_seed(4)
    fused = DilConv(6, 6, kernel, stride, dilation, affine=affine).double()
    plain = copy.deepcopy(fused)
    fused.recompute = True
    x = torch.randn(3, 6, 9, 9, dtype=torch.float64, requires_grad=True)
    out = fused(x)
    assert out.grad_fn.name() == "_RecomputedChainBackward"
    ref = _plain(plain, x)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, [x, *fused.parameters()], grad)
    want = torch.autograd.grad(ref, [x, *plain.parameters()], grad)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-10)
    for (name, a), b in zip(fused.state_dict().items(), plain.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=name)


def test_recomputed_chain_saves_only_its_input():
    torch.manual_seed(5)
    block = DilConv(8, 8, 3, 1, 2, affine=False)
    block.recompute = True
    x = torch.randn(2, 8, 16, 16, requires_grad=True)
    big: list[tuple[int, ...]] = []

    def pack(t):
        if t.numel() >= x.numel():
            big.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        block(x)
    assert big == [(2, 8, 16, 16), (2, 8, 16, 16)]  # the ReLU's output, shared with the chain


def test_recomputed_chain_supports_double_backward():
    torch.manual_seed(6)
    block = DilConv(2, 2, 3, 1, 2, affine=True).double()
    block.recompute = True
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: block(t), (x,))
