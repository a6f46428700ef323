"""Resolved stage settings: defaults, recipe, stage and `quick { }` blocks merged into one dict.

Merge order (later wins): ``DEFAULTS`` (the DARTS search protocol, paper 002 §3 and the DARTS
code), the recipe's settings, the stage's settings and, with ``--quick`` only, ``QUICK_DEFAULTS``,
the recipe's ``quick { }`` and the stage's ``quick { }``. Dict-valued settings (``weights``,
``arch``, ``supernet``, ...) merge key by key, so ``quick { supernet cells 5 }`` keeps the
stage's channels; ``relax`` entries replace the entry with the same target. The result is plain
JSON data (written to the run directory and read back on resume).

Temperature schedules (DESIGN §2): ``temperature a -> b`` anneals over the stage's
architecture-update epochs (epochs - warmup; or their steps with ``per step``) with
theta = (b/a)^(1/(E-1)); ``temperature T0 decay theta min m`` is T0 * theta^t clamped at m; t
counts from the first architecture update, as the DOTS code does.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import ir
from ..errors import SpecError
from ..relax import Temperature

Settings = dict[str, Any]

DEFAULTS: Settings = {
    "data": {"dataset": "fashion_mnist"},
    "root": None,
    "split": 0.5,
    "subset": None,
    "batch": 64,
    "seed": 2,
    "epochs": 50,
    "warmup": 0,
    "finetune": 0,
    "supernet": {},
    "weights": {"optimizer": "sgd", "lr": 0.025, "lr_min": 0.001, "schedule": "cosine",
                "momentum": 0.9, "decay": 3e-4, "clip": 5.0},
    "arch": {"optimizer": "adam", "lr": 3e-4, "betas": [0.5, 0.999], "decay": 1e-3},
    "update": {"mode": "bilevel", "order": "first_order", "every": 1, "per": "step"},
    "relax": [],
    "select": {"rule": "magnitude", "threshold": None},
    "bias": {},
}

# Applied under --quick before the recipe's own quick blocks: a data cap, so that any recipe's
# quick run stays small even when its quick block forgets one.
QUICK_DEFAULTS: Settings = {"subset": [1000, 1000]}

_MERGED_DICTS = ("supernet", "weights", "arch")


def _merge(into: Settings, layer: Settings) -> None:
    for key, value in layer.items():
        if key == "relax":
            by_target = {r["target"]: r for r in into.get("relax", [])}
            for r in value:
                by_target[r["target"]] = r
            into["relax"] = list(by_target.values())
        elif key in _MERGED_DICTS and isinstance(into.get(key), dict):
            into[key] = {**into[key], **value}
        else:
            into[key] = value


def stage_settings(recipe: ir.Recipe, stage: ir.Stage, quick: bool = False) -> Settings:
    """The complete settings of ``stage`` (see the module docstring for the merge order)."""
    out = copy.deepcopy(DEFAULTS)
    layers = [recipe.settings, stage.settings]
    if quick:
        layers += [QUICK_DEFAULTS, recipe.quick, stage.quick]
    for layer in layers:
        _merge(out, copy.deepcopy(layer))
    check(out, stage.name)
    return out


def check(s: Settings, stage: str) -> None:
    """Reject settings no stage can run with (each a SpecError naming the stage)."""
    def fail(message: str) -> SpecError:
        return SpecError(f"stage '{stage}': {message}")

    if s["epochs"] < 1:
        raise fail("needs at least 1 epoch")
    if s["batch"] < 1:
        raise fail("batch must be positive")
    if not 0 <= s["warmup"]:
        raise fail("warmup cannot be negative")
    targets = [r["target"] for r in s["relax"]]
    if "ops" in targets and "groups" in targets:
        raise fail("relax either 'ops' or 'groups', not both")
    if s["update"]["every"] < 1:
        raise fail("'update every N' needs N >= 1")
    sub = s["subset"]
    if sub is not None and min(sub) < 1:
        raise fail("subset sizes must be positive")


def relaxation(s: Settings, target: str) -> dict | None:
    """The ``relax`` entry for ``target`` ("ops", "groups", "edges"), if any."""
    return next((r for r in s["relax"] if r["target"] == target), None)


def op_relaxation(s: Settings) -> tuple[str, dict | None]:
    """Name of the op relaxation (``softmax``, ``group_softmax``, ``fixed``) and its entry."""
    groups = relaxation(s, "groups")
    if groups is not None:
        return "group_softmax", groups
    ops = relaxation(s, "ops")
    if ops is not None and ops["method"] == "fixed":
        return "fixed", ops
    return "softmax", ops


def temperature(entry: dict | None, anneal_epochs: int, steps_per_epoch: int) -> Temperature:
    """The schedule of one ``relax`` entry (constant 1 without an entry)."""
    if entry is None:
        return Temperature(1.0)
    per = entry["per"]
    if entry["t_end"] is not None:
        span = anneal_epochs * (steps_per_epoch if per == "step" else 1)
        if span < 2:  # one annealing epoch or step (quick runs): T0 throughout
            return Temperature(entry["t0"], 1.0, per, None)
        return Temperature.from_range(entry["t0"], entry["t_end"], span, per)
    return Temperature(entry["t0"], entry["decay"] if entry["decay"] is not None else 1.0, per,
                       entry["min"])
