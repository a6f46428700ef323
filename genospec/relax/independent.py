"""An op relaxation without competition between an edge's ops, and an edge relaxation with
competition between a node's incoming edges:

- `IndependentSigmoid` (op relaxation ``sigmoid``): FairDARTS (Chu et al., ECCV 2020, §4, the
  relaxation that replaces DARTS' softmax; released code xiaomi-automl/FairDARTS,
  ``model_search.py``: ``weights = sigmoid(alphas)``): every op of every edge has its own gate w_o = sigmoid(alpha_o / T), so ops no
  longer compete for one unit of weight (the "exclusive competition" of softmax that the paper
  blames for skip-connection aggregation). T = 1 is the paper's relaxation.
- `EdgeNormalisation` (edge relaxation ``normalisation``): PC-DARTS (Xu et al., ICLR 2020,
  §3.3 "edge normalization"; released code yuhuixu1993/PC-DARTS, ``model_search.py``: node j
  sums ``weights2[edge] * mixed_op(...)`` with ``weights2`` a softmax of each node's ``betas``
  segment), x_j = sum_{i<j} [exp(beta_ij) / sum_{i'<j} exp(beta_i'j)] * f_ij(x_i): one logit beta per edge and gamma_(i,j) = softmax over node j's incoming edges
  of beta / T; node j then sums gamma_(i,j) * (edge (i,j)'s op mixture), so the edge weights
  of a node sum to 1. PC-DARTS multiplies gamma into the op weights before DARTS' selection
  (its released code's ``genotype()``), which `genospec.search.select.magnitude` does with
  any edge relaxation's gamma.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .edges import EdgeRelaxation
from .layout import CellLayout, on
from .ops import OpRelaxation, _check


class IndependentSigmoid(OpRelaxation):
    """FairDARTS: w[e, o] = sigmoid(alpha[e, o] / T) on candidates, exactly 0 elsewhere."""

    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        _check(alpha, layout, temperature)
        return torch.sigmoid(alpha / temperature) * on(layout.mask, alpha).to(alpha.dtype)


class EdgeNormalisation(EdgeRelaxation):
    """PC-DARTS edge normalisation: gamma = softmax(beta / T) within each node's incoming edges
    (one logit per edge, in ``cell.edges()`` order)."""

    def num_params(self, layout: CellLayout) -> int:
        return len(layout.edges)

    def weights(self, beta: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        self._check(beta, layout, temperature)
        z = beta / temperature
        parts = [torch.softmax(z[list(span)], dim=0) for span in layout.node_edges]
        order = [e for span in layout.node_edges for e in span]
        gamma = torch.cat(parts)
        if order == list(range(len(order))):  # cell.edges() lists nodes contiguously
            return gamma
        return gamma.new_zeros(len(layout.edges)).index_copy(
            0, torch.tensor(order, device=beta.device), gamma)
