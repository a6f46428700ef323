"""Splits: the images of one part of a dataset, in memory (`TensorSplit`) or on disk (`FolderSplit`).

A split hands out raw uint8 batches in an order it is given; shuffling, augmentation and
normalisation happen on whole batches in `genospec.data.batches`. Sub-splits (train/val halves,
fixed-size subsets) are drawn with a seeded permutation and keep the parent's normalisation.
"""

from __future__ import annotations

import hashlib
import os
import signal
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Iterator, Protocol

import torch
from torch import Tensor

from ..errors import DataError

Batch = tuple[Tensor, Tensor]


def generator(seed: int, *stream: object) -> torch.Generator:
    """A CPU generator seeded from ``seed`` and a stream label (e.g. ``"epoch", 3``).

    Different labels give unrelated streams, so a run can redraw epoch k's randomness exactly
    without replaying epochs 0..k-1.
    """
    digest = hashlib.blake2b(repr((seed, *stream)).encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))


class Split(Protocol):
    """What a split offers: its length, image shape, normalisation and ordered raw batches."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __len__(self) -> int: ...

    @property
    def image_shape(self) -> tuple[int, int, int]: ...

    def take(self, positions: Tensor) -> "Split": ...

    def batches(self, order: Tensor, batch_size: int, device: torch.device) -> Iterator[Batch]: ...


@dataclass(frozen=True)
class TensorSplit:
    """A split held in memory: uint8 images ``[N, C, H, W]`` and int64 labels ``[N]``."""

    images: Tensor
    labels: Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def take(self, positions: Tensor) -> "TensorSplit":
        positions = positions.to(self.labels.device)
        return replace(self, images=self.images[positions], labels=self.labels[positions])

    def to(self, device: torch.device | str) -> "TensorSplit":
        """The same split with its tensors on ``device`` (so batches need no copy)."""
        return replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def batches(self, order: Tensor, batch_size: int, device: torch.device) -> Iterator[Batch]:
        order = order.to(self.labels.device)
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            yield (self.images[idx].to(device, non_blocking=True),
                   self.labels[idx].to(device, non_blocking=True))


@dataclass(frozen=True)
class FolderSplit:
    """A split streamed from an ImageFolder tree (``root/<class>/<image>``) by a DataLoader.

    Images are resized (shorter side) and centre-cropped to ``size``; random crops, flips and
    cutout are applied afterwards on the batch, as for in-memory splits.
    """

    root: str
    size: int
    indices: Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    workers: int = 0

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return 3, self.size, self.size

    def take(self, positions: Tensor) -> "FolderSplit":
        return replace(self, indices=self.indices[positions.cpu()])

    def batches(self, order: Tensor, batch_size: int, device: torch.device) -> Iterator[Batch]:
        from torch.utils.data import DataLoader, Subset

        chosen = self.indices[order.cpu()].tolist()
        loader = DataLoader(Subset(image_folder(self.root, self.size), chosen),
                            batch_size=batch_size, shuffle=False, num_workers=self.workers,
                            pin_memory=torch.device(device).type == "cuda",
                            worker_init_fn=_ignore_sigint)
        for images, labels in loader:
            yield images.to(device, non_blocking=True), labels.to(device, non_blocking=True)


def _ignore_sigint(worker_id: int) -> None:
    """Loader workers leave Ctrl-C to the main process, which stops at a batch boundary."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@lru_cache(maxsize=8)
def image_folder(root: str, size: int) -> Any:
    """The torchvision ImageFolder over ``root`` (scanned once per process)."""
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size),
                                    transforms.PILToTensor()])
    return datasets.ImageFolder(root, transform=transform)


def default_workers() -> int:
    """DataLoader workers for streamed splits: one per core, at most 8."""
    return min(8, os.cpu_count() or 1)


def split_train_val(split: Split, fraction: float | None = None,
                    sizes: tuple[int, int] | None = None, seed: int = 0) -> tuple[Split, Split]:
    """Two disjoint parts of ``split`` drawn by a seeded permutation.

    Give either ``fraction`` (the first part's share, e.g. 0.5 for DARTS search) or ``sizes``
    (e.g. ``(2500, 2500)`` for eDARTS, paper 001 §IV).
    """
    n = len(split)
    perm = torch.randperm(n, generator=generator(seed, "split"))
    if (fraction is None) == (sizes is None):
        raise DataError("give either a split fraction or two subset sizes")
    if fraction is not None:
        if not 0.0 < fraction < 1.0:
            raise DataError(f"split fraction must lie strictly between 0 and 1, not {fraction}")
        first = int(n * fraction)
        return split.take(perm[:first]), split.take(perm[first:])
    a, b = sizes  # type: ignore[misc]
    if a <= 0 or b <= 0 or a + b > n:
        raise DataError(f"cannot draw subsets of {a} and {b} images from a split of {n}")
    return split.take(perm[:a]), split.take(perm[a:a + b])


def subset(split: Split, n: int, seed: int = 0) -> Split:
    """``n`` images of ``split`` drawn by a seeded permutation (all of them if ``n >= len``)."""
    if n <= 0:
        raise DataError(f"a subset needs a positive size, not {n}")
    if n >= len(split):
        return split
    return split.take(torch.randperm(len(split), generator=generator(seed, "subset"))[:n])

