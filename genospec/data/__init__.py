"""Data: datasets on disk or generated, seeded splits, and deterministic augmented batches.

    ds = load_dataset("fashion_mnist")                      # Dataset(in_chans=1, size=32, ...)
    train, val = split_train_val(ds.train, fraction=0.5, seed=2)
    for x, y in iterate(train, 64, shuffle=True, seed=2, epoch=0,
                        augment=Augment(crop_padding=4, flip=True, cutout=16)):
        ...

Small datasets live in memory as uint8 tensors (`TensorSplit`); ImageFolder trees are streamed
(`FolderSplit`). Augmentation runs on whole batches with torch ops (`genospec.data.augment`).
"""

from .augment import Augment
from .batches import iterate, num_batches
from .dataset import DEFAULT_DATASET, Dataset, load_dataset
from .splits import FolderSplit, Split, TensorSplit, generator, split_train_val, subset
from .synthetic import make_synthetic

__all__ = [
    "Augment", "DEFAULT_DATASET", "Dataset", "FolderSplit", "Split", "TensorSplit",
    "generator", "iterate", "load_dataset", "make_synthetic", "num_batches", "split_train_val",
    "subset",
]
