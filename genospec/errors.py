"""One error hierarchy for everything a user can get wrong.

Every error that points into a spec file carries a `Span`; `str(error)` renders
``file:line:col: message``, the source line, a caret under the offending token and a hint.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Source:
    """A spec file's name and text (kept so errors can show the offending line)."""

    name: str
    text: str = field(repr=False, compare=False)

    def line(self, lineno: int) -> str:
        lines = self.text.splitlines()
        return lines[lineno - 1] if 0 < lineno <= len(lines) else ""


@dataclass(frozen=True)
class Span:
    """Where a piece of syntax sits: 1-based line and column, end exclusive."""

    source: Source | None
    line: int
    column: int
    end_line: int
    end_column: int

    @property
    def file(self) -> str:
        return self.source.name if self.source else "<input>"

    def render(self) -> str:
        """The source line with a caret (or a run of carets) under the span."""
        if self.source is None:
            return ""
        text = self.source.line(self.line)
        width = self.end_column - self.column if self.end_line == self.line else len(text) - self.column + 1
        width = max(1, width)
        gutter = f"{self.line:>4} | "
        return f"{gutter}{text}\n{' ' * len(gutter)}{' ' * (self.column - 1)}{'^' * width}"


class GenospecError(Exception):
    """Base class of every error genospec reports to a user."""

    exit_code = 3

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint

    def __str__(self) -> str:
        head = f"{self.span.file}:{self.span.line}:{self.span.column}: " if self.span else ""
        parts = [f"{head}error: {self.message}"]
        if self.span is not None and self.span.source is not None:
            parts.append(self.span.render())
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class SpecSyntaxError(GenospecError):
    """The text does not follow the grammar."""

    exit_code = 1


class SpecError(GenospecError):
    """The text parses but means something impossible (unknown op, bad edge, ...)."""

    exit_code = 1


class SpecErrors(GenospecError):
    """Several errors of one file, reported together."""

    exit_code = 1

    def __init__(self, errors: list[GenospecError]):
        self.errors = sorted(errors, key=_position)
        super().__init__(f"{len(self.errors)} errors")

    def __str__(self) -> str:
        return "\n\n".join(str(e) for e in self.errors)


class ConversionError(GenospecError):
    """A DARTS / NAS-Bench-201 string or JSON document that cannot be converted."""

    exit_code = 1


class DataError(GenospecError):
    """A dataset that cannot be found or read."""

    exit_code = 3


class RenderError(GenospecError):
    """Graphviz is missing or failed."""

    exit_code = 3


class InternalError(GenospecError):
    """A bug in genospec (e.g. the formatter changed a file's meaning)."""

    exit_code = 3


def _position(e: GenospecError) -> tuple:
    s = e.span
    return (s.file, s.line, s.column) if s else ("", 0, 0)


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """A hint naming the closest known name, or listing the known names when few."""
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if known and len(known) <= 12:
        return "known: " + ", ".join(known)
    return None


def raise_all(errors: list[GenospecError]) -> None:
    """Raise nothing, the single error, or all of them together."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise SpecErrors(errors)
