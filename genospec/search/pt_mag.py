"""DARTS+PT-Mag: DARTS-PT's progressive tuning with magnitude-based operation decisions (paper 004,
§6.2 "progressive tuning" ablation, Fig. 6: "we test a baseline by combining progressive tuning
with magnitude-based operation selection instead of our selection criterion, which we code-named
DARTS+PT-Mag"; 2.85% test error on the DARTS space against DARTS+PT's 2.61%).

Everything is DARTS-PT's (`genospec.search.perturbation_stage`): edges visited in the same
seeded random order, one decision per cell type per round, ``finetune`` epochs of the stage's
update rule between rounds, checkpoints after every decision and fine-tuning epoch, resume. Only
the op decision differs: an edge is discretised to its selectable op with the largest weight of
the supernet *as it stands at that decision* (after the fine-tuning so far), not to the op whose
masking hurts validation accuracy most. The ``accuracies`` field of such a decision holds those
op weights. The topology (``target edges``/``both``) is decided by perturbation as in DARTS-PT:
the ablation replaces only the operation selection criterion.
"""

from __future__ import annotations

from typing import Callable

from .. import ir
from ..nn.supernet import Supernet
from .hooks import StageSelection
from .perturbation import OpDecision
from .perturbation_stage import run_perturbation


def decide_by_magnitude(model: Supernet, space: ir.Space, cell: ir.Cell, e: int,
                        evaluate: Callable[[], float]) -> OpDecision:
    """Edge ``e`` of ``cell`` to its strongest selectable op (ties: the op listed first);
    ``evaluate`` is not called."""
    candidates = space.selectable_ops(cell, cell.edges()[e])
    mix = model.mixing()[cell.name]
    row = mix.weights[e].tolist()
    values = [row[mix.op_names.index(o)] for o in candidates]
    best = max(range(len(candidates)), key=lambda i: (values[i], -i))
    return OpDecision(cell.name, e, candidates[best], tuple(candidates), tuple(values))


class ProgressiveMagnitude(StageSelection):
    """``select progressive magnitude [ops|edges|both]``: DARTS+PT-Mag (module docstring)."""

    def select(self, stage, model: Supernet, resume: dict | None, name: str) -> ir.Space:
        return run_perturbation(stage, model, resume, name, decide=decide_by_magnitude)
