"""`genospec train`: train a genotype's evaluation network from scratch, or resume a run."""

from __future__ import annotations

import json

import click

from genospec.cli.common import (RegisteredName, pick_declaration, relaunch_in_processes, reports_errors,
                                 tensorboard_option, threads_option, upto, use_threads)
from genospec.limits import MAX_CHANNELS, MAX_INPUT_SIZE, MAX_NETWORK_CELLS
from genospec.registry import DATASET, LAYOUT

EXAMPLE = """\b
Examples:
  genospec train specs/genotypes/darts.gs DARTS_V2 --quick
  genospec train runs/quick-darts/genotype.gs --data cifar10 --data-root ~/data --auxiliary --device cuda
  genospec train specs/genotypes/darts.gs DARTS_V2 --protocol imagenet --data imagefolder --data-root ~/imagenet
  genospec train --resume runs/train-DARTS_V2-20261122-101500"""


@click.command(epilog=EXAMPLE)
@click.argument("genotype_file", required=False, type=click.Path(dir_okay=False))
@click.argument("name", required=False)
@click.option("--protocol", type=click.Choice(["darts_cifar", "imagenet", "darts_imagenet"]), default="darts_cifar",
              show_default=True, help="Training protocol: DARTS CIFAR (600 epochs, cosine, cutout, drop path, "
                                      "aux 0.4) or ImageNet (lr 0.5, 5 warm-up epochs, label smoothing 0.1).")
@click.option("--quick", is_flag=True, help="A small network for 3 epochs on 2,000 images (minutes on a CPU).")
@click.option("--data", type=RegisteredName(DATASET), default="fashion_mnist", show_default=True,
              help="A registered dataset: fashion_mnist, cifar10, cifar100, imagefolder, synthetic, ...")
@click.option("--data-root", type=click.Path(file_okay=False), help="Directory of the dataset.")
@click.option("--network", "layout", type=RegisteredName(LAYOUT), help="Network layout (a registered one: cifar, imagenet, nb201, ...).")
@click.option("--cells", type=upto(MAX_NETWORK_CELLS), help="Number of cells (DARTS CIFAR evaluation: 20).")
@click.option("--channels", type=upto(MAX_CHANNELS), help="Initial channels C (DARTS CIFAR evaluation: 36).")
@click.option("--auxiliary/--no-auxiliary", default=None, help="Auxiliary head (weight --auxiliary-weight).")
@click.option("--auxiliary-weight", type=float, help="Weight of the auxiliary loss [0.4].")
@click.option("--epochs", type=int, help="Epochs [600].")
@click.option("--batch", "batch_size", type=int, help="Batch size [96].")
@click.option("--lr", type=float, help="Initial learning rate [0.025].")
@click.option("--weight-decay", type=float, help="Weight decay [3e-4].")
@click.option("--momentum", type=float, help="SGD momentum [0.9].")
@click.option("--clip", "grad_clip", type=float, help="Gradient clipping norm, 0 for none [5].")
@click.option("--cutout", type=int, help="Cutout length, 0 for none [16].")
@click.option("--drop-path", type=float, help="Final drop-path rate, ramped linearly [0.2].")
@click.option("--label-smoothing", type=float, help="Label smoothing [0].")
@click.option("--seed", type=int, help="Random seed [0].")
@click.option("--device", help="cpu (default), cuda or cuda:N.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]),
              help="Autocast forwards, float32 parameters [fp32]; fp16 (with a gradient "
                   "scaler) needs CUDA.")
@click.option("--compile", "compile", is_flag=True, default=None,
              help="torch.compile the network.")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default: runs/train-<name>-<time>).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, exists=True),
              help="Continue the interrupted run in this directory.")
@click.option("--input-size", type=click.IntRange(8, MAX_INPUT_SIZE),
              help="ImageFolder data: resize images to this many pixels a side [224].")
@click.option("--quiet", "progress", flag_value="quiet", help="Print nothing but errors.")
@click.option("--json", "progress", flag_value="json", help="Progress as JSON lines on stdout.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes (DistributedDataParallel: gloo on CPU, nccl on CUDA, one GPU each).")
@threads_option
@tensorboard_option
@reports_errors
def train(genotype_file: str | None, name: str | None, protocol: str, quick: bool, data: str,
          data_root: str | None, layout: str | None, cells: int | None, channels: int | None,
          auxiliary: bool | None, progress: str | None, out: str | None, resume_dir: str | None,
          device: str | None, nproc: int, threads: int | None, input_size: int | None,
          tensorboard: str | None, **overrides: object) -> None:
    """Train the evaluation network of genotype NAME in GENOTYPE_FILE from scratch (NAME is
    needed when the file declares several: `genospec list FILE` shows them).

    Writes RUN/metrics.jsonl and RUN/metrics.csv (one line per epoch), an atomic checkpoint
    every epoch, RUN/network.pt2 (the trained network in eval mode, torch.export: loads with
    `torch.export.load(path).module()` without genospec) and RUN/report.json (top-1, top-5,
    parameters, multiply-adds, wall time, the run directory), which is also printed.
    Ctrl-C saves a checkpoint (exit 130); --resume RUN continues it. With --nproc N the command
    runs again in N processes, each on its share of every batch; rank 0 writes the run directory.
    """
    from genospec import distributed, ir
    from genospec.errors import SpecError
    from genospec.progress import make_reporter
    from genospec.train.session import QUICK_NETWORK, NetworkOptions, make_config, resume_training, train_genotype

    if resume_dir is not None:
        if genotype_file is not None or input_size is not None:
            raise click.UsageError("--resume takes only the run directory (and --device, "
                                   "--data-root, --nproc)")
    else:
        if genotype_file is None:
            raise click.UsageError("give a genotype file (or --resume RUN_DIR)")
        space = pick_declaration(genotype_file, name, "train", "genotype")
        if not isinstance(space, ir.Space):
            raise SpecError(f"'{space.name}' is a search recipe, not a genotype")
        config = make_config(protocol, quick, {**overrides, "device": device})
        base = QUICK_NETWORK if quick else NetworkOptions()
        network = NetworkOptions(layout or base.layout, cells or base.cells, channels or base.channels,
                                 base.auxiliary if auxiliary is None else auxiliary)
    relaunch_in_processes(nproc, "train")
    with distributed.session():
        main = distributed.is_main()
        use_threads(threads, quiet=progress == "quiet")
        reporter = make_reporter((progress or "bar") if main else "quiet")
        if main:
            from genospec.tracking import with_tensorboard
            reporter = with_tensorboard(reporter, tensorboard)
        if resume_dir is not None:
            report = resume_training(resume_dir, device=device, data_root=data_root,
                                     reporter=reporter)
        else:
            report = train_genotype(space, config, network=network, data=data, data_root=data_root,
                                    run_dir=out, reporter=reporter, input_size=input_size)
    if main and progress != "quiet":
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        if progress is None:
            click.echo(f"wrote the run to {report['run']}", err=True)
