"""Supernet relaxations: architecture parameters -> mixing weights, and their temperatures.

Pure tensor math; the supernet owns the parameters and calls these functions.

Parameter layout of one cell type (``CellLayout``, built by ``cell_layout(cell, space.groups)``):

- Op edges are ``cell.edges()`` (E edges, grouped by destination node, each node's edges in
  their listed order); ops are the ordered union of their candidates, ``cell.op_names()``
  (O ops). Op logits ``alpha`` are a Tensor[E, O]; ``layout.mask`` (bool [E, O]) is True where
  the op is a candidate on that edge (RobustDARTS S1 and reduced spaces differ per edge).
- Edge-level parameters ``beta`` are one flat Tensor per cell type:
  ``combination``: for each intermediate node in order, one logit per allowed combination of
  its incoming edges, in ``cell.topology.combinations(n_j)`` order (``layout.beta_slices[k]``
  is node k's segment); ``sigmoid``: one logit per edge, in ``cell.edges()`` order.
- An op relaxation maps (alpha, layout, T) to op weights w[E, O], exactly 0 where masked; an
  edge relaxation maps (beta, layout, T) to edge weights gamma[E]. The supernet mixes edge e
  with ``w[e] * gamma[e]`` (w alone without an edge relaxation) and skips every op whose
  weight is exactly 0.

Registries: op relaxations ``softmax``, ``group_softmax``, ``fixed``; edge relaxations
``combination`` (option ``normalise``) and ``sigmoid``. ``apply_op_bias`` adds the eDARTS
per-op bias; ``Temperature`` gives T(t) = T0 * theta^t.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use, so that torch-free modules (the registry, selection rules) can import
# from this package without importing torch.
_EXPORTS = {
    "CellLayout": "layout", "cell_layout": "layout",
    "OpRelaxation": "ops", "OP_RELAXATIONS": "ops", "register_op_relaxation": "ops",
    "make_op_relaxation": "ops", "masked_softmax": "ops",
    "EdgeRelaxation": "edges", "EDGE_RELAXATIONS": "edges", "register_edge_relaxation": "edges",
    "make_edge_relaxation": "edges", "node_softmax": "edges",
    "apply_op_bias": "bias", "EDARTS_OP_BIAS": "bias",
    "Temperature": "schedule",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
