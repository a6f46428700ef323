"""The DARTS-PT phase of a search stage with ``select perturbation``: what the search engine
runs after the stage's training epochs in place of a selection rule.

It runs `genospec.search.perturbation.perturbation_select` on the trained supernet with:

- ``evaluate``: accuracy on the stage's whole validation part, without augmentation, BN on batch
  statistics (the released code measures in training mode, "disable running stats for
  projection"), running statistics left untouched;
- ``finetune(n)``: n more epochs of the stage's own update rule (architecture included, unless
  alpha is ``fixed``), the weights on a fresh SGD at a tenth of the stage's learning rate
  annealed by cosine to its ``lr_min`` over all fine-tuning epochs, the architecture optimiser
  carried over from training (ruocwang/darts-pt ``pt_project``: ``reset_optimizer(lr / 10)``,
  ``CosineAnnealingLR(tune_epochs, eta_min=lr_min)``); temperatures stay at their final values.
  Fine-tuning epochs are numbered after the training epochs in ``metrics.jsonl``;
- the decision order drawn from ``random.Random(seed * 1000 + stage * 10 + 3)``.

Progress is checkpointed after every decision and every fine-tuning epoch: the engine's
checkpoint fields, with ``epoch`` = training epochs + fine-tuning epochs done, plus ``pt``
(``decisions`` so far as plain data, ``tuned`` epochs). On ``--resume`` the engine's stage reloads
the model (its ``chosen``/``edge_on`` buffers hold the decisions), optimisers and RNG; this
module replays the stored decisions and runs only the fine-tuning epochs still missing, so a
resumed selection on CPU ends where an uninterrupted one does. Ctrl-C stops at the end of the
current step or measurement; the run resumes from the last checkpoint.
"""

from __future__ import annotations

import math
import random
import time
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from .. import ir
from ..checkpoint import capture_rng
from ..data import Split, iterate
from ..nn.supernet import Supernet
from .perturbation import (Decision, decision_from_dict, decision_to_dict, perturbation_select,
                           plan, selected_space)
from .engine import CHECKPOINT_FORMAT, Running, StageTrainer
from .hooks import StageSelection
from .update import arch_optimizer, weight_optimizer

LR_FACTOR = 0.1  # fine-tuning starts at a tenth of the stage's learning rate (released code)


@contextmanager
def _batch_statistics(model: nn.Module) -> Iterator[None]:
    """Training-mode BN that normalises with batch statistics and updates no running ones."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    tracked = [m.track_running_stats for m in norms]
    was_training = model.training
    model.train()
    for m in norms:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m, t in zip(norms, tracked):
            m.track_running_stats = t
        model.train(was_training)


def evaluate_batch_stats(model: nn.Module, split: Split, batch: int,
                         device: str | torch.device) -> float:
    """Accuracy of ``model`` on ``split`` (in order, no augmentation) with batch-statistics BN."""
    correct = n = 0
    with torch.no_grad(), _batch_statistics(model):
        for x, y in iterate(split, batch, device=device):
            correct += model(x).argmax(1).eq(y).sum().item()
            n += len(y)
    return correct / max(n, 1)


class _Selection:
    """State of one stage's DARTS-PT phase (see the module docstring)."""

    def __init__(self, stage: StageTrainer, model: Supernet, resume: dict | None, total: int):
        self.stage, self.model, self.s = stage, model, stage.s
        self._format, self._running = CHECKPOINT_FORMAT, Running
        w, a = self.s["weights"], self.s["arch"]
        self.w_opt = weight_optimizer(model, w["lr"] * LR_FACTOR, w["momentum"], w["decay"])
        self.a_opt = arch_optimizer(model, a["lr"], tuple(a["betas"]), a["decay"])
        pt = resume.get("pt") if resume is not None else None
        if pt is not None:
            self.w_opt.load_state_dict(resume["w_opt"])
        if self.a_opt is not None:  # carried over from the PT checkpoint resumed from, or
            # from the training checkpoint the stage has just written
            saved = resume if pt is not None else stage.run.load_checkpoint()
            self.a_opt.load_state_dict(saved["a_opt"])
        self.done = [decision_from_dict(d) for d in pt["decisions"]] if pt else []
        self.decisions: list[Decision] = list(self.done)
        self.tuned = pt["tuned"] if pt else 0  # fine-tuning epochs run
        self.target = 0  # fine-tuning epochs asked for so far (replayed rounds included)
        self.total = total  # fine-tuning epochs of the whole selection
        self.temps = stage.temperatures(self.s["epochs"] - 1, stage.steps - 1)
        model.set_temperature(**self.temps)

    # -- callbacks for perturbation_select --------------------------------------------------------
    def evaluate(self) -> float:
        self._check_interrupt()
        st = self.stage
        return evaluate_batch_stats(self.model, st.data.val, self.s["batch"], st.device)

    def on_decision(self, decisions: list[Decision]) -> None:
        self.decisions = list(decisions)
        self._save()
        self.stage.reporter.event("decision", {"stage": self.stage.name,
                                               **decision_to_dict(decisions[-1])})
        self._check_interrupt()

    def finetune(self, epochs: int) -> None:
        self.target += epochs
        while self.tuned < self.target:
            self._epoch(self.tuned)
            self.tuned += 1
            self._save()
            self._check_interrupt()

    # -- internals --------------------------------------------------------------------------------
    def _lr(self, t: int) -> float:
        """Cosine from lr/10 to lr_min over all fine-tuning epochs (CosineAnnealingLR)."""
        w = self.s["weights"]
        lo, hi = w["lr_min"], w["lr"] * LR_FACTOR
        if w["schedule"] == "constant":
            return hi
        return lo + (hi - lo) * (1 + math.cos(math.pi * t / max(self.total, 1))) / 2

    def _epoch(self, t: int) -> None:
        """Fine-tuning epoch ``t``: the stage's epoch ``epochs + t`` (batches, update schedule)."""
        st, s, model = self.stage, self.s, self.model
        epoch, lr = s["epochs"] + t, self._lr(t)
        for group in self.w_opt.param_groups:
            group["lr"] = lr
        mode = s["update"]["mode"]
        began = time.perf_counter()
        model.train()
        st.regularisers.epoch_start(model, epoch, s["epochs"])
        train = st.batches(st.data.train, 0, epoch, 0)
        val = st.batches(st.data.val, 1, epoch, 0) if mode == "bilevel" else None
        st.reporter.start(f"{st.name} fine-tune {t + 1}/{self.total}", total=st.steps)
        running = self._running()
        for k in range(st.steps):
            x, y = next(train)
            vb = next(val) if val is not None else None
            due = self.a_opt is not None and st.arch_due(epoch, k)
            out = st.step(model, (x, y), vb, self.w_opt, self.a_opt, due)
            running.add(out, len(y), due)
            st.reporter.update(1, loss=out["loss"], acc=out["acc"])
            if st.interrupt.requested:  # the epoch is redone from the last checkpoint
                st.reporter.close()
                self._check_interrupt()
        st.reporter.close()
        st.finish_epoch(model, epoch, lr, self.temps, running, time.perf_counter() - began)

    def _save(self) -> None:
        st = self.stage
        st.run.save_checkpoint({
            "format": self._format, "stage": st.index, "stage_name": st.name,
            "epoch": self.s["epochs"] + self.tuned, "step": 0, "model": self.model.state_dict(),
            "w_opt": self.w_opt.state_dict(),
            "a_opt": self.a_opt.state_dict() if self.a_opt is not None else None,
            "rng": capture_rng(), "running": self._running().state(),
            "pt": {"decisions": [decision_to_dict(d) for d in self.decisions],
                   "tuned": self.tuned},
        })

    def _check_interrupt(self) -> None:
        if self.stage.interrupt.requested:
            raise self.stage.interrupted(f"during perturbation selection "
                                          f"({len(self.decisions)} decisions made)")


def run_perturbation(stage: StageTrainer, model: Supernet, resume: dict | None,
                     name: str, decide=None) -> ir.Space:
    """The engine's hook: DARTS-PT on the trained ``model`` of ``stage`` (resuming from the
    stage's checkpoint ``resume`` when it holds a PT phase) -> the selected space ``name``."""
    s = stage.s
    target = s["select"].get("target", "both")
    seed = s["seed"] * 1000 + stage.index * 10 + 3
    rounds = len(plan(stage.space, target, random.Random(seed)))
    sel = _Selection(stage, model, resume, s["finetune"] * max(rounds - 1, 0))
    decisions = perturbation_select(
        model, stage.space, sel.evaluate, sel.finetune, random.Random(seed), target=target,
        epochs=s["finetune"], done=sel.done, on_decision=sel.on_decision, decide=decide)
    return selected_space(stage.space, decisions, target, name)


class PerturbationSelection(StageSelection):
    """``select perturbation [ops|edges|both]``: DARTS-PT (`run_perturbation`)."""

    def select(self, stage: StageTrainer, model: Supernet, resume: dict | None,
               name: str) -> ir.Space:
        return run_perturbation(stage, model, resume, name)
