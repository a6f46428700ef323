"""The one evaluation of search and training runs: loss, top-1 and top-5 on a split."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data import Split, iterate


@dataclass(frozen=True)
class Evaluation:
    loss: float
    top1: float
    top5: float


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch: int, device: str | torch.device = "cpu", *,
             batch_statistics: bool = False) -> Evaluation:
    """Mean cross-entropy, top-1 and top-5 accuracy of ``model`` on ``split`` (in order, no
    augmentation); a forward that returns ``(logits, aux_logits)`` is scored on ``logits``.

    ``batch_statistics``: BN normalises with each batch's own statistics and leaves the running
    ones untouched (a supernet's running statistics trail its fast-changing weights and hardly
    exist after a short run; DARTS-PT measures its supernets this way). Otherwise the model is
    evaluated in eval mode. The model's mode is restored afterwards."""
    was_training = model.training
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    tracked = [m.track_running_stats for m in norms]
    model.train(batch_statistics)
    if batch_statistics:
        for m in norms:
            m.track_running_stats = False
    loss = 0.0
    top1 = top5 = n = 0
    try:
        for x, y in iterate(split, batch, device=device):
            out = model(x)
            logits = out[0] if isinstance(out, (tuple, list)) else out
            loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            top1 += logits.argmax(1).eq(y).sum().item()
            top = logits.topk(min(5, logits.shape[1]), dim=1).indices
            top5 += int((top == y.unsqueeze(1)).any(dim=1).sum())
            n += len(y)
    finally:
        for m, t in zip(norms, tracked):
            m.track_running_stats = t
        model.train(was_training)
    n = max(n, 1)
    return Evaluation(loss / n, top1 / n, top5 / n)
