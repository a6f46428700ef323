"""The one versioned checkpoint format of search and training runs.

A checkpoint is a dict saved atomically (`genospec.checkpoint.atomic_save`, the previous one
kept) with ``format`` (the version below) and ``kind`` (``"search"`` or ``"train"``). Loading
checks both before anything reads the state: a checkpoint of another version or kind is refused
with a message naming the file and the versions, not a KeyError inside a run. Checkpoints
written before ``kind`` existed (format 1) carry no kind and are read as the kind asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..checkpoint import CheckpointError, atomic_save, check_fields
from ..checkpoint import load as load_file

VERSION = 1
KINDS = ("search", "train")


def save(path: str | Path, kind: str, state: dict[str, Any]) -> None:
    """Write ``state`` as a ``kind`` checkpoint of this version to ``path``."""
    atomic_save({**state, "format": VERSION, "kind": kind}, path)


def load(path: str | Path, kind: str, fields: dict[str, type | tuple[type, ...]],
         map_location: Any = "cpu") -> dict[str, Any]:
    """The ``kind`` checkpoint at ``path`` (or the previous one), checked: its version, its kind
    and the ``fields`` a run reads (CheckpointError naming the file)."""
    state = load_file(path, map_location=map_location)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a genospec checkpoint "
                              f"(found {type(state).__name__})")
    version, found = state.get("format"), state.get("kind", kind)
    if version != VERSION or found != kind:
        raise CheckpointError(
            f"{path} is a {found} checkpoint of format {version!r}; this genospec reads {kind} "
            f"checkpoints of format {VERSION}",
            hint="resume it with the genospec version that wrote it, or start a new run")
    check_fields(state, fields, path)
    return state
