"""Parameter and multiply-add counts of a built network."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def count_parameters(model: nn.Module, exclude_auxiliary: bool = False) -> int:
    """Number of parameter entries; ``exclude_auxiliary`` leaves out ``model.auxiliary_head``."""
    skip: set[int] = set()
    aux = getattr(model, "auxiliary_head", None)
    if exclude_auxiliary and aux is not None:
        skip = {id(p) for p in aux.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def _conv_macs(module: nn.Conv2d, output: torch.Tensor) -> int:
    kh, kw = module.kernel_size
    per_output = (module.in_channels // module.groups) * kh * kw
    return output[0].numel() * per_output


def _linear_macs(module: nn.Linear, output: torch.Tensor) -> int:
    return output[0].numel() * module.in_features


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of convolutions and linear layers for one input of ``input_shape`` (C, H, W).

    Measured with forward hooks on an eval-mode forward (no auxiliary head, no drop path); the
    model's training flag is restored afterwards.
    """
    total = 0

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += _conv_macs(module, output) if isinstance(module, nn.Conv2d) else _linear_macs(module, output)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters(), None)
        x = torch.zeros(1, *input_shape, device=param.device if param is not None else None)
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total
