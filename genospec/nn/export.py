"""Export a network as TorchScript: the file loads with ``torch.jit.load`` in a process that has
torch but not genospec."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn


def export_network(model: nn.Module, path: str | Path, input_shape: Sequence[int]) -> Path:
    """Trace ``model`` in eval mode on a zero batch of one ``input_shape`` (C, H, W) image and save
    it to ``path``; the saved module maps a (N, C, H, W) batch to logits."""
    path = Path(path)
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        example = torch.zeros(1, *input_shape, device=param.device if param is not None else None)
        with torch.no_grad():
            traced = torch.jit.trace(model, example)
    finally:
        model.train(was_training)
    traced.save(str(path))
    return path
