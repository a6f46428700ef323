"""Edge relaxations: edge-level parameters beta and a temperature -> edge weights gamma[E]."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from ..errors import SpecError
from ..registry import EDGE_RELAXATION, Option, Registry, registry
from .layout import CellLayout, on

EDGE_RELAXATIONS: Registry[type["EdgeRelaxation"]] = registry(EDGE_RELAXATION)


class EdgeRelaxation(ABC):
    """Turns a flat beta vector of ``num_params(layout)`` entries into edge weights gamma[E]."""

    @abstractmethod
    def num_params(self, layout: CellLayout) -> int:
        """Length of the beta vector this relaxation needs for the cell."""

    @abstractmethod
    def weights(self, beta: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        """Edge weights gamma[E] for ``beta`` at ``temperature``."""

    def _check(self, beta: Tensor, layout: CellLayout, temperature: float) -> None:
        n = self.num_params(layout)
        if tuple(beta.shape) != (n,):
            raise ValueError(f"beta has shape {tuple(beta.shape)}, cell {layout.cell_name!r} "
                             f"needs ({n},)")
        if not temperature > 0:
            raise SpecError(f"temperature must be positive, got {temperature}")


def register_edge_relaxation(name: str, *, options: tuple[Option, ...] = (),
        tags: tuple[str, ...] = ("edges",), words: tuple[str, ...] | None = None,
        doc: str = ""):
    """Class decorator adding a ``EdgeRelaxation`` subclass under ``name``; ``options`` are the
    keyword arguments its constructor takes, as a recipe writes them after the name
    (``relax edges NAME OPTION VALUE ...``), range-checked by the language."""
    return EDGE_RELAXATIONS.register(name, options=options, tags=tags, words=words, doc=doc)


def make_edge_relaxation(name: "str | EdgeRelaxation", **options: object) -> EdgeRelaxation:
    """An instance of the edge relaxation registered as ``name`` with ``options`` (an
    instance is returned as it is: a stage builds its configured relaxation itself)."""
    if isinstance(name, EdgeRelaxation):
        return name
    return EDGE_RELAXATIONS.get(name)(**options)


def node_softmax(beta: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
    """Combination probabilities: softmax(beta / T) within each node's segment (DOTS paper 002
    eq. 6, paper 000 eq. 10)."""
    return torch.cat([torch.softmax(beta[s] / temperature, dim=0) for s in layout.beta_slices])


class Combination(EdgeRelaxation):
    """DOTS edge-combination weights over each node's allowed edge subsets (``pick k``,
    ``pick k1..k2``, ``pick any``: paper 002 eq. 5-8, 11-13).

    gamma(i,j) = sum over combinations c containing (i,j) of beta_c / N(c) (eq. 7, the CVPR
    paper; ``normalise=True``, the default) or of beta_c alone (``normalise=False``: the released
    code, and paper 000 eq. 11). With normalisation a node's gammas sum to 1. The sum runs over
    (combination, member) index pairs with ``index_add``: no tensor is ever shaped by
    combinations times features.
    """

    def __init__(self, normalise: bool = True):
        self.normalise = normalise

    def num_params(self, layout: CellLayout) -> int:
        return layout.num_combinations

    def weights(self, beta: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        self._check(beta, layout, temperature)
        probs = node_softmax(beta, layout, temperature)
        contrib = probs[on(layout.pair_beta, probs)]
        if self.normalise:
            contrib = contrib / on(layout.pair_size, probs).to(probs.dtype)
        gamma = probs.new_zeros(len(layout.edges))
        return gamma.index_add(0, on(layout.pair_edge, probs), contrib)


class Sigmoid(EdgeRelaxation):
    """Edge-level sigmoid baseline (DOTS paper 002 Table 4a): gamma_e = sigmoid(beta_e / T),
    one logit per edge (T = 1 gives the plain baseline)."""

    def num_params(self, layout: CellLayout) -> int:
        return len(layout.edges)

    def weights(self, beta: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        self._check(beta, layout, temperature)
        return torch.sigmoid(beta / temperature)
