"""AST -> canonical `.gs` text, comments kept.

The layout: two-space indent, one statement per line, ``{`` on the declaration line, ``=``
aligned in ``ops``/``groups`` blocks, a blank line between top-level declarations, numbers as
written. The printer first lays the file out as `Line`s that remember where their statement sat
in the source, then hangs each comment on a line:

- a comment alone on its line goes before the next printed line (at that line's indentation;
  before a closing ``}`` it keeps the block's inner indentation);
- a comment after code goes at the end of the printed line of the statement it followed, two
  spaces after the code;
- a comment inside a statement that spans several lines goes before that statement.

Every comment of a file survives, and printing is idempotent.

The statement-text helpers below are shared with `emit` so both write the same text.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from ..errors import Span
from . import ast

INDENT = "  "
Pos = tuple[int, int]


# ---- statement text (shared with emit) -------------------------------------------------------
def edge_text(src: object, dst: object) -> str:
    return f"{src}->{dst}"


def op_choice_text(ops: Iterable[str]) -> str:
    return ": " + " | ".join(ops)


def topology_text(kind: str, lo: object = None, hi: object = None) -> str:
    """``kind`` as in `ast.TopologyStmt`: pick (lo == hi), range, any, keep."""
    body = {"pick": f"pick {lo}", "range": f"pick {lo}..{hi}", "any": "pick any", "keep": "keep all"}[kind]
    return f"topology {body}"


def output_text(kind: str, nodes: Sequence[object]) -> str:
    """``output concat 2, 3`` / ``output sum`` / ``output 3`` (kind ``node``)."""
    if kind == "node":
        return f"output {nodes[0]}"
    return f"output {kind}" + (" " + ", ".join(str(n) for n in nodes) if nodes else "")


def node_text(node: object, inputs: Iterable[tuple[str, object]]) -> str:
    """A genotype line: ``2 <- sep_conv_3x3(0), sep_conv_3x3(1)``."""
    return f"{node} <- " + ", ".join(f"{op}({src})" for op, src in inputs)


def aligned(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """``name = value`` lines with the ``=`` signs in one column."""
    width = max((len(k) for k, _ in pairs), default=0)
    return [f"{k.ljust(width)} = {v}" for k, v in pairs]


# ---- values and calls ------------------------------------------------------------------------
def value_text(v: ast.Value) -> str:
    if v.kind == "call" and v.call is not None:
        return call_text(v.call, keep_empty=True)
    if v.kind == "assign":
        return f"{v.key}={v.text}"
    return v.text


def call_text(call: ast.Call, keep_empty: bool = False) -> str:
    """``dil_conv(3, dilation=2)``; an empty argument list is dropped unless ``keep_empty``."""
    if not call.args and not keep_empty:
        return call.kind.value
    args = (f"{a.key.value}={value_text(a.value)}" if a.key else value_text(a.value) for a in call.args)
    return f"{call.kind.value}({', '.join(args)})"


def values_text(values: Iterable[ast.Value]) -> str:
    """Setting values joined by single spaces; ``,`` and ``/n`` stick to the value before,
    ``..`` to both neighbours: ``reduce at 1/3, 2/3``."""
    pieces: list[str] = []
    glue = False
    for v in values:
        attach = v.kind in ("comma", "per", "range")
        text = {"comma": ",", "per": "/" + v.text, "range": ".."}.get(v.kind) or value_text(v)
        if pieces and (attach or glue):
            pieces[-1] += text
        else:
            pieces.append(text)
        glue = v.kind == "range"
    return " ".join(pieces)


# ---- layout ----------------------------------------------------------------------------------
@dataclass
class Line:
    """One printed line and where its statement sat in the source (None for generated text)."""

    depth: int
    text: str
    start: Pos | None = None
    end: Pos | None = None
    opens: bool = False
    closes: bool = False
    blank_before: bool = False
    leading: list[tuple[str, bool]] = field(default_factory=list)  # (comment, blank line after)
    trailing: list[str] = field(default_factory=list)


def render(lines: list[Line], end_comments: Sequence[tuple[str, bool]] = ()) -> str:
    """Join laid-out lines into text; an opener directly followed by its closer prints ``x {}``.

    Trailing comments of consecutive lines at one indentation start in one column.
    """
    rows: list[tuple[str, str]] = []  # (code, trailing comments); code "" with comments = comment line
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.blank_before and rows:
            rows.append(("", ""))
        depth = ln.depth + 1 if ln.closes else ln.depth
        for text, blank in ln.leading:
            rows.append(("", INDENT * depth + text))
            if blank:
                rows.append(("", ""))
        text, trailing = ln.text, ln.trailing
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if ln.opens and nxt is not None and nxt.closes and not ln.trailing and not nxt.leading:
            text, trailing = text + "}", nxt.trailing
            i += 1
        rows.append((INDENT * ln.depth + text, "  ".join(trailing)))
        i += 1
    if end_comments and rows:
        rows.append(("", ""))
    for text, blank in end_comments:
        rows.append(("", text))
        if blank:
            rows.append(("", ""))
    while rows and rows[-1] == ("", ""):
        rows.pop()
    return "".join(line + "\n" for line in _align(rows))


def _align(rows: list[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(rows):
        code, note = rows[i]
        if not (code and note):
            out.append(code or note)
            i += 1
            continue
        depth = len(code) - len(code.lstrip(" "))
        j = i
        while j < len(rows) and rows[j][0] and rows[j][1] and len(rows[j][0]) - len(rows[j][0].lstrip(" ")) == depth:
            j += 1
        width = max(len(c) for c, _ in rows[i:j])
        out.extend(f"{c.ljust(width)}  {n}" for c, n in rows[i:j])
        i = j
    return out


def _start(span: Span) -> Pos:
    return (span.line, span.column)


def _end(span: Span) -> Pos:
    return (span.end_line, span.end_column)


class _Layout:
    """Walks the AST and appends `Line`s."""

    def __init__(self) -> None:
        self.lines: list[Line] = []

    def stmt(self, depth: int, text: str, span: Span) -> None:
        self.lines.append(Line(depth, text, _start(span), _end(span)))

    def block(self, depth: int, header: str, span: Span, body: Callable[[int], None], blank: bool = False) -> None:
        self.lines.append(Line(depth, header + " {", _start(span), _start(span), opens=True, blank_before=blank))
        body(depth + 1)
        close = (span.end_line, span.end_column - 1)
        self.lines.append(Line(depth, "}", close, close, closes=True))

    # declarations
    def decl(self, d: ast.Decl, blank: bool) -> None:
        if isinstance(d, ast.Import):
            self.lines.append(Line(0, f'import "{d.path}"', _start(d.span), _end(d.span), blank_before=blank))
        elif isinstance(d, ast.SpaceDecl):
            head = f"space {d.name.value}" + (f" extends {d.extends.value}" if d.extends else "")
            self.block(0, head, d.span, lambda k: self.items(k, d.items), blank)
        elif isinstance(d, ast.GenotypeDecl):
            head = f"genotype {d.name.value}" + (f" of {d.of.value}" if d.of else "")
            self.block(0, head, d.span, lambda k: self.items(k, d.items), blank)
        else:
            self.block(0, f"search {d.name.value} of {d.of.value}", d.span, lambda k: self.items(k, d.items), blank)

    def items(self, depth: int, items: Sequence[object]) -> None:
        """Blocks and settings of a declaration, stage, network or quick block."""
        for it in items:
            if isinstance(it, ast.OpsBlock):
                self.block(depth, "ops", it.span, lambda k, it=it: self.pairs(
                    k, [(o.name.value, call_text(o.call), o.span) for o in it.defs]))
            elif isinstance(it, ast.GroupsBlock):
                self.block(depth, "groups", it.span, lambda k, it=it: self.pairs(
                    k, [(g.name.value, ", ".join(o.value for o in g.ops), g.span) for g in it.groups]))
            elif isinstance(it, ast.CellDecl):
                head = f"cell {it.name.value}" + (f" extends {it.extends.value}" if it.extends else "")
                self.block(depth, head, it.span, lambda k, it=it: self.cell_items(k, it.items))
            elif isinstance(it, ast.NetworkBlock):
                self.block(depth, "network", it.span, lambda k, it=it: self.items(k, it.settings))
            elif isinstance(it, ast.QuickBlock):
                self.block(depth, "quick", it.span, lambda k, it=it: self.items(k, it.settings))
            elif isinstance(it, ast.StageDecl):
                self.block(depth, f"stage {it.name.value}", it.span, lambda k, it=it: self.items(k, it.items))
            elif isinstance(it, ast.Setting):
                rest = values_text(it.values)
                self.stmt(depth, it.key.value + (" " + rest if rest else ""), it.span)
            else:
                raise TypeError(f"cannot print {type(it).__name__}")

    def pairs(self, depth: int, rows: list[tuple[str, str, Span]]) -> None:
        for text, (_, _, span) in zip(aligned([(k, v) for k, v, _ in rows]), rows):
            self.stmt(depth, text, span)

    def cell_items(self, depth: int, items: Sequence[ast.CellItem]) -> None:
        for it in items:
            self.stmt(depth, cell_item_text(it), it.span)


def cell_item_text(it: ast.CellItem) -> str:
    """The canonical text of one cell statement."""
    if isinstance(it, ast.CountStmt):
        return f"{it.key} {it.value.text}"
    if isinstance(it, ast.EdgesStmt):
        head = "edges all" if it.edges is None else "edges " + ", ".join(
            edge_text(r.src.text, r.dst.text) for r in it.edges)
        return head + (op_choice_text(o.value for o in it.ops) if it.ops else "")
    if isinstance(it, ast.EdgeStmt):
        return f"edge {edge_text(it.edge.src.text, it.edge.dst.text)}" + op_choice_text(o.value for o in it.ops)
    if isinstance(it, ast.TopologyStmt):
        return topology_text(it.kind, it.lo.text if it.lo else None, it.hi.text if it.hi else None)
    if isinstance(it, ast.OutputStmt):
        return output_text(it.kind, [n.text for n in it.nodes])
    return node_text(it.node.text, [(i.op.value, i.src.text) for i in it.inputs])


# ---- comments --------------------------------------------------------------------------------
def _attach(lines: list[Line], comments: Sequence[ast.Comment], source: list[str]) -> list[tuple[str, bool]]:
    """Hang every comment on a line (see the module docstring); return the file-end comments."""
    starts = [ln.start for ln in lines]
    end_comments: list[tuple[str, bool]] = []
    for c in sorted(comments, key=lambda c: (c.line, c.column)):
        pos = (c.line, c.column)
        text = c.text.rstrip()
        before = source[c.line - 1][:c.column - 1] if c.line <= len(source) else ""
        idx = bisect_left(starts, pos) - 1
        owner = lines[idx] if idx >= 0 else None
        if owner is not None and owner.end is not None and owner.end > pos:
            owner.leading.append((text, False))
        elif owner is not None and before.strip() and not owner.trailing:
            owner.trailing.append(text)
        elif owner is not None and before.strip():  # a second comment on a multi-line header
            owner.leading.append((text, False))
        else:
            nxt = lines[idx + 1] if idx + 1 < len(lines) else None
            blank = (nxt is None or nxt.depth == 0 and not nxt.closes) and _blank_after(source, c.line)
            (nxt.leading if nxt is not None else end_comments).append((text, blank))
    return end_comments


def _blank_after(source: list[str], line: int) -> bool:
    """True when a blank line follows ``line`` and more text comes after it (kept at top level)."""
    rest = source[line:]
    return bool(rest) and not rest[0].strip() and any(r.strip() for r in rest)


def print_file(tree: ast.File, text: str) -> str:
    """The canonical text of ``tree``, parsed from ``text`` (needed to place its comments)."""
    layout = _Layout()
    prev: ast.Decl | None = None
    for d in tree.decls:
        blank = prev is not None and not (isinstance(prev, ast.Import) and isinstance(d, ast.Import))
        layout.decl(d, blank)
        prev = d
    end_comments = _attach(layout.lines, tree.comments, text.split("\n"))
    return render(layout.lines, end_comments)
