"""`genospec search`: run a search recipe, or resume an interrupted run."""

from __future__ import annotations


import click

from genospec.cli.common import (RegisteredName, pick_declaration, relaunch_in_processes, reports_errors,
                                 tensorboard_option, threads_option, use_threads)
from genospec.limits import MAX_INPUT_SIZE
from genospec.registry import DATASET

EXAMPLE = """\b
Examples:
  genospec search specs/searches/darts.gs darts_first_order --quick
  genospec search specs/searches/darts.gs darts_second_order --data cifar10 --data-root ~/data --device cuda
  genospec search --resume runs/darts_first_order-20250101-120000
  genospec search specs/searches/dots.gs dots --from topology --space runs/dots-1/operations.gs
  genospec search specs/searches/darts.gs darts_first_order --nproc 4 --device cuda"""


@click.command(epilog=EXAMPLE)
@click.argument("recipe_file", required=False, type=click.Path(dir_okay=False))
@click.argument("name", required=False)
@click.option("--quick", is_flag=True, help="Use the recipe's quick { } settings (minutes on a CPU).")
@click.option("--data", type=RegisteredName(DATASET),
              help="Dataset for every stage (a registered one: fashion_mnist, cifar10, cifar100, "
                   "imagefolder, synthetic, ...).")
@click.option("--data-root", type=click.Path(file_okay=False), help="Directory of the dataset.")
@click.option("--device", help="cpu (default), cuda or cuda:N; with --resume: the run's device.")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default: runs/<recipe>-<time>).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, exists=True),
              help="Continue the interrupted run in this directory.")
@click.option("--from", "start", metavar="STAGE", help="Start at this stage (skip the ones before it).")
@click.option("--space", "space_file", type=click.Path(dir_okay=False, exists=True),
              help="With --from: the .gs file whose last declaration the stage searches.")
@click.option("--seed", type=int, help="Every stage's seed (instead of the recipe's).")
@click.option("--epochs", type=click.IntRange(min=1), help="Every stage's training epochs (instead of the recipe's).")
@click.option("--input-size", type=click.IntRange(8, MAX_INPUT_SIZE),
              help="ImageFolder data: resize images to this many pixels a side [224].")
@click.option("--quiet", "progress", flag_value="quiet", help="Print nothing but errors.")
@click.option("--json", "progress", flag_value="json", help="Progress as JSON lines on stdout.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes (DistributedDataParallel: gloo on CPU, nccl on CUDA, one GPU each).")
@click.option("--force", is_flag=True, help="Start even if the memory estimate exceeds the free memory.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]),
              help="Every stage's precision (instead of the recipe's): autocast forwards, "
                   "float32 parameters; fp16 (with a gradient scaler) needs CUDA.")
@click.option("--compile", "compile_", is_flag=True,
              help="torch.compile every stage's supernet (supernet compile on).")
@threads_option
@tensorboard_option
@reports_errors
def search(recipe_file: str | None, name: str | None, quick: bool, data: str | None,
           data_root: str | None, device: str | None, out: str | None, resume_dir: str | None,
           start: str | None, space_file: str | None, progress: str | None, nproc: int,
           force: bool, threads: int | None, seed: int | None, epochs: int | None,
           input_size: int | None, tensorboard: str | None, precision: str | None = None,
           compile_: bool = False) -> None:
    """Run the search recipe NAME of RECIPE_FILE (needed when the file declares several:
    `genospec list FILE` shows them).

    Each stage trains a supernet, applies its selection rule and writes its result as a .gs
    file in the run directory, with metrics.jsonl, checkpoints, pictures of the searched cells
    and plots of the architecture weights; the final genotype is RUN/genotype.gs. Ctrl-C saves
    a checkpoint (exit 130); --resume RUN continues it. With --nproc N the command runs again
    in N processes, each on its share of every batch; rank 0 writes the run directory.
    """
    from genospec import distributed, ir
    from genospec.errors import SpecError
    from genospec.progress import make_reporter
    from genospec.search.engine import SearchOptions, resume_search, start_search

    if resume_dir is not None:
        if recipe_file or quick or data or out or start or space_file or seed is not None \
                or epochs or input_size or precision or compile_:
            raise click.UsageError("--resume takes only the run directory (and --device, "
                                   "--data-root, --nproc, --force)")
    else:
        if recipe_file is None:
            raise click.UsageError("give a recipe file (or --resume RUN_DIR)")
        if space_file is not None and start is None:
            raise click.UsageError("--space needs --from STAGE")
        recipe = pick_declaration(recipe_file, name, "search", "search")
        if not isinstance(recipe, ir.Recipe):
            raise SpecError(f"'{recipe.name}' in {recipe_file} is a {recipe.kind}, not a search recipe",
                            hint="name a `search` declaration")
    relaunch_in_processes(nproc, "search")
    with distributed.session():
        main = distributed.is_main()
        use_threads(threads, quiet=progress == "quiet")
        reporter = make_reporter((progress or "bar") if main else "quiet")
        if main:
            from genospec.tracking import with_tensorboard
            reporter = with_tensorboard(reporter, tensorboard)
        if resume_dir is not None:
            result = resume_search(resume_dir, device=device, data_root=data_root,
                                   reporter=reporter, force=force)
        else:
            options = SearchOptions(quick=quick, data=data, data_root=data_root,
                                    device=device or "cpu", start=start, space_file=space_file,
                                    force=force, seed=seed, epochs=epochs, input_size=input_size,
                                    precision=precision, compile=compile_)
            result = start_search(recipe, out=out, options=options, reporter=reporter)
    if progress is None and main:
        click.echo(str(result.genotype or list(result.outputs.values())[-1]))
