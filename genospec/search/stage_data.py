"""A stage's data: the dataset (loaded once per run and name), its training part split into the
weights' and the architecture's halves, subsets, and the copy on the device. ``split 1`` trains
on the whole training part and validates on the test part (a one-level stage has no
architecture half: DOTS' topology stage, paper 000 §3.2 eq. 12 and A.2)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import Dataset, Split, load_dataset, split_train_val, subset
from ..data.splits import TensorSplit
from ..lang.settings import StageSettings


@dataclass
class StageData:
    dataset: Dataset
    train: Split
    val: Split


def load_stage_data(s: StageSettings, data: str | None, data_root: str | None,
                    dataset: Dataset | None, device: str, cache: dict,
                    input_size: int | None = None) -> StageData:
    """The data of a stage with settings ``s``; ``data``/``data_root`` (the command line's) win
    over the recipe's; ``dataset`` replaces both (tests); ``cache`` keeps loaded datasets;
    ``input_size``: ImageFolder images are resized to it (default 224)."""
    if dataset is None:
        name = data or s.data.dataset
        root = data_root or s.data.root
        options = {"workers": s.data.workers} if name == "imagefolder" and \
            s.data.workers is not None else {}
        if input_size is not None:
            options["size"] = input_size  # load_dataset refuses it for a dataset without sizes
        if (name, root) not in cache:
            cache[(name, root)] = load_dataset(name, root, **options)
        dataset = cache[(name, root)]
    if s.data.split >= 1:  # one-level stages on the whole training set (DOTS topology stage)
        train, val = dataset.train, dataset.test
    else:
        train, val = split_train_val(dataset.train, fraction=s.data.split, seed=s.seed)
    if s.data.subset is not None:
        train, val = subset(train, s.data.subset[0], s.seed), subset(val, s.data.subset[1], s.seed)
    if torch.device(device).type == "cuda":
        train, val = (p.to(device) if isinstance(p, TensorSplit) else p for p in (train, val))
    return StageData(dataset, train, val)
