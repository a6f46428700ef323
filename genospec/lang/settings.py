"""Typed settings: `network { ... }` lines, and a search stage's settings as frozen dataclasses.

Recipe lines are read by `genospec.lang.recipe` (re-exported here) into plain layers that the IR
keeps; `stage_settings` merges a stage's layers over the defaults (all from
`genospec.lang.options` and the registered parts' option declarations) into a `StageSettings`,
the one form the search engine receives. ``resolved.json`` holds `StageSettings.to_json` and is
read back with `StageSettings.from_json`; `from_merged` reads the merged layers of runs written
before the typed form (run format 2).

Merge order (later wins): the defaults, the recipe's settings, the stage's settings and, with
``--quick`` only, ``QUICK_DEFAULTS``, the recipe's ``quick { }`` and the stage's ``quick { }``.
``weights``, ``arch`` and ``supernet`` merge key by key, so ``quick { supernet cells 5 }`` keeps
the stage's channels; ``relax`` entries replace the entry with the same target, ``regularise``
entries the one with the same name.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from typing import Any

from ..errors import GenospecError, SpecError
from ..registry import Choice
from . import options
from ..registry import LAYOUT, registry
from . import ast
from .reader import Reader
from .recipe import RECIPE_KEYS, read_settings


# ---- network ----------------------------------------------------------------------------------
def _fractions(r: Reader) -> tuple[Fraction, ...]:
    r.accept_word("at")
    out: list[Fraction] = []
    while True:
        v = r.next("a position like 1/3")
        if v.kind != "number":
            raise r.fail(f"'reduce' expects positions like 1/3, not '{v.text}'", v)
        den = r.accept("per")
        if den is not None and Fraction(den.text) == 0:
            raise r.fail("a reduction position cannot divide by zero", den)
        frac = Fraction(v.text) / (Fraction(den.text) if den else 1)
        if not 0 < frac < 1:
            raise r.fail("a reduction position must lie strictly between 0 and 1 (e.g. 1/3)", v)
        out.append(frac)
        if not r.accept("comma"):
            break
    return tuple(out)


def read_network(block: ast.NetworkBlock, errors: list[GenospecError]) -> dict[str, object]:
    """Network settings as keyword arguments of `ir.Network`."""
    out: dict[str, object] = {}
    for s in block.settings:
        r = Reader(s, errors)
        try:
            k = r.key
            if k == "layout":
                out["layout"] = r.word(tuple(registry(LAYOUT).names()))
            elif k == "stem":
                v = r.next("an op call such as conv(3, channels=3C)")
                out["stem"] = _value_text(v)
            elif k in ("cells", "channels", "classes"):
                out[k] = _positive(r)
            elif k == "input":
                out["input_size"] = _positive(r)
                if r.accept("comma") or r.accept_word("x"):
                    pass
            elif k == "reduce":
                out["reductions"] = _fractions(r)
            elif k == "auxiliary":
                out["auxiliary"] = True
                if r.accept_word("off"):
                    out["auxiliary"] = False
                elif r.accept_word("weight"):
                    out["auxiliary_weight"] = r.number()
            elif k == "drop_path":
                out["drop_path"] = r.number()
            r.done()
        except SpecError as e:
            errors.append(e)
    return out


def _positive(r: Reader) -> int:
    v = r.peek()
    n = int(r.number("a positive whole number", integer=True))
    if n <= 0:
        raise r.fail(f"'{r.key}' must be positive", v)
    return n


def _value_text(v: ast.Value) -> str:
    if v.kind != "call" or v.call is None:
        return v.text
    return call_text(v.call)


def call_text(call: ast.Call) -> str:
    """Canonical text of an op call: ``dil_conv(3, dilation=2)``."""
    if not call.args and not call.parens:
        return call.kind.value
    args = [f"{a.key.value}={_value_text(a.value)}" if a.key else _value_text(a.value) for a in call.args]
    return f"{call.kind.value}({', '.join(args)})"


# ---- a search stage's settings ----------------------------------------------------------------
@dataclass(frozen=True)
class DataSettings:
    dataset: str
    root: str | None
    workers: int | None
    split: float  # the fraction of the training set the weights train on
    subset: tuple[int, int] | None  # (train, val) images


@dataclass(frozen=True)
class SupernetSettings:
    cells: int | None  # None: the space's network block
    channels: int | None
    pc: int
    layout: str | None
    checkpoint: str | bool  # "cells", "ops" or False
    compile: bool = False  # torch.compile the supernet (genospec.runtime.precision)


@dataclass(frozen=True)
class WeightsSettings:
    optimizer: str
    lr: float
    lr_min: float
    schedule: str  # "cosine" or "constant"
    span: str  # "each_stage": the schedule restarts in each stage; "run": one over all stages
    momentum: float
    decay: float
    clip: float | None


@dataclass(frozen=True)
class ArchSettings:
    optimizer: str
    lr: float
    betas: tuple[float, float]
    decay: float


@dataclass(frozen=True)
class UpdateSettings:
    mode: str  # a registered update rule
    order: str  # "first_order" or "second_order"
    every: int
    per: str  # "step" or "epoch"


@dataclass(frozen=True)
class RelaxSettings:
    """One ``relax`` line: its target, registered method, temperature schedule and the method's
    own options."""

    target: str  # "ops", "groups" or "edges"
    method: str
    t0: float
    t_end: float | None
    decay: float | None
    min: float | None
    per: str
    options: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class StageSettings:
    """Everything a search stage runs with."""

    data: DataSettings
    batch: int
    seed: int
    epochs: int
    warmup: int
    finetune: int
    supernet: SupernetSettings
    weights: WeightsSettings
    arch: ArchSettings
    update: UpdateSettings
    relax: tuple[RelaxSettings, ...]
    select: Choice
    regularise: tuple[Choice, ...]
    bias: dict[str, float] = field(hash=False)
    plugins: tuple[str, ...]
    bias_mode: str = options.BIAS_MODE.default  # genospec.relax.bias
    precision: str = "fp32"  # autocast dtype: "fp32", "bf16" or "fp16" (runtime.precision)

    def relaxation(self, target: str) -> RelaxSettings | None:
        """The ``relax`` entry for ``target`` ("ops", "groups", "edges"), if any."""
        return next((r for r in self.relax if r.target == target), None)

    def op_relaxation(self) -> tuple[str, RelaxSettings | None]:
        """The op relaxation's registered name and its entry (groups before ops)."""
        entry = self.relaxation("groups") or self.relaxation("ops")
        return (entry.method, entry) if entry is not None else (options.OP_RELAX.default, None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "StageSettings":
        """The settings `to_json` wrote; a TypeError or KeyError on anything else."""
        d = dict(data)
        groups = {"data": DataSettings, "supernet": SupernetSettings, "weights": WeightsSettings,
                  "arch": ArchSettings, "update": UpdateSettings}
        for key, group in groups.items():  # runs written before a field existed: its default
            d[key] = group(**{**(options.defaults(options.WEIGHTS) if key == "weights" else {}),
                              **d[key]})
        sub = d["data"].subset
        d["data"] = DataSettings(**{**asdict(d["data"]), "subset": tuple(sub) if sub else None})
        d["arch"] = ArchSettings(**{**asdict(d["arch"]), "betas": tuple(d["arch"].betas)})
        d["relax"] = tuple(RelaxSettings(**r) for r in d["relax"])
        d["select"] = Choice(**d["select"])
        d["regularise"] = tuple(Choice(**r) for r in d["regularise"])
        d["plugins"] = tuple(d["plugins"])
        d.setdefault("bias_mode", options.BIAS_MODE.default)  # runs written before it existed
        d.setdefault("precision", "fp32")  # runs written before the setting existed
        if set(d) != {f.name for f in fields(cls)}:
            raise KeyError(", ".join(sorted(set(d) ^ {f.name for f in fields(cls)})))
        return cls(**d)


def _defaults() -> dict[str, Any]:
    """The merged form's defaults, every one declared in `genospec.lang.options`."""
    return {
        "data": {"dataset": options.DATASET.default}, "root": None, "subset": None,
        **options.defaults(tuple(options.SCALARS.values())),
        "supernet": {}, "weights": options.defaults(options.WEIGHTS),
        "arch": options.defaults(options.ARCH), "update": options.defaults(options.UPDATE),
        "relax": [], "select": {"rule": options.SELECT.default}, "regularise": [], "bias": {},
        "plugins": [],
    }


# Applied under --quick before the recipe's own quick blocks: a data cap, so that any recipe's
# quick run stays small even when its quick block forgets one.
QUICK_DEFAULTS: dict[str, Any] = {"subset": [1000, 1000]}

_MERGED_DICTS = ("supernet", "weights", "arch")
_KEYED_LISTS = {"relax": "target", "regularise": "name"}
_RELAX_FIELDS = ("target", "method", "t0", "t_end", "decay", "min", "per")


def _merge(into: dict[str, Any], layer: dict[str, Any]) -> None:
    for key, value in layer.items():
        if key in _KEYED_LISTS:  # entries replace the entry with the same target or name
            by_key = {r[_KEYED_LISTS[key]]: r for r in into.get(key, [])}
            for r in value:
                by_key[r[_KEYED_LISTS[key]]] = r
            into[key] = list(by_key.values())
        elif key in _MERGED_DICTS and isinstance(into.get(key), dict):
            into[key] = {**into[key], **value}
        else:
            into[key] = value


def merged_layers(layers: list[dict[str, Any]]) -> dict[str, Any]:
    """The defaults with ``layers`` merged over them (plain data, the reader's form)."""
    out = copy.deepcopy(_defaults())
    for layer in layers:
        _merge(out, copy.deepcopy(layer))
    return out


def stage_settings(recipe: Any, stage: Any, quick: bool = False) -> StageSettings:
    """The complete settings of ``stage`` of ``recipe`` (an `ir.Recipe`, `ir.Stage`)."""
    layers = [recipe.settings, stage.settings]
    if quick:
        layers += [QUICK_DEFAULTS, recipe.quick, stage.quick]
    out = from_merged(merged_layers(layers))
    check(out, stage.name)
    return out


def from_merged(d: dict[str, Any]) -> StageSettings:
    """Typed settings from the merged layers (also the form run format 2 stored)."""
    net = {**options.defaults(options.SUPERNET), **d["supernet"]}
    sub = d.get("subset")
    bias = d.get("bias", {})
    if "ops" not in bias:  # run format 2: {op: value}
        bias = {"ops": bias}
    return StageSettings(
        data=DataSettings(d["data"]["dataset"], d.get("root"), d.get("workers"), d["split"],
                          (sub[0], sub[1]) if sub else None),
        batch=d["batch"], seed=d["seed"], epochs=d["epochs"], warmup=d["warmup"],
        finetune=d["finetune"], supernet=SupernetSettings(**net),
        weights=WeightsSettings(**{**options.defaults(options.WEIGHTS), **d["weights"]}),
        arch=ArchSettings(**{**options.defaults(options.ARCH), **d["arch"],
                             "betas": tuple(d["arch"].get("betas", options.ARCH[2].default))}),
        update=UpdateSettings(**{**options.defaults(options.UPDATE), **d["update"]}),
        relax=tuple(RelaxSettings(**{k: r[k] for k in _RELAX_FIELDS},
                                  options={k: v for k, v in r.items() if k not in _RELAX_FIELDS})
                    for r in d["relax"]),
        select=Choice(d["select"]["rule"], {k: v for k, v in d["select"].items() if k != "rule"}),
        regularise=tuple(Choice(r["name"], {k: v for k, v in r.items() if k != "name"})
                         for r in d.get("regularise", [])),
        bias=dict(bias.get("ops", {})), bias_mode=bias.get("mode", options.BIAS_MODE.default),
        plugins=tuple(d.get("plugins", [])),
        precision=d.get("precision", options.SCALARS["precision"].default))


def check(s: StageSettings, stage: str) -> None:
    """Reject settings no stage can run with (each a SpecError naming the stage)."""
    def fail(message: str) -> SpecError:
        return SpecError(f"stage '{stage}': {message}")

    if s.epochs < 1:
        raise fail("needs at least 1 epoch")
    if s.batch < 1:
        raise fail("batch must be positive")
    if s.warmup < 0:
        raise fail("warmup cannot be negative")
    targets = [r.target for r in s.relax]
    if "ops" in targets and "groups" in targets:
        raise fail("relax either 'ops' or 'groups', not both")
    if s.update.every < 1:
        raise fail("'update every N' needs N >= 1")
    if s.data.split >= 1 and s.update.mode == "bilevel":
        raise fail("'split 1' leaves no validation half for the bilevel architecture step; "
                   "'update onelevel' trains both on the whole training set")
    if s.data.subset is not None and min(s.data.subset) < 1:
        raise fail("subset sizes must be positive")
    if s.precision == "fp16" and s.update.order == "second_order":
        raise fail("precision fp16 does not combine with the second-order update (its "
                   "finite-difference Hessian needs float32's range); use bf16 or fp32")


__all__ = ["RECIPE_KEYS", "QUICK_DEFAULTS", "ArchSettings", "DataSettings", "Reader",
           "RelaxSettings", "StageSettings", "SupernetSettings", "UpdateSettings",
           "WeightsSettings", "call_text", "check", "from_merged", "merged_layers",
           "read_network", "read_settings", "stage_settings"]
