"""The search engine: runs a recipe's stages in order, each on the previous stage's `.gs` output.

A stage's settings come typed (`genospec.lang.settings.StageSettings`); each stage's data is
loaded (`stage_data`), its supernet trained by the stage trainer (`stage`), its selection rule
applied (`selection`) and its result written (`outputs`). The run directory is created only
once the recipe, the first stage's data and its memory check have succeeded, so a failed start
leaves nothing behind; ``resolved.json`` (`plan`) is what ``--resume`` reads back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .. import distributed, ir
from ..checkpoint import atomic_write_text
from ..data import Dataset
from ..errors import GenospecError, SpecError
from ..lang.settings import StageSettings, stage_settings
from ..plugins import load_plugin
from ..progress import Reporter
from ..runtime.interrupt import SigintGuard
from ..runtime.precision import check_precision
from . import outputs
from .plan import RunPlan, read_plan
from .run import RunDir
from .select import SELECTIONS
from .selection import derivation, select_stage
from .stage import SearchInterrupted, StageTrainer
from .stage_data import load_stage_data

__all__ = ["SearchInterrupted", "SearchOptions", "SearchResult", "resume_search", "start_search"]


@dataclass
class SearchOptions:
    """Command-line choices that are not part of the recipe."""

    quick: bool = False
    data: str | None = None
    data_root: str | None = None
    device: str = "cpu"
    start: str | None = None  # --from STAGE
    space_file: str | None = None  # --space FILE: the start stage's input
    force: bool = False  # --force: start stages whose memory estimate exceeds what is free
    seed: int | None = None  # --seed: every stage's seed
    epochs: int | None = None  # --epochs: every stage's training epochs
    input_size: int | None = None  # --input-size: ImageFolder images resized to this
    precision: str | None = None  # --precision: every stage's precision
    compile: bool = False  # --compile: every stage's supernet through torch.compile


@dataclass
class SearchResult:
    run: RunDir
    outputs: dict[str, Path]
    space: ir.Space  # the last stage's result
    genotype: Path | None  # <run>/genotype.gs when the last stage selected a genotype


# ---- entry points ------------------------------------------------------------------------------
def start_search(recipe: ir.Recipe, *, out: str | Path | None = None, runs_root: str | Path = "runs",
                 options: SearchOptions | None = None, reporter: Reporter | None = None,
                 dataset: Dataset | None = None) -> SearchResult:
    """Run ``recipe`` in a new run directory (``out``, or ``runs_root/<recipe>-<time>``).

    ``dataset`` replaces the recipe's data (tests); ``options`` carry --quick, --data,
    --data-root, --device, --from and --space.
    """
    options = options or SearchOptions()
    names = [s.name for s in recipe.stages]
    start = 0
    if options.start is not None:
        if options.start not in names:
            raise SpecError(f"recipe '{recipe.name}' has no stage '{options.start}'",
                            hint="stages: " + ", ".join(names))
        start = names.index(options.start)
    stages = tuple((s.name, _overridden(stage_settings(recipe, s, options.quick), s.name, options))
                   for s in recipe.stages)
    for name, s in stages[start:]:
        _check_stage(name, s)
    space = recipe.space
    if options.space_file is not None:
        from ..lang.loader import load
        found = load(options.space_file).get()
        if not isinstance(found, ir.Space) or found.is_genotype:
            raise SpecError(f"--space {options.space_file}: the last declaration must be a "
                            "space to search, not a genotype or a recipe")
        space = found
    _device(options.device)
    for _, s_ in stages[start:]:  # fp16 without CUDA: refused before anything is written
        check_precision(s_.precision, options.device)
    # rank 0 writes the run directory; other ranks work in a private one (genospec.distributed)
    run = RunDir.claim(recipe.name, out, runs_root) if distributed.is_main() \
        else RunDir(distributed.private_dir())
    plan = RunPlan(recipe.name, recipe.file, space.name, options.quick, options.data,
                   options.data_root, options.device, start, options.space_file, stages,
                   input_size=options.input_size)
    text, root = outputs.root_space(run, space)

    def create() -> None:  # once the first stage's data and memory check are fine
        if distributed.is_main():
            run.create()
        atomic_write_text(run.path / outputs.SPACE_FILE, text)
        run.write_resolved(plan.to_json())

    return _run(run, plan, root, reporter or Reporter(), dataset,
                distributed.rank_device(options.device), options.force, create)


def resume_search(run_dir: str | Path, *, device: str | None = None,
                  data_root: str | None = None, reporter: Reporter | None = None,
                  dataset: Dataset | None = None, force: bool = False) -> SearchResult:
    """Continue the run in ``run_dir`` from its last checkpoint; ``device`` and ``data_root``
    may differ from the run's (the results do not depend on them)."""
    run = RunDir.open(distributed.shared_copy(run_dir))
    plan = read_plan(run).with_options(device=device, data_root=data_root)
    _device(plan.device)
    root = outputs.read_space(run.path / outputs.SPACE_FILE, plan.space)
    return _run(run, plan, root, reporter or Reporter(), dataset,
                distributed.rank_device(plan.device), force, None)


# ---- the run -----------------------------------------------------------------------------------
def _run(run: RunDir, plan: RunPlan, root: ir.Space, reporter: Reporter,
         dataset: Dataset | None, device: str, force: bool, create) -> SearchResult:
    """The stages of ``plan`` from its start (or from the checkpoint); ``create`` (a new run)
    creates the run directory once the first stage is ready to train."""
    ck = run.load_checkpoint() if create is None else None
    at = (ck["stage"], ck["epoch"]) if ck else (-1, 0)
    if create is None:
        run.keep_metrics(lambda r: (r["stage_index"], r["epoch"]) <= at)
    space, produced, cache = root, {}, {}
    # each stage's first epoch in the run (the learning rate's `cosine over run`)
    firsts = [sum(s.epochs for _, s in plan.stages[:k]) for k in range(len(plan.stages))]
    run_epochs = sum(s.epochs for _, s in plan.stages)
    with SigintGuard() as interrupt:
        for k in range(plan.start, len(plan.stages)):
            name, s = plan.stages[k]
            for plugin in s.plugins:  # --resume: the recipe's plugins again
                load_plugin(plugin)
            result_name = f"{plan.recipe}_{name}"
            if k < at[0]:  # finished before the checkpoint's stage
                space = outputs.read_space(run.stage_output(name), result_name)
                produced[name] = run.stage_output(name)
                continue
            data = load_stage_data(s, plan.data, plan.data_root, dataset, device, cache,
                                   input_size=plan.input_size)
            resume = ck if ck is not None and ck["stage"] == k else None
            stage = StageTrainer(k, name, space, s, data, run, reporter, device, interrupt, force,
                                 run_epoch0=firsts[k], run_epochs=run_epochs)
            stage.derive = derivation(stage)  # the genotype at every epoch, in metrics.jsonl
            model = stage.train(resume, started=create)
            create = None
            result = select_stage(stage, model, resume, result_name)
            written = outputs.write_stage_result(run, name, result, space, root)
            outputs.render_stage(run, name, space, run.metrics()[-1], written, reporter)
            produced[name] = run.stage_output(name)
            reporter.event("stage", {"stage": name, "output": str(produced[name])})
            space = written
    genotype = outputs.copy_genotype(run, plan.stages[-1][0]) if space.is_genotype else None
    reporter.event("done", {"run": str(run.path), "genotype": str(genotype) if genotype else None})
    return SearchResult(run, produced, space, genotype)


def _device(name: str) -> torch.device:
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GenospecError("--device cuda: no CUDA device is available", hint="use --device cpu")
    return dev


def _overridden(s: StageSettings, name: str, options: SearchOptions) -> StageSettings:
    """A stage's settings with the command line's --seed, --epochs, --precision and --compile
    (checked again: e.g. a warm-up longer than the epochs left)."""
    from dataclasses import replace

    from ..lang.settings import check
    changes: dict = {k: v for k, v in (("seed", options.seed), ("epochs", options.epochs),
                                       ("precision", options.precision)) if v is not None}
    if options.compile:
        changes["supernet"] = replace(s.supernet, compile=True)
    if not changes:
        return s
    out = replace(s, **changes)
    check(out, name)
    return out


def _check_stage(name: str, s: StageSettings) -> None:
    """Fail before any training on what a stage could only discover at its end."""
    SELECTIONS.part(s.select.name)  # an unknown rule: SpecError naming the known ones
    pc, chs = s.supernet.pc, s.supernet.channels
    if pc is not None and chs is not None and chs % pc:
        raise SpecError(f"stage '{name}': partial channels (supernet pc {pc}) need channels "
                        f"divisible by {pc}, not {chs}")
