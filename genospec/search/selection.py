"""A stage's selection rule applied to its trained supernet: a `StageSelection` acts on the
stage (DARTS-PT measures and fine-tunes through the stage trainer), a plain rule on each cell
type's weights."""

from __future__ import annotations

from .. import ir
from ..nn.supernet import Supernet
from .hooks import StageSelection
from .select import SELECTIONS, select
from .stage import StageTrainer


def select_stage(stage: StageTrainer, model: Supernet, resume: dict | None,
                 name: str) -> ir.Space:
    """The stage's result (a genotype or reduced space named ``name``)."""
    choice = stage.s.select
    rule = SELECTIONS.get(choice.name)
    if isinstance(rule, type) and issubclass(rule, StageSelection):
        return rule(**choice.options).select(stage, model, resume, name)
    space, mixing = stage.space, model.mixing()
    cells = {}
    for cell_name in space.cells:
        m = mixing[cell_name]
        cells[cell_name] = select(choice.name, space, cell_name, m.weights, m.op_names,
                                  gamma=m.gamma, beta=m.beta, **choice.options)
    kind = "genotype" if all(c.is_fixed for c in cells.values()) else "space"
    return ir.Space(name, kind, dict(space.ops), cells, space.network, space.groups)
