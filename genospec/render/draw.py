"""`genospec render`: draw every (or the chosen) cell of a genotype, space or searched run."""

from __future__ import annotations

from pathlib import Path

from ..ir import Space
from .cells import TOP_OPS, render_genotype, render_space
from .files import write


def draw_to_files(space: Space, output: str | None, cells: list[str] | None = None,
                  run_dir: str | None = None, stage: str | None = None,
                  top: int | None = TOP_OPS) -> list[Path]:
    """Write one picture per cell; with several cells, ``output``'s stem gets ``_CELL``.

    With ``run_dir``, the cells are drawn with the architecture weights that search run reached
    (its ``stage``, default the last), each cell type that stage searched: the ``top`` largest
    op weights per edge (None: all), what the stage selected highlighted once it finished."""
    names = cells or list(space.cells)
    record = result = None
    if run_dir is not None:
        from .run_weights import last_weights, stage_result, weights_graph
        record = last_weights(run_dir, stage)
        result = stage_result(run_dir, str(record["stage"]))
        if not cells:
            names = [n for n in names if n in record["weights"]] or names
    out = Path(output) if output else Path(f"{space.name}.svg")
    paths = []
    for name in names:
        if record is not None:
            graph = weights_graph(space, name, record, top=top, selected=result)
        elif space.cells.get(name) is not None and space.cells[name].is_fixed:
            graph = render_genotype(space, name)
        else:
            graph = render_space(space, name)
        target = out if len(names) == 1 else out.with_name(f"{out.stem}_{name}{out.suffix}")
        paths.append(write(graph, target))
    return paths
