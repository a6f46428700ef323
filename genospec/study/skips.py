"""Parameter-free ops in the normal cell: DARTS vs DARTS-PT vs DOTS on RobustDARTS S2 and S4.

DARTS-PT (paper 004 §3.1 Fig. 2, §6.1 Fig. 5): on S2 (skip_connect | sep_conv_3x3) alpha favours
skip_connect on 12 of 14 edges and DARTS' magnitude selection fills the normal cell with skip
connections, while perturbation selection keeps 4 convolutions; on S4 (noise | sep_conv_3x3)
DARTS picks noise where DARTS-PT picks sep_conv_3x3. DOTS is not evaluated on S2/S4 by its
papers; here it runs its edge annealing topology search with the op softmax at T_beta / 1000
(paper 002 Fig. 3). Its group operation stage is left out: with Group-V2 each S2/S4 op sits
alone in its group, so that stage would keep both ops on every edge and change nothing.

Every method trains the same supernet on the same data for the same epochs (`Scale`); the
result counts the op in the normal (and reduction) cell of each genotype, out of 8 edges.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from ..lang.emit import emit_space
from ..progress import Reporter
from ..render.charts import bars_figure
from .recipes import S2_SPACE, S4_SPACE, darts_recipe, dots_topology_recipe
from .runner import Study, StudyOptions, StudyResult, count_op

# space key -> (space text, space name, the parameter-free op counted)
SPACES = {"S2": (S2_SPACE, "robust_darts_s2", "skip_connect"),
          "S4": (S4_SPACE, "robust_darts_s4", "noise")}
METHODS = ("DARTS", "DARTS-PT", "DOTS")

PAPER = {
    "S2": "DARTS: normal cell filled with skip connections (alpha_skip > alpha_sep on 12 of 14 "
          "edges, paper 004 Fig. 2a); DARTS-PT: 4 sep_conv_3x3, i.e. 4 skips (Fig. 5)",
    "S4": "DARTS selects noise where DARTS-PT selects sep_conv_3x3 (paper 004 Fig. 5)",
}


def _recipe(method: str, name: str, text: str, space: str, study: Study) -> str:
    scale, seed = study.scale, study.options.seed
    if method == "DOTS":
        return dots_topology_recipe(name, text, space, scale, seed, relax_ops=True)
    return darts_recipe(name, text, space, scale, seed, perturbation=method == "DARTS-PT")


def run_skips(options: StudyOptions, reporter: Reporter | None = None) -> StudyResult:
    """Run the study (see the module docstring); writes ``skips_<scale>_<data>.json`` and its
    figure (``.png``, ``.svg``, ``.pdf``)."""
    study = Study("skips", options, reporter)
    rows = []
    for key, (text, space, op) in SPACES.items():
        for method in METHODS:
            label = f"{method.lower().replace('-', '_')}_{key.lower()}"
            name = f"study_{label}"
            run = study.search(label, _recipe(method, name, text, space, study), name)
            rows.append({"space": key, "op": op, "method": method,
                         "normal": count_op(run.space.cells["normal"], op),
                         "reduce": count_op(run.space.cells["reduce"], op),
                         "edges": len(run.space.cells["normal"].edges()),
                         "genotype": emit_space(run.space), "run": str(run.run.path),
                         "time": study.clock.parts[f"search {label}"]})
    result = {"question": "parameter-free ops (skip_connect on S2, noise on S4) in the "
                          "searched normal cell", "paper": PAPER, "results": rows}
    summary = [f"{r['space']} {r['method']}: {r['op']} on {r['normal']}/{r['edges']} normal-cell "
               f"edges, {r['reduce']}/{r['edges']} reduction-cell edges" for r in rows]
    return study.finish(result, picture, summary)


def picture(result: dict[str, Any]) -> Figure:
    """The study's figure from its result (as written to the JSON file): the op's count per
    space and cell type, one bar per method."""
    rows = result["results"]
    groups = []
    for key in dict.fromkeys(r["space"] for r in rows):
        op = next(r["op"] for r in rows if r["space"] == key)
        for cell in ("normal", "reduce"):
            groups.append((f"{key} {cell}\n{op}",
                           {r["method"]: r[cell] for r in rows if r["space"] == key}))
    title = (f"Parameter-free ops in the searched cells ({result['data']}, "
             f"{result['scale']['name']} scale)")
    edges = max(r["edges"] for r in rows)
    return bars_figure(groups, title, f"edges (of {edges})", y_max=edges)
