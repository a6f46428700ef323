"""Typed meaning of search-recipe settings.

Each key has a reader that walks its values and returns plain data for the IR (the layers that
`genospec.lang.settings.stage_settings` merges into a stage's typed settings); a misplaced or unknown word, or a
number outside its declared range (`genospec.lang.options`), is a SpecError pointing at it.
Names of parts (datasets, update rules, relaxations, selection rules, regularisers) and their
options come from the registries (`genospec.registry`), so a part registered by a plugin is
read exactly like a built-in one.

Recipe settings, as the search engine receives them (every key optional):

- ``data``: {"dataset": str}; ``root``: str; ``split``: float; ``subset``: [train, val] ints;
  ``batch``: int; ``seed``: int; ``workers``: int; ``plugins``: [module names]
- ``epochs``, ``warmup``, ``finetune``: int
- ``supernet``: {"cells": int, "channels": int, "layout": str, "pc": int,
  "checkpoint": "cells" | "ops" | False, "compile": bool}
- ``precision``: "fp32" | "bf16" | "fp16" (autocast; `genospec.runtime.precision`)
- ``weights``: {"optimizer": "sgd", "lr": float, "lr_min": float, "schedule": "cosine"|"constant",
  "span": "each_stage"|"run", "momentum": float, "decay": float, "clip": float}
- ``arch``: {"optimizer": "adam", "lr": float, "betas": [float, float], "decay": float}
- ``update``: {"mode": update rule, "order": "first_order"|"second_order", "every": int,
  "per": "step"|"epoch"}
- ``relax``: list of {"target": "ops"|"groups"|"edges", "method": registered relaxation, "t0":
  float, "t_end": float|None, "decay": float|None, "min": float|None, "per": "step"|"epoch",
  **the relaxation's options}
- ``select``: {"rule": registered rule, **its options}
- ``regularise``: list of {"name": registered regulariser, **its options}
- ``bias``: {"mode": "accumulate"|"offset", "ops": {op name: float}}
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import GenospecError, SpecError, did_you_mean
from ..registry import (DATASET, EDGE_RELAXATION, LAYOUT, OP_RELAXATION, REGULARISER,
                        SELECTION, UPDATE_RULE, Part, registry)
from . import ast, options
from .reader import Reader


def _scalar(name: str) -> Callable[[Reader], Any]:
    return lambda r: r.option(options.SCALARS[name])


def _data(r: Reader) -> dict:
    v = r.next("a dataset name")
    known = registry(DATASET).names()
    if v.kind not in ("word", "string"):
        raise r.fail(f"'data' expects a dataset name, not '{v.text}'", v, "known: " + ", ".join(known))
    name = v.text.strip('"')
    if name not in known:
        raise r.fail(f"unknown dataset '{name}' (known: {', '.join(known)})", v,
                     did_you_mean(name, known))
    return {"dataset": name}


def _string(r: Reader) -> str:
    v = r.next("a quoted path")
    if v.kind not in ("string", "word"):
        raise r.fail(f"'{r.key}' expects a quoted path", v)
    return v.text.strip('"')


def _plugins(r: Reader) -> list[str]:
    out = [_string(r)]
    while r.accept("comma"):
        out.append(_string(r))
    return out


def _subset(r: Reader) -> list[int]:
    a = r.option(options.SUBSET, "a subset size")
    r.accept("comma")
    b = r.option(options.SUBSET, "a subset size") \
        if (p := r.peek()) is not None and p.kind == "number" else a
    return [a, b]


def _named(opts: tuple) -> dict:
    return {o.name: o for o in opts}


def _supernet(r: Reader) -> dict:
    o = _named(options.SUPERNET)
    return r.options({"cells": lambda q: q.option(o["cells"]),
                      "channels": lambda q: q.option(o["channels"]),
                      "pc": lambda q: q.option(o["pc"]),
                      "layout": lambda q: q.word(tuple(registry(LAYOUT).names())),
                      "checkpoint": _checkpoint, "compile": _on_off}, {})


def _on_off(r: Reader) -> bool:
    return r.word(("on", "off")) == "on"


def _checkpoint(r: Reader) -> str | bool:
    word = r.word(("cells", "ops", "none"))
    return False if word == "none" else word


def _weights(r: Reader) -> dict:
    o = _named(options.WEIGHTS)
    out: dict = {"optimizer": r.word(("sgd",))}
    while (v := r.peek()) is not None:
        if v.kind == "word" and v.text == "lr":
            r.i += 1
            out["lr"] = r.option(o["lr"], "a learning rate")
            if r.accept("arrow"):
                out["lr_min"] = r.option(o["lr_min"], "a final learning rate")
        elif v.kind == "word" and v.text in ("cosine", "constant"):
            r.i += 1
            out["schedule"] = v.text
            if r.accept_word("over"):  # cosine over each_stage | over run
                out["span"] = r.option(o["span"], "each_stage or run")
        elif v.kind == "word" and v.text in ("momentum", "decay", "clip"):
            r.i += 1
            out[v.text] = r.option(o[v.text])
        else:
            raise r.fail(f"'weights': unexpected '{v.text}'", v,
                         did_you_mean(v.text, ["momentum", "decay", "clip", "lr", "cosine",
                                               "constant"]))
    return out


def _arch(r: Reader) -> dict:
    o = _named(options.ARCH)
    out: dict = {"optimizer": r.word(("adam",))}

    def betas(q: Reader) -> list[float]:
        b1 = q.option(options.BETA, "beta1")
        q.accept("comma")
        return [b1, q.option(options.BETA, "beta2")]

    return r.options({"lr": lambda q: q.option(o["lr"]), "betas": betas,
                      "decay": lambda q: q.option(o["decay"])}, out)


def _update(r: Reader) -> dict:
    o = _named(options.UPDATE)
    out: dict = {**options.defaults(options.UPDATE),
                 "mode": r.word(tuple(registry(UPDATE_RULE).names()))}
    while (v := r.peek()) is not None:
        if r.accept_word("first_order", "second_order"):
            if out["mode"] != "bilevel":
                raise r.fail("first_order/second_order apply to bilevel updates only", v)
            out["order"] = v.text
        elif r.accept_word("every"):
            if (n := r.peek()) is not None and n.kind == "number":
                out["every"] = r.option(o["every"])
            out["per"] = r.word(("step", "steps", "epoch", "epochs")).rstrip("s")
        else:
            raise r.fail(f"'update': unexpected '{v.text}'", v,
                         did_you_mean(v.text, ["first_order", "second_order", "every"]))
    return out


# ---- registered parts ----------------------------------------------------------------------------
def _read_part_option(r: Reader, part: Part, out: dict, extra: tuple[str, ...] = ()) -> bool:
    """Read one named option or flag of ``part`` if the next word is one; False otherwise."""
    v = r.peek()
    if v is None or v.kind != "word":
        return False
    for opt in part.options:
        if opt.flag is not None and v.text == opt.flag:
            r.i += 1
            out[opt.name] = opt.flag_value
            return True
        if not opt.positional and opt.flag is None and v.text == opt.name:
            r.i += 1
            out[opt.name] = r.option(opt)
            return True
    return False


def _positional(r: Reader, part: Part, out: dict) -> None:
    for opt in part.options:
        if not opt.positional:
            continue
        v = r.peek()
        fits = v is not None and (v.kind == "number" if opt.type in (int, float) else
                                  v.kind == "word" and v.text in opt.choices)
        if fits:
            out[opt.name] = r.option(opt)
        elif opt.default is None:
            r.option(opt)  # fails with what is expected
        else:
            out[opt.name] = opt.default


def _option_words(part: Part) -> list[str]:
    return [o.flag or o.name for o in part.options if not o.positional]


def _unexpected(r: Reader, v: ast.Value, part: Part, more: tuple[str, ...] = ()) -> SpecError:
    words = [*more, *_option_words(part)]
    return r.fail(f"'{r.key}': {part.kind} '{part.words[0] if part.words else part.name}' has "
                  f"no option '{v.text}'", v,
                  did_you_mean(v.text, words) or ("options: " + ", ".join(words) if words else
                                                  "it takes no options"))


_RELAX_TARGETS = {"ops": (OP_RELAXATION, "softmax"), "groups": (OP_RELAXATION, "group_softmax"),
                  "edges": (EDGE_RELAXATION, "combination")}
_TEMPERATURE_WORDS = ("temperature", "decay", "min", "per")


def _relax(r: Reader) -> dict:
    target = r.word(tuple(_RELAX_TARGETS))
    kind, default = _RELAX_TARGETS[target]
    reg = registry(kind)
    by_word = {reg.part(n).words[0]: n for n in reg.names(target)}
    v = r.peek()
    method = by_word[r.accept_word(*by_word)] if v is not None and v.kind == "word" and \
        v.text in by_word else default
    part = reg.part(method)
    out: dict = {"target": target, "method": method, "t0": options.TEMPERATURE.default,
                 "t_end": None, "decay": options.THETA.default, "min": options.T_MIN.default,
                 "per": options.PER.default, **part.defaults()}
    while (v := r.peek()) is not None:
        if r.accept_word("temperature"):
            out["t0"] = r.option(options.TEMPERATURE, "a start temperature")
            if r.accept("arrow"):
                out["t_end"] = r.option(options.TEMPERATURE, "an end temperature")
        elif r.accept_word("decay"):
            out["decay"] = r.option(options.THETA, "a decay factor θ")
        elif r.accept_word("min"):
            out["min"] = r.option(options.T_MIN, "a minimum temperature")
        elif r.accept_word("per"):
            out["per"] = r.word(("step", "epoch"))
        elif not _read_part_option(r, part, out):
            words = [*(sorted(by_word) if r.i == 1 else ()), *_TEMPERATURE_WORDS,
                     *_option_words(part)]
            raise r.fail(f"'relax': unexpected '{v.text}'", v,
                         did_you_mean(v.text, words) if v.kind == "word" else None)
    if out["t_end"] is not None and out["decay"] is not None:
        raise r.fail("give the temperature schedule as 'start -> end' or with 'decay', not both",
                     r.s.values[0])
    return out


def _words_of(reg_kind: str) -> dict[tuple[str, ...], str]:
    reg = registry(reg_kind)
    return {reg.part(n).words: n for n in reg.names()}


def _select(r: Reader) -> dict:
    rules = _words_of(SELECTION)
    words: list[str] = []
    first = r.peek()
    while (v := r.peek()) is not None and v.kind == "word":
        words.append(v.text)
        r.i += 1
        if tuple(words) in rules:
            break
    name = rules.get(tuple(words))
    if name is None:
        spelled = [" ".join(k) for k in rules]
        raise r.fail(f"unknown selection rule '{' '.join(words) or (first.text if first else '')}'"
                     f" (known: {', '.join(sorted(spelled))})", first,
                     did_you_mean(" ".join(words), spelled))
    part = registry(SELECTION).part(name)
    out: dict = {"rule": name, **part.defaults()}
    _positional(r, part, out)
    while (v := r.peek()) is not None:
        if not _read_part_option(r, part, out):
            raise _unexpected(r, v, part)
    return out


def _regularise(r: Reader) -> dict:
    v = r.next("a regulariser name")
    reg = registry(REGULARISER)
    if v.kind != "word" or v.text not in reg:
        known = reg.names()
        raise r.fail(f"unknown regulariser '{v.text}'" + (f" (known: {', '.join(known)})" if known
                                                         else " (none is registered)"), v,
                     did_you_mean(v.text, known) if known else
                     "a plugin registers regularisers (docs/extending.md)")
    part = reg.part(v.text)
    out: dict = {"name": part.name, **part.defaults()}
    _positional(r, part, out)
    while (w := r.peek()) is not None:
        if not _read_part_option(r, part, out):
            raise _unexpected(r, w, part)
    return out


def _bias(r: Reader) -> dict[str, Any]:
    mode = options.BIAS_MODE.default
    if (v := r.peek()) is not None and v.kind == "word":
        mode = r.option(options.BIAS_MODE, "accumulate or offset")
    out: dict[str, float] = {}
    while (v := r.peek()) is not None:
        r.i += 1
        if v.kind != "assign" or v.key is None:
            raise r.fail("'bias' expects op=number pairs, e.g. sep_conv_3x3=0.0006", v)
        try:
            x = float(v.text)
        except ValueError:
            raise r.fail(f"'bias' expects a number for {v.key}, not '{v.text}'", v) from None
        problem = options.BIAS.problem(x)
        if problem is not None:
            raise r.fail(f"'bias': {problem}", v)
        out[v.key] = x
    return {"mode": mode, "ops": out}


RECIPE_KEYS: dict[str, Callable[[Reader], object]] = {
    "data": _data, "root": _string, "split": _scalar("split"), "subset": _subset,
    "batch": _scalar("batch"), "seed": _scalar("seed"), "workers": _scalar("workers"),
    "epochs": _scalar("epochs"), "warmup": _scalar("warmup"), "finetune": _scalar("finetune"),
    "supernet": _supernet, "weights": _weights, "arch": _arch, "update": _update,
    "relax": _relax, "select": _select, "regularise": _regularise, "bias": _bias,
    "plugins": _plugins, "precision": _scalar("precision"),
}
_LISTS = ("relax", "regularise")


def read_settings(settings: tuple[ast.Setting, ...],
                  errors: list[GenospecError]) -> dict[str, object]:
    """Recipe settings as typed data; ``relax`` and ``regularise`` accumulate lists, other keys
    keep the last. ``plugins`` are imported first, so that the parts they register can be named
    by the other settings."""
    for s in settings:
        if s.key.value == "plugins":
            _load_plugins(Reader(s, errors), errors)
    out: dict[str, object] = {}
    for s in settings:
        r = Reader(s, errors)
        try:
            value = RECIPE_KEYS[r.key](r)
            r.done()
        except SpecError as e:
            errors.append(e)
            continue
        if r.key in _LISTS:
            out.setdefault(r.key, []).append(value)  # type: ignore[union-attr]
        else:
            out[r.key] = value
    return out


def _load_plugins(r: Reader, errors: list[GenospecError]) -> None:
    from ..plugins import load_plugin
    first = r.peek()
    try:
        for name in _plugins(r):
            load_plugin(name, span=first.span if first is not None else r.s.span)
    except SpecError as e:
        errors.append(e)
