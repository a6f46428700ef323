"""TensorBoard event files for search and training runs (``--tensorboard [DIR]``).

A `Reporter` that passes everything on to another one and writes every number of each epoch
event as a TensorBoard scalar (``<stage>/<field>``, one step per epoch); the directory is DIR, or
``<run>/tensorboard`` taken from the run's header event. Needs the optional extra
``pip install 'genospec[tensorboard]'``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Mapping

from .errors import GenospecError
from .progress import Reporter

INSTALL = "pip install 'genospec[tensorboard]'"


class TensorBoardMissing(GenospecError):
    """--tensorboard without the tensorboard package: a usage error (exit 2)."""

    exit_code = 2


def check_available() -> None:
    """Raise `TensorBoardMissing` (with the install command) when tensorboard is missing."""
    if importlib.util.find_spec("tensorboard") is None:
        raise TensorBoardMissing("--tensorboard writes TensorBoard event files, and the "
                                 "tensorboard package is not installed",
                                 hint=f"install the optional extra: {INSTALL}")


class TensorBoardReporter(Reporter):
    """Forwards to ``inner``; epoch events become scalars in ``log_dir`` (None: RUN/tensorboard)."""

    def __init__(self, inner: Reporter, log_dir: str | Path | None = None):
        check_available()
        self.inner, self.log_dir, self.writer, self.step = inner, log_dir, None, 0

    def start(self, desc: str, total: int | None = None) -> None:
        self.inner.start(desc, total)

    def update(self, n: int = 1, **values: float) -> None:
        self.inner.update(n, **values)

    def close(self) -> None:
        self.inner.close()

    def event(self, kind: str, record: Mapping[str, Any]) -> None:
        self.inner.event(kind, record)
        if kind == "header" and self.writer is None:
            from torch.utils.tensorboard import SummaryWriter
            where = self.log_dir or Path(str(record.get("run", "runs"))) / "tensorboard"
            self.log_dir = Path(where)
            self.writer = SummaryWriter(log_dir=str(where))
        elif kind == "epoch" and self.writer is not None:
            self.step += 1
            group = str(record.get("stage", "train"))
            for key, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.writer.add_scalar(f"{group}/{key}", value, self.step)
            self.writer.flush()
        elif kind == "done" and self.writer is not None:
            self.writer.close()


def with_tensorboard(reporter: Reporter, tensorboard: str | None) -> Reporter:
    """``reporter``, writing TensorBoard files too when ``tensorboard`` is set ("" for
    RUN/tensorboard, else the directory)."""
    if tensorboard is None:
        return reporter
    return TensorBoardReporter(reporter, tensorboard or None)
