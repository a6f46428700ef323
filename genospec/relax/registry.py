"""The registry of relaxations and selection rules is `genospec.registry` (one mechanism for
every kind of part); this module keeps the old import path working."""

from ..registry import Option, Part, Registry

__all__ = ["Option", "Part", "Registry"]
