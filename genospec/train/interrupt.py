"""Ctrl-C during training: finish the batch, save, and stop with a clean error (the guard:
`genospec.runtime.interrupt.SigintGuard`)."""

from __future__ import annotations

from pathlib import Path

from ..errors import GenospecError


class TrainingInterrupted(GenospecError):
    """The user stopped a run; it can be resumed from its run directory."""

    exit_code = 130  # the shell's code for a process ended by SIGINT

    def __init__(self, run_dir: Path, epoch: int, step: int, saved: bool = True):
        where = f"epoch {epoch + 1}, after batch {step}" if step else f"after epoch {epoch}"
        if saved:
            message = f"training interrupted {where}; checkpoint saved in {run_dir}"
        else:
            message = f"training interrupted; the last checkpoint in {run_dir} is kept"
        super().__init__(message, hint=f"resume with --resume {run_dir}")
        self.run_dir, self.epoch, self.step = run_dir, epoch, step
