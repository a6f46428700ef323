"""Crash-safe files: atomic checkpoints, text outputs, JSON-lines logs, and RNG state.

A checkpoint is written to a temporary file in the same directory, flushed to disk, then renamed
over the old one; the old one survives as ``<name>.prev<suffix>`` so a reader always finds one
whole file even if the machine dies mid-write. Checkpoints load with ``weights_only=True``, so
they may hold only tensors, dicts, lists, tuples, numbers, strings, booleans and None.
torch is imported only by the functions that need it, so text outputs stay light.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable

from .errors import GenospecError, GenospecWarning

if TYPE_CHECKING:
    import torch


class CheckpointError(GenospecError):
    """No readable checkpoint where one was expected."""

    exit_code = 3


def previous_path(path: str | Path) -> Path:
    """Where the checkpoint before ``path`` is kept: ``ckpt.pt`` -> ``ckpt.prev.pt``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.prev{p.suffix}")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_atomic(path: Path, write: Callable[[IO[bytes]], object], keep_previous: bool) -> None:
    """Write through ``write(file)`` into a temp file next to ``path``, fsync, rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.exists():
            _keep_previous(path)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_save(obj: Any, path: str | Path) -> None:
    """Save ``obj`` with ``torch.save`` so that ``path`` is always either old-whole or new-whole.

    The previous file is first linked (or copied) to :func:`previous_path`, then the complete new
    file replaces ``path`` in one rename.
    """
    import torch

    _write_atomic(Path(path), lambda f: torch.save(obj, f), keep_previous=True)


def _keep_previous(path: Path) -> None:
    """Make ``previous_path(path)`` a whole copy of ``path`` without ever removing ``path``."""
    prev = previous_path(path)
    staged = prev.with_name(f".{prev.name}.staged")
    staged.unlink(missing_ok=True)
    try:
        os.link(path, staged)
    except OSError:  # file systems without hard links
        shutil.copyfile(path, staged)
    os.replace(staged, prev)


def load(path: str | Path, map_location: str | torch.device | None = "cpu") -> Any:
    """Load a checkpoint (``weights_only=True``), falling back to the previous one if needed.

    A fallback is announced with a GenospecWarning (the CLI prints it): the run continues from
    an earlier point than the user may expect."""
    import torch

    path = Path(path)
    failures = []
    for candidate in (path, previous_path(path)):
        if not candidate.exists():
            failures.append(f"{candidate}: missing")
            continue
        try:
            state = torch.load(candidate, map_location=map_location, weights_only=True)
        except Exception as e:  # torch raises several types for truncated or foreign files
            failures.append(f"{candidate}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            continue
        if failures:
            warnings.warn(GenospecWarning(f"{failures[0]}; continuing from the previous checkpoint {candidate}"),
                          stacklevel=2)
        return state
    raise CheckpointError(f"no readable checkpoint at {path}", hint="; ".join(failures))


def check_fields(state: Any, fields: dict[str, type | tuple[type, ...]], path: str | Path) -> None:
    """Raise CheckpointError naming ``path`` unless ``state`` is a dict holding every key of
    ``fields`` with a value of its type(s) (a file from another program, an older version or
    another space is refused here, not by a KeyError deep inside a run)."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a genospec checkpoint (found {type(state).__name__})")
    missing = [k for k in fields if k not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}",
                              hint="it was not written by this version of genospec, or not for this run")
    for key, kinds in fields.items():
        value = state[key]
        if not isinstance(value, kinds) or isinstance(value, bool) and bool not in (
                kinds if isinstance(kinds, tuple) else (kinds,)):
            want = " or ".join(t.__name__ for t in (kinds if isinstance(kinds, tuple) else (kinds,)))
            raise CheckpointError(f"{path}: '{key}' holds {type(value).__name__}, not {want}")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a text file (a .gs, .json output) atomically."""
    _write_atomic(Path(path), lambda f: f.write(text.encode("utf-8")), keep_previous=False)


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one JSON record as a line and flush it to disk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file (an incomplete last line, from a crash, is dropped)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def capture_rng() -> dict[str, Any]:
    """The global random states (torch CPU and CUDA, Python ``random``), weights_only-safe."""
    import torch

    version, state, gauss_next = random.getstate()
    captured: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": version, "state": torch.tensor(state, dtype=torch.int64),
                   "gauss_next": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        captured["cuda"] = torch.cuda.get_rng_state_all()
    return captured


def restore_rng(captured: dict[str, Any]) -> None:
    """Undo :func:`capture_rng`: set every global random state it recorded."""
    import torch

    torch.set_rng_state(captured["torch"].cpu())
    py = captured["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss_next"]))
    if "cuda" in captured and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in captured["cuda"]])
