"""A small name -> object registry shared by relaxations and selection rules."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from ..errors import SpecError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind (``"op relaxation"``, ``"selection rule"``, ...).

    Registering a taken name raises ``ValueError`` (a programming error, as
    ``oplib.register_kind`` does); looking up an unknown name raises ``SpecError`` naming the
    near name or listing the known ones.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@registry.register("softmax")`` on a class or function."""

        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = sorted(self._entries)
            hint = did_you_mean(name, known)
            if hint and not hint.startswith("did you mean"):
                hint = None  # the message already lists the known names
            raise SpecError(f"unknown {self.kind} {name!r} (known: {', '.join(known)})",
                            hint=hint) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
