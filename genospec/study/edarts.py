"""eDARTS Table II (paper 001 §III-C, §IV-C): skip connections found by DARTS with all the
data, with a data subset, with the sparse ("epoch") architecture update, and with both.

The paper searches with second-order DARTS, 50 epochs, on 25,000 + 25,000 CIFAR-10 images or a
subset of 2,500 + 2,500, updating alpha every step or once per epoch after the weights have seen
the whole epoch, and sums the skip connections of the normal and reduction cells over five runs:
14 / 19 (DARTS), 4 / 14 (+ subset), 5 / 11 (+ epoch update), 5 / 8 (both). Here each variant
runs ``Scale.runs`` seeds; the subset is ``Scale.edarts_subset``, "all the data" the scale's
``subset`` (None: both halves of the training set). Search cost is reported per variant too.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from ..lang.emit import emit_space
from ..progress import Reporter
from ..render.charts import bars_figure
from .recipes import DARTS_SPACE, darts_recipe
from .runner import Study, StudyOptions, StudyResult, count_op

# (label, data subset, update once per epoch)
VARIANTS = (("DARTS", False, False), ("DARTS + data subset", True, False),
            ("DARTS + epoch update", False, True),
            ("DARTS + data subset + epoch update", True, True))

PAPER = {  # paper 001 Table II: skip connections summed over five runs, shallow-network accuracy
    "DARTS": {"normal": 14, "reduce": 19, "accuracy": 90.25, "gpu_hours": 36},
    "DARTS + data subset": {"normal": 4, "reduce": 14, "accuracy": 91.27, "gpu_hours": 6},
    "DARTS + epoch update": {"normal": 5, "reduce": 11, "accuracy": 91.33, "gpu_hours": 4.6},
    "DARTS + data subset + epoch update": {"normal": 5, "reduce": 8, "accuracy": 92.15,
                                           "gpu_hours": 0.85},
}


def run_edarts(options: StudyOptions, reporter: Reporter | None = None) -> StudyResult:
    """Run the study (see the module docstring); writes ``edarts_<scale>_<data>.json`` and its
    figure (``.png``, ``.svg``, ``.pdf``)."""
    study = Study("edarts", options, reporter)
    scale = study.scale
    variants = []
    for v, (label, use_subset, per_epoch) in enumerate(VARIANTS):
        runs = []
        for k in range(scale.runs):
            seed = options.seed + k
            tag = f"v{v}_seed{seed}"
            name = f"study_edarts_{tag}"
            text = darts_recipe(name, DARTS_SPACE, "darts", scale, seed, order=scale.order,
                                per_epoch=per_epoch,
                                subset=scale.edarts_subset if use_subset else None)
            run = study.search(tag, text, name)
            cells = run.space.cells
            runs.append({"seed": seed, "normal": count_op(cells["normal"], "skip_connect"),
                         "reduce": count_op(cells["reduce"], "skip_connect"),
                         "edges": len(cells["normal"].edges()),
                         "genotype": emit_space(run.space), "run": str(run.run.path),
                         "time": study.clock.parts[f"search {tag}"]})
        variants.append({
            "variant": label, "subset": list(scale.edarts_subset) if use_subset
            else (list(scale.subset) if scale.subset else None),
            "update": "once per epoch" if per_epoch else "every step",
            "normal": sum(r["normal"] for r in runs), "reduce": sum(r["reduce"] for r in runs),
            "search_wall_s": round(sum(r["time"]["wall_s"] for r in runs), 1),
            "search_cpu_s": round(sum(r["time"]["cpu_s"] for r in runs), 1),
            "runs": runs})
    result = {"question": "skip connections in the normal and reduction cells, summed over "
                          f"{scale.runs} run(s) per variant (eDARTS Table II)",
              "order": scale.order, "paper": PAPER, "variants": variants}
    summary = [f"{v['variant']}: skip_connect normal {v['normal']}, reduce {v['reduce']} "
               f"(search {v['search_wall_s']} s wall, {v['search_cpu_s']} s CPU)"
               for v in variants]
    return study.finish(result, picture, summary)


def picture(result: dict[str, Any]) -> Figure:
    """The study's figure from its result (as written to the JSON file): skip connections per
    variant, normal and reduction cells."""
    variants, runs = result["variants"], result["scale"]["runs"]
    groups = [(v["variant"].replace("DARTS + ", "+ ").replace(" + ", "\n+ "),
               {"normal": v["normal"], "reduce": v["reduce"]}) for v in variants]
    title = (f"Skip connections found by DARTS variants, {runs} run(s) each "
             f"({result['data']}, {result['scale']['name']} scale)")
    edges = max(r["edges"] for v in variants for r in v["runs"])
    return bars_figure(groups, title, "skip connections", y_max=edges * runs)
