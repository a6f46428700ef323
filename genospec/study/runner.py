"""What every study shares: options, data, timing, search runs, architecture readout, results.

A study runs searches through the search engine (`genospec.search.engine.start_search`) in
run directories under ``work``, reads the trained architecture parameters back from each run's
last checkpoint, and writes one JSON result and its figure to ``out``, named
``<study>_<scale>_<data>.json`` and ``.png`` / ``.svg`` / ``.pdf`` (the figure is drawn from
the result alone, so it can be redrawn from the JSON file). Wall and CPU time (this process,
all threads) are measured per part and in total.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from .. import ir
from ..checkpoint import atomic_write_text
from ..checkpoint import load as load_checkpoint
from ..data import Dataset, TensorSplit, load_dataset
from ..errors import DataError
from ..lang.loader import loads
from ..progress import Reporter
from ..render.charts import save
from ..search.engine import SearchOptions, SearchResult, start_search
from ..search.run import RunDir
from .recipes import QUICK, Scale


@dataclass(frozen=True)
class StudyOptions:
    """How to run a study: its ``scale``, the data (``dataset`` replaces ``data``/``data_root``,
    for tests), where results go (``out``) and where search and training runs go (``work``,
    default ``runs/study-<name>-<time>``), the torch ``device`` and the base ``seed``."""

    scale: Scale = QUICK
    data: str = "fashion_mnist"
    data_root: str | None = None
    dataset: Dataset | None = None
    out: Path = Path("studies")
    work: Path | None = None
    device: str = "cpu"
    seed: int = 2


@dataclass
class StudyResult:
    """A finished study: its result (as written to ``json_path``), its figure (``svg_path``, and
    every format written in ``figures``) and a few lines that sum it up."""

    name: str
    result: dict[str, Any]
    json_path: Path
    svg_path: Path
    summary: list[str]
    figures: list[Path] = field(default_factory=list)


@dataclass
class Clock:
    """Wall and CPU seconds, per named part and since the clock was made."""

    parts: dict[str, dict[str, float]] = field(default_factory=dict)
    _wall: float = field(default_factory=time.perf_counter)
    _cpu: float = field(default_factory=time.process_time)

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.parts[name] = {"wall_s": round(time.perf_counter() - wall, 1),
                                "cpu_s": round(time.process_time() - cpu, 1)}

    def summary(self) -> dict[str, Any]:
        return {"wall_s": round(time.perf_counter() - self._wall, 1),
                "cpu_s": round(time.process_time() - self._cpu, 1), "parts": self.parts}


class Study:
    """One running study: its options, data, run directories, clock and reporter."""

    def __init__(self, name: str, options: StudyOptions, reporter: Reporter | None = None):
        self.name = name
        self.options = options
        self.scale = options.scale
        self.reporter = reporter or Reporter()
        self.clock = Clock()
        self.work = options.work or Path("runs") / f"study-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        with self.clock.part("load data"):
            dataset = options.dataset or load_dataset(options.data, options.data_root)
            if self.scale.image_size is not None:
                dataset = resized(dataset, self.scale.image_size)
            self.dataset = dataset

    def say(self, message: str) -> None:
        """A progress line (through the reporter: the library never prints)."""
        self.reporter.event("study", {"study": self.name, "message": message})

    def search(self, label: str, text: str, recipe: str) -> SearchResult:
        """Run the recipe ``recipe`` of the `.gs` ``text`` in ``work/label`` on the study's data."""
        found = loads(text, f"<{self.name}:{label}>").get(recipe)
        if not isinstance(found, ir.Recipe):
            raise TypeError(f"{recipe} is not a search recipe")
        self.say(f"search {label}")
        with self.clock.part(f"search {label}"):
            return start_search(found, out=self.work / label, reporter=self.reporter,
                                options=SearchOptions(device=self.options.device),
                                dataset=self.dataset)

    def finish(self, result: dict[str, Any], picture: Callable[[dict[str, Any]], Figure],
               summary: list[str]) -> StudyResult:
        """Add the common facts (scale, data, time) to ``result`` and write it with its figure,
        ``picture(result)`` as written; ``summary`` gets a last line with the time taken."""
        out = Path(self.options.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{self.name}_{self.scale.name}_{self.dataset.name}"
        full = _plain({"study": self.name, "scale": asdict(self.scale),
                       "data": self.dataset.name, "seed": self.options.seed,
                       "device": self.options.device, "work": str(self.work), **result,
                       "time": self.clock.summary()})
        json_path = out / f"{stem}.json"
        atomic_write_text(json_path, json.dumps(full, indent=2) + "\n")
        figures = save(picture(full), out / stem)
        t = full["time"]
        summary = [*summary, f"time: {t['wall_s']} s wall, {t['cpu_s']} s CPU"]
        return StudyResult(self.name, full, json_path, out / f"{stem}.svg", summary, figures)


def resized(dataset: Dataset, size: int) -> Dataset:
    """``dataset`` with its in-memory images shrunk (or grown) to ``size`` x ``size`` by area
    averaging; unchanged when they have that size already."""
    if dataset.size == size:
        return dataset
    splits = []
    for split in (dataset.train, dataset.test):
        if not isinstance(split, TensorSplit):
            raise DataError(f"dataset {dataset.name} is streamed from files; the study's "
                            f"{size} x {size} images need an in-memory dataset")
        chunks = [F.interpolate(part.float(), size=(size, size), mode="area").round()
                  .to(torch.uint8) for part in split.images.split(8192)]
        splits.append(replace(split, images=torch.cat(chunks)))
    return replace(dataset, size=size, train=splits[0], test=splits[1])


def load_space(text: str, name: str) -> ir.Space:
    """The space (or genotype) ``name`` declared in the `.gs` ``text``."""
    found = loads(text, "<study>").get(name)
    if not isinstance(found, ir.Space):
        raise TypeError(f"{name} is not a space")
    return found


def arch_tensors(run_dir: Path) -> dict[str, Any]:
    """The architecture parameters of a search run's last checkpoint: ``{"normal.alpha":
    tensor, "normal.beta": ..., ...}`` (the supernet's ``arch.<cell>.<name>`` entries)."""
    state = load_checkpoint(RunDir(Path(run_dir)).checkpoint_path)["model"]
    return {k[len("arch."):]: v for k, v in state.items()
            if k.startswith("arch.") and k.rsplit(".", 1)[1] in ("alpha", "beta")}


def count_op(cell: ir.Cell, op: str) -> int:
    """How many edges of a genotype cell carry ``op``."""
    return sum(1 for e in cell.edges() if e.op == op)


def _plain(value: Any) -> Any:
    """``value`` as JSON reads it back: tuples become lists, NaN and infinities (never valid
    JSON) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
