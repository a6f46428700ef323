"""A training run of a genotype: build the network and data, keep what a resume needs.

The run directory holds ``genotype.gs`` (the genotype as trained), ``run.json`` (network options,
dataset and the training configuration) next to the loop's checkpoint, metrics and report, so
``resume_training(run_dir)`` rebuilds exactly the same network without the original files.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import distributed
from ..checkpoint import atomic_write_text
from ..errors import GenospecError
from ..ir import Space
from ..progress import Reporter
from .config import TrainConfig, preset

RUN_FILE = "run.json"
GENOTYPE_FILE = "genotype.gs"
NETWORK_FILE = "network.pt2"


@dataclass(frozen=True)
class NetworkOptions:
    """How the genotype becomes a network (unset: the genotype's network block)."""

    layout: str | None = None
    cells: int | None = None
    channels: int | None = None
    auxiliary: bool | None = None


# --quick trains a small network: fewer cells and channels than the DARTS evaluation network.
QUICK_NETWORK = NetworkOptions(cells=5, channels=8, auxiliary=False)


def default_run_dir(space: Space) -> Path:
    return Path("runs") / f"train-{space.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def train_genotype(space: Space, config: TrainConfig, *, network: NetworkOptions = NetworkOptions(),
                   data: str = "fashion_mnist", data_root: str | None = None, run_dir: str | Path | None = None,
                   reporter: Reporter | None = None, input_size: int | None = None) -> dict[str, Any]:
    """Train the evaluation network of ``space`` from scratch; returns the final report
    (``report["run"]``: the run directory). ``input_size``: ImageFolder images are resized to
    it (default 224)."""
    from ..lang.emit import emit_space

    if not space.is_genotype or not all(c.is_fixed for c in space.cells.values()):
        raise GenospecError(f"'{space.name}' is a space with choices left; train a genotype",
                            hint="run `genospec search` first, or write a `genotype` declaration")
    run = Path(run_dir) if run_dir is not None else default_run_dir(space)
    if not distributed.is_main():  # rank 0 writes the run directory (genospec.distributed)
        run = distributed.private_dir()
    standalone = dataclasses.replace(space, of=None)
    record = {"network": dataclasses.asdict(network), "data": data, "data_root": data_root,
              "config": dataclasses.asdict(config), "genotype": space.name,
              "input_size": input_size}
    if (run / RUN_FILE).exists():
        raise GenospecError(f"{run} already holds a training run", hint=f"resume it: genospec train --resume {run}")

    def create() -> None:  # once the data has loaded and the network is built
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run / GENOTYPE_FILE, emit_space(standalone))
        atomic_write_text(run / RUN_FILE, json.dumps(record, indent=2) + "\n")

    return _train(standalone, network, data, data_root, config, run, reporter, resume=False,
                  create=create, input_size=input_size)


def resume_training(run_dir: str | Path, *, device: str | None = None,
                    data_root: str | None = None,
                    reporter: Reporter | None = None) -> dict[str, Any]:
    """Continue an interrupted training run from its directory; ``device`` and ``data_root``
    may differ from the run's."""
    from ..lang.loader import load

    run = distributed.shared_copy(run_dir)  # rank 0: run_dir; others: a private copy
    if not (run / RUN_FILE).is_file():
        raise GenospecError(f"{run} is not a training run directory (no {RUN_FILE})")
    record = json.loads((run / RUN_FILE).read_text())
    space = load(run / GENOTYPE_FILE).get()
    config = TrainConfig(**record["config"])
    if device is not None:
        config = config.with_options(device=device)
    return _train(space, NetworkOptions(**record["network"]), record["data"],
                  data_root or record["data_root"], config, run, reporter, resume=True,
                  input_size=record.get("input_size"))


def _train(space: Space, network: NetworkOptions, data: str, data_root: str | None, config: TrainConfig,
           run: Path, reporter: Reporter | None, resume: bool,
           create: Callable[[], None] | None = None, input_size: int | None = None) -> dict[str, Any]:
    from ..data import load_dataset
    from ..nn.network import build_network
    from .loop import train

    dataset = load_dataset(data, data_root, **({"size": input_size} if input_size else {}))
    model = build_network(space, layout=network.layout, cells=network.cells, channels=network.channels,
                          classes=dataset.num_classes, in_chans=dataset.in_chans,
                          auxiliary=network.auxiliary, drop_path=config.drop_path)
    if create is not None:
        create()
    report = train(model, dataset, config, run, reporter, resume=resume)
    report["run"] = str(run)
    if report.get("status") == "complete":
        from ..nn.count import count_macs
        report["macs"] = count_macs(model, (dataset.in_chans, dataset.size, dataset.size))
        if distributed.is_main():  # the trained network, loadable without genospec
            from ..nn.export import export_network
            report["network"] = str(export_network(model, run / NETWORK_FILE,
                                                   (dataset.in_chans, dataset.size, dataset.size)))
        atomic_write_text(run / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def make_config(protocol: str, quick: bool, overrides: dict[str, Any]) -> TrainConfig:
    """The protocol's configuration (``quick`` wins), with the flags the user gave."""
    return preset("quick" if quick else protocol, **{k: v for k, v in overrides.items() if v is not None})
