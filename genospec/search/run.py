"""The run directory of a search: where every output and the resume state live.

    runs/<recipe>-<YYYYmmdd-HHMMSS>/
      recipe.gs             the recipe file's text, as given
      resolved.json         what the run does: recipe, options, every stage's resolved settings
      metrics.jsonl         one record per epoch (stage, epoch, losses, accuracies, temperatures,
                            op weights per edge, edge weights, seconds)
      checkpoint.pt         the latest checkpoint (checkpoint.prev.pt: the one before it)
      <stage>.gs            each stage's result (a reduced space or a genotype)
      genotype.gs           the final genotype (a copy of the last stage's result)
      cells/                rendered cells: searched weights per stage, the final genotype
      plots/                architecture weights over epochs, per stage and cell type
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import checkpoint
from ..errors import GenospecError

RESOLVED = "resolved.json"


class RunDirError(GenospecError):
    """A run directory that cannot be created or resumed."""

    exit_code = 3


@dataclass(frozen=True)
class RunDir:
    """Paths and files of one run directory."""

    path: Path

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def create(cls, recipe_name: str, out: str | Path | None = None,
               root: str | Path = "runs") -> "RunDir":
        """A fresh directory: ``out`` if given (new or empty), else ``root/<recipe>-<time>``."""
        if out is not None:
            path = Path(out)
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                hint = ("resume it with --resume " + str(path) if (path / RESOLVED).exists()
                        else "choose a new or empty directory")
                raise RunDirError(f"run directory {path} is not empty", hint=hint)
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = Path(root) / f"{recipe_name}-{stamp}"
            n = 2
            while path.exists():
                path = Path(root) / f"{recipe_name}-{stamp}-{n}"
                n += 1
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

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

    def read_resolved(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / RESOLVED).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise RunDirError(f"cannot read {self.path / RESOLVED}: {e}") from None

    def append_metrics(self, record: dict[str, Any]) -> None:
        checkpoint.append_jsonl(self.metrics_path, record)

    def metrics(self) -> list[dict[str, Any]]:
        return checkpoint.read_jsonl(self.metrics_path)

    def keep_metrics(self, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Drop the records ``keep`` rejects (those written after the checkpoint a run resumes
        from), rewriting the file atomically."""
        if self.metrics_path.exists():  # rewritten even when all are kept: drops a torn line
            kept = [r for r in self.metrics() if keep(r)]
            text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept)
            checkpoint.atomic_write_text(self.metrics_path, text)

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        checkpoint.atomic_save(state, self.checkpoint_path)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The latest whole checkpoint, or None when the run never wrote one."""
        if not (self.checkpoint_path.exists()
                or checkpoint.previous_path(self.checkpoint_path).exists()):
            return None
        return checkpoint.load(self.checkpoint_path)
