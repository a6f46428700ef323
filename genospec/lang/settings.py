"""Typed meaning of `network { ... }` lines and search-recipe settings.

A setting is a key followed by values (``weights sgd lr 0.025 -> 0.001 cosine momentum 0.9``).
Each key has a reader that walks its values and returns plain data (dicts of numbers and
strings) for the IR; a misplaced or unknown word is a SpecError pointing at that word.

Recipe settings, as the search engine receives them (every key optional):

- ``data``: {"dataset": str}; ``root``: str; ``split``: float; ``subset``: [train, val] ints;
  ``batch``: int; ``seed``: int; ``workers``: int
- ``epochs``, ``warmup``, ``finetune``: int
- ``supernet``: {"cells": int, "channels": int, "layout": str, "pc": int,
  "checkpoint": "cells" | "ops" | False}
- ``weights``: {"optimizer": "sgd", "lr": float, "lr_min": float, "schedule": "cosine"|"constant",
  "momentum": float, "decay": float, "clip": float}
- ``arch``: {"optimizer": "adam", "lr": float, "betas": [float, float], "decay": float}
- ``update``: {"mode": "bilevel"|"onelevel", "order": "first_order"|"second_order",
  "every": int, "per": "step"|"epoch"}
- ``relax``: list of {"target": "ops"|"groups"|"edges", "method": str, "t0": float,
  "t_end": float|None, "decay": float|None, "min": float|None, "per": "step"|"epoch",
  "normalise": bool}
- ``select``: {"rule": str, "threshold": float|None}
- ``bias``: {op name: float}
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

from ..errors import GenospecError, SpecError, did_you_mean
from . import ast


class _Reader:
    """Walks the values of one setting."""

    def __init__(self, setting: ast.Setting, errors: list[GenospecError]):
        self.s = setting
        self.values = list(setting.values)
        self.i = 0
        self.errors = errors

    @property
    def key(self) -> str:
        return self.s.key.value

    def peek(self) -> ast.Value | None:
        return self.values[self.i] if self.i < len(self.values) else None

    def next(self, what: str) -> ast.Value:
        v = self.peek()
        if v is None:
            raise self.fail(f"'{self.key}' needs {what}", None)
        self.i += 1
        return v

    def fail(self, message: str, value: ast.Value | None, hint: str | None = None) -> SpecError:
        span = value.span if value is not None else self.s.span
        return SpecError(message, span, hint)

    def number(self, what: str = "a number", integer: bool = False) -> float | int:
        v = self.next(what)
        if v.kind != "number":
            raise self.fail(f"'{self.key}' expects {what} here, not '{v.text}'", v)
        x = float(v.text)
        if integer:
            if not x.is_integer() or any(c in v.text for c in ".eE"):
                raise self.fail(f"'{self.key}' expects a whole number here, not '{v.text}'", v)
            return int(x)
        return x

    def word(self, allowed: tuple[str, ...], what: str = "") -> str:
        v = self.next(what or " or ".join(allowed))
        if v.kind != "word" or v.text not in allowed:
            raise self.fail(f"'{self.key}': unexpected '{v.text}'", v,
                            did_you_mean(v.text, allowed) if v.kind == "word" else
                            "expected " + ", ".join(allowed))
        return v.text

    def accept_word(self, *words: str) -> str | None:
        v = self.peek()
        if v is not None and v.kind == "word" and v.text in words:
            self.i += 1
            return v.text
        return None

    def accept(self, kind: str) -> ast.Value | None:
        v = self.peek()
        if v is not None and v.kind == kind:
            self.i += 1
            return v
        return None

    def options(self, spec: dict[str, Callable[["_Reader"], object]], out: dict) -> dict:
        """Read ``word value`` pairs until the end, each word from ``spec``."""
        while (v := self.peek()) is not None:
            if v.kind != "word" or v.text not in spec:
                raise self.fail(f"'{self.key}': unexpected '{v.text}'", v,
                                did_you_mean(v.text, spec) or "expected one of " + ", ".join(spec))
            self.i += 1
            out[v.text] = spec[v.text](self)
        return out

    def done(self) -> None:
        v = self.peek()
        if v is not None:
            raise self.fail(f"'{self.key}': unexpected '{v.text}'", v, "nothing more is expected here")


def _num(r: _Reader) -> float:
    return r.number()


def _int(r: _Reader) -> int:
    return int(r.number(integer=True))


def _count(r: _Reader) -> int:
    v = r.peek()
    n = int(r.number("a whole number", integer=True))
    if n < 0:
        raise r.fail(f"'{r.key}' cannot be negative", v)
    return n


# ---- network ----------------------------------------------------------------------------------
def _fractions(r: _Reader) -> tuple[Fraction, ...]:
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
        r = _Reader(s, errors)
        try:
            k = r.key
            if k == "layout":
                out["layout"] = r.word(("cifar", "imagenet", "nb201"))
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


def _positive(r: _Reader) -> int:
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


# ---- recipes ----------------------------------------------------------------------------------
def _data(r: _Reader) -> dict:
    v = r.next("a dataset name")
    if v.kind not in ("word", "string"):
        raise r.fail(f"'data' expects a dataset name, not '{v.text}'", v,
                     "known: fashion_mnist, cifar10, cifar100, imagefolder, synthetic")
    return {"dataset": v.text.strip('"')}


def _string(r: _Reader) -> str:
    v = r.next("a quoted path")
    if v.kind not in ("string", "word"):
        raise r.fail(f"'{r.key}' expects a quoted path", v)
    return v.text.strip('"')


def _subset(r: _Reader) -> list[int]:
    a = _positive(r)
    r.accept("comma")
    b = _positive(r) if (p := r.peek()) is not None and p.kind == "number" else a
    return [a, b]


def _split(r: _Reader) -> float:
    v = r.peek()
    x = r.number("a fraction")
    if not 0 < x < 1:
        raise r.fail("'split' is the fraction of the training set used for weights, between 0 and 1", v)
    return x


def _supernet(r: _Reader) -> dict:
    return r.options({"cells": _positive, "channels": _positive, "pc": _positive,
                      "layout": lambda q: q.word(("cifar", "imagenet", "nb201")),
                      "checkpoint": _checkpoint}, {})


def _checkpoint(r: _Reader) -> str | bool:
    word = r.word(("cells", "ops", "none"))
    return False if word == "none" else word


def _lr_range(r: _Reader) -> dict:
    out: dict = {"lr": r.number("a learning rate")}
    if r.accept("arrow"):
        out["lr_min"] = r.number("a final learning rate")
    return out


def _weights(r: _Reader) -> dict:
    out: dict = {"optimizer": r.word(("sgd",))}
    while (v := r.peek()) is not None:
        if v.kind == "word" and v.text == "lr":
            r.i += 1
            out.update(_lr_range(r))
        elif v.kind == "word" and v.text in ("cosine", "constant"):
            r.i += 1
            out["schedule"] = v.text
        else:
            spec = {"momentum": _num, "decay": _num, "clip": _num}
            if v.kind != "word" or v.text not in spec:
                raise r.fail(f"'weights': unexpected '{v.text}'", v,
                             did_you_mean(v.text, [*spec, "lr", "cosine", "constant"]))
            r.i += 1
            out[v.text] = spec[v.text](r)
    return out


def _arch(r: _Reader) -> dict:
    out: dict = {"optimizer": r.word(("adam",))}

    def betas(q: _Reader) -> list[float]:
        b1 = q.number("beta1")
        q.accept("comma")
        return [b1, q.number("beta2")]

    return r.options({"lr": _num, "betas": betas, "decay": _num}, out)


def _update(r: _Reader) -> dict:
    out: dict = {"mode": r.word(("bilevel", "onelevel")), "order": "first_order", "every": 1, "per": "step"}
    while (v := r.peek()) is not None:
        if r.accept_word("first_order", "second_order"):
            if out["mode"] != "bilevel":
                raise r.fail("first_order/second_order apply to bilevel updates only", v)
            out["order"] = v.text
        elif r.accept_word("every"):
            if (n := r.peek()) is not None and n.kind == "number":
                out["every"] = _positive(r)
            out["per"] = r.word(("step", "steps", "epoch", "epochs")).rstrip("s")
        else:
            raise r.fail(f"'update': unexpected '{v.text}'", v,
                         did_you_mean(v.text, ["first_order", "second_order", "every"]))
    return out


_RELAX_METHODS = {"ops": ("softmax", "fixed"), "groups": ("softmax",), "edges": ("combination", "sigmoid")}


def _relax(r: _Reader) -> dict:
    target = r.word(tuple(_RELAX_METHODS))
    methods = _RELAX_METHODS[target]
    out: dict = {"target": target, "method": r.accept_word(*methods) or methods[0],
                 "t0": 1.0, "t_end": None, "decay": None, "min": None, "per": "epoch", "normalise": True}
    while (v := r.peek()) is not None:
        if r.accept_word("temperature"):
            out["t0"] = r.number("a start temperature")
            if r.accept("arrow"):
                out["t_end"] = r.number("an end temperature")
        elif r.accept_word("decay"):
            out["decay"] = r.number("a decay factor θ")
        elif r.accept_word("min"):
            out["min"] = r.number("a minimum temperature")
        elif r.accept_word("per"):
            out["per"] = r.word(("step", "epoch"))
        elif r.accept_word("sum"):
            out["normalise"] = False  # the released DOTS code: γ = Σ β_c without 1/N(c)
        else:
            raise r.fail(f"'relax': unexpected '{v.text}'", v,
                         did_you_mean(v.text, ["temperature", "decay", "min", "per", "sum"]))
    if out["t_end"] is not None and out["decay"] is not None:
        raise r.fail("give the temperature schedule as 'start -> end' or with 'decay', not both", r.s.values[0])
    if not all(0 < t < math.inf for t in (out["t0"], out["t_end"] or 1.0, out["min"] or 1.0)):
        raise r.fail("temperatures must be positive", r.s.values[0])
    if out["decay"] is not None and not 0 < out["decay"] < math.inf:
        raise r.fail("the decay factor θ must be positive", r.s.values[0])
    return out


_SELECT_RULES = {
    ("magnitude",): "magnitude",
    ("best", "per", "edge"): "best_per_edge",
    ("best", "per", "group"): "best_per_group",
    ("best", "combination"): "best_combination",
    ("threshold",): "threshold",
    ("perturbation",): "perturbation",
}


def _select(r: _Reader) -> dict:
    words: list[str] = []
    first = r.peek()
    while (v := r.peek()) is not None and v.kind == "word":
        words.append(v.text)
        r.i += 1
        if tuple(words) in _SELECT_RULES:
            break
    rule = _SELECT_RULES.get(tuple(words))
    if rule is None:
        names = [" ".join(k) for k in _SELECT_RULES]
        raise r.fail(f"unknown selection rule '{' '.join(words) or (first.text if first else '')}'",
                     first, did_you_mean(" ".join(words), names) or "known: " + ", ".join(names))
    out: dict = {"rule": rule, "threshold": None}
    if rule == "threshold":
        out["threshold"] = r.number("a threshold")
    if rule == "perturbation":
        out["target"] = r.accept_word("ops", "edges", "both") or "both"
    return out


def _bias(r: _Reader) -> dict[str, float]:
    out: dict[str, float] = {}
    while (v := r.peek()) is not None:
        r.i += 1
        if v.kind != "assign" or v.key is None:
            raise r.fail("'bias' expects op=number pairs, e.g. sep_conv_3x3=0.0006", v)
        out[v.key] = float(v.text)
    return out


RECIPE_KEYS: dict[str, Callable[[_Reader], object]] = {
    "data": _data, "root": _string, "split": _split, "subset": _subset, "batch": _positive, "seed": _int,
    "workers": _count, "epochs": _count, "warmup": _count, "finetune": _count, "supernet": _supernet,
    "weights": _weights, "arch": _arch, "update": _update, "relax": _relax, "select": _select,
    "bias": _bias,
}


def read_settings(settings: tuple[ast.Setting, ...], errors: list[GenospecError]) -> dict[str, object]:
    """Recipe settings as typed data; ``relax`` accumulates a list, other keys keep the last."""
    out: dict[str, object] = {}
    for s in settings:
        r = _Reader(s, errors)
        try:
            value = RECIPE_KEYS[r.key](r)
            r.done()
        except SpecError as e:
            errors.append(e)
            continue
        if r.key == "relax":
            out.setdefault("relax", []).append(value)  # type: ignore[union-attr]
        elif r.key == "data" and isinstance(out.get("data"), dict):
            out["data"] = value
        else:
            out[r.key] = value
    return out
