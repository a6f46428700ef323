"""Ctrl-C during training: finish the batch, save, and stop with a clean error."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

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


class SigintFlag:
    """While active (main thread only), the first Ctrl-C sets ``requested`` instead of raising,
    so the loop can stop at a consistent point; a second Ctrl-C raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "SigintFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            previous = self._previous if self._previous is not None else signal.SIG_DFL
            signal.signal(signal.SIGINT, previous)
            self._installed = False
