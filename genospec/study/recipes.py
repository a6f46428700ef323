"""The spaces and search recipes the studies run, as `.gs` text built from a `Scale`.

The spaces are written out here (not imported from ``specs/``) so that a study runs from an
installed wheel; they are the DARTS space of ``specs/spaces/darts.gs`` and RobustDARTS S2 and S4
of ``specs/spaces/robust_darts.gs``. Every method of a study gets the same data, supernet and
epochs (``Scale``); what differs is the method's own part:

- DARTS (paper 002 §3.1): bilevel updates every step, magnitude selection;
- DARTS-PT (paper 004 Algorithm 1): the same supernet training, then perturbation selection
  with ``finetune`` epochs between decisions;
- DOTS topology search (paper 002 §4.1, eq. 5-8; paper 000 §3.2): weight-only warm-up, one-level
  updates, the edge-combination softmax annealed from T = 10 to 0.02 and, where an edge still has
  several ops, the op softmax at T_beta / 1000 (paper 002 Fig. 3), then the best combination.
"""

from __future__ import annotations

from dataclasses import dataclass

DARTS_SPACE = """
space darts {
  ops {
    none         = zero
    max_pool_3x3 = max_pool(3)
    avg_pool_3x3 = avg_pool(3)
    skip_connect = identity
    sep_conv_3x3 = sep_conv(3)
    sep_conv_5x5 = sep_conv(5)
    dil_conv_3x3 = dil_conv(3, dilation=2)
    dil_conv_5x5 = dil_conv(5, dilation=2)
  }
  cell normal {
    inputs 2
    nodes 4
    edges all
    topology pick 2
    output concat
  }
  cell reduce extends normal { stride 2 }
  network { stem conv(3, channels=3C)  cells 8  reduce at 1/3, 2/3  channels 16 }
}
"""

S2_SPACE = DARTS_SPACE + """
space robust_darts_s2 extends darts {
  cell normal { edges all: skip_connect | sep_conv_3x3 }
  cell reduce { edges all: skip_connect | sep_conv_3x3 }
}
"""

S4_SPACE = DARTS_SPACE + """
space robust_darts_s4 extends darts {
  ops { noise = noise }
  cell normal { edges all: noise | sep_conv_3x3 }
  cell reduce { edges all: noise | sep_conv_3x3 }
}
"""


@dataclass(frozen=True)
class Scale:
    """How big a study runs. Searches: ``epochs`` of supernet training (``warmup`` of them
    weight-only for DOTS) on a ``cells`` x ``channels`` supernet, ``batch`` images a step,
    ``subset`` images for the weights and for the architecture (None: both halves of the training
    set), Adam lr ``arch_lr`` (DARTS, DARTS-PT) and ``dots_arch_lr`` (DOTS), DARTS update order
    ``order`` in the eDARTS study, ``finetune`` DARTS-PT epochs between decisions, eDARTS' data
    subset ``edarts_subset`` and ``runs`` seeds per eDARTS variant. Stand-alone training
    (Kendall study): ``train_epochs`` on a ``train_cells`` x ``train_channels`` network,
    ``train_subset`` training and ``test_subset`` test images (None: all), the other training
    settings from the `genospec.train` preset ``train_protocol``, with the auxiliary head when
    ``train_auxiliary``. DOTS' edge temperature decays
    from 10 by ``dots_decay`` a epoch down to 0.02 or, with None, from 10 to 0.02 over the
    annealing epochs. ``image_size`` shrinks in-memory images to that size first (None: as
    loaded)."""

    name: str
    epochs: int
    warmup: int
    cells: int
    channels: int
    batch: int
    subset: tuple[int, int] | None
    arch_lr: float
    dots_arch_lr: float
    order: str
    finetune: int
    edarts_subset: tuple[int, int]
    runs: int
    train_epochs: int
    train_cells: int
    train_channels: int
    train_batch: int
    train_subset: int | None
    test_subset: int | None
    train_protocol: str
    train_auxiliary: bool
    dots_decay: float | None
    image_size: int | None


# The papers' settings: DARTS' search protocol (50 epochs, 8 cells, C = 16, batch 64, Adam 3e-4),
# DOTS' 15 warm-up epochs and Adam 1e-4 (paper 000 §A.2), DARTS-PT's 5 fine-tuning epochs
# (paper 004 §A.7), eDARTS' second-order DARTS and 2,500 + 2,500 images over five runs
# (paper 001 §IV-C, Table II), DOTS' stand-alone training: the DARTS evaluation network
# (20 cells, C = 36, auxiliary head) for 300 epochs (paper 002 §3.2).
PAPER = Scale("paper", epochs=50, warmup=15, cells=8, channels=16, batch=64, subset=None,
              arch_lr=3e-4, dots_arch_lr=1e-4, order="second_order", finetune=5,
              edarts_subset=(2500, 2500), runs=5, train_epochs=300, train_cells=20,
              train_channels=36, train_batch=96, train_subset=None, test_subset=None,
              train_protocol="darts_cifar", train_auxiliary=True, dots_decay=0.72,
              image_size=None)

# Minutes on two CPU cores: 5-cell, 8-channel supernets and networks, 16 x 16 images (a supernet
# step costs about 2.5 times less than at 32 x 32), 192 + 192 search images (eDARTS' subset:
# 64 + 64, two batches, so that updating alpha every step and once per epoch still differ),
# 2,000 training and 2,000 test images for the stand-alone networks. The larger
# architecture learning rate (as the recipes' quick blocks) lets alpha move in so few steps.
QUICK = Scale("quick", epochs=4, warmup=1, cells=5, channels=8, batch=32, subset=(192, 192),
              arch_lr=3e-3, dots_arch_lr=3e-3, order="first_order", finetune=1,
              edarts_subset=(64, 64), runs=1, train_epochs=2, train_cells=5,
              train_channels=8, train_batch=32, train_subset=2000, test_subset=2000,
              train_protocol="quick", train_auxiliary=False, dots_decay=None, image_size=16)

SCALES = {s.name: s for s in (PAPER, QUICK)}

_WEIGHTS = "weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5"


def _header(scale: Scale, seed: int, subset: tuple[int, int] | None) -> str:
    data = f"  subset {subset[0]}, {subset[1]}\n" if subset is not None else ""
    return f"  split 0.5\n  batch {scale.batch}\n  seed {seed}\n{data}"


def darts_recipe(name: str, space_text: str, space: str, scale: Scale, seed: int, *,
                 order: str = "first_order", per_epoch: bool = False,
                 subset: tuple[int, int] | None = None, perturbation: bool = False) -> str:
    """DARTS on ``space`` (magnitude selection), or DARTS-PT with ``perturbation``; the
    architecture updated every step or, with ``per_epoch``, once an epoch (eDARTS' sparse
    update); ``subset`` replaces the scale's images."""
    every = " every epoch" if per_epoch else ""
    select = f"finetune {scale.finetune}\n    select perturbation" if perturbation \
        else "select magnitude"
    return f"""{space_text}
search {name} of {space} {{
{_header(scale, seed, subset or scale.subset)}  stage search {{
    epochs {scale.epochs}
    supernet cells {scale.cells} channels {scale.channels}
    {_WEIGHTS}
    arch adam lr {scale.arch_lr} betas 0.5, 0.999 decay 1e-3
    update bilevel {order}{every}
    {select}
  }}
}}
"""


def dots_topology_recipe(name: str, space_text: str, space: str, scale: Scale, seed: int, *,
                         relax_ops: bool) -> str:
    """DOTS' edge annealing topology search on ``space``; ``relax_ops`` when its edges still
    hold several ops (the op temperature is the edge temperature / 1000, as dots.gs states)."""
    if scale.dots_decay is None:
        edges, ops = "10 -> 0.02", "0.01 -> 0.00002"
    else:
        edges = f"10 decay {scale.dots_decay} min 0.02"
        ops = f"0.01 decay {scale.dots_decay} min 0.00002"
    ops = f"\n    relax ops temperature {ops}" if relax_ops else ""
    return f"""{space_text}
search {name} of {space} {{
{_header(scale, seed, scale.subset)}  stage topology {{
    epochs {scale.epochs}
    warmup {scale.warmup}
    supernet cells {scale.cells} channels {scale.channels}
    {_WEIGHTS}
    arch adam lr {scale.dots_arch_lr} betas 0.9, 0.999 decay 1e-3
    update onelevel
    relax edges combination temperature {edges}{ops}
    select best combination
  }}
}}
"""
