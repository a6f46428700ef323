"""The stage trainer: the one loop of a search stage (epochs, warm-up, schedules, evaluation,
checkpoints, interruption) that training and every selection rule's fine-tuning run through.

Determinism and resume: a stage seeds torch from (seed, stage) before it builds its supernet;
batches and augmentation are drawn from generators of (seed, stage, epoch) alone
(`genospec.data.iterate`). A checkpoint after every epoch holds the model (architecture
included), both optimisers, the global RNG state and the position (stage, epoch, step), so a
resumed run on CPU repeats the uninterrupted one exactly. Ctrl-C is deferred to the end of the
current step, checkpointed, and raised as `SearchInterrupted` (a second Ctrl-C stops at once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch import nn

from .. import distributed, ir
from ..checkpoint import capture_rng, restore_rng
from ..data import Augment, Split, num_batches
from ..errors import GenospecError
from ..lang.settings import StageSettings
from ..nn import native
from ..nn.memory import available_memory, check_fits, estimate_training_memory, gib
from ..nn.supernet import Supernet
from ..progress import Reporter, eta
from ..registry import REGULARISER, UPDATE_RULE, registry
from ..runtime.evaluation import Evaluation, evaluate
from ..runtime.interrupt import SigintGuard
from ..runtime.precision import (Precision, compile_failure, compile_module, is_compile_error,
                                 prepare_model)
from ..runtime.schedules import learning_rate
from . import outputs
from .hooks import Regularisers
from .relaxations import edge_relaxation_object, offset_bias, op_relaxation_object, temperature
from .run import RunDir
from .stage_data import StageData
from .update import arch_optimizer, weight_optimizer

Optimisers = tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]


class SearchInterrupted(GenospecError):
    """Ctrl-C: the run saved a checkpoint and can be resumed."""

    exit_code = 130


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


def stream(seed: int, stage: int, part: int) -> int:
    """A distinct seed for each stage and each use (0 train batches, 1 val batches, 2 the
    supernet's initialisation, 3 a selection rule's draws)."""
    return seed * 1000 + stage * 10 + part


@dataclass
class StageTrainer:
    """The training of one stage: supernet, optimisers, batches, schedules, checkpoints."""

    index: int
    name: str
    space: ir.Space
    s: StageSettings
    data: StageData
    run: RunDir
    reporter: Reporter
    device: str
    interrupt: SigintGuard
    force: bool = False  # skip the memory check
    # `weights ... cosine over run`: this stage's first epoch in the run, and the run's epochs
    run_epoch0: int = 0
    run_epochs: int = 0
    steps: int = field(init=False)
    regularisers: Regularisers = field(init=False)
    memory: Any = field(init=False, default=None)  # the MemoryEstimate (None when forced)
    finetune_epochs: int = field(init=False, default=0)  # set by a fine-tuning selection rule
    # the genotype (or reduced space) the selection rule would derive now, per cell type; set by
    # the engine for rules that only read the weights (None: not logged)
    derive: Callable[[Supernet], dict[str, list[str]]] | None = field(init=False, default=None)
    precision: Precision = field(init=False)  # autocast and fp16 gradient scalers

    def __post_init__(self) -> None:
        self.precision = Precision.for_device(self.s.precision, self.device)
        self.steps = num_batches(self.data.train, self.s.batch)
        reg = registry(REGULARISER)
        self.regularisers = Regularisers([reg.get(r.name)(**r.options) for r in self.s.regularise])

    # -- the parts ------------------------------------------------------------------------------
    def build(self) -> tuple[Supernet, torch.optim.Optimizer, torch.optim.Optimizer | None]:
        """The stage's supernet (seeded) and its optimisers, memory-checked unless forced."""
        s, ds = self.s, self.data.dataset
        torch.manual_seed(stream(s.seed, self.index, 2))
        edges = s.relaxation("edges")
        net = s.supernet
        op_relax, op_bias = op_relaxation_object(s), s.bias or None
        if op_bias and s.bias_mode == "offset":  # softmax(alpha + b), alpha left alone
            op_relax, op_bias = offset_bias(self.space, op_relax, op_bias), None
        model = Supernet(self.space, cells=net.cells, channels=net.channels,
                         classes=ds.num_classes, in_chans=ds.in_chans, layout=net.layout,
                         op_relax=op_relax, edge_relax=edge_relaxation_object(s),
                         normalise=edges.options.get("normalise", True) if edges else True,
                         op_bias=op_bias, pc=net.pc,
                         checkpoint=net.checkpoint).to(self.device)
        # memory format per device (channels-last on the CPU), cuDNN autotuning on CUDA
        prepare_model(model.net, self.device)
        if not self.force:
            self._check_memory(model)
        if net.compile:
            per_rank = -(-s.batch // distributed.world_size())  # the probe at the run's shape
            sample = torch.zeros(per_rank, *self.data.train.image_shape, device=self.device)
            compile_module(model, sample, f"the supernet of stage '{self.name}'",
                           precision=self.precision)
        w_opt, a_opt = self.optimisers(model)
        return model, w_opt, a_opt

    def optimisers(self, model: Supernet, lr_factor: float = 1.0) -> Optimisers:
        """Fresh weight (at ``lr_factor`` times the stage's rate) and architecture optimisers."""
        w, a = self.s.weights, self.s.arch
        return (weight_optimizer(model, w.lr * lr_factor, w.momentum, w.decay),
                arch_optimizer(model, a.lr, a.betas, a.decay))

    def step(self, model: nn.Module, batch: tuple, val_batch: tuple | None,
             w_opt: torch.optim.Optimizer, a_opt: torch.optim.Optimizer | None,
             update_arch: bool) -> dict[str, float | None]:
        """One training step under the stage's update rule, with its regularisers' hooks."""
        u, regs = self.s.update, self.regularisers
        rule = registry(UPDATE_RULE).get(u.mode)
        # the regularisers' weight-step hooks run inside the rule, around its weight step
        extra = {"penalty": regs.penalty, "hooks": regs} if regs.parts else {}
        if self.precision.mixed:  # rules registered by plugins may not know precision (fp32)
            extra["precision"] = self.precision
        try:
            return rule(model, batch, val_batch, order=2 if u.order == "second_order" else 1,
                        w_opt=w_opt, a_opt=a_opt, clip=self.s.weights.clip,
                        update_arch=update_arch, **extra)
        except Exception as e:
            if self.s.supernet.compile and is_compile_error(e):  # a recompilation that failed
                raise compile_failure(e, f"the supernet of stage '{self.name}'") from None
            raise

    def batches(self, split: Split, part: int, epoch: int, start: int) -> Iterator:
        """The epoch's augmented batches from step ``start`` on; the validation part cycles when
        it is shorter than the training part."""
        s = self.s
        # DARTS pads 32-pixel images by 4 before its random crop: an eighth of the size
        aug = Augment(crop_padding=self.data.dataset.size // 8, flip=self.data.dataset.hflip)
        seed = stream(s.seed, self.index, part)
        start %= num_batches(split, s.batch)
        while True:
            yield from distributed.iterate_shard(split, s.batch, shuffle=True, seed=seed,
                                                 epoch=epoch, augment=aug, device=self.device,
                                                 start=start)
            start = 0

    def arch_due(self, epoch: int, step_: int) -> bool:
        """Whether step ``step_`` of ``epoch`` updates the architecture: never in warm-up, then
        every n-th step counted from the first architecture epoch, or on the last step of every
        n-th epoch (eDARTS' sparse update: after the weights have seen the whole epoch)."""
        u, warm = self.s.update, self.s.warmup
        if epoch < warm:
            return False
        if u.per == "epoch":
            return step_ == self.steps - 1 and (epoch - warm) % u.every == 0
        return ((epoch - warm) * self.steps + step_) % u.every == 0

    def temperatures(self, epoch: int, step_: int) -> dict[str, float]:
        """Op (and edge) temperature at a step; t counts from the first architecture epoch."""
        s, warm = self.s, self.s.warmup
        anneal = max(0, s.epochs - warm)
        e_t, s_t = max(0, epoch - warm), max(0, (epoch - warm) * self.steps + step_)
        temps = {"op": temperature(s.op_relaxation()[1], anneal, self.steps)(epoch=e_t, step=s_t)}
        edges = s.relaxation("edges")
        if edges is not None:
            temps["edge"] = temperature(edges, anneal, self.steps)(epoch=e_t, step=s_t)
        return temps

    def final_temperatures(self) -> dict[str, float]:
        """The temperatures of the stage's last training step (kept while fine-tuning)."""
        return self.temperatures(self.s.epochs - 1, self.steps - 1)

    def learning_rate(self, epoch: int) -> float:
        """The weights' rate in stage epoch ``epoch``: the schedule over the stage's epochs, or
        (``span`` "run") over the run's, at this stage's place in it."""
        w, s = self.s.weights, self.s
        if w.span == "run":
            return learning_rate(w.schedule, w.lr, self.run_epoch0 + epoch,
                                 max(self.run_epochs, self.run_epoch0 + s.epochs), lr_min=w.lr_min)
        return learning_rate(w.schedule, w.lr, epoch, s.epochs, lr_min=w.lr_min)

    # -- the loop -------------------------------------------------------------------------------
    def train(self, resume: dict | None, started: Callable[[], None] | None = None) -> Supernet:
        """Train the stage's supernet from scratch or from the checkpoint ``resume``;
        ``started()`` is called once the supernet is built and its memory checked."""
        s = self.s
        model, w_opt, a_opt = self.build()
        if started is not None:
            started()
        self.announce(model)
        epoch, start, running = 0, 0, Running()
        if resume is not None:
            model.load_state_dict(resume["model"])
            w_opt.load_state_dict(resume["w_opt"])
            if a_opt is not None:
                a_opt.load_state_dict(resume["a_opt"])
            restore_rng(resume["rng"])
            self.precision.load_state_dict(resume.get("scalers"))
            epoch, start, running = resume["epoch"], resume["step"], Running(**resume["running"])
        w = s.weights
        for epoch in range(epoch, s.epochs):
            lr = self.learning_rate(epoch)
            self.epoch(model, (w_opt, a_opt), epoch, lr, f"{self.name} {epoch + 1}/{s.epochs}",
                       start=start, running=running, anneal=True)
            start, running = 0, Running()
        return model

    def epoch(self, model: Supernet, opts: Optimisers, epoch: int, lr: float, label: str, *,
              start: int = 0, running: Running | None = None, anneal: bool = True,
              extra: Callable[[bool], dict[str, Any]] | None = None) -> None:
        """Run stage epoch ``epoch`` at weight rate ``lr`` from step ``start``: the steps, the
        epoch's record and a checkpoint (``extra(finished)``: more checkpoint fields, e.g. a
        selection rule's progress; ``finished``: saved at the end of the epoch). ``anneal``: set the temperatures of each step (training), or keep the
        model's (fine-tuning after training). Ctrl-C saves mid-epoch and raises."""
        w_opt, a_opt = opts
        running = running or Running()
        for group in w_opt.param_groups:
            group["lr"] = lr
        model.train()
        self.regularisers.epoch_start(model, epoch, self.s.epochs)
        began = time.perf_counter() - running.seconds
        train = self.batches(self.data.train, 0, epoch, start)
        val = self.batches(self.data.val, 1, epoch, start) if self.s.update.mode == "bilevel" \
            else None
        self.reporter.start(label, total=self.steps)
        self.reporter.update(start)
        temps = self.final_temperatures() if not anneal else {}
        for k in range(start, self.steps):
            x, y = next(train)
            vb = next(val) if val is not None else None
            if anneal:
                temps = self.temperatures(epoch, k)
                model.set_temperature(**temps)
            due = a_opt is not None and self.arch_due(epoch, k)
            out = self.step(model, (x, y), vb, w_opt, a_opt, due)
            running.add(out, len(y), due)
            self.reporter.update(1, loss=out["loss"], acc=out["acc"])
            if self.interrupt.requested and k + 1 < self.steps:
                running.seconds = time.perf_counter() - began
                self.save(model, opts, epoch, k + 1, running,
                          extra(False) if extra is not None else None)
                self.reporter.close()
                raise self.interrupted(f"in epoch {epoch + 1}")
        self.reporter.close()
        self.finish_epoch(model, epoch, lr, temps, running, time.perf_counter() - began)
        self.save(model, opts, epoch + 1, 0, Running(), extra(True) if extra is not None else None)
        if self.interrupt.requested:
            raise self.interrupted(f"after epoch {epoch + 1}")

    def evaluate(self, model: nn.Module) -> Evaluation:
        """The model on the stage's validation part (batch-statistics BN, `runtime.evaluation`)."""
        return evaluate(model, self.data.val, self.s.batch, self.device, batch_statistics=True)

    def _check_memory(self, model: Supernet) -> None:
        """Fail before training when the stage's estimated peak memory (per process: its shard
        of the batch) exceeds the free memory; processes on one CPU share its memory."""
        per_rank = -(-self.s.batch // distributed.world_size())
        estimate = estimate_training_memory(
            model, self.data.train.image_shape, per_rank, arch_params=model.arch_parameters(),
            second_order=self.s.update.order == "second_order",
            autocast=self.precision.dtype if self.precision.mixed else None)
        self.memory = estimate
        shared = torch.device(self.device).type == "cpu"
        check_fits(estimate, available_memory(self.device),
                   processes=distributed.local_world_size() if shared else 1,
                   knobs=f"stage '{self.name}': batch, supernet channels or cells, supernet pc 4 "
                         "or supernet checkpoint cells")

    def announce(self, model: Supernet) -> None:
        """The stage's start header (a ``header`` event): run directory, device, threads,
        data and split sizes, supernet parameters and the memory estimate."""
        params = sum(p.numel() for p in model.weight_parameters())
        arch = sum(p.numel() for p in model.arch_parameters())
        self.reporter.event("header", {
            "stage": self.name, "run": str(self.run.path), "device": self.device,
            "threads": torch.get_num_threads(), "data": self.data.dataset.name,
            "train_images": len(self.data.train), "val_images": len(self.data.val),
            "epochs": self.s.epochs, "steps_per_epoch": self.steps,
            "parameters": params, "arch_parameters": arch,
            "memory": gib(self.memory.peak) if self.memory is not None else None,
            "kernels": native.status() if torch.device(self.device).type == "cpu" else None})

    def finish_epoch(self, model: Supernet, epoch: int, lr: float, temps: dict[str, float],
                     running: Running, seconds: float) -> None:
        """Validate, log the epoch's record (metrics.jsonl, plots, reporter)."""
        val = self.evaluate(model)
        record = {
            "stage": self.name, "stage_index": self.index, "epoch": epoch + 1,
            "epochs": self.s.epochs, "lr": lr, **running.means(),
            "val_loss": val.loss, "val_acc": val.top1, "arch_updates": running.arch_updates,
            "t_op": temps.get("op"), "t_edge": temps.get("edge"), "seconds": round(seconds, 3),
            **self.regularisers.epoch_end(model, epoch),
            **outputs.snapshot(model.mixing()),
        }
        if self.derive is not None:
            record["genotype"] = self.derive(model)
        if epoch >= self.s.epochs:  # a selection rule's fine-tuning epoch, numbered as one
            record.update(phase="finetune", finetune_epoch=epoch - self.s.epochs + 1,
                          finetune_epochs=self.finetune_epochs)
        self.run.append_metrics(record)
        outputs.write_plots(self.run, self.name, self.run.metrics())
        left = self.s.epochs - epoch - 1
        hidden = {"weights", "gamma", "beta", "stage_index"}
        if epoch >= self.s.epochs:  # "finetune=1/4" rather than "epoch=3 epochs=2"
            hidden |= {"epoch", "epochs", "phase", "finetune_epoch", "finetune_epochs"}
            left = self.finetune_epochs - (epoch - self.s.epochs) - 1
        shown = {k: v for k, v in record.items() if k not in hidden}
        if epoch >= self.s.epochs:
            shown = {"stage": self.name, "finetune": f"{epoch - self.s.epochs + 1}/{self.finetune_epochs}",
                     **shown}
        self.reporter.event("epoch", {**shown, **({"eta": eta(seconds * left)} if left > 0 else {})})

    def interrupted(self, when: str) -> SearchInterrupted:
        return SearchInterrupted(f"interrupted in stage '{self.name}' {when}; checkpoint saved",
                                 hint=f"continue with: genospec search --resume {self.run.path}")

    def save(self, model: nn.Module, opts: Optimisers, epoch: int, step_: int, running: Running,
             extra: dict[str, Any] | None = None) -> None:
        """The stage's checkpoint (`RunDir.save_checkpoint`: versioned, atomic)."""
        w_opt, a_opt = opts
        self.run.save_checkpoint({
            "stage": self.index, "stage_name": self.name, "epoch": epoch, "step": step_,
            "model": model.state_dict(), "w_opt": w_opt.state_dict(),
            "a_opt": a_opt.state_dict() if a_opt is not None else None, "rng": capture_rng(),
            "running": running.state(), **(extra or {}),
            **({"scalers": self.precision.state_dict()} if self.precision.scalers else {}),
        })
