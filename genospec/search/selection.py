"""A stage's selection rule applied to its trained supernet: a `StageSelection` acts on the
stage (DARTS-PT measures and fine-tunes through the stage trainer), a plain rule on each cell
type's weights."""

from __future__ import annotations

from typing import Callable

from .. import ir
from ..nn.supernet import Supernet
from .hooks import StageSelection
from .select import SELECTIONS, select
from .stage import StageTrainer


def derivation(stage: StageTrainer) -> Callable[[Supernet], dict[str, list[str]]] | None:
    """What the stage's selection rule would keep from a supernet's weights now, per cell type
    as "src->dst op" lines (several ops joined by "|" where the result is a reduced space), for
    metrics.jsonl's "genotype" at every epoch; None for a rule that acts on the stage (DARTS-PT
    measures and fine-tunes: too costly to run at every epoch)."""
    rule = SELECTIONS.get(stage.s.select.name)
    if isinstance(rule, type) and issubclass(rule, StageSelection):
        return None

    def derive(model: Supernet) -> dict[str, list[str]]:
        space = select_stage(stage, model, None, "now")
        return {name: [f"{e.src}->{e.dst} {'|'.join(e.ops)}" for e in cell.edges()]
                for name, cell in space.cells.items()}
    return derive


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
