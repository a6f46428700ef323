"""genospec's weight optimiser and gradient clipping (`genospec.runtime.optimisers`) give PyTorch's
own numbers bit for bit: the multi-tensor implementation is chosen for speed only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genospec.runtime import optimisers


def _params(dtype: torch.dtype) -> list[nn.Parameter]:
    gen = torch.Generator().manual_seed(3)
    shapes = [(16, 16, 1, 1), (32, 1, 3, 3), (8,), (64, 16, 1, 1), (10,), (1,)]
    return [nn.Parameter(torch.randn(s, generator=gen, dtype=dtype)) for s in shapes]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [0.01, 10.0])  # below the clipping norm and above it
def test_sgd_and_clipping_equal_pytorch_single_tensor_loop(dtype, scale):
    ours, theirs = _params(dtype), _params(dtype)
    opt = optimisers.sgd(ours, 0.025, 0.9, 3e-4)
    ref = torch.optim.SGD(theirs, 0.025, momentum=0.9, weight_decay=3e-4, foreach=False)
    gen = torch.Generator().manual_seed(4)
    for _ in range(4):
        for a, b in zip(ours, theirs):
            g = torch.randn(a.shape, generator=gen, dtype=dtype) * scale
            a.grad, b.grad = g.clone(), g.clone()
        ours[2].grad = theirs[2].grad = None  # a parameter without a gradient this step
        norm = optimisers.clip_gradients(ours, 5.0)
        ref_norm = nn.utils.clip_grad_norm_(theirs, 5.0, foreach=False)
        assert torch.equal(norm, ref_norm)
        opt.step()
        ref.step()
        for a, b in zip(ours, theirs):
            assert torch.equal(a, b)
    if scale > 5.0:
        assert float(ref_norm) > 5.0  # the clipping did scale


def test_clipping_without_gradients_returns_zero():
    assert float(optimisers.clip_gradients(_params(torch.float32), 1.0)) == 0.0
