"""Export a network with `torch.export`: the ``.pt2`` file loads with ``torch.export.load`` in a
process that has torch but not genospec, and runs on any batch size."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import torch
from torch import nn


def export_network(model: nn.Module, path: str | Path, input_shape: Sequence[int]) -> Path:
    """Export ``model`` in eval mode for (N, *input_shape) inputs (N free) and save it to ``path``.

    Load with ``torch.export.load(path).module()``; it maps a batch to logits.
    """
    path = Path(path)
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        example = torch.zeros(2, *input_shape, device=param.device if param is not None else None)
        batch = torch.export.Dim("batch", min=1)
        program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    finally:
        model.train(was_training)
    with warnings.catch_warnings():  # torch's note on weights it groups, not the user's concern
        warnings.filterwarnings("ignore", message="No complete tensor found")
        torch.export.save(program, path)
    return path
