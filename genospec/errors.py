"""One error hierarchy for everything a user can get wrong.

Every error that points into a spec file carries a `Span`; `str(error)` renders
``file:line:col: message``, the source line, a caret under the offending token and a hint.
"""

from __future__ import annotations

import difflib
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Iterable

from .limits import MAX_MESSAGE_CHARS, MAX_PRINTED_ERRORS, MAX_SHOWN_LINE


@dataclass(frozen=True)
class Source:
    """A spec file's name and text (kept so errors can show the offending line).

    Lines end at "\n" only, as the parser counts them: a form feed, vertical tab, NEL or
    Unicode line separator inside a line stays in that line (str.splitlines would split there
    and put the caret under the wrong line)."""

    name: str
    text: str = field(repr=False, compare=False)

    @cached_property
    def _starts(self) -> list[int]:
        """Offsets where lines begin, found once per source (errors are printed in linear time)."""
        starts, at = [0], self.text.find("\n")
        while at >= 0:
            starts.append(at + 1)
            at = self.text.find("\n", at + 1)
        return starts

    def line(self, lineno: int) -> str:
        """Line ``lineno`` (1-based) without its line end; "" past the end."""
        if not 0 < lineno <= len(self._starts):
            return ""
        start = self._starts[lineno - 1]
        end = self._starts[lineno] - 1 if lineno < len(self._starts) else len(self.text)
        return self.text[start:end].removesuffix("\r")

    def offset(self, line: int, column: int) -> int:
        """The character offset of a 1-based line and column."""
        return self._starts[min(line, len(self._starts)) - 1] + column - 1

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


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
        """The source line with a caret (or a run of carets) under the span.

        Control characters show as spaces (so the caret stays under its column); a line wider
        than MAX_SHOWN_LINE is clipped to a window around the caret, marked with "..."."""
        if self.source is None:
            return ""
        text = self.source.line(self.line)
        width = self.end_column - self.column if self.end_line == self.line else len(text) - self.column + 1
        col, width = self.column - 1, max(1, width)
        if len(text) > MAX_SHOWN_LINE:
            width = min(width, MAX_SHOWN_LINE // 2)
            start = max(0, min(col - MAX_SHOWN_LINE // 3, len(text) - MAX_SHOWN_LINE))
            end = start + MAX_SHOWN_LINE
            head, tail = ("..." if start else ""), ("..." if end < len(text) else "")
            text = head + text[start:end] + tail
            col += len(head) - start
        text = "".join(" " if not c.isprintable() else c for c in text)
        gutter = f"{self.line:>4} | "
        return f"{gutter}{text}\n{' ' * len(gutter)}{' ' * col}{'^' * width}"


class GenospecError(Exception):
    """Base class of every error genospec reports to a user."""

    exit_code = 3

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint

    def __str__(self) -> str:
        head = f"{_clip(self.span.file)}:{self.span.line}:{self.span.column}: " if self.span else ""
        parts = [f"{head}error: {_clip(self.message)}"]
        if self.span is not None and self.span.source is not None:
            parts.append(self.span.render())
        if self.hint:
            parts.append(f"hint: {_clip(self.hint)}")
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
        shown = "\n\n".join(str(e) for e in self.errors[:MAX_PRINTED_ERRORS])
        rest = len(self.errors) - MAX_PRINTED_ERRORS
        return shown + (f"\n\n... and {rest:,} more errors ({len(self.errors):,} in all)" if rest > 0 else "")


class GenospecWarning(UserWarning):
    """Something a user should know that does not stop the command (the CLI prints it)."""


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


def _clip(text: str) -> str:
    """A message as printed: at most MAX_MESSAGE_CHARS characters (a name, string or path the
    user wrote may be arbitrarily long)."""
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + f"... ({len(text):,} characters)"


def _position(e: GenospecError) -> tuple:
    s = e.span
    return (s.file, s.line, s.column) if s else ("", 0, 0)


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """A hint naming the closest known name, or listing the known names when few."""
    return _did_you_mean(name, tuple(sorted(set(known))))


@lru_cache(maxsize=1024)  # a file with thousands of errors often repeats one misspelling
def _did_you_mean(name: str, known: tuple[str, ...]) -> str | None:
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
