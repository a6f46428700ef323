"""Batched augmentation: random crop with zero padding, horizontal flip, normalisation, cutout.

The random choices for a whole epoch are drawn up front from one seeded CPU generator
(`Augment.draw`), one row per image in epoch order; a batch then applies its rows with torch ops
on whatever device it lives on. The order follows the DARTS CIFAR pipeline: crop and flip on the
raw image, normalise, then cutout (which zeroes a square of the *normalised* image).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Augment:
    """Which augmentations a training split gets (0 / False switches one off)."""

    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0

    def draw(self, n: int, height: int, width: int, gen: torch.Generator) -> "Draws":
        """The random choices for ``n`` images, drawn in a fixed order from ``gen``."""
        offsets = flips = centres = None
        if self.crop_padding > 0:
            offsets = torch.randint(0, 2 * self.crop_padding + 1, (n, 2), generator=gen)
        if self.flip:
            flips = torch.rand(n, generator=gen) < 0.5
        if self.cutout > 0:
            centres = torch.stack([torch.randint(0, height, (n,), generator=gen),
                                   torch.randint(0, width, (n,), generator=gen)], dim=1)
        return Draws(offsets, flips, centres)


@dataclass(frozen=True)
class Draws:
    """Per-image random choices: crop offsets ``[n, 2]``, flips ``[n]``, cutout centres ``[n, 2]``."""

    offsets: Tensor | None
    flips: Tensor | None
    centres: Tensor | None

    def rows(self, start: int, stop: int, device: torch.device) -> "Draws":
        """The choices of images ``start:stop`` of the epoch, moved to ``device``."""
        def part(t: Tensor | None) -> Tensor | None:
            return None if t is None else t[start:stop].to(device, non_blocking=True)
        return Draws(part(self.offsets), part(self.flips), part(self.centres))


def normalize_(x: Tensor, mean: tuple[float, ...], std: tuple[float, ...],
               scale: float = 255.0) -> Tensor:
    """In place, per channel: ``(x / scale - mean) / std`` on a ``[B, C, H, W]`` float batch."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return x.mul_(1.0 / (scale * s)).sub_(m / s)


def random_crop(x: Tensor, padding: int, offsets: Tensor) -> Tensor:
    """Zero-pad by ``padding`` and cut each image back to its size at its own ``offsets`` (y, x)."""
    b, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    rows = offsets[:, 0:1] + torch.arange(h, device=x.device)        # [B, H]
    cols = offsets[:, 1:2] + torch.arange(w, device=x.device)        # [B, W]
    padded = padded.gather(2, rows.view(b, 1, h, 1).expand(b, c, h, w + 2 * padding))
    return padded.gather(3, cols.view(b, 1, 1, w).expand(b, c, h, w))


def flip(x: Tensor, flips: Tensor) -> Tensor:
    """Mirror the images whose ``flips`` entry is True, left to right."""
    return torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x)


def cutout(x: Tensor, length: int, centres: Tensor) -> Tensor:
    """Zero (in place) a ``length`` x ``length`` square around each centre, clipped at the border
    as DARTS's Cutout does."""
    _, _, h, w = x.shape
    half = length // 2
    y0 = (centres[:, 0] - half).clamp(0, h).view(-1, 1)
    y1 = (centres[:, 0] + half).clamp(0, h).view(-1, 1)
    x0 = (centres[:, 1] - half).clamp(0, w).view(-1, 1)
    x1 = (centres[:, 1] + half).clamp(0, w).view(-1, 1)
    r = torch.arange(h, device=x.device).view(1, h)
    c = torch.arange(w, device=x.device).view(1, w)
    inside = ((r >= y0) & (r < y1)).view(-1, h, 1) & ((c >= x0) & (c < x1)).view(-1, 1, w)
    return x.masked_fill_(inside.unsqueeze(1), 0.0)


def apply(images: Tensor, augment: Augment | None, draws: Draws | None,
          mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """A raw uint8 batch to a normalised float batch, augmented by ``draws`` when given."""
    x = images.float()  # still on the 0..255 scale, so crop padding is black
    if augment is not None and draws is not None:
        if draws.offsets is not None:
            x = random_crop(x, augment.crop_padding, draws.offsets)
        if draws.flips is not None:
            x = flip(x, draws.flips)
    x = normalize_(x, mean, std)
    if augment is not None and draws is not None and draws.centres is not None:
        x = cutout(x, augment.cutout, draws.centres)
    return x
