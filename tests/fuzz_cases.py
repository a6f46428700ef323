"""Hostile inputs for the fuzz tests (tests/test_fuzz.py) and the long fuzz run (tests/fuzz_long.py).

Every `.gs` file under specs/ is cut into units (its imports and space/search declarations plus at
most one genotype, so that a unit loads in milliseconds); a case is a unit (or a DARTS /
NAS-Bench-201 string) changed by one generator, drawn from a `random.Random`. `check` runs a case:
it must succeed or raise a GenospecError whose text renders, stays short, and puts its caret where
the parser saw the problem. Anything else is a bug.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from genospec import limits
from genospec.errors import GenospecError, SpecErrors
from genospec.interchange import parse_genotype, parse_nb201
from genospec.lang.loader import decode, loads

SPECS = Path(__file__).resolve().parent.parent / "specs"
FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "published_genotypes.txt"

# Strings, comments, words/numbers, two-character operators, whitespace, any other character.
TOKEN = re.compile(r'"[^"\n]*"|#[^\n]*|[\w.+-]+|->|<-|\s+|.', re.S)
_DECL = re.compile(r"^(?=(?:space|genotype|search)\b)", re.M)
_NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")

SEPARATORS = ["\x0c", "\x0b", "\x85", "\u2028", "\u2029", "\r", "\x1c", "\x1e"]
DARTS_STRING = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), "
                "('sep_conv_3x3', 2)], normal_concat=[2, 3], reduce=[('max_pool_3x3', 0), "
                "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0)], reduce_concat=range(2, 4))")
NB201_STRING = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
MAX_MESSAGE = 200_000  # a printed report is bounded: MAX_PRINTED_ERRORS errors of clipped lines


def _units() -> list[tuple[Path, str]]:
    """(file, text) pairs covering every spec file; genotypes are split one per unit."""
    units = []
    for path in sorted(SPECS.rglob("*.gs")):
        head, *decls = _DECL.split(path.read_text(encoding="utf-8"))
        shared = head + "".join(d for d in decls if not d.startswith("genotype"))
        genotypes = [d for d in decls if d.startswith("genotype")]
        units += [(path, shared + g) for g in genotypes] or [(path, shared)]
    return units


UNITS = _units()
VOCABULARY = sorted({t for _, text in UNITS for t in TOKEN.findall(text) if not t.isspace()})


@dataclass(frozen=True)
class Case:
    kind: str
    path: str
    data: bytes | str  # bytes: a file's content (decoded as the loader does)
    target: str = "gs"  # gs, darts or nb201

    def __repr__(self) -> str:
        shown = self.data if len(self.data) <= 300 else self.data[:300]
        return f"Case({self.kind}, {self.path}, {len(self.data)} chars, {shown!r}...)"


# ---- generators ----------------------------------------------------------------------------------
def huge_number(rng: random.Random) -> str:
    """A number at, just beyond or far beyond the limits (digits, exponent, float range)."""
    n, e = limits.MAX_NUMBER_CHARS, limits.MAX_EXPONENT
    return rng.choice([
        "9" * rng.choice([n, n + 1, 4300, 4301, 5000, 20_000]),
        "0." + "0" * (n - 3) + "1", "1" + "0" * rng.randint(n - 5, n + 5),
        f"1e{rng.choice([e, e + 1, 308, 309, 999, 999999999])}", f"1e-{rng.choice([e, e + 1, 999999999])}",
        f"1/1e{rng.choice([e, 999999999])}", "-" + "9" * 5000, f"{rng.randint(2, 9)}e{rng.randint(300, 420)}",
        "9" * rng.randint(1, 200) + "C", "1." + "5" * rng.randint(90, 200),
        str(rng.choice([0, -1, 2**63, 2**64, 10**18, 65, 64, 63, 100, 101, 1024, 1025, 10**6])),
    ])


def _splice(text: str, at: int, insert: str, remove: int = 0) -> str:
    return text[:at] + insert + text[at + remove:]


def gs_case(kind: str, rng: random.Random) -> Case:
    """A unit changed by generator ``kind``, cut to MAX_FILE_BYTES (a longer file is refused
    before it is read: tests/test_hostile.py)."""
    case = _gs_case(kind, rng)
    return Case(case.kind, case.path, case.data[:limits.MAX_FILE_BYTES])


def _gs_case(kind: str, rng: random.Random) -> Case:
    path, text = rng.choice(UNITS)
    name = str(path)
    if kind == "bytes":  # byte-level: flips, inserted raw bytes (often not UTF-8), deletions
        data = bytearray(text.encode("utf-8"))
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            op = rng.choice(["flip", "insert", "delete", "replace"])
            if op == "flip":
                data[at] ^= 1 << rng.randrange(8)
            elif op == "insert":
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
            elif op == "delete":
                del data[at:at + rng.randint(1, 20)]
            else:
                data[at] = rng.choice(b"\x00\xff\xc3\xe2\x80\x0c\x0b\n\r{}()")
        return Case(kind, name, bytes(data))
    if kind == "numbers":  # replace some numbers by numbers at and beyond the limits
        spots = list(_NUMBER.finditer(text))
        for m in sorted(rng.sample(spots, min(len(spots), rng.randint(1, 3))), key=lambda m: -m.start()):
            text = _splice(text, m.start(), huge_number(rng), m.end() - m.start())
        return Case(kind, name, text)
    if kind == "nesting":  # deeply nested brackets and braces
        opener = rng.choice(["(", "{", "[", "space s {", "ops { a = conv(", "f("])
        depth = rng.choice([50, 500, 5000, 50_000])
        closer = {"(": ")", "{": "}", "[": "]"}.get(opener[-1], ")")
        return Case(kind, name, _splice(text, rng.randrange(len(text)), opener * depth + closer * rng.choice(
            [0, depth])))
    if kind == "separators":  # Unicode line separators and control characters in and between lines
        for _ in range(rng.randint(1, 6)):
            text = _splice(text, rng.randrange(len(text)), rng.choice(SEPARATORS) * rng.randint(1, 3))
        if rng.random() < 0.7:  # and a mistake after them
            text = _splice(text, rng.randrange(len(text)), rng.choice(["]", " bogus ", "@", "3 <- x(9)"]))
        return Case(kind, name, text)
    if kind == "long_line":  # very long lines: a unit on one line, or long runs of tokens
        if rng.random() < 0.5:
            text = re.sub(r"#[^\n]*", "", text).replace("\n", " ")
        at = rng.randrange(len(text))
        run = rng.choice(["x", "a = b ", "9", "sep_conv_3x3(0), ", "{", "# ", '"']) * rng.randint(1000, 30_000)
        return Case(kind, name, _splice(text, at, run + rng.choice(["", "]", "\n"])))
    if kind == "many_errors":  # the same mistake thousands of times
        line = rng.choice(["  bogus_op = nowhere(3)\n", "op x", " ] ", "cell c { nodes 99 }\n",
                           "  edge 9->2: bogus\n", "  network { cells 0 }\n"])
        n = rng.choice([100, 1000, 5000])
        sep = "" if line.endswith("\n") else rng.choice([" ", "\n"])
        return Case(kind, name, _splice(text, rng.randrange(len(text)), sep.join([line] * n)))
    raise ValueError(kind)


def string_case(kind: str, rng: random.Random) -> Case:
    """A DARTS or NAS-Bench-201 string, mutated (numbers, nesting, length, bytes)."""
    text = DARTS_STRING if kind == "darts" else NB201_STRING
    how = rng.choice(["numbers", "nesting", "repeat", "chars", "range"])
    if how == "numbers":
        spots = [m for m in re.finditer(r"\d+", text)]
        m = rng.choice(spots)
        text = _splice(text, m.start(), huge_number(rng).lstrip("-").split("/")[0], m.end() - m.start())
    elif how == "nesting":
        d = rng.choice([17, 990, 10_000])
        at = rng.randrange(len(text))
        text = _splice(text, at, rng.choice(["[", "(", "|"]) * d + rng.choice(["]", ")", "|", ""]) * d)
    elif how == "repeat":
        piece = "('sep_conv_3x3', 0), " if kind == "darts" else "|none~0|+"
        text = _splice(text, text.index("[") + 1 if kind == "darts" else 0, piece * rng.choice([64, 200, 20_000]))
    elif how == "range":
        text = text.replace("range(2, 4)", f"range({rng.randint(-5, 5)}, {rng.choice([4, 70, 10**8, 10**30])})")
    else:
        for _ in range(rng.randint(1, 5)):
            text = _splice(text, rng.randrange(len(text)), rng.choice(SEPARATORS + ["\x00", "é", "'", "=", ","]))
    return Case(kind, "<string>", text, kind)


GS_KINDS = ["bytes", "numbers", "nesting", "separators", "long_line", "many_errors"]
STRING_KINDS = ["darts", "nb201"]
KINDS = GS_KINDS + STRING_KINDS


def make(kind: str, rng: random.Random) -> Case:
    return string_case(kind, rng) if kind in STRING_KINDS else gs_case(kind, rng)


# ---- the check -----------------------------------------------------------------------------------
def run(case: Case) -> None:
    """Load (or convert) the case; any exception escapes."""
    if case.target == "darts":
        parse_genotype(str(case.data))
    elif case.target == "nb201":
        parse_nb201(str(case.data))
    else:
        text = decode(case.data, case.path) if isinstance(case.data, bytes) else case.data
        loads(text, case.path)


def check(case: Case) -> None:
    """The case loads, or fails with a GenospecError that renders short and points right."""
    try:
        run(case)
    except GenospecError as e:
        check_error(e, case)


def check_error(e: GenospecError, case: Case) -> None:
    shown = str(e)
    assert shown and len(shown) < MAX_MESSAGE, (len(shown), case)
    errors = e.errors if isinstance(e, SpecErrors) else [e]
    for err in errors[:limits.MAX_PRINTED_ERRORS]:
        span = err.span
        if span is None or span.source is None:
            continue
        lines = span.source.text.split("\n")
        assert 1 <= span.line <= len(lines), (span, case)
        found = re.match(r"unexpected '(.+)'$", err.message)
        token = found.group(1).removesuffix("...") if found else ""
        if token and "\\" not in token:  # the parser's position is the printer's
            line = lines[span.line - 1]
            assert line[span.column - 1:].startswith(token), (err.message, line[:200], case)
