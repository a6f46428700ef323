"""Typed meaning of `network { ... }` lines; recipe settings are read by `genospec.lang.recipe`
(re-exported here), both through `genospec.lang.reader.Reader`.

A setting is a key followed by values; each key has a reader that walks its values and returns
plain data for the IR; a misplaced or unknown word is a SpecError pointing at that word.
"""

from __future__ import annotations

from fractions import Fraction

from ..errors import GenospecError, SpecError
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


__all__ = ["RECIPE_KEYS", "Reader", "call_text", "read_network", "read_settings"]
