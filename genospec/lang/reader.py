"""`Reader`: walks the values of one setting (``weights sgd lr 0.025 -> 0.001 cosine``) and
fails at the offending value with its span; `Reader.option` reads a value declared by a
`genospec.registry.Option` (type and range checked, the caret on the number)."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import GenospecError, SpecError, did_you_mean
from ..registry import Option
from . import ast


class Reader:
    """Walks the values of one setting."""

    def __init__(self, setting: ast.Setting, errors: list[GenospecError]):
        self.s = setting
        self.values = list(setting.values)
        self.i = 0
        self.errors = errors

    @property
    def key(self) -> str:
        return self.s.key.value

    def peek(self) -> ast.Value | None:
        return self.values[self.i] if self.i < len(self.values) else None

    def next(self, what: str) -> ast.Value:
        v = self.peek()
        if v is None:
            raise self.fail(f"'{self.key}' needs {what}", None)
        self.i += 1
        return v

    def fail(self, message: str, value: ast.Value | None, hint: str | None = None) -> SpecError:
        span = value.span if value is not None else self.s.span
        return SpecError(message, span, hint)

    def number(self, what: str = "a number", integer: bool = False) -> float | int:
        v = self.next(what)
        if v.kind != "number":
            raise self.fail(f"'{self.key}' expects {what} here, not '{v.text}'", v)
        x = float(v.text)
        if integer:
            if not x.is_integer() or any(c in v.text for c in ".eE"):
                raise self.fail(f"'{self.key}' expects a whole number here, not '{v.text}'", v)
            return int(x)
        return x

    def word(self, allowed: tuple[str, ...], what: str = "") -> str:
        v = self.next(what or " or ".join(allowed))
        if v.kind != "word" or v.text not in allowed:
            raise self.fail(f"'{self.key}': unexpected '{v.text}'", v,
                            did_you_mean(v.text, allowed) if v.kind == "word" else
                            "expected " + ", ".join(allowed))
        return v.text

    def accept_word(self, *words: str) -> str | None:
        v = self.peek()
        if v is not None and v.kind == "word" and v.text in words:
            self.i += 1
            return v.text
        return None

    def accept(self, kind: str) -> ast.Value | None:
        v = self.peek()
        if v is not None and v.kind == kind:
            self.i += 1
            return v
        return None

    def options(self, spec: dict[str, Callable[["Reader"], object]], out: dict) -> dict:
        """Read ``word value`` pairs until the end, each word from ``spec``."""
        while (v := self.peek()) is not None:
            if v.kind != "word" or v.text not in spec:
                raise self.fail(f"'{self.key}': unexpected '{v.text}'", v,
                                did_you_mean(v.text, spec) or "expected one of " + ", ".join(spec))
            self.i += 1
            out[v.text] = spec[v.text](self)
        return out

    def done(self) -> None:
        v = self.peek()
        if v is not None:
            raise self.fail(f"'{self.key}': unexpected '{v.text}'", v, "nothing more is expected here")

    def option(self, opt: Option, what: str | None = None) -> Any:
        """The next value as ``opt`` declares it (number, whole number or word), checked
        against its range or choices."""
        v = self.peek()
        if opt.type is str:
            return self.word(opt.choices, what or opt.name) if opt.choices else \
                self.next(what or opt.name).text.strip('"')
        value = self.number(what or f"a number ({opt.name})", integer=opt.type is int)
        problem = opt.problem(value)
        if problem is not None:
            raise self.fail(problem if opt.name == self.key else f"'{self.key}': {problem}", v)
        return value
