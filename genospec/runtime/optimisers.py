"""The weight optimiser and the gradient clipping that search and training share.

Both are PyTorch's own arithmetic, run over the whole parameter list in one call per operation
instead of a Python loop over parameters: PyTorch chooses its multi-tensor (``foreach``)
implementation by itself only on GPUs, and on the CPU loops in Python: per parameter and step
four operations for SGD (weight decay, momentum's two, the update) and two for clipping (its
norm, its scaling), each dispatched on its own. The numbers are the same bit for bit (tests/test_optimisers.py).
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor, nn


def sgd(params: Iterable[nn.Parameter], lr: float, momentum: float, decay: float
        ) -> torch.optim.SGD:
    """SGD with momentum and weight decay, the multi-tensor implementation on every device."""
    return torch.optim.SGD(params, lr, momentum=momentum, weight_decay=decay, foreach=True)


def clip_gradients(params: Iterable[nn.Parameter], max_norm: float) -> Tensor:
    """Scale the gradients so that their joint 2-norm is at most ``max_norm``: what
    ``nn.utils.clip_grad_norm_`` computes (the same norms, their norm, the factor
    ``min(1, max_norm / (norm + 1e-6))`` applied to every gradient), one call per step of it for
    all the gradients of one device and dtype. Returns the norm before clipping."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    groups: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for g in grads:
        groups.setdefault((g.device, g.dtype), []).append(g)
    with torch.no_grad():
        norms = [n for group in groups.values() for n in torch._foreach_norm(group, 2.0)]
        first = grads[0].device
        total = torch.linalg.vector_norm(torch.stack([n.to(first) for n in norms]), 2.0)
        factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
        for (device, _), group in groups.items():
            torch._foreach_mul_(group, factor.to(device))
    return total
