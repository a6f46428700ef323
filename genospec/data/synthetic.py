"""A deterministic, learnable synthetic dataset for tests and smoke runs.

Each class owns a smooth random pattern (a coarse random grid upsampled to full size); an image
is its class pattern plus pixel noise, stored as uint8 like the real datasets. The same arguments
always give the same images; a tiny convolutional network learns it in seconds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import DataError
from .splits import TensorSplit, generator

SYNTHETIC_MEAN, SYNTHETIC_STD = 0.5, 0.25


def make_synthetic(n_train: int = 1000, n_test: int = 200, num_classes: int = 10,
                   in_chans: int = 3, size: int = 32, noise: float = 0.15, grid: int = 3,
                   seed: int = 0) -> tuple[TensorSplit, TensorSplit]:
    """Train and test splits of ``num_classes`` noisy patterns of ``in_chans`` x size x size.

    ``grid`` sets how coarse the class patterns are (a ``grid`` x ``grid`` random field, upsampled);
    ``noise`` is the standard deviation of the pixel noise on a [0, 1] scale.
    """
    if min(n_train, n_test, num_classes, in_chans, size, grid) < 1 or noise < 0:
        raise DataError("synthetic data needs positive sizes and a non-negative noise level")
    gen = generator(seed, "synthetic")
    coarse = torch.randn(num_classes, in_chans, grid, grid, generator=gen)
    patterns = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True)
    patterns = 0.2 * patterns / patterns.abs().amax(dim=(1, 2, 3), keepdim=True)
    splits = []
    for part, n in (("train", n_train), ("test", n_test)):
        g = generator(seed, "synthetic", part)
        labels = (torch.arange(n) % num_classes)[torch.randperm(n, generator=g)]
        pixels = SYNTHETIC_MEAN + patterns[labels] + noise * torch.randn(
            n, in_chans, size, size, generator=g)
        images = (pixels.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
        splits.append(TensorSplit(images, labels, (SYNTHETIC_MEAN,) * in_chans,
                                  (SYNTHETIC_STD,) * in_chans))
    return splits[0], splits[1]
