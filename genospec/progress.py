"""Progress reporting for long loops (training, search stages).

The library never prints: long loops talk to a :class:`Reporter` they are given. The base class is
silent (the library default); the CLI makes a visible one with :func:`make_reporter`:

- ``bar``: tqdm progress bars and one summary line per event, on stderr;
- ``quiet``: nothing;
- ``json``: one JSON object per event on stdout, for scripts (``{"event": "epoch", ...}``).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Mapping, TextIO

from .errors import GenospecError

MODES = ("bar", "quiet", "json")


class Reporter:
    """Receives progress; shows nothing. Subclasses decide how to display it."""

    def start(self, desc: str, total: int | None = None) -> None:
        """A loop of ``total`` steps (None: unknown) begins."""

    def update(self, n: int = 1, **values: float) -> None:
        """``n`` steps are done; ``values`` are running figures (e.g. ``loss=0.7``)."""

    def close(self) -> None:
        """The current loop is over."""

    def event(self, kind: str, record: Mapping[str, Any]) -> None:
        """Something worth a line happened, e.g. an epoch summary."""


class BarReporter(Reporter):
    """tqdm bars and summary lines on a stream (stderr by default)."""

    def __init__(self, stream: TextIO | None = None):
        from tqdm import tqdm  # imported here so `genospec --help` stays fast

        self._tqdm = tqdm
        self._stream = stream
        self._bar: Any = None

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def start(self, desc: str, total: int | None = None) -> None:
        self.close()
        self._bar = self._tqdm(total=total, desc=desc, file=self.stream, leave=False,
                               dynamic_ncols=True)

    def update(self, n: int = 1, **values: float) -> None:
        if self._bar is not None:
            if values:
                self._bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def event(self, kind: str, record: Mapping[str, Any]) -> None:
        if kind == "header":  # a run's start: one "key: value" line each, under its directory
            lines = [f"run {record.get('run', '')}".rstrip()]
            lines += [f"  {k.replace('_', ' ')}: {_short(v)}" for k, v in record.items()
                      if k != "run" and v is not None]
            self._tqdm.write("\n".join(lines), file=self.stream)
            return
        # fields without a value (None) are left out rather than shown as Python's None
        fields = " ".join(f"{k}={_short(v)}" for k, v in record.items() if v is not None)
        self._tqdm.write(f"{kind}: {fields}", file=self.stream)


class JsonReporter(Reporter):
    """One JSON object per event, one per line, on a stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream

    def event(self, kind: str, record: Mapping[str, Any]) -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        stream.write(json.dumps({"event": kind, **record}) + "\n")
        stream.flush()


def eta(seconds: float) -> str:
    """A duration to go, as a person reads it: ``42s``, ``3m05s``, ``1h02m``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _short(value: Any) -> str:
    """A value as a person reads it: 4 significant digits, thousands separated, lists and
    mappings without Python's brackets and quotes."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_short(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_short(v) for v in value)
    return str(value)


def make_reporter(mode: str, stream: TextIO | None = None) -> Reporter:
    """The reporter for a CLI ``--progress`` mode: ``bar``, ``quiet`` or ``json``."""
    if mode == "bar":
        return BarReporter(stream)
    if mode == "json":
        return JsonReporter(stream)
    if mode == "quiet":
        return Reporter()
    raise GenospecError(f"unknown progress mode {mode!r}", hint="known: " + ", ".join(MODES))
