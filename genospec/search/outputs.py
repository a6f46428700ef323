"""What a search stage leaves behind: its selected `.gs`, weight snapshots, pictures and plots.

Stage results are written as `.gs` text with `genospec.lang.emit` and loaded back with the
loader, so the next stage searches exactly what a person reading (or editing) the file sees:

- the searched space itself is copied, whole, to ``<run>/space.gs``;
- a reduced space is ``space <recipe>_<stage> extends <its input>`` (only the changed edges),
  importing the file of the space it was searched in;
- a genotype is ``genotype <recipe>_<stage> of <searched space>``, importing ``space.gs``.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import ir
from ..checkpoint import atomic_write_text
from ..errors import RenderError
from ..lang.emit import emit_space
from ..lang.loader import load, loads
from ..progress import Reporter
from .run import RunDir

SPACE_FILE = "space.gs"
DIGITS = 6


def root_space(run: RunDir, space: ir.Space) -> tuple[str, ir.Space]:
    """The searched space, standalone, as the text of ``<run>/space.gs`` and as read from it
    (the file is written when the run directory is created)."""
    text = emit_space(replace(space, of=None))
    found = loads(text, str(run.path / SPACE_FILE)).get(space.name)
    if not isinstance(found, ir.Space):
        raise TypeError(f"{space.name} is not a space")
    return text, found


def read_space(path: Path, name: str) -> ir.Space:
    """Declaration ``name`` of the `.gs` file at ``path`` (a space or genotype)."""
    found = load(path).get(name)
    if not isinstance(found, ir.Space):
        raise TypeError(f"{path}: {name} is not a space")
    return found


def write_stage_result(run: RunDir, stage: str, result: ir.Space, searched: ir.Space,
                       root: ir.Space) -> ir.Space:
    """Write a stage's result (see the module docstring) and return it as loaded back.

    ``searched`` is the space the stage searched (its file lies in the run directory),
    ``root`` the space of ``space.gs``.
    """
    path = run.stage_output(stage)
    if result.is_genotype:
        text = emit_space(result, of=root.name, imports=[SPACE_FILE])
    else:
        parent_file = Path(searched.file or SPACE_FILE).name
        text = emit_space(result, of=searched, imports=[parent_file])
    atomic_write_text(path, text)
    return read_space(path, result.name)


def copy_genotype(run: RunDir, stage: str) -> Path:
    """The final stage's genotype, copied to ``<run>/genotype.gs``."""
    shutil.copyfile(run.stage_output(stage), run.genotype_path)
    return run.genotype_path


def edge_labels(edges: tuple[ir.Edge, ...] | list[ir.Edge]) -> list[str]:
    """``"src->dst"`` per edge (``#k`` appended to a repeated pair)."""
    seen: dict[str, int] = {}
    labels = []
    for e in edges:
        label = f"{e.src}->{e.dst}"
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return labels


def snapshot(mixing: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready architecture weights of a supernet's ``mixing()``: per cell type the op
    weights of every edge's candidates, the edge weights gamma and the per-node combination
    probabilities (when the stage relaxes edges)."""
    ops: dict[str, Any] = {}
    gamma: dict[str, Any] = {}
    beta: dict[str, Any] = {}
    for name, m in mixing.items():
        labels = edge_labels(m.edges)
        w = m.weights.cpu().tolist()
        col = {o: i for i, o in enumerate(m.op_names)}
        ops[name] = {label: {o: round(w[e][col[o]], DIGITS) for o in edge.ops}
                     for e, (label, edge) in enumerate(zip(labels, m.edges))}
        if m.gamma is not None:
            gamma[name] = {label: round(g, DIGITS) for label, g in zip(labels, m.gamma.tolist())}
        if m.beta is not None:
            beta[name] = [round(b, DIGITS) for b in m.beta.cpu().tolist()]
    out: dict[str, Any] = {"weights": ops}
    if gamma:
        out["gamma"] = gamma
    if beta:
        out["beta"] = beta
    return out


def write_plots(run: RunDir, stage: str, records: list[dict[str, Any]]) -> list[Path]:
    """The stage's figures so far (``genospec.render.figures``) in ``plots/``."""
    from ..render.figures import write_run_figures
    return write_run_figures(run.path, records, stages=[stage])


def render_stage(run: RunDir, stage: str, searched: ir.Space, last: dict[str, Any],
                 result: ir.Space, reporter: Reporter) -> list[Path]:
    """Pictures of the searched weights of every cell type (``cells/<stage>_<cell>.svg``) and,
    for a genotype, of its cells (``cells/genotype_<cell>.svg``). Without graphviz the search
    goes on and the reporter gets a warning."""
    from ..render import render_genotype, write
    from ..render.run_weights import weights_graph

    paths = []
    try:
        for cell in last["weights"]:
            graph = weights_graph(searched, cell, last, selected=result)
            paths.append(write(graph, run.cells_dir / f"{stage}_{cell}.svg"))
        if result.is_genotype:
            for cell in result.cells:
                paths.append(write(render_genotype(result, cell),
                                   run.cells_dir / f"genotype_{cell}.svg"))
    except RenderError as e:
        reporter.event("warning", {"message": e.message})
    return paths

