"""`genospec study`: the papers' analyses (DOTS Fig. 1, DARTS-PT S2/S4, eDARTS Table II)."""

from __future__ import annotations

from pathlib import Path

import click

from genospec.cli.common import RegisteredName, reports_errors, threads_option, use_threads
from genospec.registry import DATASET, STUDY

EXAMPLE = """\b
Examples:
  genospec study kendall --quick
  genospec study skips --quick --data synthetic --out /tmp/studies
  genospec study edarts --data cifar10 --data-root ~/data --device cuda"""


@click.command(epilog=EXAMPLE)
@click.argument("name", type=RegisteredName(STUDY))
@click.option("--quick", is_flag=True,
              help="Tiny supernets and networks: minutes on two CPU cores.")
@click.option("--data", type=RegisteredName(DATASET), default="fashion_mnist", show_default=True,
              help="A registered dataset: fashion_mnist, synthetic, cifar10, cifar100, ...")
@click.option("--data-root", type=click.Path(file_okay=False), help="Directory of the dataset.")
@click.option("--out", default="studies", show_default=True, type=click.Path(file_okay=False),
              help="Where the JSON result and the SVG picture go.")
@click.option("--work", type=click.Path(file_okay=False),
              help="Directory for the search and training runs (default: runs/study-NAME-TIME).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--seed", type=int, default=2, show_default=True,
              help="Seed of every search and training run.")
@click.option("--quiet", "progress", flag_value="quiet", help="Print nothing but errors.")
@click.option("--json", "progress", flag_value="json", help="Progress as JSON lines on stdout.")
@threads_option
@reports_errors
def study(name: str, quick: bool, data: str, data_root: str | None, out: str, work: str | None,
          device: str, seed: int, progress: str | None, threads: int | None) -> None:
    """Run the study NAME and write its result as JSON and SVG to --out.

    \b
    kendall  DOTS Fig. 1: Kendall tau-b between edge-pair importance (DARTS alpha, DOTS beta)
             and the stand-alone accuracy of the 10 networks the last node's pairs give
    skips    skip_connect (RobustDARTS S2) and noise (S4) in the cells found by DARTS,
             DARTS-PT and DOTS
    edarts   eDARTS Table II: skip connections with all the data, a data subset, the
             once-per-epoch architecture update, and both

    Without --quick the papers' settings run (GPU days); --quick finishes in minutes.
    Wall and CPU time are measured and written with the result.
    """
    from genospec.progress import make_reporter
    from genospec.study import PAPER, QUICK, StudyOptions, run_study

    use_threads(threads, quiet=progress == "quiet")
    options = StudyOptions(scale=QUICK if quick else PAPER, data=data, data_root=data_root,
                           out=Path(out), work=Path(work) if work else None, device=device,
                           seed=seed)
    result = run_study(name, options, make_reporter(progress or "bar"))
    if progress is None:
        for line in result.summary:
            click.echo(line)
        click.echo(str(result.json_path))
        click.echo(str(result.svg_path))
