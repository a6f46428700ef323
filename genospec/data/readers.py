"""Readers for datasets on disk: Fashion-MNIST idx files, CIFAR-10/100, ImageFolder trees.

Nothing is ever downloaded. A missing or unreadable dataset is a `DataError` that says where
genospec looked and how to get the data.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import DataError
from .splits import FolderSplit, TensorSplit, image_folder

FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
# Measured over the 60,000 training images at 28x28 (before padding).
FASHION_MNIST_MEAN, FASHION_MNIST_STD = (0.2860,), (0.3530,)
# The DARTS CIFAR-10 statistics (cnn/utils.py) and the usual CIFAR-100 ones.
CIFAR10_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR10_STD = (0.24703233, 0.24348505, 0.26158768)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_IDX_IMAGES, _IDX_LABELS = 2051, 2049


def _idx_file(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise DataError(
        f"Fashion-MNIST file {stem}.gz not found in {root}",
        hint="install it with `apt-get install dataset-fashion-mnist`, or pass --data-root "
             "to a directory holding the four *-ubyte.gz files")


def _read_idx(path: Path, magic: int) -> torch.Tensor:
    """An idx file (MNIST format, big-endian header) as a uint8 tensor of its declared shape."""
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    dims = magic - 2048  # 2049: labels [N]; 2051: images [N, rows, cols]
    header = 4 + 4 * dims
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"{path} is not an idx file of the expected kind (magic {magic})")
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    count = math.prod(shape)
    if len(raw) != header + count:
        raise DataError(f"{path} is truncated or corrupt: {len(raw) - header} bytes of data, "
                        f"{count} expected")
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8, offset=header).reshape(shape)


def read_fashion_mnist(root: str | Path | None = None) -> tuple[TensorSplit, TensorSplit]:
    """Fashion-MNIST train and test splits, 1x28x28 zero-padded to 1x32x32.

    The padding lets DARTS layouts (two reductions, auxiliary head at 8x8) run unchanged.
    """
    base = Path(root or FASHION_MNIST_ROOT)
    if not base.is_dir():
        raise DataError(
            f"Fashion-MNIST directory {base} does not exist",
            hint="install it with `apt-get install dataset-fashion-mnist`, or pass --data-root "
                 "to a directory holding the four *-ubyte.gz files")
    splits = []
    for prefix in ("train", "t10k"):
        images = _read_idx(_idx_file(base, f"{prefix}-images-idx3-ubyte"), _IDX_IMAGES)
        labels = _read_idx(_idx_file(base, f"{prefix}-labels-idx1-ubyte"), _IDX_LABELS)
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"{base}: {prefix} has {images.shape[0]} images but "
                            f"{labels.shape[0]} labels")
        padded = F.pad(images.unsqueeze(1), (2, 2, 2, 2))
        splits.append(TensorSplit(padded.contiguous(), labels.long(), FASHION_MNIST_MEAN,
                                  FASHION_MNIST_STD))
    return splits[0], splits[1]


def read_cifar(root: str | Path, num_classes: int) -> tuple[TensorSplit, TensorSplit, tuple[str, ...]]:
    """CIFAR-10 or CIFAR-100 from ``root`` in torchvision's layout (never downloaded)."""
    from torchvision import datasets

    cls = {10: datasets.CIFAR10, 100: datasets.CIFAR100}[num_classes]
    mean, std = (CIFAR10_MEAN, CIFAR10_STD) if num_classes == 10 else (CIFAR100_MEAN, CIFAR100_STD)
    folder = "cifar-10-batches-py" if num_classes == 10 else "cifar-100-python"
    _check_cifar_files(Path(root), cls, folder, num_classes)
    splits = []
    for train in (True, False):
        try:
            ds = cls(str(root), train=train, download=False)
        except (RuntimeError, OSError, ValueError, KeyError) as e:
            raise DataError(
                f"cannot read CIFAR-{num_classes} from {root}: {e}",
                hint=f"--data-root must be the directory that holds {folder}/ "
                     f"(the python version from https://www.cs.toronto.edu/~kriz/cifar.html)"
            ) from None
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        splits.append(TensorSplit(images, torch.tensor(ds.targets, dtype=torch.long), mean, std))
    return splits[0], splits[1], tuple(ds.classes)


def _check_cifar_files(root: Path, cls: Any, folder: str, num_classes: int) -> None:
    """What torchvision checks before it reads CIFAR (the folder, every batch file and its MD5
    checksum), said in genospec's words: what was looked for, where, and what a failed checksum
    means (genospec never downloads)."""
    from torchvision.datasets import cifar  # its check_integrity: the one torchvision uses

    name = f"CIFAR-{num_classes}"
    source = "the python version from https://www.cs.toronto.edu/~kriz/cifar.html"
    base = root / folder
    if not root.is_dir():
        raise DataError(f"{name}: the --data-root {root} is not a directory",
                        hint=f"pass the directory that holds {folder}/ ({source}, unpacked)")
    if not base.is_dir():
        inside = sorted(p.name for p in root.iterdir())[:8]
        raise DataError(f"{name}: looked for {base}/ and found no such directory"
                        + (f" (there: {', '.join(inside)})" if inside else " (the directory is empty)"),
                        hint=f"--data-root must be the directory that holds {folder}/ ({source}, "
                             "unpacked with tar xzf)")
    files = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
    missing = [f for f, _ in files if not (base / f).is_file()]
    if missing:
        raise DataError(f"{name} in {base} is incomplete: missing {', '.join(missing)}",
                        hint=f"unpack the whole archive ({source}) again")
    damaged = [f for f, md5 in files if not cifar.check_integrity(str(base / f), md5)]
    if damaged:
        raise DataError(f"{name} in {base}: {', '.join(damaged)} failed the checksum",
                        hint="each file's MD5 checksum must equal the one of the official "
                             f"release; these differ, so the files are truncated, damaged or "
                             f"another version: replace them with {source}")


def read_imagefolder(root: str | Path, size: int,
                     workers: int) -> tuple[FolderSplit, FolderSplit, tuple[str, ...]]:
    """Streamed train and test splits of ``root/train/<class>/...`` and ``root/val/<class>/...``.

    This is the ImageNet layout the DARTS scripts use; ``test`` is accepted for ``val``.
    """
    base = Path(root)
    test_dir = next((base / d for d in ("val", "test") if (base / d).is_dir()), None)
    if not (base / "train").is_dir() or test_dir is None:
        raise DataError(f"{base} is not an ImageFolder tree",
                        hint="expected train/<class>/<image> and val/<class>/<image> under it")
    splits, classes = [], None
    for part in (base / "train", test_dir):
        try:
            folder = image_folder(str(part), size)
        except (FileNotFoundError, OSError) as e:
            raise DataError(f"cannot read images under {part}: {e}") from None
        if classes is None:
            classes = tuple(folder.classes)
        elif tuple(folder.classes) != classes:
            raise DataError(f"{test_dir} has classes {folder.classes}, "
                            f"but {base / 'train'} has {list(classes)}")
        splits.append(FolderSplit(str(part), size, torch.arange(len(folder)), IMAGENET_MEAN,
                                  IMAGENET_STD, workers))
    return splits[0], splits[1], classes or ()
