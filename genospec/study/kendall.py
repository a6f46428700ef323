"""DOTS Fig. 1 (paper 000 §1 and §A.1, paper 002 §3.2): does an edge importance rank the
stand-alone accuracy of the networks it would choose?

1. A DARTS search on the DARTS space gives alpha and a genotype.
2. A DOTS topology search (edge annealing, paper 002 §4.1, eq. 5-8) on top of DARTS' operation
   search (paper 000 §4.3, paper 002 Table 2): every edge keeps DARTS' best non-zero op, the
   combinations of each node's two inputs get a beta, trained with the same data and epochs.
3. For the last node of the normal cell (5 incoming edges, 10 pairs) each pair becomes a
   network: DARTS' genotype with that node's inputs replaced by the pair (DARTS' op on each
   edge). Every network is trained from the same seed with the same budget.
4. Kendall tau-b between stand-alone accuracy and (a) DARTS' pair importance, the sum of the two
   edges' largest non-zero op weight (paper 000 §A.1), (b) DOTS' beta of the pair (its logit:
   the softmax at any temperature ranks the pairs alike). The papers report tau = 0.73
   (CIFAR-10) and 0.71 (CIFAR-100) for beta and "no clear correlation" for alpha.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from matplotlib.figure import Figure

from .. import ir
from ..lang.emit import emit_space
from ..nn.network import build_network
from ..progress import Reporter
from ..render.charts import Panel, scatter_figure
from ..relax import cell_layout, make_op_relaxation
from ..search.select import genotype_cell, select
from ..train import preset, train
from .recipes import DARTS_SPACE, darts_recipe, dots_topology_recipe
from .runner import Study, StudyOptions, StudyResult, arch_tensors, load_space
from .tau import kendall_tau_b

CELL = "normal"


def _darts_weights(space: ir.Space, alpha: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """DARTS' op weights softmax(alpha) per cell type (paper 002 eq. 2)."""
    relax = make_op_relaxation("softmax")
    return {name: relax.weights(alpha[f"{name}.alpha"], cell_layout(cell))
            for name, cell in space.cells.items()}


def _reduced_space(space: ir.Space, weights: dict[str, torch.Tensor]) -> ir.Space:
    """``space`` with DARTS' best non-zero op alone on every edge, pairs of inputs still open."""
    cells = {name: select("best_per_edge", space, name, weights[name],
                          cell_layout(cell).ops)
             for name, cell in space.cells.items()}
    return ir.Space("darts_ops", "space", dict(space.ops), cells, space.network)


def _last_node_pairs(space: ir.Space, w: torch.Tensor, reduced: ir.Space,
                     beta: torch.Tensor) -> list[dict]:
    """For every pair of inputs of the normal cell's last node: its edges, DARTS' op on each,
    DARTS' importance (the sum of the edges' largest non-zero op weight in ``w``, paper 000
    §A.1) and DOTS' beta logit of the pair."""
    cell = space.cells[CELL]
    layout = cell_layout(cell)
    last = layout.node_edges[-1]
    strength = {e: max(float(w[e, layout.ops.index(o)])
                       for o in space.selectable_ops(cell, layout.edges[e])) for e in last}
    node_beta = beta[layout.beta_slices[-1]].tolist()
    rows = []
    for c, members in enumerate(layout.combinations[-1]):
        if len(members) != 2:
            raise ValueError("the last node's combinations are not pairs of edges")
        edges = [last[m] for m in members]
        rows.append({"edges": tuple(layout.edges[e] for e in edges),
                     "inputs": [layout.edges[e].src for e in edges],
                     "ops": [reduced.cells[CELL].edges()[e].op for e in edges],
                     "darts_importance": sum(strength[e] for e in edges),
                     "dots_beta": node_beta[c]})
    return rows


def _pair_genotype(space: ir.Space, genotype: ir.Space, pair: tuple[ir.Edge, ir.Edge],
                   ops: tuple[str, str]) -> ir.Space:
    """DARTS' genotype with the last node of the normal cell fed by ``pair``."""
    cell = genotype.cells[CELL]
    last = cell.node_ids[-1]
    kept = [[(e, e.op) for e in cell.in_edges(j)] if j != last else list(zip(pair, ops))
            for j in cell.node_ids]
    cells = dict(genotype.cells, **{CELL: genotype_cell(cell, kept)})
    name = f"pair_{pair[0].src}_{pair[1].src}"
    return ir.Space(name, "genotype", dict(space.ops), cells, space.network)


def _train_pair(study: Study, genotype: ir.Space) -> float:
    """Stand-alone test accuracy of ``genotype`` (fixed seed, the scale's budget; crops padded
    by an eighth of the image size, 4 pixels at 32 as DARTS pads)."""
    scale, ds = study.scale, study.dataset
    config = preset(scale.train_protocol, epochs=scale.train_epochs,
                    batch_size=scale.train_batch, train_subset=scale.train_subset,
                    test_subset=scale.test_subset, seed=study.options.seed,
                    device=study.options.device, crop_padding=ds.size // 8)
    torch.manual_seed(study.options.seed)
    model = build_network(genotype, cells=scale.train_cells, channels=scale.train_channels,
                          classes=ds.num_classes, in_chans=ds.in_chans,
                          auxiliary=scale.train_auxiliary, drop_path=config.drop_path)
    report = train(model, ds, config, study.work / f"train_{genotype.name}", study.reporter)
    return float(report["top1"])


def run_kendall(options: StudyOptions, reporter: Reporter | None = None) -> StudyResult:
    """Run the study (see the module docstring); writes ``kendall_<scale>_<data>.json`` and
    its figure (``.png``, ``.svg``, ``.pdf``)."""
    study = Study("kendall", options, reporter)
    scale, seed = study.scale, options.seed
    space = load_space(DARTS_SPACE, "darts")
    darts = study.search("darts", darts_recipe("study_darts", DARTS_SPACE, "darts", scale, seed),
                         "study_darts")
    weights = _darts_weights(space, arch_tensors(darts.run.path))
    reduced = _reduced_space(space, weights)
    text = emit_space(replace(reduced, of=None))
    dots = study.search("dots", dots_topology_recipe("study_dots", text, reduced.name, scale,
                                                    seed, relax_ops=False), "study_dots")
    beta = arch_tensors(dots.run.path)[f"{CELL}.beta"]

    rows = []
    for c, pair in enumerate(_last_node_pairs(space, weights[CELL], reduced, beta)):
        genotype = _pair_genotype(space, darts.space, pair.pop("edges"), tuple(pair["ops"]))
        study.say(f"train {genotype.name} (pair {c + 1})")
        with study.clock.part(f"train {genotype.name}"):
            rows.append({**pair, "accuracy": _train_pair(study, genotype)})

    accuracy = [r["accuracy"] for r in rows]
    tau = {"darts_alpha": kendall_tau_b([r["darts_importance"] for r in rows], accuracy),
           "dots_beta": kendall_tau_b([r["dots_beta"] for r in rows], accuracy)}
    result = {
        "question": "Kendall tau-b between edge-pair importance and stand-alone accuracy "
                    "(DOTS Fig. 1)",
        "paper": {"dots_beta": {"cifar10": 0.73, "cifar100": 0.71},
                  "darts_alpha": "no clear rank correlation"},
        "cell": CELL, "node": space.cells[CELL].node_ids[-1],
        "tau_b": tau, "pairs": rows,
        "darts_genotype": emit_space(darts.space), "darts_run": str(darts.run.path),
        "dots_genotype": emit_space(dots.space), "dots_run": str(dots.run.path),
    }
    summary = [f"Kendall tau-b, accuracy vs {k}: {_tau_text(v)}" for k, v in tau.items()]
    return study.finish(result, picture, summary)


def _tau_text(value: float | None) -> str:
    return "undefined (all values tied)" if value is None else f"{value:.3f}"


def picture(result: dict[str, Any]) -> Figure:
    """The study's figure from its result (as written to the JSON file): accuracy against DARTS'
    pair importance and against DOTS' beta, one panel each."""
    rows, tau = result["pairs"], result["tau_b"]

    def caption(name: str, value: float | None) -> str:
        return f"{name}: Kendall tau-b = {'undefined' if value is None else f'{value:.2f}'}"

    labels = ["{},{}".format(*r["inputs"]) for r in rows]
    acc = [100 * r["accuracy"] for r in rows]
    panels = [
        Panel(caption("(a) DARTS alpha", tau["darts_alpha"]), "edge-pair importance (alpha)",
              "stand-alone accuracy (%)",
              [(r["darts_importance"], a, lab) for r, a, lab in zip(rows, acc, labels)]),
        Panel(caption("(b) DOTS beta", tau["dots_beta"]), "edge-combination logit (beta)",
              "stand-alone accuracy (%)",
              [(r["dots_beta"], a, lab) for r, a, lab in zip(rows, acc, labels)]),
    ]
    title = (f"Edge importance vs stand-alone accuracy, last node of the normal cell "
             f"({result['data']}, {result['scale']['name']} scale)")
    return scatter_figure(panels, title)
