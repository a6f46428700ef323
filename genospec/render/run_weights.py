"""`genospec render SPACE --weights RUN`: the architecture weights a search run reached, drawn
on the cells of the space that run searched.

The run's ``metrics.jsonl`` holds one record per epoch with every edge's op weights (and DOTS
edge weights gamma); the last record of the chosen stage (default: the run's last stage) is
drawn. Reading the run never imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import graphviz

from ..checkpoint import read_jsonl
from ..errors import SpecError, did_you_mean
from ..ir import Space
from ..lang.loader import load
from .cells import TOP_OPS, render_weights


def last_weights(run_dir: str | Path, stage: str | None = None) -> dict[str, Any]:
    """The last epoch record of ``stage`` (default: the last stage that logged weights)."""
    path = Path(run_dir) / "metrics.jsonl"
    records = [r for r in read_jsonl(path) if "weights" in r]
    if not records:
        raise SpecError(f"{path} holds no architecture weights",
                        hint="pass the directory of a search run that finished an epoch")
    stages = list(dict.fromkeys(r.get("stage") for r in records))
    chosen = stage if stage is not None else stages[-1]
    if chosen not in stages:
        raise SpecError(f"run {run_dir} has no stage {chosen!r} with weights; it has "
                        + ", ".join(map(str, stages)), hint=did_you_mean(str(chosen), stages))
    return [r for r in records if r.get("stage") == chosen][-1]


def _pair(label: str) -> tuple[int, int]:
    src, dst = label.split("->")
    return int(src), int(dst)


def selection(result: Space, cell: str) -> dict[tuple[int, int], tuple[str, ...]]:
    """The edges a stage's ``result`` (its genotype or reduced space) keeps in ``cell``, with
    their ops: what :func:`weights_graph` highlights."""
    found = result.cells.get(cell)
    return {} if found is None else {(e.src, e.dst): e.ops for e in found.edges()}


def stage_result(run_dir: str | Path, stage: str) -> Space | None:
    """The result a run's ``stage`` wrote (``<run>/<stage>.gs``), or None before it finished."""
    path = Path(run_dir) / f"{stage}.gs"
    if not path.is_file():
        return None
    found = load(path).get()
    return found if isinstance(found, Space) else None


def weights_graph(space: Space, cell: str, record: dict[str, Any], top: int | None = TOP_OPS,
                  selected: Space | None = None) -> graphviz.Digraph:
    """Cell ``cell`` of ``space`` labelled with the ``top`` largest op weights of one epoch
    ``record`` of ``metrics.jsonl`` (edge widths: gamma where the stage relaxed edges, otherwise
    each edge's largest op weight); the edges and ops that the stage's result ``selected`` kept
    are highlighted."""
    weights = record["weights"]
    if cell not in weights:
        raise SpecError(f"stage {record.get('stage')!r} has no weights for cell {cell!r}",
                        hint=did_you_mean(cell, list(weights)))
    # labels "a->b#2" are a second parallel edge between the same nodes; the picture keys
    # edges by node pair, so it shows the first
    by_pair = {_pair(lbl): w for lbl, w in weights[cell].items() if "#" not in lbl}
    strength = None
    if cell in record.get("gamma", {}):
        strength = {_pair(lbl): g for lbl, g in record["gamma"][cell].items() if "#" not in lbl}
    try:
        return render_weights(space, cell, by_pair, strength, top=top,
                              selected=None if selected is None else selection(selected, cell))
    except SpecError as e:
        raise SpecError(f"{e.message} (the weights are stage {record.get('stage')!r}'s)",
                        hint="draw the space that stage searched: the recipe's space for the "
                             "first stage, the previous stage's .gs file in the run for later ones"
                        ) from None
