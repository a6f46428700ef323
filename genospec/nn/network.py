"""Networks around compiled cells: the DARTS CIFAR and ImageNet (mobile) layouts and
NAS-Bench-201's TinyNetwork.

`build_network` compiles a space (a genotype for evaluation; with a custom ``edge_builder``, any
space for search) into a `Network`. Normal positions use ``space.cell_for(False)``, reduction
positions ``space.cell_for(True)``; channels double at every reduction position.
"""

from __future__ import annotations

from typing import Literal, Mapping, Sequence

import torch
from torch.utils.checkpoint import checkpoint
from torch import nn

from ..errors import SpecError
from ..registry import LAYOUT, registry
from ..ir import Cell, Space
from .cell import CompiledCell, EdgeBuilder, compile_cell
from .ops import ReLUConvBN
from .recompute import shared_relu

LAYOUTS = ("cifar", "imagenet", "nb201")
Mode = Literal["eval", "search"]


class ResidualReduction(nn.Module):
    """NAS-Bench-201's reduction block: a stride-2 ResNet basic block with an avg-pool shortcut."""

    inputs = 1

    def __init__(self, in_chs: int, out_chs: int):
        super().__init__()
        self.conv_a = ReLUConvBN(in_chs, out_chs, 3, 2, 1)
        self.conv_b = ReLUConvBN(out_chs, out_chs, 3, 1, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(in_chs, out_chs, 1, bias=False))

    def forward(self, states: Sequence[torch.Tensor],
                edge_weights: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        x = states[-1]
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class AuxiliaryHead(nn.Sequential):
    """DARTS auxiliary classifier: 5x5 average pooling (stride 3 for CIFAR's 8x8 input, 2 for
    ImageNet's 7x7), 1x1 conv to 128, 2x2 conv to 768 (followed by BN on CIFAR only), linear."""

    def __init__(self, in_chs: int, classes: int, imagenet: bool):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=2 if imagenet else 3, count_include_pad=False),
            nn.Conv2d(in_chs, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            *(() if imagenet else (nn.BatchNorm2d(768),)),
            nn.ReLU(inplace=False),
            nn.Flatten(),
            nn.Linear(768, classes),
        )


class Stem(nn.Module):
    """The layers before the first cell; returns the initial states, oldest first."""

    def __init__(self, *stages: nn.Module):
        super().__init__()
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        states = []
        for stage in self.stages:
            x = stage(x)
            states.append(x)
        return states


class Network(nn.Module):
    """Stem, cells, optional auxiliary head, classifier.

    ``forward(x, edge_weights)`` returns logits, or ``(logits, aux_logits)`` in training mode when
    the auxiliary head is on. ``edge_weights`` maps a cell type name to one tensor per edge of
    that cell type (``ir.Cell.edges()`` order), handed to the edge modules (supernets).
    """

    def __init__(self, stem: Stem, cells: list[nn.Module], head: nn.Module, classifier: nn.Linear,
                 auxiliary_head: nn.Module | None, auxiliary_after: int, drop_path: float):
        super().__init__()
        self.stem = stem
        self.cells = nn.ModuleList(cells)
        self.auxiliary_head = auxiliary_head
        self.auxiliary_after = auxiliary_after
        self.head = head
        self.classifier = classifier
        self.drop_path = drop_path
        self._max_inputs = max(c.inputs for c in cells)
        self._channels_last = False
        # recompute each cell's activations in backward instead of keeping them (supernet
        # option `supernet checkpoint cells`): memory for time; a cell's BN running statistics
        # are updated again by the recomputation
        self.checkpoint_cells = False

    def channels_last(self, on: bool = True) -> "Network":
        """Keep weights and activations in NHWC order (``torch.channels_last``); inputs are
        converted in `forward`. The same function, computed by faster CPU kernels (depthwise
        convolutions above all): a DARTS supernet step takes about 1.6x less time, an
        evaluation-network step 1.2x less on two CPU cores (benchmarks/README.md). The search
        and train commands turn it on for CPU runs."""
        self._channels_last = on
        return self.to(memory_format=torch.channels_last if on else torch.contiguous_format)

    def schedule_drop_path(self, progress: float) -> None:
        """Set every cell's drop-path rate to ``drop_path * progress`` (progress in [0, 1])."""
        rate = self.drop_path * min(max(progress, 0.0), 1.0)
        for cell in self.cells:
            if isinstance(cell, CompiledCell):
                cell.drop_path.set_rate(rate)

    def forward(self, x: torch.Tensor,
                edge_weights: Mapping[str, Sequence[torch.Tensor]] | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self._channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        states = self.stem(x)
        states = [states[0]] * (self._max_inputs - len(states)) + states
        checkpointed = self.checkpoint_cells and self.training and torch.is_grad_enabled()
        # the ReLU of each state, computed once for every cell whose preprocessing begins with
        # one (DARTS: the next two cells; each block used to run its own ReLU of it and
        # recompute it in backward); alongside `states`, None where not computed. On the CPU
        # under autograd it keeps the state, not its output (`shared_relu`): the blocks keep
        # the state too, read its ReLU in place in backward and hand its gradient to the state
        # with the ReLU's mask applied, so the ReLU's output lives one cell or two in forward
        relus: list[torch.Tensor | None] = [None] * len(states)
        aux = None
        for i, cell in enumerate(self.cells):
            weights = None
            if edge_weights is not None and isinstance(cell, CompiledCell):
                weights = edge_weights.get(cell.cell_type)
            inputs = states[len(states) - cell.inputs:]
            if checkpointed:
                out = checkpoint(cell, inputs, weights, use_reentrant=False)
            elif isinstance(cell, CompiledCell) and any(cell.relu_inputs):
                out = cell(inputs, weights, _shared_relus(states, relus, cell.relu_inputs))
            else:
                out = cell(inputs, weights)
            states = states[1:] + [out]
            relus = relus[1:] + [None]
            if i == self.auxiliary_after and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(states[-1])
        logits = self.classifier(torch.flatten(self.head(states[-1]), 1))
        return logits if aux is None else (logits, aux)


def _shared_relus(states: list[torch.Tensor], relus: list[torch.Tensor | None],
                  wanted: Sequence[bool]) -> list[torch.Tensor | None]:
    """The ReLUs of the last ``len(wanted)`` states where ``wanted``, each computed once and
    recorded in ``relus`` (alongside ``states``) for the next cell reading the same state; a
    state listed twice (the stem's output) gets one ReLU."""
    first = len(states) - len(wanted)
    for j, want in enumerate(wanted):
        if want and relus[first + j] is None:
            same = [r for s, r in zip(states, relus) if s is states[first + j] and r is not None]
            relus[first + j] = same[0] if same else shared_relu(states[first + j], {})
    return [relus[first + j] if want else None for j, want in enumerate(wanted)]


def build_network(space: Space, *, layout: str | None = None, cells: int | None = None,
                  channels: int | None = None, classes: int | None = None,
                  in_chans: int | None = None, auxiliary: bool | None = None,
                  drop_path: float | None = None, mode: Mode = "eval",
                  edge_builder: EdgeBuilder | None = None) -> Network:
    """Compile ``space`` into a network; unset arguments come from ``space.network``.

    ``mode="search"`` turns BatchNorm affinity off inside the cells (stem, reduction blocks and
    heads keep theirs, as in the DARTS and NAS-Bench-201 supernets) and defaults the auxiliary
    head and drop path to off. ``edge_builder`` (see `compile_cell`) replaces the single-op edges.
    """
    net = space.network
    layout = layout or net.layout
    if layout not in registry(LAYOUT):
        raise registry(LAYOUT).unknown(layout)
    if mode not in ("eval", "search"):
        raise ValueError(f"mode must be 'eval' or 'search', got {mode!r}")
    search = mode == "search"
    n_cells = net.cells if cells is None else cells
    chs = net.channels if channels is None else channels
    classes = net.classes if classes is None else classes
    in_chans = net.input_channels if in_chans is None else in_chans
    auxiliary = (net.auxiliary and not search) if auxiliary is None else auxiliary
    drop_path = (0.0 if search else net.drop_path) if drop_path is None else drop_path
    if n_cells < 1 or chs < 1 or classes < 1:
        raise SpecError(f"a network needs at least one cell, channel and class "
                        f"(got cells {n_cells}, channels {chs}, classes {classes})")
    if not 0.0 <= drop_path < 1.0:
        raise SpecError(f"drop path must be in [0, 1), got {drop_path}")
    if auxiliary and layout == "nb201":
        raise SpecError("the nb201 layout has no auxiliary head")

    positions = sorted(set(net.reduction_positions(n_cells)))
    has_reduction_cell = any(c.reduction for c in space.cells.values())
    if layout != "nb201" and positions and not has_reduction_cell:
        raise SpecError(f"the {layout} layout reduces at cells {positions}, but space "
                        f"{space.name!r} has no cell with stride 2")

    if layout == "imagenet":
        stem = Stem(nn.Sequential(
            nn.Conv2d(in_chans, chs // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(chs // 2),
            nn.ReLU(inplace=False),
            nn.Conv2d(chs // 2, chs, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(chs),
        ), nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(chs, chs, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(chs),
        ))
        history = [(chs, 0), (chs, 1)]  # the first cell sees its older input as unreduced
    else:
        stem_chs = 3 * chs if layout == "cifar" else chs
        stem = Stem(nn.Sequential(nn.Conv2d(in_chans, stem_chs, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(stem_chs)))
        history = [(stem_chs, 0)]

    modules: list[nn.Module] = []
    aux_chs, aux_after = 0, -1
    for i in range(n_cells):
        reduce_here = i in positions
        if reduce_here:
            chs *= 2
        if reduce_here and layout == "nb201" and not has_reduction_cell:
            modules.append(ResidualReduction(history[-1][0], chs))
            history.append((chs, history[-1][1] + 1))
        cell = space.cell_for(reduce_here and has_reduction_cell)
        compiled = _compile(cell, space, history, chs, layout, search, edge_builder)
        modules.append(compiled)
        history.append((compiled.out_chs, history[-1][1] + (1 if cell.reduction else 0)))
        if i == (positions[-1] if positions else 2 * n_cells // 3):
            aux_chs, aux_after = compiled.out_chs, len(modules) - 1

    last_chs = history[-1][0]
    if layout == "nb201":
        head: nn.Module = nn.Sequential(nn.BatchNorm2d(last_chs), nn.ReLU(inplace=False),
                                        nn.AdaptiveAvgPool2d(1))
    else:
        # ImageNet's 7x7 average pool at 224 input is this global pool.
        head = nn.AdaptiveAvgPool2d(1)
    aux_head = AuxiliaryHead(aux_chs, classes, layout == "imagenet") if auxiliary else None
    network = Network(stem, modules, head, nn.Linear(last_chs, classes), aux_head, aux_after,
                      drop_path)
    network.schedule_drop_path(0.0)
    return network


def _compile(cell: Cell, space: Space, history: list[tuple[int, int]], chs: int, layout: str,
             search: bool, edge_builder: EdgeBuilder | None) -> CompiledCell:
    """Compile one cell position, reading its inputs from the last ``cell.inputs`` states."""
    padded = [history[0]] * max(0, cell.inputs - len(history)) + history
    inputs = padded[len(padded) - cell.inputs:]
    level = inputs[-1][1]
    reduced = []
    for c, lv in inputs:
        if level - lv not in (0, 1):
            raise SpecError(f"cell {cell.name!r}: an input lies {level - lv} reductions back; "
                            "only inputs at most one reduction back can be preprocessed")
        reduced.append(lv < level)
    return compile_cell(cell, space.ops, [c for c, _ in inputs], chs, reduced=reduced,
                        preprocess=layout != "nb201", affine=not search,
                        edge_builder=edge_builder)
