"""`Dataset` (what a network needs to know about its data, plus the splits) and `load_dataset`."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import DataError, did_you_mean
from ..registry import DATASET, registry
from .readers import FASHION_MNIST_CLASSES, read_cifar, read_fashion_mnist, read_imagefolder
from .splits import Split, default_workers
from .synthetic import make_synthetic

DEFAULT_DATASET = "fashion_mnist"


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: its shape facts and its train and test splits.

    ``hflip`` says whether mirroring an image keeps its label (true for photos and clothes, false
    for the synthetic patterns), so trainers know if horizontal flips are a valid augmentation.
    """

    name: str
    in_chans: int
    size: int
    num_classes: int
    train: Split
    test: Split
    classes: tuple[str, ...] = ()
    hflip: bool = True


def load_fashion_mnist(root: str | Path | None) -> Dataset:
    train, test = read_fashion_mnist(root)
    return Dataset("fashion_mnist", 1, 32, 10, train, test, FASHION_MNIST_CLASSES)


def _needs_root(name: str, root: str | Path | None) -> str | Path:
    if root is None:
        raise DataError(f"dataset {name} needs a directory", hint="pass --data-root DIR")
    return root


def load_cifar10(root: str | Path | None) -> Dataset:
    train, test, classes = read_cifar(_needs_root("cifar10", root), 10)
    return Dataset("cifar10", 3, 32, 10, train, test, classes)


def load_cifar100(root: str | Path | None) -> Dataset:
    train, test, classes = read_cifar(_needs_root("cifar100", root), 100)
    return Dataset("cifar100", 3, 32, 100, train, test, classes)


def load_imagefolder(root: str | Path | None, size: int = 224, workers: int | None = None) -> Dataset:
    train, test, classes = read_imagefolder(_needs_root("imagefolder", root), size,
                                            default_workers() if workers is None else workers)
    return Dataset("imagefolder", 3, size, len(classes), train, test, classes)


def load_synthetic(root: str | Path | None, **options: Any) -> Dataset:
    if root is not None:
        raise DataError("the synthetic dataset is generated, it takes no --data-root")
    train, test = make_synthetic(**options)
    c, h, _ = train.image_shape
    classes = int(options.get("num_classes", 10))
    return Dataset("synthetic", c, h, classes, train, test,
                   tuple(f"class{i}" for i in range(classes)), hflip=False)




def load_dataset(name: str = DEFAULT_DATASET, root: str | Path | None = None,
                 **options: Any) -> Dataset:
    """Load a dataset by name (a registered dataset, `genospec.registry`: a loader
    ``loader(root, **options) -> Dataset``); ``root`` is its directory (``--data-root``).

    Names: ``fashion_mnist`` (default; Debian's dataset-fashion-mnist when ``root`` is None),
    ``cifar10`` and ``cifar100`` (torchvision layout), ``imagefolder`` (``train/`` and ``val/``
    trees; options ``size``, ``workers``), ``synthetic`` (options of `make_synthetic`).
    """
    datasets = registry(DATASET)  # the built-ins below, and those of plugins
    if name not in datasets:
        raise DataError(f"unknown dataset {name!r} (known: {', '.join(datasets.names())})",
                        hint=did_you_mean(name, datasets.names()))
    loader = datasets.get(name)
    target = make_synthetic if name == "synthetic" else loader
    try:
        inspect.signature(target).bind_partial(**options)
    except TypeError:  # an option the loader does not take
        takes = [k for k in inspect.signature(target).parameters if k != "root"]
        given = ", ".join(k for k in options if k not in takes) or ", ".join(options)
        hint = "--input-size resizes ImageFolder images only" if "size" in options and \
            "size" not in takes else None
        raise DataError(f"dataset {name} takes no option {given}"
                        + (f" (its options: {', '.join(takes)})" if takes else ""),
                        hint=hint) from None
    return loader(root, **options)
