"""Tiny spaces, recipes and data shared by the search engine tests."""

from __future__ import annotations

from pathlib import Path

from genospec.data import Dataset, make_synthetic
from genospec.lang.loader import load

TINY_SPACE = """
space tiny {
  ops {
    none = zero
    skip = identity
    conv = sep_conv(3)
    pool = avg_pool(3)
  }
  cell normal {
    inputs 2
    nodes 2
    edges all
    topology pick 2
    output concat
  }
  cell reduce extends normal { stride 2 }
  network { cells 3  channels 4 }
}
"""

# Noise destroys the signal it replaces, identity keeps it: every edge should choose skip.
NOISE_SPACE = """
space noisy {
  ops {
    noise = noise
    skip = identity
  }
  cell normal {
    inputs 2
    nodes 2
    edges all
    topology keep all
    output concat
  }
  cell reduce extends normal { stride 2 }
  network { cells 3  channels 4 }
}
"""


def recipe_text(space: str, body: str, name: str = "tiny_search", of: str = "tiny") -> str:
    return f"{space}\nsearch {name} of {of} {{\n{body}\n}}\n"


def write_recipe(tmp_path: Path, text: str, name: str = "tiny_search"):
    path = tmp_path / "recipe.gs"
    path.write_text(text, encoding="utf-8")
    return load(path).get(name)


def tiny_dataset(n_train: int = 128, classes: int = 4, size: int = 8) -> Dataset:
    """A 1-channel synthetic dataset small enough for a search epoch in well under a second
    (little pixel noise, so that a 3-cell supernet learns it within a few epochs)."""
    train, test = make_synthetic(n_train=n_train, n_test=32, num_classes=classes, in_chans=1,
                                 size=size, seed=3, noise=0.05)
    return Dataset("synthetic", 1, size, classes, train, test, hflip=False)


DARTS_LIKE = """
  batch 16
  seed 1
  stage search {
    epochs 3
    weights sgd lr 0.05 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-3 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    select magnitude
  }
"""
