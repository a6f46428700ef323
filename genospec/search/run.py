"""The run directory of a search: where every output and the resume state live.

    runs/<recipe>-<YYYYmmdd-HHMMSS>/
      recipe.gs             the recipe file's text, as given
      resolved.json         what the run does: recipe, options, every stage's resolved settings
      metrics.jsonl         one record per epoch (stage, epoch, losses, accuracies, temperatures,
                            op weights per edge, edge weights, seconds)
      metrics.csv           its scalar fields, one row per epoch and stage
      checkpoint.pt         the latest checkpoint (checkpoint.prev.pt: the one before it)
      <stage>.gs            each stage's result (a reduced space or a genotype)
      genotype.gs           the final genotype (a copy of the last stage's result)
      cells/                rendered cells: searched weights per stage, the final genotype
      plots/                architecture weights over epochs, per stage and cell type
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import checkpoint
from ..runtime import checkpoints, directory, tables
from ..runtime.directory import RunDirError

RESOLVED = "resolved.json"
METRICS_CSV = "metrics.csv"


@dataclass(frozen=True)
class RunDir:
    """Paths and files of one run directory."""

    path: Path

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def claim(cls, recipe_name: str, out: str | Path | None = None,
              root: str | Path = "runs") -> "RunDir":
        """The directory a new run will write: ``out`` if given (new or empty), else
        ``root/<recipe>-<time>``; created by `create` once the run has started well."""
        return cls(directory.claim(out, root, recipe_name, RESOLVED))

    def create(self) -> None:
        directory.create(self.path, RESOLVED)

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run directory, for ``--resume``."""
        run = cls(Path(path))
        if not (run.path / RESOLVED).is_file():
            raise RunDirError(f"{path} is not a search run directory (no {RESOLVED})",
                              hint="pass the directory a search created (runs/<recipe>-<time>)")
        return run

    # -- paths -----------------------------------------------------------------------------
    @property
    def recipe_copy(self) -> Path:
        return self.path / "recipe.gs"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def genotype_path(self) -> Path:
        return self.path / "genotype.gs"

    @property
    def cells_dir(self) -> Path:
        return self.path / "cells"

    @property
    def plots_dir(self) -> Path:
        return self.path / "plots"

    def stage_output(self, stage: str) -> Path:
        return self.path / f"{stage}.gs"

    # -- files -----------------------------------------------------------------------------
    def write_resolved(self, data: dict[str, Any]) -> None:
        checkpoint.atomic_write_text(self.path / RESOLVED, json.dumps(data, indent=2) + "\n")
        recipe_file = data.get("recipe_file")
        if recipe_file and Path(recipe_file).is_file():  # recipe.gs: with its imports inlined, so
            from ..lang.loader import bundle_text  # that it compiles from the run directory
            checkpoint.atomic_write_text(self.recipe_copy, bundle_text(recipe_file))

    def read_resolved(self) -> dict[str, Any]:
        """resolved.json, checked for the fields a run reads (RunDirError naming what is wrong)."""
        path = self.path / RESOLVED
        try:
            plan = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as e:  # ValueError: bad JSON or not UTF-8
            raise RunDirError(f"cannot read {path}: {e}") from None
        fields = {"recipe": str, "space": str, "start": int, "stages": list}
        bad = [k for k, t in fields.items() if not isinstance(plan, dict) or not isinstance(plan.get(k), t)]
        stages = plan.get("stages") if isinstance(plan, dict) else None
        if not bad and not all(isinstance(st, dict) and isinstance(st.get("name"), str)
                               and isinstance(st.get("settings"), dict) for st in stages):
            bad = ["stages (each a {\"name\": ..., \"settings\": {...}})"]
        if not bad and not 0 <= plan["start"] < len(stages):
            bad = [f"start (stage {plan['start']} of {len(stages)})"]
        if bad:
            raise RunDirError(f"{path} is damaged: missing or malformed {', '.join(bad)}",
                              hint="it is written by `genospec search`; restore it or start a new run")
        return plan

    def append_metrics(self, record: dict[str, Any]) -> None:
        checkpoint.append_jsonl(self.metrics_path, record)
        tables.write_csv(self.path / METRICS_CSV, self.metrics())

    def amend_last_metrics(self, fields: dict[str, Any]) -> None:
        """Add ``fields`` to the last record (e.g. a selection rule's decisions after the
        stage's last epoch), rewriting the file atomically."""
        records = self.metrics()
        if records:
            records[-1].update(fields)
            text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
            checkpoint.atomic_write_text(self.metrics_path, text)
            tables.write_csv(self.path / METRICS_CSV, records)

    def metrics(self) -> list[dict[str, Any]]:
        return checkpoint.read_jsonl(self.metrics_path)

    def keep_metrics(self, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Drop the records ``keep`` rejects (those written after the checkpoint a run resumes
        from), rewriting the file atomically."""
        if self.metrics_path.exists():  # rewritten even when all are kept: drops a torn line
            kept = [r for r in self.metrics() if keep(r)]
            text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept)
            checkpoint.atomic_write_text(self.metrics_path, text)
            tables.write_csv(self.path / METRICS_CSV, kept)

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        checkpoints.save(self.checkpoint_path, "search", {**state, "run_id": self._identity()})

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The latest whole checkpoint, or None when the run never wrote one.

        A checkpoint that lacks a field a run reads, holds one of the wrong type, or was written
        by another run (another space or recipe) is a CheckpointError naming the file."""
        if not (self.checkpoint_path.exists()
                or checkpoint.previous_path(self.checkpoint_path).exists()):
            return None
        state = checkpoints.load(self.checkpoint_path, "search", CHECKPOINT_FIELDS)
        stages = len(self.read_resolved()["stages"])
        if not 0 <= state["stage"] < stages or state["epoch"] < 0 or state["step"] < 0:
            raise checkpoint.CheckpointError(
                f"{self.checkpoint_path}: stage {state['stage']}, epoch {state['epoch']}, step {state['step']} "
                f"is not a point of this run ({stages} stages)")
        if state.get("run_id", self._identity()) != self._identity():
            raise checkpoint.CheckpointError(
                f"{self.checkpoint_path} was written by another run (another recipe or space)",
                hint="a run resumes only from its own checkpoints")
        return state

    def _identity(self) -> str:
        """What a checkpoint must belong to: the recipe, its stages and the searched space."""
        try:
            plan = json.loads((self.path / RESOLVED).read_text(encoding="utf-8"))
            space = (self.path / "space.gs").read_text(encoding="utf-8")
            key = json.dumps([plan.get("recipe"), [st.get("name") for st in plan.get("stages", [])], space])
        except (OSError, ValueError, AttributeError, TypeError):
            key = ""
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


# What every checkpoint of a search holds (see stage.StageTrainer.save).
CHECKPOINT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "stage": int, "epoch": int, "step": int, "model": dict, "w_opt": dict, "a_opt": (dict, type(None)),
    "rng": dict, "running": dict}
