"""Locate and import the DARTS authors' code (quark0/darts) for side-by-side benchmarks.

Nothing of the authors' code is committed here: the user clones it and points at the clone with
``--reference DIR`` or the environment variable ``GENOSPEC_DARTS_REF`` (the repository root or
its ``cnn/`` folder). Their files run unchanged; the only adaptations are made at import time in
the benchmark's own process, by `load_reference`:

- ``torch.Tensor.cuda`` and ``nn.Module.cuda`` return their object unchanged (CPU runs);
- ``torch.autograd.Variable`` needs nothing: modern torch returns a plain tensor from it.

Run as a script to check a checkout: ``python benchmarks/reference.py --reference DIR``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from types import SimpleNamespace

ENV_VAR = "GENOSPEC_DARTS_REF"
NEEDED = ("operations.py", "genotypes.py", "model.py", "model_search.py", "architect.py")
CLONE_HINT = ("clone the authors' code (git clone https://github.com/quark0/darts) and pass "
              f"--reference DIR or set {ENV_VAR}=DIR")


class ReferenceNotFound(RuntimeError):
    """No usable checkout of the DARTS code was given."""


def find_reference(path: str | os.PathLike | None = None) -> Path:
    """The ``cnn/`` folder of a DARTS checkout: ``path``, else ``$GENOSPEC_DARTS_REF``."""
    given = path if path is not None else os.environ.get(ENV_VAR)
    if not given:
        raise ReferenceNotFound(f"no DARTS checkout given: {CLONE_HINT}")
    root = Path(given).expanduser().resolve()
    for folder in (root / "cnn", root):
        if all((folder / name).is_file() for name in NEEDED):
            return folder
    raise ReferenceNotFound(f"{root} is not a DARTS checkout (no cnn/{NEEDED[0]} ...): "
                            f"{CLONE_HINT}")


def _no_cuda(obj, *args, **kwargs):
    """Stand-in for ``.cuda()``: keep the object where it is (CPU)."""
    return obj


def cpu_shims() -> None:
    """Make the authors' ``.cuda()`` calls no-ops in this process."""
    import torch
    from torch import nn

    torch.Tensor.cuda = _no_cuda
    nn.Module.cuda = _no_cuda


def load_reference(path: str | os.PathLike | None = None, *, cuda: bool = False) -> SimpleNamespace:
    """Import the authors' ``operations``, ``genotypes``, ``model``, ``model_search`` and
    ``architect`` modules (as top-level modules, the way their scripts import each other)
    after installing `cpu_shims` (``cuda``: without them, their ``.cuda()`` calls run as
    written). Meant for a benchmark's own subprocess."""
    folder = find_reference(path)
    if not cuda:
        cpu_shims()
    sys.path.insert(0, str(folder))
    try:
        modules = {name: importlib.import_module(name)
                   for name in ("operations", "genotypes", "model", "model_search", "architect")}
    finally:
        sys.path.remove(str(folder))
    return SimpleNamespace(folder=folder, **modules)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", help=f"DARTS checkout (default: ${ENV_VAR})")
    args = parser.parse_args()
    try:
        ref = load_reference(args.reference)
    except ReferenceNotFound as e:
        sys.exit(f"error: {e}")
    print(f"DARTS reference code at {ref.folder}: {len(ref.genotypes.PRIMITIVES)} primitives")


if __name__ == "__main__":
    main()
