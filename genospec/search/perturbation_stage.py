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

Fine-tuning runs through the stage trainer (`StageTrainer.epoch`: its steps, schedules,
evaluation, checkpoints and Ctrl-C). Progress is checkpointed after every decision, every
fine-tuning epoch and on Ctrl-C inside one: the stage's checkpoint, with ``epoch`` = training
epochs + fine-tuning epochs done (``step``: inside the next one), plus ``pt``
(``decisions`` so far as plain data, ``tuned`` epochs). On ``--resume`` the engine's stage reloads
the model (its ``chosen``/``edge_on`` buffers hold the decisions), optimisers and RNG; this
module replays the stored decisions and runs only the fine-tuning epochs still missing, so a
resumed selection on CPU ends where an uninterrupted one does. Ctrl-C stops at the end of the
current step or measurement.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from .. import ir
from ..nn.supernet import Supernet
from ..runtime.schedules import learning_rate
from .hooks import StageSelection
from .perturbation import (Decision, decision_from_dict, decision_to_dict, perturbation_select,
                           plan, selected_space)
from .stage import Running, StageTrainer, stream

LR_FACTOR = 0.1  # fine-tuning starts at a tenth of the stage's learning rate (released code)


class _Selection:
    """State of one stage's DARTS-PT phase (see the module docstring)."""

    def __init__(self, stage: StageTrainer, model: Supernet, resume: dict | None, total: int):
        self.stage, self.model, self.s = stage, model, stage.s
        self.opts = stage.optimisers(model, LR_FACTOR)
        w_opt, a_opt = self.opts
        pt = resume.get("pt") if resume is not None else None
        if pt is not None:
            w_opt.load_state_dict(resume["w_opt"])
        if a_opt is not None:  # carried over from the PT checkpoint resumed from, or
            # from the training checkpoint the stage has just written
            saved = resume if pt is not None else stage.run.load_checkpoint()
            a_opt.load_state_dict(saved["a_opt"])
        self.done = [decision_from_dict(d) for d in pt["decisions"]] if pt else []
        self.decisions: list[Decision] = list(self.done)
        self.tuned = pt["tuned"] if pt else 0  # fine-tuning epochs run
        # a checkpoint inside a fine-tuning epoch: that epoch continues from its step
        self.start = resume["step"] if pt else 0
        self.running = Running(**resume["running"]) if pt and resume["step"] else None
        self.target = 0  # fine-tuning epochs asked for so far (replayed rounds included)
        self.total = total  # fine-tuning epochs of the whole selection
        stage.finetune_epochs = total  # numbers its fine-tuning epochs' records 1..total
        model.set_temperature(**stage.final_temperatures())

    # -- callbacks for perturbation_select --------------------------------------------------------
    def evaluate(self) -> float:
        self._check_interrupt()
        return self.stage.evaluate(self.model).top1

    def on_decision(self, decisions: list[Decision]) -> None:
        self.decisions = list(decisions)
        self.stage.save(self.model, self.opts, self.s.epochs + self.tuned, 0, Running(),
                        self.progress())
        # the stage's last metrics.jsonl record lists the decisions so far
        self.stage.run.amend_last_metrics({"decisions": self.readable()})
        self.stage.reporter.event("decision", {"stage": self.stage.name,
                                               **decision_to_dict(decisions[-1])})
        self._check_interrupt()

    def readable(self) -> list[dict[str, Any]]:
        """The decisions so far as metrics.jsonl records them: edges as "i->j"."""
        return [readable_decision(self.stage.space, d) for d in self.decisions]

    def finetune(self, epochs: int) -> None:
        """Fine-tuning epochs through the stage trainer: the stage's epoch ``epochs + t`` (its
        batches, update rule and regularisers), the weights' rate cosine-annealed from a tenth
        of the stage's over all fine-tuning epochs (CosineAnnealingLR), temperatures kept."""
        self.target += epochs
        w, st = self.s.weights, self.stage
        while self.tuned < self.target:
            t = self.tuned
            lr = learning_rate(w.schedule, w.lr * LR_FACTOR, t, self.total, lr_min=w.lr_min)
            start, running, self.start, self.running = self.start, self.running, 0, None
            st.epoch(self.model, self.opts, self.s.epochs + t, lr,
                     f"{st.name} fine-tune {t + 1}/{self.total}", start=start, running=running,
                     anneal=False, extra=self.progress)
            self.tuned += 1

    def progress(self, finished: bool = False) -> dict[str, Any]:
        """The checkpoint fields of the selection so far (``finished``: at the end of the
        fine-tuning epoch under way, which then counts as tuned)."""
        return {"pt": {"decisions": [decision_to_dict(d) for d in self.decisions],
                       "tuned": self.tuned + int(finished)}}

    def _check_interrupt(self) -> None:
        if self.stage.interrupt.requested:
            raise self.stage.interrupted(f"during perturbation selection "
                                          f"({len(self.decisions)} decisions made)")


def run_perturbation(stage: StageTrainer, model: Supernet, resume: dict | None,
                     name: str, decide: Callable | None = None) -> ir.Space:
    """The engine's hook: DARTS-PT on the trained ``model`` of ``stage`` (resuming from the
    stage's checkpoint ``resume`` when it holds a PT phase) -> the selected space ``name``;
    ``decide`` replaces the op decision (`perturbation.perturbation_select`)."""
    s = stage.s
    target = s.select.options.get("target", "both")
    seed = stream(s.seed, stage.index, 3)
    rounds = len(plan(stage.space, target, random.Random(seed)))
    sel = _Selection(stage, model, resume, s.finetune * max(rounds - 1, 0))
    decisions = perturbation_select(
        model, stage.space, sel.evaluate, sel.finetune, random.Random(seed), target=target,
        epochs=s.finetune, done=sel.done, on_decision=sel.on_decision, decide=decide,
        edge_rule=s.select.options.get("edge_rule", "single"))
    return selected_space(stage.space, decisions, target, name)


class PerturbationSelection(StageSelection):
    """``select perturbation [ops|edges|both]``: DARTS-PT (`run_perturbation`)."""

    def select(self, stage: StageTrainer, model: Supernet, resume: dict | None,
               name: str) -> ir.Space:
        return run_perturbation(stage, model, resume, name)


def readable_decision(space: ir.Space, d: Decision) -> dict[str, Any]:
    """A decision for people and metrics: edges as "i->j" (`outputs.edge_labels`), each
    candidate or dropped edge with the validation accuracy measured without it."""
    from .outputs import edge_labels
    labels = edge_labels(space.cells[d.cell].edges())
    data = decision_to_dict(d)
    if data["kind"] == "op":
        return {"kind": "op", "cell": d.cell, "edge": labels[d.edge], "op": d.op,
                "accuracy_without": dict(zip(d.candidates, d.accuracies))}
    return {"kind": "node", "cell": d.cell, "node": d.node, "kept": [labels[e] for e in d.kept],
            "dropped": [labels[e] for e in d.dropped],
            "accuracy_without": dict(zip((labels[e] for e in d.dropped), d.accuracies))}
