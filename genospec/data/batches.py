"""Deterministic batch iteration: the same seed and epoch always give the same batches.

Each epoch draws its shuffle order and all its augmentation choices from a generator seeded by
``(seed, epoch)`` alone, so a resumed run can rebuild epoch k (and skip to batch ``start`` inside
it) without replaying what came before.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch

from .augment import Augment, apply
from .splits import Batch, Split, generator


def num_batches(split: Split, batch_size: int) -> int:
    """Batches per epoch (the last one may be smaller)."""
    return math.ceil(len(split) / batch_size)


def iterate(split: Split, batch_size: int, *, shuffle: bool = False, seed: int = 0,
            epoch: int = 0, augment: Augment | None = None,
            device: torch.device | str = "cpu", start: int = 0) -> Iterator[Batch]:
    """Normalised float batches ``(images, labels)`` of ``split`` on ``device``.

    ``shuffle`` permutes the split, ``augment`` applies batched augmentation; both draw from the
    generator of ``(seed, epoch)``. ``start`` skips the first ``start`` batches of the epoch.
    """
    device = torch.device(device)
    n = len(split)
    gen = generator(seed, "epoch", epoch)
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    _, h, w = split.image_shape
    draws = augment.draw(n, h, w, gen) if augment is not None else None
    first = start * batch_size
    position = first
    for images, labels in split.batches(order[first:], batch_size, device):
        rows = None if draws is None else draws.rows(position, position + len(labels), device)
        position += len(labels)
        yield apply(images, augment, rows, split.mean, split.std), labels
