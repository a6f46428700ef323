"""One registry mechanism for every extensible kind of part (torch-free).

A *part* is a named, registered thing a spec or recipe can name: an op kind, an op or edge
relaxation, an update rule, a regulariser or perturbation, a selection rule, a dataset, a
network layout, a study. Each kind has one `Registry` (``registry(kind)``); each part declares
its `Option`s (name, type, range, default), so the language reads a part's name *and* its options
from the registry and checks them the same way for built-in and user parts.

Built-in parts whose code needs torch register a ``"module:attribute"`` string; it is imported
on first `Registry.get`, so that reading a recipe never imports torch. Registering a taken name
raises ``ValueError`` (a programming error); looking up an unknown name raises ``SpecError``
listing the registered names, with a did-you-mean.
"""

from __future__ import annotations

import importlib
import math
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import SpecError, did_you_mean

T = TypeVar("T")

# The kinds (DESIGN §8). A plugin may add a kind of its own with `registry(name)`.
OP_KIND = "op kind"
OP_RELAXATION = "op relaxation"
EDGE_RELAXATION = "edge relaxation"
UPDATE_RULE = "update rule"
REGULARISER = "regulariser"
SELECTION = "selection rule"
DATASET = "dataset"
LAYOUT = "network layout"
STUDY = "study"


@dataclass(frozen=True)
class Option:
    """One option of a part, as a recipe writes it.

    ``type`` is ``float``, ``int``, ``str`` (one of ``choices``) or ``bool``. A *named* option
    is written ``name VALUE``; a ``positional`` one is the value alone, right after the part's
    name; a ``flag`` is a bare word that sets the option to ``flag_value``. ``lo``/``hi`` bound
    numbers (``lo_open``/``hi_open``: the bound itself is excluded).
    """

    name: str
    type: type = float
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] = ()
    positional: bool = False
    flag: str | None = None
    flag_value: Any = None
    doc: str = ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable (None when it is)."""
        if self.type is str:
            if self.choices and value not in self.choices:
                return f"'{self.name}' must be one of {', '.join(self.choices)}, not {value!r}"
            return None
        if self.type is bool:
            return None if isinstance(value, bool) else f"'{self.name}' is on or off"
        if self.type is int and (isinstance(value, bool) or not isinstance(value, int)):
            return f"'{self.name}' expects a whole number, not {value!r}"
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return f"'{self.name}' expects a number, not {value!r}"
        if not math.isfinite(value):
            return f"'{self.name}' must be a finite number"
        low = self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo)
        high = self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi)
        if low and self.lo == 0 and not self.lo_open:
            return f"'{self.name}' cannot be negative"
        if low or high:
            return f"'{self.name}' must be {self.range_text()}, not {_num(value)}"
        return None

    def range_text(self) -> str:
        """``in [0, 1)``, ``> 0``, ``<= 10``, ... (empty when unbounded)."""
        if self.lo is not None and self.hi is not None:
            return (f"in {'(' if self.lo_open else '['}{_num(self.lo)}, "
                    f"{_num(self.hi)}{')' if self.hi_open else ']'}")
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {_num(self.lo)}"
        if self.hi is not None:
            return f"{'<' if self.hi_open else '<='} {_num(self.hi)}"
        return "any number"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


@dataclass(frozen=True)
class Part(Generic[T]):
    """A registered part: its ``target`` (the object, or ``"module:attribute"`` until loaded),
    its options, the words a recipe spells it with (default: its name) and free ``tags`` a
    kind uses (op relaxations: the targets ``ops``/``groups`` they relax)."""

    kind: str
    name: str
    target: Any
    options: tuple[Option, ...] = ()
    words: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    doc: str = ""
    plugin: str | None = None  # the module that registered it (None: built in)

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.options}

    def check(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` completed with the defaults; a SpecError on an unknown or bad option."""
        out = self.defaults()
        for key, value in values.items():
            opt = self.option(key)
            if opt is None:
                raise SpecError(f"{self.kind} {self.name!r} has no option {key!r}",
                                hint=did_you_mean(key, [o.name for o in self.options]))
            message = opt.problem(value)
            if message is not None:
                raise SpecError(f"{self.kind} {self.name!r}: {message}")
            out[key] = value
        return out


class Registry(Generic[T]):
    """The registered parts of one kind."""

    def __init__(self, kind: str):
        self.kind = kind
        self._parts: dict[str, Part] = {}
        self._loaded: dict[str, T] = {}

    def register(self, name: str, target: Any = None, *, options: tuple[Option, ...] = (),
                 words: tuple[str, ...] | None = None, tags: tuple[str, ...] = (),
                 doc: str = "", plugin: str | None = None) -> Callable[[T], T]:
        """Register ``target`` under ``name``; without ``target``, a decorator."""
        def add(entry: T) -> T:
            if name in self._parts:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            names = [o.name for o in options]
            if len(set(names)) != len(names):
                raise ValueError(f"{self.kind} {name!r} declares an option twice")
            text = doc or ("" if isinstance(entry, str) else
                           (getattr(entry, "__doc__", None) or "").strip().split("\n")[0])
            self._parts[name] = Part(self.kind, name, entry, tuple(options),
                                     tuple(words) if words else (name,), tuple(tags), text,
                                     plugin or _caller_module(entry))
            return entry

        return add if target is None else add(target)  # type: ignore[return-value]

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and interactive sessions)."""
        self._parts.pop(name, None)
        self._loaded.pop(name, None)

    @contextmanager
    def replaced(self, name: str, target: Any) -> Iterator[None]:
        """Within the block, ``name`` (already registered) resolves to ``target``; its options
        and words stay (tests, interactive sessions)."""
        part = self.part(name)
        loaded = self._loaded.pop(name, None)
        self._parts[name] = replace(part, target=target)
        try:
            yield
        finally:
            self._parts[name] = part
            self._loaded.pop(name, None)
            if loaded is not None:
                self._loaded[name] = loaded

    def part(self, name: str) -> Part:
        try:
            return self._parts[name]
        except KeyError:
            raise self.unknown(name) from None

    def get(self, name: str) -> T:
        """The registered object (imported now when registered as ``"module:attribute"``)."""
        part = self.part(name)
        if name not in self._loaded:
            target = part.target
            if isinstance(target, str):
                module, _, attr = target.partition(":")
                target = getattr(importlib.import_module(module), attr)
            self._loaded[name] = target
        return self._loaded[name]

    def unknown(self, name: str, span: Any = None) -> SpecError:
        """The error for an unknown ``name``: the registered names and the nearest one."""
        known = self.names()
        near = did_you_mean(name, known)
        hint = near if near and near.startswith("did you mean") else None
        return SpecError(f"unknown {self.kind} {name!r} (known: {', '.join(known)})",
                         span, hint)

    def names(self, tag: str | None = None) -> list[str]:
        return sorted(n for n, p in self._parts.items() if tag is None or tag in p.tags)

    def parts(self) -> Iterator[Part]:
        return iter(list(self._parts.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._parts


def _caller_module(entry: Any) -> str | None:
    module = getattr(entry, "__module__", None)
    return module if module and not module.startswith("genospec.") else None


_REGISTRIES: dict[str, Registry] = {}
_declared = False


def registry(kind: str) -> Registry:
    """The registry of ``kind`` (created on first use; the built-in parts are declared on the
    first call, `genospec.builtins`)."""
    global _declared
    if not _declared:
        _declared = True
        from . import builtins, oplib  # noqa: F401  (oplib registers the op kinds)
        builtins.declare()
    if kind not in _REGISTRIES:
        _REGISTRIES[kind] = Registry(kind)
    return _REGISTRIES[kind]


def kinds() -> list[str]:
    registry(OP_KIND)
    return sorted(_REGISTRIES)


@dataclass(frozen=True)
class Choice:
    """A part named in a recipe with its checked options (the typed form of ``relax ops
    softmax``, ``select threshold 0.5``, ``regularise flops weight 0.1``)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.options)}
