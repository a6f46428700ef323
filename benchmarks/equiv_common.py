"""Helpers of `equivalence.py`: importing the authors' checkouts with their import-time
adaptations, mapping parameters between their models and genospec's by structure, and the
results table.

Nothing of the authors' code lives here. Each repository's modules are imported from the
user's clone under their own names (``operations``, ``model_search``, ...), then taken out of
``sys.modules`` so that the next repository's modules of the same names import cleanly; the
module objects stay alive and keep working (their functions hold their own globals).

Import-time adaptations, made in this process only (`install_shims`):

- ``torch.Tensor.cuda`` and ``nn.Module.cuda`` are no-ops (CPU), as `reference.py` does;
- nothing for the old tensor-method signatures of DARTS's ``architect.py``
  (``t.sub(number, tensor)``, ``t.add_(number, tensor)``): torch 2.14 still accepts them, with
  a deprecation warning (silenced here), so the second-order step runs unchanged;
- ``numpy.math`` (removed in numpy 2) is the standard ``math`` module again (DOTS computes
  binomial coefficients with ``np.math.factorial``).
"""

from __future__ import annotations

import importlib
import math
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

PASS_TOL = 1e-10


# ---- import-time adaptations -------------------------------------------------------------------
def install_shims() -> None:
    """The adaptations listed in the module docstring (idempotent)."""
    warnings.filterwarnings("ignore", message=r"This overload of (add_|sub_?) is deprecated")
    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self
    if not hasattr(np, "math"):
        np.math = math


def import_from(folder: Path, names: Sequence[str], syspath: Path | None = None
                ) -> SimpleNamespace:
    """Import ``names`` with ``syspath`` (default ``folder``) first on the path, then drop every
    module loaded from under ``folder`` from ``sys.modules`` (see the module docstring)."""
    install_shims()
    root = str((syspath or folder).resolve())
    before = set(sys.modules)
    sys.path.insert(0, root)
    try:
        mods = {n.split(".")[-1]: importlib.import_module(n) for n in names}
    finally:
        sys.path.remove(root)
        base = str(folder.resolve())
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file.startswith(base):
                del sys.modules[name]
    return SimpleNamespace(folder=folder, **mods)


def find_checkout(given: str | None, marker: str, env: str, url: str) -> Path | None:
    """``given`` (or $env) if it holds ``marker``; None when not given at all."""
    import os
    path = given or os.environ.get(env)
    if not path:
        return None
    root = Path(path).expanduser()
    if not (root / marker).is_file():
        raise SystemExit(f"error: {root} has no {marker}: clone {url} there")
    return root


# ---- parameter mapping ---------------------------------------------------------------------------
@dataclass
class Mapping:
    """Pairs (reference name, reference tensor, genospec name, genospec tensor) of parameters
    and buffers, built module pair by module pair (`add`) and checked complete (`check`)."""

    ref_model: nn.Module
    gs_model: nn.Module
    pairs: list[tuple[str, torch.Tensor, str, torch.Tensor]] = field(default_factory=list)

    def add(self, ref_prefix: str, gs_prefix: str) -> None:
        """Map the parameters and buffers of module ``ref_prefix`` of the reference model to
        those of module ``gs_prefix`` of genospec's, in registration order; the two modules
        must hold the same number of tensors with the same shapes, one by one."""
        ref = _entries(self.ref_model.get_submodule(ref_prefix), ref_prefix)
        gs = _entries(self.gs_model.get_submodule(gs_prefix), gs_prefix)
        if len(ref) != len(gs):
            raise AssertionError(f"{ref_prefix} has {len(ref)} tensors, {gs_prefix} {len(gs)}:\n"
                                 f"{[n for n, _ in ref]}\n{[n for n, _ in gs]}")
        for (rn, rt), (gn, gt) in zip(ref, gs):
            if rt.shape != gt.shape or rn.rsplit(".", 1)[-1] != gn.rsplit(".", 1)[-1]:
                raise AssertionError(f"{rn} {tuple(rt.shape)} does not match {gn} "
                                     f"{tuple(gt.shape)}")
            self.pairs.append((rn, rt, gn, gt))

    def check(self, ref_skip: Iterable[str] = (), gs_skip: Iterable[str] = ()) -> int:
        """Every parameter and buffer of both models (names starting with a ``*_skip`` prefix
        aside: architecture parameters) mapped exactly once; returns the number of pairs."""
        for side, model, skip in (("reference", self.ref_model, tuple(ref_skip)),
                                  ("genospec", self.gs_model, tuple(gs_skip))):
            k = 0 if side == "reference" else 2
            wanted = {n for n, _ in _entries(model, "") if not n.startswith(skip)}
            got = [p[k] for p in self.pairs]
            dup = {n for n in got if got.count(n) > 1}
            if dup:
                raise AssertionError(f"{side}: mapped more than once: {sorted(dup)[:5]}")
            if set(got) != wanted:
                raise AssertionError(f"{side}: unmapped {sorted(wanted - set(got))[:8]}, "
                                     f"unknown {sorted(set(got) - wanted)[:8]}")
        return len(self.pairs)

    @torch.no_grad()
    def copy_ref_to_gs(self) -> None:
        for _, rt, _, gt in self.pairs:
            gt.copy_(rt)

    def max_diff(self, kind: str = "all") -> float:
        """max |ref - genospec| over parameters (``kind="params"``), BN running statistics
        (``"stats"``) or both."""
        worst = 0.0
        for rn, rt, _, gt in self.pairs:
            is_stat = rn.endswith(("running_mean", "running_var", "num_batches_tracked"))
            if (kind == "params" and is_stat) or (kind == "stats" and not is_stat):
                continue
            worst = max(worst, (rt.double() - gt.double()).abs().max().item())
        return worst

    def grad_diff(self) -> float:
        worst = 0.0
        for rn, rt, gn, gt in self.pairs:
            if isinstance(rt, nn.Parameter):
                if (rt.grad is None) != (gt.grad is None):
                    raise AssertionError(f"gradient of {rn} / {gn}: one side has none")
                if rt.grad is not None:
                    worst = max(worst, (rt.grad - gt.grad).abs().max().item())
        return worst


def _entries(module: nn.Module, prefix: str) -> list[tuple[str, torch.Tensor]]:
    """Parameters and buffers of ``module`` in state-dict order, with full names."""
    pre = prefix + "." if prefix else ""
    return [(pre + n, t) for n, t in module.state_dict(keep_vars=True).items()]


@torch.no_grad()
def randomise_bn(model: nn.Module, gen: torch.Generator) -> None:
    """Random BN affine parameters and running statistics (so that both matter)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            if m.affine:
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
            if m.running_mean is not None:
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(1 + 0.5 * torch.rand(m.running_var.shape, generator=gen))


def diff(a, b) -> float:
    """max |a - b| over tensors or sequences of tensors."""
    if torch.is_tensor(a):
        return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
    return max((diff(x, y) for x, y in zip(a, b)), default=0.0)


# ---- results --------------------------------------------------------------------------------------
@dataclass
class Row:
    section: str
    check: str
    value: float | str
    status: str  # "pass", "FAIL", "by design", "tie rule", "not run"
    note: str = ""


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def diff(self, section: str, check: str, value: float, note: str = "",
             tol: float = PASS_TOL) -> None:
        self._add(Row(section, check, value, "pass" if value <= tol else "FAIL", note))

    def same(self, section: str, check: str, agree: int, total: int, note: str = "") -> None:
        self._add(Row(section, check, f"{agree}/{total} equal",
                      "pass" if agree == total else "FAIL", note))

    def design(self, section: str, check: str, value: float | str, note: str,
               status: str = "by design") -> None:
        """A difference the harness explains (``status`` "by design", or "tie rule" for a
        different but documented tie-breaking convention); not a failure."""
        self._add(Row(section, check, value, status, note))

    def skipped(self, section: str, check: str, why: str) -> None:
        self._add(Row(section, check, "-", "not run", why))

    def _add(self, row: Row) -> None:
        self.rows.append(row)
        value = f"{row.value:.3g}" if isinstance(row.value, float) else row.value
        print(f"  [{row.status:>9}] {row.section}: {row.check}: max |difference| {value}"
              + (f"  ({row.note})" if row.note else ""), flush=True)

    def markdown(self) -> str:
        lines = ["| code | check | max \\|difference\\| | result | note |",
                 "|---|---|---|---|---|"]
        for r in self.rows:
            value = f"{r.value:.2e}" if isinstance(r.value, float) else r.value
            lines.append(f"| {r.section} | {r.check} | {value} | {r.status} | {r.note} |")
        return "\n".join(lines)

    @property
    def failed(self) -> bool:
        return any(r.status == "FAIL" for r in self.rows)
