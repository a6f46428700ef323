"""The one Ctrl-C guard of search and training runs."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class SigintGuard:
    """While active (main thread only), the first Ctrl-C sets ``requested`` instead of raising,
    so the loop can stop at a consistent point and checkpoint; a second Ctrl-C raises
    KeyboardInterrupt."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "SigintGuard":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            previous = self._previous if self._previous is not None else signal.SIG_DFL
            signal.signal(signal.SIGINT, previous)
            self._installed = False
