"""The typed syntax tree of a `.gs` file: frozen dataclasses, each with its source span.

Rule names of grammar/genospec.lark map one to one onto these classes (see parser.py). The AST
keeps the text of numbers as written so the formatter reproduces ``3e-4`` as ``3e-4``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..errors import Span


@dataclass(frozen=True)
class Ident:
    value: str
    span: Span


@dataclass(frozen=True)
class Num:
    text: str
    span: Span

    @property
    def value(self) -> int | float:
        v = float(self.text)
        return int(v) if v.is_integer() and not any(c in self.text for c in ".eE") else v

    @property
    def is_int(self) -> bool:
        return not any(c in self.text for c in ".eE")


@dataclass(frozen=True)
class Value:
    """A value in an op call, a setting or a network line.

    ``kind`` is one of number, channels (``3C``), word, string, arrow (``->``), range (``..``),
    per (``/3``, text "3"), comma, assign (``name=number``: ``key`` holds the name), call.
    """

    kind: str
    text: str
    span: Span
    key: str | None = None
    call: "Call | None" = None


@dataclass(frozen=True)
class Arg:
    key: Ident | None
    value: Value


@dataclass(frozen=True)
class Call:
    kind: Ident
    args: tuple[Arg, ...]
    span: Span
    parens: bool = False


@dataclass(frozen=True)
class OpDefNode:
    name: Ident
    call: Call
    span: Span


@dataclass(frozen=True)
class OpsBlock:
    defs: tuple[OpDefNode, ...]
    span: Span


@dataclass(frozen=True)
class GroupDef:
    name: Ident
    ops: tuple[Ident, ...]
    span: Span


@dataclass(frozen=True)
class GroupsBlock:
    groups: tuple[GroupDef, ...]
    span: Span


# ---- cell statements ----------------------------------------------------------------------
@dataclass(frozen=True)
class EdgeRef:
    src: Num
    dst: Num
    span: Span


@dataclass(frozen=True)
class CountStmt:
    """``inputs N``, ``nodes N`` or ``stride N``."""

    key: str
    value: Num
    span: Span


@dataclass(frozen=True)
class EdgesStmt:
    """``edges all [: ops]`` (edges is None) or ``edges a->b, ... [: ops]``."""

    edges: tuple[EdgeRef, ...] | None
    ops: tuple[Ident, ...] | None
    span: Span


@dataclass(frozen=True)
class EdgeStmt:
    """``edge a->b: op | op`` overrides the ops of one edge."""

    edge: EdgeRef
    ops: tuple[Ident, ...]
    span: Span


@dataclass(frozen=True)
class TopologyStmt:
    """kind: pick (lo == hi), range, any, keep."""

    kind: str
    lo: Num | None
    hi: Num | None
    span: Span


@dataclass(frozen=True)
class OutputStmt:
    """kind: concat, sum (nodes may be empty: all intermediate nodes) or node."""

    kind: str
    nodes: tuple[Num, ...]
    span: Span


@dataclass(frozen=True)
class OpInput:
    op: Ident
    src: Num
    span: Span


@dataclass(frozen=True)
class NodeStmt:
    node: Num
    inputs: tuple[OpInput, ...]
    span: Span


CellItem = Union[CountStmt, EdgesStmt, EdgeStmt, TopologyStmt, OutputStmt, NodeStmt]


@dataclass(frozen=True)
class CellDecl:
    name: Ident
    extends: Ident | None
    items: tuple[CellItem, ...]
    span: Span


# ---- settings -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    key: Ident
    values: tuple[Value, ...]
    span: Span


@dataclass(frozen=True)
class NetworkBlock:
    settings: tuple[Setting, ...]
    span: Span


@dataclass(frozen=True)
class QuickBlock:
    settings: tuple[Setting, ...]
    span: Span


@dataclass(frozen=True)
class StageDecl:
    name: Ident
    items: tuple[Union[Setting, QuickBlock], ...]
    span: Span


# ---- declarations -------------------------------------------------------------------------
@dataclass(frozen=True)
class Import:
    path: str
    span: Span


@dataclass(frozen=True)
class SpaceDecl:
    name: Ident
    extends: Ident | None
    items: tuple[Union[OpsBlock, GroupsBlock, CellDecl, NetworkBlock], ...]
    span: Span


@dataclass(frozen=True)
class GenotypeDecl:
    name: Ident
    of: Ident | None
    items: tuple[Union[OpsBlock, CellDecl, NetworkBlock], ...]
    span: Span


@dataclass(frozen=True)
class SearchDecl:
    name: Ident
    of: Ident
    items: tuple[Union[Setting, StageDecl, QuickBlock], ...]
    span: Span


Decl = Union[Import, SpaceDecl, GenotypeDecl, SearchDecl]


@dataclass(frozen=True)
class Comment:
    text: str
    line: int
    column: int


@dataclass(frozen=True)
class File:
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...]
    path: str
