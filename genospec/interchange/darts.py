"""DARTS ``Genotype(...)`` text <-> IR genotypes.

The text is read as data by a small tokenizer and recursive-descent parser (never ``eval``):
``Genotype(normal=[('op', input), ...], normal_concat=[2, 3, 4, 5] | range(2, 6), reduce=[...],
reduce_concat=...)``, with the four fields given by keyword or by position. DARTS lists two
``(op, input)`` entries per intermediate node, in node order: entries 2k and 2k+1 feed node k+2,
and ``input`` is the source node id (0 and 1 are the cell inputs c_{k-2} and c_{k-1}).
A file of ``NAME = Genotype(...)`` assignments (``#`` comments, definitions over several lines)
reads into ``{NAME: Space}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import ConversionError, Source, Span, did_you_mean
from ..ir import Cell, Edge, Network, OpDef, Output, Space, Topology
from ..limits import MAX_FILE_BYTES, MAX_GENOTYPE_ENTRIES, MAX_NESTING, MAX_NODES, MAX_NUMBER_CHARS
from ..oplib import STANDARD_OPS

FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


class DartsGenotype(NamedTuple):
    """The four fields of a DARTS ``Genotype`` namedtuple, as plain Python values."""

    normal: list[tuple[str, int]]
    normal_concat: list[int]
    reduce: list[tuple[str, int]]
    reduce_concat: list[int]


# -- tokens ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+) | (?P<comment>\#[^\n]*)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*)
  | (?P<int>[0-9]+)
  | (?P<str>'[^'\\\n]*'|"[^"\\\n]*")
  | (?P<punct>[()\[\],=])
""", re.VERBOSE)


@dataclass(frozen=True)
class _Tok:
    kind: str  # name, int, str, punct, end
    text: str
    start: int
    where: "_Positions"

    @property
    def span(self) -> Span:  # found only when needed: a long text has many tokens
        return self.where.span(self.start, self.start + len(self.text))


class _Positions:
    """Character offsets of one text -> spans (lines end at "\n", as in every genospec error)."""

    def __init__(self, source: Source):
        self.source = source

    def span(self, start: int, end: int) -> Span:
        (l0, c0), (l1, c1) = self.source.position(start), self.source.position(max(start + 1, end))
        return Span(self.source, l0, c0, l1, c1)


def _tokenize(source: Source) -> list[_Tok]:
    text, i, toks, where = source.text, 0, [], _Positions(source)
    if len(text) > MAX_FILE_BYTES:
        raise ConversionError(f"a DARTS genotype text of {len(text):,} characters, more than the limit of "
                              f"{MAX_FILE_BYTES:,}")
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise ConversionError(f"unexpected character {text[i]!r} in a DARTS genotype",
                                  where.span(i, i + 1))
        if m.lastgroup == "int" and len(m.group()) > MAX_NUMBER_CHARS:
            raise ConversionError(f"a number of {len(m.group()):,} digits is longer than the limit of "
                                  f"{MAX_NUMBER_CHARS}", where.span(i, m.end()))
        if m.lastgroup not in ("ws", "comment"):
            toks.append(_Tok(m.lastgroup, m.group(), i, where))
        i = m.end()
    toks.append(_Tok("end", "", len(text), where))
    return toks


# -- values ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Val:
    """A parsed literal: ``str``/``int`` carry a Python value, ``list``/``tuple`` carry _Vals,
    ``range`` carries the list of ints it stands for."""

    kind: str
    value: object
    span: Span


class _Parser:
    def __init__(self, source: Source):
        self.toks = _tokenize(source)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self, kind: str, text: str | None = None) -> _Tok:
        t = self.tok
        if t.kind != kind or (text is not None and t.text != text):
            want = repr(text) if text is not None else {"name": "a name", "int": "an integer",
                                                        "end": "the end of the text"}[kind]
            found = "the end of the text" if t.kind == "end" else repr(t.text)
            raise ConversionError(f"expected {want}, found {found}", t.span)
        self.i += 1
        return t

    def at(self, text: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == text

    def separator(self, close: str) -> None:
        """After an item of a bracketed sequence: a comma, or the closing bracket next."""
        if self.at(","):
            self.i += 1
        elif not self.at(close):
            found = "the end of the text" if self.tok.kind == "end" else repr(self.tok.text)
            raise ConversionError(f"expected ',' or {close!r}, found {found}", self.tok.span)

    def genotype_call(self) -> dict[str, _Val]:
        """``Genotype(...)``: its fields by name (positional arguments fill FIELDS in order)."""
        head = self.take("name")
        if head.text.rsplit(".", 1)[-1] != "Genotype":
            raise ConversionError(f"expected 'Genotype(...)', found {head.text!r}", head.span)
        self.take("punct", "(")
        fields: dict[str, _Val] = {}
        keywords = False
        while not self.at(")"):
            if self.tok.kind == "name" and self.toks[self.i + 1].text == "=":
                key = self.take("name")
                self.take("punct", "=")
                if key.text not in FIELDS:
                    raise ConversionError(f"unknown Genotype field {key.text!r}", key.span,
                                          did_you_mean(key.text, FIELDS))
                name, keywords = key.text, True
            elif not keywords and len(fields) < len(FIELDS):
                name = FIELDS[len(fields)]
            else:
                raise ConversionError("too many or misplaced positional arguments to Genotype",
                                      self.tok.span)
            if name in fields:
                raise ConversionError(f"Genotype field {name!r} given twice", self.tok.span)
            fields[name] = self.value(1)
            self.separator(")")
        close = self.take("punct", ")")
        missing = [f for f in FIELDS if f not in fields]
        if missing:
            raise ConversionError(f"Genotype is missing {', '.join(missing)}", close.span)
        return fields

    def value(self, depth: int = 0) -> _Val:
        """A literal nested ``depth`` brackets deep (at most MAX_NESTING)."""
        t = self.tok
        if t.kind == "int":
            self.i += 1
            return _Val("int", int(t.text), t.span)
        if t.kind == "str":
            self.i += 1
            return _Val("str", t.text[1:-1], t.span)
        if t.kind == "name" and t.text == "range":
            self.i += 1
            self.take("punct", "(")
            lo = int(self.take("int").text)
            self.take("punct", ",")
            hi = int(self.take("int").text)
            self.take("punct", ")")
            if hi - lo > MAX_NODES:
                raise ConversionError(f"range({lo}, {hi}) lists {hi - lo:,} nodes, more than the limit of "
                                      f"{MAX_NODES}", t.span)
            return _Val("range", list(range(lo, hi)), t.span)
        if self.at("[") or self.at("("):
            if depth >= MAX_NESTING:
                raise ConversionError(f"brackets nested more than {MAX_NESTING} deep", t.span,
                                      "a DARTS genotype nests lists of (op, input) tuples two deep")
            close = "]" if t.text == "[" else ")"
            self.i += 1
            items = []
            while not self.at(close):
                if len(items) == MAX_GENOTYPE_ENTRIES:
                    raise ConversionError(f"a list of more than {MAX_GENOTYPE_ENTRIES} items", t.span,
                                          f"a DARTS cell lists at most {MAX_GENOTYPE_ENTRIES} (op, input) "
                                          f"pairs ({MAX_NODES} nodes)")
                items.append(self.value(depth + 1))
                self.separator(close)
            self.take("punct", close)
            return _Val("list" if close == "]" else "tuple", items, t.span)
        found = "the end of the text" if t.kind == "end" else repr(t.text)
        raise ConversionError(f"expected a list, a tuple, range(a, b), a string or an integer, "
                              f"found {found}", t.span)


def _entries(field: str, v: _Val) -> list[tuple[str, int, Span]]:
    """An op list field: ``[('op', input), ...]``."""
    if v.kind != "list":
        raise ConversionError(f"{field} must be a list of (op, input) pairs", v.span)
    out = []
    for item in v.value:
        pair = item.value if item.kind == "tuple" else []
        if len(pair) != 2 or pair[0].kind != "str" or pair[1].kind != "int":
            raise ConversionError(f"{field}: expected ('op', input), e.g. ('sep_conv_3x3', 0)",
                                  item.span)
        out.append((pair[0].value, pair[1].value, item.span))
    return out


def _ints(field: str, v: _Val) -> list[int]:
    """A concat field: a list or tuple of ints, or ``range(a, b)``."""
    if v.kind == "range":
        return list(v.value)
    if v.kind in ("list", "tuple") and all(x.kind == "int" for x in v.value):
        return [x.value for x in v.value]
    raise ConversionError(f"{field} must be a list of node ids or range(a, b)", v.span)


# -- building the IR ------------------------------------------------------------------------

def _cell(name: str, stride: int, entries: list[tuple[str, int, Span | None]], concat: list[int],
          spans: tuple[Span | None, Span | None] = (None, None)) -> Cell:
    """One cell from DARTS entries; ``spans`` locate the op list and the concat in the text."""
    list_span, concat_span = spans
    if not entries or len(entries) % 2:
        raise ConversionError(f"{name}: a DARTS cell lists 2 (op, input) pairs per node, "
                              f"found {len(entries)} pairs", list_span)
    nodes = len(entries) // 2
    edges = []
    for k, (op, src, span) in enumerate(entries):
        dst = k // 2 + 2
        if op not in STANDARD_OPS:
            raise ConversionError(f"{name}: unknown op {op!r}", span,
                                  did_you_mean(op, STANDARD_OPS))
        if not 0 <= src < dst:
            raise ConversionError(f"{name}: node {dst} takes input {src}, which is not a cell "
                                  f"input or an earlier node (0..{dst - 1})", span)
        edges.append(Edge(src, dst, (op,), k % 2))
    valid = range(2, nodes + 2)
    for j in concat:
        if j not in valid:
            raise ConversionError(f"{name}_concat: node {j} is not an intermediate node "
                                  f"({valid.start}..{valid.stop - 1})", concat_span)
    if not concat or len(set(concat)) != len(concat):
        raise ConversionError(f"{name}_concat must list distinct nodes, found {concat}",
                              concat_span)
    return Cell.build(name, 2, nodes, stride, Topology("keep"), edges, Output("concat", tuple(concat)))


def _space(name: str, normal: Cell, reduce: Cell) -> Space:
    used = set(normal.op_names()) | set(reduce.op_names())
    ops: dict[str, OpDef] = {n: d for n, d in STANDARD_OPS.items() if n in used}
    return Space(name, "genotype", ops, {"normal": normal, "reduce": reduce}, Network())


def from_darts(genotype: DartsGenotype, name: str = "genotype") -> Space:
    """The IR genotype of DARTS lists (cells ``normal``, stride 1, and ``reduce``, stride 2)."""
    normal = _cell("normal", 1, [(o, i, None) for o, i in genotype.normal],
                   list(genotype.normal_concat))
    reduce = _cell("reduce", 2, [(o, i, None) for o, i in genotype.reduce],
                   list(genotype.reduce_concat))
    return _space(name, normal, reduce)


def _from_fields(name: str, fields: dict[str, _Val]) -> Space:
    cells = [_cell(c, stride, _entries(c, fields[c]), _ints(f"{c}_concat", fields[f"{c}_concat"]),
                   (fields[c].span, fields[f"{c}_concat"].span))
             for c, stride in (("normal", 1), ("reduce", 2))]
    return _space(name, *cells)


def parse_genotype(text: str, name: str = "genotype", filename: str = "<string>") -> Space:
    """Parse one ``Genotype(...)`` (or ``NAME = Genotype(...)``, which names it NAME)."""
    p = _Parser(Source(filename, text))
    if p.tok.kind == "name" and p.toks[p.i + 1].text == "=":
        name = p.take("name").text
        p.take("punct", "=")
    fields = p.genotype_call()
    p.take("end")
    return _from_fields(name, fields)


def parse_genotype_file(text: str, filename: str = "<string>") -> dict[str, Space]:
    """Parse ``NAME = Genotype(...)`` assignments into ``{NAME: Space}``, in file order."""
    p = _Parser(Source(filename, text))
    found: dict[str, Space] = {}
    while p.tok.kind != "end":
        target = p.take("name")
        if target.text in found:
            raise ConversionError(f"genotype {target.text!r} is defined twice", target.span)
        p.take("punct", "=")
        found[target.text] = _from_fields(target.text, p.genotype_call())
    return found


def load_genotype_file(path: str | Path) -> dict[str, Space]:
    """Read a file of DARTS genotype assignments (see :func:`parse_genotype_file`)."""
    from ..lang.loader import read_text
    return parse_genotype_file(read_text(path), str(path))


# -- back to DARTS --------------------------------------------------------------------------

def _darts_cell(space: Space, cell: Cell) -> tuple[list[tuple[str, int]], list[int]]:
    where = f"{space.name}: cell {cell.name}"
    if cell.inputs != 2:
        raise ConversionError(f"{where} has {cell.inputs} inputs; DARTS genotypes have 2")
    if not cell.is_fixed:
        raise ConversionError(f"{where} still has choices (several ops on an edge or a "
                              f"topology rule); only a genotype converts to DARTS")
    if cell.output.kind != "concat":
        raise ConversionError(f"{where} has output {cell.output.kind}; DARTS genotypes concat")
    pairs = []
    for j in cell.node_ids:
        edges = cell.in_edges(j)
        if len(edges) != 2:
            raise ConversionError(f"{where}: node {j} has {len(edges)} inputs; the DARTS "
                                  f"format needs exactly 2 per node")
        pairs += [(e.op, e.src) for e in edges]
    return pairs, list(cell.output.nodes)


def darts_genotype(space: Space) -> DartsGenotype:
    """DARTS lists of a genotype with one normal (stride 1) and at most one reduction cell."""
    normals = [c for c in space.cells.values() if not c.reduction]
    if len(normals) != 1 or len(space.cells) - len(normals) > 1:
        raise ConversionError(f"{space.name}: DARTS genotypes hold one normal and one reduction "
                              f"cell; found {', '.join(space.cells) or 'none'}")
    normal, normal_concat = _darts_cell(space, space.cell_for(False))
    reduce, reduce_concat = _darts_cell(space, space.cell_for(True))
    return DartsGenotype(normal, normal_concat, reduce, reduce_concat)


def to_darts(space: Space) -> str:
    """``Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])``."""
    g = darts_genotype(space)

    def pairs(ps: list[tuple[str, int]]) -> str:
        return "[" + ", ".join(f"('{op}', {src})" for op, src in ps) + "]"

    return (f"Genotype(normal={pairs(g.normal)}, normal_concat={g.normal_concat}, "
            f"reduce={pairs(g.reduce)}, reduce_concat={g.reduce_concat})")
