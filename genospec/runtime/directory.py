"""The run directory's lifecycle, shared by search and training runs.

A run first *claims* its path (checked: new, or an empty directory) and creates it only when
the recipe, the data and the memory check have succeeded, so a failed start leaves nothing that
blocks running the same command again.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import GenospecError


class RunDirError(GenospecError):
    """A run directory that cannot be created or resumed."""

    exit_code = 3


def claim(out: str | Path | None, root: str | Path, prefix: str, marker: str) -> Path:
    """The path a new run will take: ``out`` (new or empty), else ``root/<prefix>-<time>`` (a
    free one). ``marker`` names the file that makes a directory a run (the hint to resume)."""
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            hint = (f"resume it with --resume {path}" if (path / marker).exists()
                    else "choose a new or empty directory")
            raise RunDirError(f"run directory {path} is not empty", hint=hint)
        return path
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{prefix}-{stamp}"
    n = 2
    while path.exists():
        path = Path(root) / f"{prefix}-{stamp}-{n}"
        n += 1
    return path


def create(path: Path, marker: str) -> Path:
    """Create the claimed ``path`` (checked again: another run may have taken it meanwhile)."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise RunDirError(f"run directory {path} was taken while this run started",
                          hint=f"resume it with --resume {path}" if (path / marker).exists()
                          else "choose a new or empty directory")
    path.mkdir(parents=True, exist_ok=True)
    return path
