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
from ..lang import options
from ..registry import EDGE_RELAXATION, OP_RELAXATION, Part, registry
from ..relax import Temperature

Settings = dict[str, Any]

DEFAULTS: Settings = {  # every default comes from the declarations in genospec.lang.options
    "data": {"dataset": "fashion_mnist"},
    "root": None,
    "subset": None,
    **options.defaults(tuple(options.SCALARS.values()), skip=("workers",)),
    "supernet": {},
    "weights": options.defaults(options.WEIGHTS),
    "arch": options.defaults(options.ARCH),
    "update": options.defaults(options.UPDATE),
    "relax": [],
    "select": {"rule": "magnitude"},
    "regularise": [],
    "bias": {},
    "plugins": [],
}

# Applied under --quick before the recipe's own quick blocks: a data cap, so that any recipe's
# quick run stays small even when its quick block forgets one.
QUICK_DEFAULTS: Settings = {"subset": [1000, 1000]}

_MERGED_DICTS = ("supernet", "weights", "arch")
_KEYED_LISTS = {"relax": "target", "regularise": "name"}


def _merge(into: Settings, layer: Settings) -> None:
    for key, value in layer.items():
        if key in _KEYED_LISTS:  # entries replace the entry with the same target or name
            field = _KEYED_LISTS[key]
            by_key = {r[field]: r for r in into.get(key, [])}
            for r in value:
                by_key[r[field]] = r
            into[key] = list(by_key.values())
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
    """Name of the op relaxation (``softmax``, ``group_softmax``, ``fixed`` or a registered
    one) and its entry."""
    entry = relaxation(s, "groups") or relaxation(s, "ops")
    return (entry["method"], entry) if entry is not None else ("softmax", None)


def _options(part: Part, entry: dict) -> dict:
    return {o.name: entry[o.name] for o in part.options if o.name in entry}


def op_relaxation_object(s: Settings) -> Any:
    """What `Supernet` takes as ``op_relax``: the registered name, or an instance built with
    the entry's options when the relaxation declares any."""
    name, entry = op_relaxation(s)
    part = registry(OP_RELAXATION).part(name)
    if entry is None or not part.options:
        return name
    return registry(OP_RELAXATION).get(name)(**_options(part, entry))


def edge_relaxation_object(s: Settings) -> Any:
    """What `Supernet` takes as ``edge_relax`` (None without one); the built-in ``combination``
    by name (the supernet reports its beta), others with options as an instance."""
    entry = relaxation(s, "edges")
    if entry is None:
        return None
    part = registry(EDGE_RELAXATION).part(entry["method"])
    if part.name == "combination" or not part.options:
        return part.name
    return registry(EDGE_RELAXATION).get(part.name)(**_options(part, entry))


def upgrade(stage: Settings) -> Settings:
    """Stage settings written by format 1 (before the registries) in today's form: the group
    relaxation by its registered name, no empty selection options."""
    out = copy.deepcopy(stage)
    for r in out.get("relax", []):
        if r["target"] == "groups" and r["method"] == "softmax":
            r["method"] = "group_softmax"
        if r["method"] != "combination":
            r.pop("normalise", None)
    select = out.get("select", {})
    if select.get("threshold", 0) is None:
        del select["threshold"]
    out.setdefault("regularise", [])
    out.setdefault("plugins", [])
    return out


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
