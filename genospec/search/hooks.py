"""What registered parts implement to act inside a search stage (DESIGN §8).

- `Regulariser` (registry kind ``regulariser``, recipe ``regularise NAME OPTIONS``): a term added
  to the architecture step's loss and/or the weight step's loss, and hooks the stage trainer
  calls around the steps (``epoch_start``, ``before_weight_step``, ``after_weight_step``,
  ``epoch_end``). The weight-step hooks run inside the update rule, after the architecture step
  and around the weight step's forward, backward and optimiser step, and receive the weight
  step's batch: a perturbation of alpha for the weight step (SDARTS, which attacks alpha on that
  batch) is a regulariser whose ``before_weight_step`` perturbs and ``after_weight_step``
  restores (`genospec.search.regularisers`).
- `StageSelection` (registry kind ``selection rule``): a selection rule that needs the stage
  itself (DARTS-PT measures and fine-tunes the supernet). Plain selection rules are functions of
  one cell type's weights (`genospec.search.select`); the stage trainer calls a
  `StageSelection`'s ``select`` instead.

Options declared at registration (`genospec.registry.Option`) arrive as keyword arguments of the
class's constructor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor, nn

    from .. import ir


class Regulariser:
    """Base class of regularisers and perturbations; every hook defaults to doing nothing."""

    def loss(self, model: "nn.Module", phase: str) -> "Tensor | None":
        """A term added to the loss of ``phase`` (``"arch"`` or ``"weights"``), or None."""
        return None

    def epoch_start(self, model: "nn.Module", epoch: int, epochs: int) -> None:
        """Called before each epoch of the stage's ``epochs`` (0-based ``epoch``; fine-tuning
        epochs after a stage's training continue the count past ``epochs``)."""

    def before_weight_step(self, model: "nn.Module", batch: "tuple | None" = None) -> None:
        """Called after the architecture step and before the weight step, with the weight
        step's batch ``(x, y)`` (e.g. perturb alpha)."""

    def after_weight_step(self, model: "nn.Module") -> None:
        """Called after the weight step's optimiser step (e.g. restore alpha)."""

    def epoch_end(self, model: "nn.Module", epoch: int) -> dict[str, float]:
        """Called after each epoch; the returned numbers go into the epoch's metrics record."""
        return {}


class Regularisers:
    """The stage's regularisers as one penalty and one set of hooks."""

    def __init__(self, parts: list[Regulariser]):
        self.parts = parts

    def penalty(self, model: "nn.Module", phase: str) -> "Tensor | None":
        terms = [t for p in self.parts if (t := p.loss(model, phase)) is not None]
        if not terms:
            return None
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total

    def epoch_start(self, model: "nn.Module", epoch: int, epochs: int) -> None:
        for p in self.parts:
            p.epoch_start(model, epoch, epochs)

    def before_weight_step(self, model: "nn.Module", batch: "tuple | None" = None) -> None:
        for p in self.parts:
            p.before_weight_step(model, batch)

    def after_weight_step(self, model: "nn.Module") -> None:
        for p in reversed(self.parts):  # undo in reverse order
            p.after_weight_step(model)

    def epoch_end(self, model: "nn.Module", epoch: int) -> dict[str, float]:
        out: dict[str, float] = {}
        for p in self.parts:
            out.update(p.epoch_end(model, epoch))
        return out


class StageSelection:
    """Base class of selection rules that act on the trained stage; options arrive as keyword
    arguments."""

    def __init__(self, **options: Any):
        self.options = options

    def select(self, stage: Any, model: "nn.Module", resume: dict | None,
               name: str) -> "ir.Space":
        """The stage's result (a genotype or reduced space named ``name``) from the trained
        ``model``; ``stage`` is the `genospec.search.engine.StageTrainer` (its settings, data,
        run directory, batches, checkpoints); ``resume`` the checkpoint to continue from."""
        raise NotImplementedError
