"""The search engine: runs a recipe's stages in order, each on the previous stage's `.gs` output.

A stage builds a `Supernet` from its input space, trains it (weight-only warm-up epochs, then
bilevel first/second-order or one-level updates with the architecture updated every n steps or
once per epoch), applies its selection rule to every cell type and writes the result (see
`genospec.search.outputs`). Settings come resolved by `genospec.search.config`.

Determinism and resume: a stage seeds torch from (seed, stage) before it builds its supernet;
batches and augmentation are drawn from generators of (seed, stage, epoch) alone
(`genospec.data.iterate`). A checkpoint after every epoch holds the model (architecture
included), both optimisers, the global RNG state and the position (stage, epoch, step), so a
resumed run on CPU repeats the uninterrupted one exactly. Ctrl-C is deferred to the end of the
current step, checkpointed, and raised as `SearchInterrupted` (a second Ctrl-C stops at once).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Iterator

import torch
from torch import nn

from .. import distributed, ir
from ..checkpoint import atomic_write_text, capture_rng, restore_rng
from ..data import Augment, Dataset, Split, iterate, load_dataset, num_batches, split_train_val, subset
from ..data.splits import TensorSplit
from ..errors import GenospecError, SpecError
from ..nn.memory import available_memory, check_fits, estimate_training_memory
from ..nn.supernet import Supernet
from ..plugins import load_plugin
from ..progress import Reporter
from ..registry import REGULARISER, UPDATE_RULE, registry
from . import config, outputs
from .run import RunDir, RunDirError
from .hooks import Regularisers, StageSelection
from .select import SELECTIONS, select
from .update import arch_optimizer, weight_optimizer

FORMAT = 2  # of resolved.json: 2 since the registries (issue 14); 1 is read through config.upgrade
READABLE_FORMATS = (1, 2)
CHECKPOINT_FORMAT = 1


class SearchInterrupted(GenospecError):
    """Ctrl-C: the run saved a checkpoint and can be resumed."""

    exit_code = 130


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


@dataclass
class SearchResult:
    run: RunDir
    outputs: dict[str, Path]
    space: ir.Space  # the last stage's result
    genotype: Path | None  # <run>/genotype.gs when the last stage selected a genotype


@dataclass
class _StageData:
    dataset: Dataset
    train: Split
    val: Split


@dataclass
class Running:
    """Sums over the steps of the current epoch (saved with a mid-epoch checkpoint)."""

    n: int = 0
    loss: float = 0.0
    correct: float = 0.0
    val_n: int = 0
    val_loss: float = 0.0
    arch_updates: int = 0
    seconds: float = 0.0

    def add(self, out: dict[str, float | None], n: int, arch_updated: bool) -> None:
        """Count one step's results (``out`` from `update.step`) over ``n`` images."""
        self.n += n
        self.loss += out["loss"] * n
        self.correct += out["acc"] * n
        if out["val_loss"] is not None:
            self.val_n += 1
            self.val_loss += out["val_loss"]
        self.arch_updates += int(arch_updated)

    def means(self) -> dict[str, float | None]:
        return {"train_loss": self.loss / max(self.n, 1), "train_acc": self.correct / max(self.n, 1),
                "arch_val_loss": self.val_loss / self.val_n if self.val_n else None}

    def state(self) -> dict[str, float]:
        return dict(self.__dict__)


class _DeferredInterrupt:
    """While active (main thread only), the first SIGINT only sets ``requested``."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> "_DeferredInterrupt":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


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
    stages = [{"name": s.name, "settings": config.stage_settings(recipe, s, options.quick)}
              for s in recipe.stages]
    for st in stages[start:]:
        _check_stage(st["name"], st["settings"])
    space = recipe.space
    if options.space_file is not None:
        from ..lang.loader import load
        found = load(options.space_file).get()
        if not isinstance(found, ir.Space) or found.is_genotype:
            raise SpecError(f"--space {options.space_file}: the last declaration must be a "
                            "space to search, not a genotype or a recipe")
        space = found
    _device(options.device)
    # rank 0 writes the run directory; other ranks work in a private one (genospec.distributed)
    run = RunDir.create(recipe.name, out, runs_root) if distributed.is_main() \
        else RunDir(distributed.private_dir())
    if recipe.file and Path(recipe.file).is_file():
        atomic_write_text(run.recipe_copy, Path(recipe.file).read_text(encoding="utf-8"))
    outputs.write_root_space(run, space)
    run.write_resolved({
        "format": FORMAT, "recipe": recipe.name, "recipe_file": recipe.file, "space": space.name,
        "quick": options.quick, "data": options.data, "data_root": options.data_root,
        "device": options.device, "start": start, "space_file": options.space_file,
        "stages": stages, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    return _run(run, reporter or Reporter(), dataset, distributed.rank_device(options.device),
                options.force)


def resume_search(run_dir: str | Path, *, device: str | None = None,
                  reporter: Reporter | None = None, dataset: Dataset | None = None,
                  force: bool = False) -> SearchResult:
    """Continue the run in ``run_dir`` from its last checkpoint (``device`` may change)."""
    run = RunDir.open(distributed.shared_copy(run_dir))
    plan = run.read_resolved()
    if plan.get("format") not in READABLE_FORMATS:
        raise RunDirError(f"{run_dir} was written by an incompatible genospec version (run "
                          f"format {plan.get('format')!r}; this version reads "
                          f"{', '.join(map(str, READABLE_FORMATS))})",
                          hint="start the search again, or resume it with the genospec "
                               "version that wrote it")
    dev = device or plan["device"]
    _device(dev)
    return _run(run, reporter or Reporter(), dataset, distributed.rank_device(dev), force)


# ---- the run -----------------------------------------------------------------------------------
def _run(run: RunDir, reporter: Reporter, dataset: Dataset | None, device: str,
         force: bool = False) -> SearchResult:
    plan = run.read_resolved()
    ck = run.load_checkpoint()
    at = (ck["stage"], ck["epoch"]) if ck else (-1, 0)
    run.keep_metrics(lambda r: (r["stage_index"], r["epoch"]) <= at)
    root = outputs.read_space(run.path / outputs.SPACE_FILE, plan["space"])
    space, produced, cache = root, {}, {}
    with _DeferredInterrupt() as interrupt:
        for k in range(plan["start"], len(plan["stages"])):
            name, s = plan["stages"][k]["name"], plan["stages"][k]["settings"]
            if plan["format"] == 1:
                s = config.upgrade(s)
            for plugin in s.get("plugins", []):  # --resume: the recipe's plugins again
                load_plugin(plugin)
            result_name = f"{plan['recipe']}_{name}"
            if k < at[0]:  # finished before the checkpoint's stage
                space = outputs.read_space(run.stage_output(name), result_name)
                produced[name] = run.stage_output(name)
                continue
            data = _stage_data(s, plan, dataset, device, cache)
            resume = ck if ck is not None and ck["stage"] == k else None
            stage = StageTrainer(k, name, space, s, data, run, reporter, device, interrupt, force)
            model = stage.train(resume)
            result = _selection(stage, model, resume, result_name)
            written = outputs.write_stage_result(run, name, result, space, root)
            outputs.render_stage(run, name, space, run.metrics()[-1], written, reporter)
            produced[name] = run.stage_output(name)
            reporter.event("stage", {"stage": name, "output": str(produced[name])})
            space = written
    genotype = outputs.copy_genotype(run, plan["stages"][-1]["name"]) if space.is_genotype else None
    reporter.event("done", {"run": str(run.path), "genotype": str(genotype) if genotype else None})
    return SearchResult(run, produced, space, genotype)


def _device(name: str) -> torch.device:
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GenospecError("--device cuda: no CUDA device is available", hint="use --device cpu")
    return dev


def _check_stage(name: str, s: config.Settings) -> None:
    """Fail before any training on what a stage could only discover at its end."""
    SELECTIONS.part(s["select"]["rule"])  # an unknown rule: SpecError naming the known ones
    pc, chs = s["supernet"].get("pc"), s["supernet"].get("channels")
    if pc is not None and chs is not None and chs % pc:
        raise SpecError(f"stage '{name}': partial channels (supernet pc {pc}) need channels "
                        f"divisible by {pc}, not {chs}")


def _stage_data(s: config.Settings, plan: dict, dataset: Dataset | None, device: str,
                cache: dict) -> _StageData:
    if dataset is None:
        name = plan["data"] or s["data"]["dataset"]
        root = plan["data_root"] or s["root"]
        options = {"workers": s["workers"]} if name == "imagefolder" and "workers" in s else {}
        key = (name, root)
        if key not in cache:
            cache[key] = load_dataset(name, root, **options)
        dataset = cache[key]
    train, val = split_train_val(dataset.train, fraction=s["split"], seed=s["seed"])
    if s["subset"] is not None:
        train, val = subset(train, s["subset"][0], s["seed"]), subset(val, s["subset"][1], s["seed"])
    if torch.device(device).type == "cuda":
        train, val = (p.to(device) if isinstance(p, TensorSplit) else p for p in (train, val))
    return _StageData(dataset, train, val)


def _selection(stage: "StageTrainer", model: Supernet, resume: dict | None,
               name: str) -> ir.Space:
    """The stage's selection rule: a `StageSelection` acts on the stage (DARTS-PT), a plain rule
    on each cell type's weights."""
    options = {k: v for k, v in stage.s["select"].items() if k != "rule"}
    rule = SELECTIONS.get(stage.s["select"]["rule"])
    if isinstance(rule, type) and issubclass(rule, StageSelection):
        return rule(**options).select(stage, model, resume, name)
    return _select(stage.space, stage.s, model, name)


def _select(space: ir.Space, s: config.Settings, model: Supernet, name: str) -> ir.Space:
    """The stage's selection rule applied to every cell type -> a genotype or reduced space."""
    rule = s["select"]["rule"]
    mixing = model.mixing()
    cells = {}
    for cell_name in space.cells:
        m = mixing[cell_name]
        extra = {k: v for k, v in s["select"].items() if k != "rule"}
        cells[cell_name] = select(rule, space, cell_name, m.weights, m.op_names, gamma=m.gamma,
                                  beta=m.beta, **extra)
    kind = "genotype" if all(c.is_fixed for c in cells.values()) else "space"
    return ir.Space(name, kind, dict(space.ops), cells, space.network, space.groups)


# ---- one stage ---------------------------------------------------------------------------------
def _stream(seed: int, stage: int, part: int) -> int:
    """A distinct batch-order seed for each stage and each data part (0 train, 1 val)."""
    return seed * 1000 + stage * 10 + part


def _cosine(w: dict, epoch: int, epochs: int) -> float:
    """SGD learning rate of ``epoch``: cosine from lr to lr_min over the stage (as DARTS' per-epoch
    CosineAnnealingLR), or constant."""
    if w["schedule"] == "constant":
        return w["lr"]
    lo = w["lr_min"]
    return lo + (w["lr"] - lo) * (1 + math.cos(math.pi * epoch / epochs)) / 2


@dataclass
class StageTrainer:
    """The training of one stage: supernet, optimisers, batches, schedules, checkpoints."""

    index: int
    name: str
    space: ir.Space
    s: config.Settings
    data: _StageData
    run: RunDir
    reporter: Reporter
    device: str
    interrupt: _DeferredInterrupt
    force: bool = False  # skip the memory check
    steps: int = field(init=False)

    regularisers: Regularisers = field(init=False)

    def __post_init__(self) -> None:
        self.steps = num_batches(self.data.train, self.s["batch"])
        reg = registry(REGULARISER)
        self.regularisers = Regularisers([
            reg.get(r["name"])(**{k: v for k, v in r.items() if k != "name"})
            for r in self.s.get("regularise", [])])

    def step(self, model: nn.Module, batch: tuple, val_batch: tuple | None,
             w_opt: torch.optim.Optimizer, a_opt: torch.optim.Optimizer | None,
             update_arch: bool) -> dict[str, float | None]:
        """One training step under the stage's update rule, with its regularisers' hooks."""
        u, regs = self.s["update"], self.regularisers
        rule = registry(UPDATE_RULE).get(u["mode"])
        # the regularisers' weight-step hooks run inside the rule, around its weight step
        extra = {"penalty": regs.penalty, "hooks": regs} if regs.parts else {}
        return rule(model, batch, val_batch, order=2 if u["order"] == "second_order" else 1,
                    w_opt=w_opt, a_opt=a_opt, clip=self.s["weights"].get("clip"),
                    update_arch=update_arch, **extra)

    def _build(self) -> tuple[Supernet, torch.optim.Optimizer, torch.optim.Optimizer | None]:
        s, ds = self.s, self.data.dataset
        torch.manual_seed(_stream(s["seed"], self.index, 2))
        edges = config.relaxation(s, "edges")
        net = s["supernet"]
        model = Supernet(self.space, cells=net.get("cells"), channels=net.get("channels"),
                         classes=ds.num_classes, in_chans=ds.in_chans, layout=net.get("layout"),
                         op_relax=config.op_relaxation_object(s),
                         edge_relax=config.edge_relaxation_object(s),
                         normalise=edges.get("normalise", True) if edges else True,
                         op_bias=s["bias"] or None, pc=net.get("pc", 1),
                         checkpoint=net.get("checkpoint", False)).to(self.device)
        if torch.device(self.device).type == "cpu":
            model.net.channels_last()  # same function, faster CPU kernels (Network.channels_last)
        w, a = s["weights"], s["arch"]
        w_opt = weight_optimizer(model, w["lr"], w["momentum"], w["decay"])
        a_opt = arch_optimizer(model, a["lr"], tuple(a["betas"]), a["decay"])
        return model, w_opt, a_opt

    def batches(self, split: Split, part: int, epoch: int, start: int) -> Iterator:
        """The epoch's augmented batches from step ``start`` on; the validation part cycles when
        it is shorter than the training part."""
        s = self.s
        # DARTS pads 32-pixel images by 4 before its random crop: an eighth of the size
        aug = Augment(crop_padding=self.data.dataset.size // 8, flip=self.data.dataset.hflip)
        seed = _stream(s["seed"], self.index, part)
        start %= num_batches(split, s["batch"])
        while True:
            yield from distributed.iterate_shard(split, s["batch"], shuffle=True, seed=seed,
                                                 epoch=epoch, augment=aug, device=self.device,
                                                 start=start)
            start = 0

    def arch_due(self, epoch: int, step_: int) -> bool:
        """Whether step ``step_`` of ``epoch`` updates the architecture: never in warm-up, then
        every n-th step counted from the first architecture epoch, or on the last step of every
        n-th epoch (eDARTS' sparse update: after the weights have seen the whole epoch)."""
        u, warm = self.s["update"], self.s["warmup"]
        if epoch < warm:
            return False
        if u["per"] == "epoch":
            return step_ == self.steps - 1 and (epoch - warm) % u["every"] == 0
        return ((epoch - warm) * self.steps + step_) % u["every"] == 0

    def temperatures(self, epoch: int, step_: int) -> dict[str, float]:
        """Op (and edge) temperature at a step; t counts from the first architecture epoch."""
        s, warm = self.s, self.s["warmup"]
        anneal = max(0, s["epochs"] - warm)
        e_t, s_t = max(0, epoch - warm), max(0, (epoch - warm) * self.steps + step_)
        temps = {"op": config.temperature(config.op_relaxation(s)[1], anneal, self.steps)(
            epoch=e_t, step=s_t)}
        edges = config.relaxation(s, "edges")
        if edges is not None:
            temps["edge"] = config.temperature(edges, anneal, self.steps)(epoch=e_t, step=s_t)
        return temps

    def train(self, resume: dict | None) -> Supernet:
        """Train the stage's supernet from scratch or from the checkpoint ``resume``."""
        s = self.s
        model, w_opt, a_opt = self._build()
        if not self.force:
            self._check_memory(model)
        epoch, start, running = 0, 0, Running()
        if resume is not None:
            model.load_state_dict(resume["model"])
            w_opt.load_state_dict(resume["w_opt"])
            if a_opt is not None:
                a_opt.load_state_dict(resume["a_opt"])
            restore_rng(resume["rng"])
            epoch, start, running = resume["epoch"], resume["step"], Running(**resume["running"])
        u = s["update"]
        mode = u["mode"]
        for epoch in range(epoch, s["epochs"]):
            lr = _cosine(s["weights"], epoch, s["epochs"])
            for group in w_opt.param_groups:
                group["lr"] = lr
            model.train()
            self.regularisers.epoch_start(model, epoch, s["epochs"])
            began = time.perf_counter() - running.seconds
            train = self.batches(self.data.train, 0, epoch, start)
            val = self.batches(self.data.val, 1, epoch, start) if mode == "bilevel" else None
            self.reporter.start(f"{self.name} {epoch + 1}/{s['epochs']}", total=self.steps)
            self.reporter.update(start)
            temps: dict[str, float] = {}
            for k in range(start, self.steps):
                x, y = next(train)
                vb = next(val) if val is not None else None
                temps = self.temperatures(epoch, k)
                model.set_temperature(**temps)
                due = a_opt is not None and self.arch_due(epoch, k)
                out = self.step(model, (x, y), vb, w_opt, a_opt, due)
                running.add(out, len(y), due)
                self.reporter.update(1, loss=out["loss"], acc=out["acc"])
                if self.interrupt.requested and k + 1 < self.steps:
                    running.seconds = time.perf_counter() - began
                    self._save(model, w_opt, a_opt, epoch, k + 1, running)
                    self.reporter.close()
                    raise self.interrupted(f"in epoch {epoch + 1}")
            self.reporter.close()
            self.finish_epoch(model, epoch, lr, temps, running, time.perf_counter() - began)
            self._save(model, w_opt, a_opt, epoch + 1, 0, Running())
            start, running = 0, Running()
            if self.interrupt.requested:
                raise self.interrupted(f"after epoch {epoch + 1}")
        return model

    def _check_memory(self, model: Supernet) -> None:
        """Fail before training when the stage's estimated peak memory (per process: its shard
        of the batch) exceeds the free memory; processes on one CPU share its memory."""
        per_rank = -(-self.s["batch"] // distributed.world_size())
        estimate = estimate_training_memory(
            model, self.data.train.image_shape, per_rank, arch_params=model.arch_parameters(),
            second_order=self.s["update"]["order"] == "second_order")
        shared = torch.device(self.device).type == "cpu"
        check_fits(estimate, available_memory(self.device),
                   processes=distributed.local_world_size() if shared else 1,
                   knobs=f"stage '{self.name}': batch, supernet channels or cells, supernet pc 4 "
                         "or supernet checkpoint cells")

    def finish_epoch(self, model: Supernet, epoch: int, lr: float, temps: dict[str, float],
                      running: Running, seconds: float) -> None:
        """Validate, log the epoch's record (metrics.jsonl, plots, reporter)."""
        val_loss, val_acc = evaluate(model, self.data.val, self.s["batch"], self.device)
        record = {
            "stage": self.name, "stage_index": self.index, "epoch": epoch + 1,
            "epochs": self.s["epochs"], "lr": lr, **running.means(),
            "val_loss": val_loss, "val_acc": val_acc, "arch_updates": running.arch_updates,
            "t_op": temps.get("op"), "t_edge": temps.get("edge"), "seconds": round(seconds, 3),
            **self.regularisers.epoch_end(model, epoch),
            **outputs.snapshot(model.mixing()),
        }
        self.run.append_metrics(record)
        outputs.write_plots(self.run, self.name, self.run.metrics())
        self.reporter.event("epoch", {k: v for k, v in record.items()
                                      if k not in ("weights", "gamma", "beta", "stage_index")})

    def interrupted(self, when: str) -> SearchInterrupted:
        return SearchInterrupted(f"interrupted in stage '{self.name}' {when}; checkpoint saved",
                                 hint=f"continue with: genospec search --resume {self.run.path}")

    def _save(self, model: nn.Module, w_opt: torch.optim.Optimizer,
              a_opt: torch.optim.Optimizer | None, epoch: int, step_: int, running: Running) -> None:
        self.run.save_checkpoint({
            "format": CHECKPOINT_FORMAT, "stage": self.index, "stage_name": self.name, "epoch": epoch,
            "step": step_, "model": model.state_dict(), "w_opt": w_opt.state_dict(),
            "a_opt": a_opt.state_dict() if a_opt is not None else None, "rng": capture_rng(),
            "running": running.state(),
        })


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch: int, device: str) -> tuple[float, float]:
    """Loss and accuracy on ``split`` (in order, no augmentation).

    BN normalises with each batch's own statistics and leaves the running ones untouched: a
    supernet's running statistics trail its fast-changing weights (and hardly exist after a
    short run), which is also why DARTS-PT measures its supernets this way."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    tracked = [m.track_running_stats for m in norms]
    for m in norms:
        m.track_running_stats = False
    model.train()
    loss = correct = 0.0
    n = 0
    try:
        for x, y in iterate(split, batch, device=device):
            logits = model(x)
            loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += logits.argmax(1).eq(y).sum().item()
            n += len(y)
    finally:
        for m, t in zip(norms, tracked):
            m.track_running_stats = t
    return loss / max(n, 1), correct / max(n, 1)
