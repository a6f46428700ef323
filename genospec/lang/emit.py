"""IR -> `.gs` text: genotypes, reduced spaces and full spaces, in the printer's canonical layout.

The search engine writes each stage's result with `emit_space`, and `convert --to gs` writes
imported genotypes with it. The text loads back (with `loader.loads`) to the same IR:

- a genotype ``of`` a space lists one line per node in the IR's input order
  (``2 <- sep_conv_3x3(0), sep_conv_3x3(1)``) and its output; a genotype without ``of`` also
  writes ``inputs``/``stride`` where they differ from 2/1, and the ops it uses that are not in
  the standard library (`oplib.STANDARD_OPS`) or differ from it;
- a space ``extends`` a parent: given only the parent's name, every cell is written in full
  (``inputs``, ``nodes``, ``stride``, ``edges``, ``topology``, ``output``) and the op library,
  groups and network are taken to be the parent's; given the parent `ir.Space`, only what differs
  is written (a modified edge is one ``edge a->b: op | op`` line);
- a space without a parent is written whole, with its ``ops`` block; a later cell that differs
  little from an earlier one is written as ``cell reduce extends normal { stride 2 }``.

What the language cannot say (a node without inputs, a ``pick k..any`` range, an input channel
count) raises `ConversionError`.
"""

from __future__ import annotations

import re
from typing import Sequence

from .. import ir
from ..errors import ConversionError
from ..oplib import STANDARD_OPS
from .printer import Line, aligned, edge_text, node_text, op_choice_text, output_text, render, topology_text

Ref = str | ir.Space | None

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[+-]?(\d+\.\d+|\d+)([eE][+-]?\d+)?")
_WORDLIKE = re.compile(r'\d+C|[A-Za-z_][A-Za-z0-9_]*|"[^"\n]*"')


class _Unknown:
    """The base of a cell inherited from a parent known only by name."""


UNKNOWN = _Unknown()
Base = ir.Cell | _Unknown | None


def emit_space(space: ir.Space, of: Ref = None, imports: Sequence[str] = ()) -> str:
    """Canonical `.gs` text of one genotype or space.

    ``of`` names the space a genotype is ``of`` or a space ``extends`` (default: ``space.of``);
    pass the parent `ir.Space` itself to write only what differs from it. ``imports`` become
    ``import "..."`` lines, for a parent declared in another file.
    """
    return render(_imports(imports) + _decl(space, of if of is not None else space.of, bool(imports)))


def emit_file(spaces: Sequence[ir.Space], imports: Sequence[str] = ()) -> str:
    """Several declarations in one file, each ``of`` / ``extends`` its own ``.of``."""
    lines = _imports(imports)
    for k, space in enumerate(spaces):
        lines += _decl(space, space.of, bool(imports) or k > 0)
    return render(lines)


# ---- pieces ----------------------------------------------------------------------------------
def _imports(paths: Sequence[str]) -> list[Line]:
    for p in paths:
        if '"' in p or "\n" in p:
            raise ConversionError(f"cannot write the import path {p!r}")
    return [Line(0, f'import "{p}"') for p in paths]


def _name(name: str, what: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConversionError(f"{what} name {name!r} is not a .gs name", hint="names are letters, digits and _")
    return name


def _num(x: object) -> str:
    text = str(x) if isinstance(x, int) and not isinstance(x, bool) else repr(x) if isinstance(x, float) else ""
    if not _NUMBER.fullmatch(text):
        raise ConversionError(f"cannot write {x!r} as a .gs number")
    return text


def _arg(x: object) -> str:
    if isinstance(x, str):
        if not _WORDLIKE.fullmatch(x):
            raise ConversionError(f"cannot write op argument {x!r}")
        return x
    return _num(x)


def _call(op: ir.OpDef) -> str:
    args = [_arg(a) for a in op.args] + [f"{_name(k, 'parameter')}={_arg(v)}" for k, v in op.kwargs]
    return op.kind + (f"({', '.join(args)})" if args else "")


def _block(depth: int, header: str, body: list[Line], blank: bool = False) -> list[Line]:
    return [Line(depth, header + " {", opens=True, blank_before=blank), *body, Line(depth, "}", closes=True)]


def _stmts(depth: int, texts: Sequence[str]) -> list[Line]:
    return [Line(depth, t) for t in texts]


def _ops_lines(ops: dict[str, ir.OpDef], base: dict[str, ir.OpDef] | None) -> list[str]:
    """``name = call`` for every op not already in ``base`` as it is."""
    rows = [(_name(n, "op"), _call(o)) for n, o in ops.items() if base is None or base.get(n) != o]
    return aligned(rows)


def _network_lines(net: ir.Network, base: ir.Network) -> list[str]:
    out = []
    for key, field in (("layout", "layout"), ("stem", "stem"), ("cells", "cells"), ("channels", "channels"),
                       ("classes", "classes"), ("input", "input_size")):
        value = getattr(net, field)
        if value != getattr(base, field):
            out.append(f"{key} {value if isinstance(value, str) else _num(value)}")
    if net.input_channels != base.input_channels:
        raise ConversionError(f"the network's input channel count ({net.input_channels}) has no .gs setting")
    if net.reductions != base.reductions:
        if not net.reductions or not all(0 < f < 1 for f in net.reductions):
            raise ConversionError(f"cannot write reduction positions {net.reductions}: each lies in (0, 1)")
        out.append("reduce at " + ", ".join(f"{f.numerator}/{f.denominator}" for f in net.reductions))
    if net.auxiliary_weight != base.auxiliary_weight:
        out.append(f"auxiliary weight {_num(net.auxiliary_weight)}")  # also switches the head on
        if not net.auxiliary:
            out.append("auxiliary off")
    elif net.auxiliary != base.auxiliary:
        out.append("auxiliary" if net.auxiliary else "auxiliary off")
    if net.drop_path != base.drop_path:
        out.append(f"drop_path {_num(net.drop_path)}")
    return out


# ---- cells -----------------------------------------------------------------------------------
def _topology(t: ir.Topology) -> str:
    if t.kind == "keep":
        return topology_text("keep")
    if t.hi is None:
        if t.lo != 1:
            raise ConversionError(f"topology 'pick {t.lo}..any' has no .gs form")
        return topology_text("any")
    return topology_text("pick", t.lo) if t.lo == t.hi else topology_text("range", t.lo, t.hi)


def _output(cell: ir.Cell, bare_when_all: bool) -> str:
    o = cell.output
    if not o.nodes:
        raise ConversionError(f"cell '{cell.name}' has no output node")
    if o.kind == "node":
        if len(o.nodes) != 1:
            raise ConversionError(f"cell '{cell.name}' outputs one node, not {len(o.nodes)}")
        return output_text("node", o.nodes)
    return output_text(o.kind, () if bare_when_all and o.nodes == tuple(cell.node_ids) else o.nodes)


def _space_edges(cell: ir.Cell) -> list[ir.Edge]:
    edges = sorted(cell.edges(), key=lambda e: (e.dst, e.src))
    keys = [(e.src, e.dst) for e in edges]
    if len(set(keys)) != len(keys):
        raise ConversionError(f"cell '{cell.name}' of a space has two edges between the same nodes")
    if not edges or any(not e.ops for e in edges):
        raise ConversionError(f"cell '{cell.name}' has an edge without ops or no edge at all")
    return edges


def _fresh_edges(cell: ir.Cell, library: tuple[str, ...]) -> list[str]:
    """An ``edges`` statement for the cell's edge set, then the edges whose ops are not the library."""
    edges = _space_edges(cell)
    every = [(i, j) for j in cell.node_ids for i in range(j)]
    head = "edges all" if [(e.src, e.dst) for e in edges] == every else \
        "edges " + ", ".join(edge_text(e.src, e.dst) for e in edges)
    choices = {e.ops for e in edges}
    if len(choices) == 1 and edges[0].ops != library:
        return [head + op_choice_text(edges[0].ops)]
    return [head] + [f"edge {edge_text(e.src, e.dst)}{op_choice_text(e.ops)}" for e in edges if e.ops != library]


def _cell_lines(cell: ir.Cell, base: Base, library: tuple[str, ...]) -> list[str]:
    """Statements turning ``base`` (None: a new cell, UNKNOWN: a parent's cell we cannot see)
    into ``cell``."""
    if not isinstance(base, ir.Cell) or (base.inputs, base.nodes) != (cell.inputs, cell.nodes):
        stride = base.stride if isinstance(base, ir.Cell) else 1 if base is None else None
        return [f"inputs {cell.inputs}", f"nodes {cell.nodes}"] + \
            ([f"stride {cell.stride}"] if cell.stride != stride else []) + \
            _fresh_edges(cell, library) + [_topology(cell.topology), _output(cell, True)]
    out = [f"stride {cell.stride}"] if cell.stride != base.stride else []
    edges, old = _space_edges(cell), {(e.src, e.dst): e.ops for e in _space_edges(base)}
    fresh = _fresh_edges(cell, library)
    if set(old) == {(e.src, e.dst) for e in edges}:
        changed = [f"edge {edge_text(e.src, e.dst)}{op_choice_text(e.ops)}" for e in edges
                   if e.ops != old[(e.src, e.dst)]]
        out += changed if len(changed) <= len(fresh) else fresh
    else:
        out += fresh
    if cell.topology != base.topology:
        out.append(_topology(cell.topology))
    if cell.output != base.output:
        out.append(_output(cell, True))
    return out


def _genotype_cell_lines(cell: ir.Cell, standalone: bool) -> list[str]:
    out = []
    if standalone and cell.inputs != 2:
        out.append(f"inputs {cell.inputs}")
    if standalone and cell.stride != 1:
        out.append(f"stride {cell.stride}")
    for j in cell.node_ids:
        ins = cell.in_edges(j)
        if not ins:
            raise ConversionError(f"node {j} of cell '{cell.name}' has no input")
        for e in ins:
            if len(e.ops) != 1:
                raise ConversionError(f"edge {e.src}->{e.dst} of genotype cell '{cell.name}' has "
                                      f"{len(e.ops)} ops; a genotype keeps one per edge")
        out.append(node_text(j, [(_name(e.ops[0], "op"), e.src) for e in ins]))
    return out + [_output(cell, False)]


# ---- declarations ----------------------------------------------------------------------------
def _decl(space: ir.Space, ref: Ref, blank: bool) -> list[Line]:
    parent = ref if isinstance(ref, ir.Space) else None
    ref_name = parent.name if parent is not None else ref
    if ref_name is not None:
        _name(ref_name, "space")
    _name(space.name, "declaration")
    return _genotype(space, parent, ref_name, blank) if space.is_genotype else \
        _space(space, parent, ref_name, blank)


def _genotype(g: ir.Space, parent: ir.Space | None, ref_name: str | None, blank: bool) -> list[Line]:
    body: list[Line] = []
    base_ops = parent.ops if parent is not None else STANDARD_OPS if ref_name is None else None
    if base_ops is not None and (ops := _ops_lines(g.ops, base_ops)):
        body += _block(1, "ops", _stmts(2, ops))
    for cname, cell in g.cells.items():
        body += _block(1, f"cell {_name(cname, 'cell')}", _stmts(2, _genotype_cell_lines(cell, ref_name is None)))
    body += _network(g, parent, ref_name)
    return _block(0, f"genotype {g.name}" + (f" of {ref_name}" if ref_name else ""), body, blank)


def _network(space: ir.Space, parent: ir.Space | None, ref_name: str | None) -> list[Line]:
    if parent is None and ref_name is not None:
        return []
    lines = _network_lines(space.network, parent.network if parent is not None else ir.Network())
    return _block(1, "network", _stmts(2, lines)) if lines else []


def _space(space: ir.Space, parent: ir.Space | None, ref_name: str | None, blank: bool) -> list[Line]:
    body: list[Line] = []
    if parent is not None or ref_name is None:
        if ops := _ops_lines(space.ops, parent.ops if parent is not None else None):
            body += _block(1, "ops", _stmts(2, ops))
    # the op list of an edge written without one: the library as it loads back
    library = tuple(space.ops) if parent is None else \
        tuple(parent.ops) + tuple(o for o in space.ops if o not in parent.ops)
    if space.groups is not None and (parent is None or space.groups != parent.groups):
        rows = [(_name(g, "group"), ", ".join(_name(o, "op") for o in members))
                for g, members in space.groups.items()]
        body += _block(1, "groups", _stmts(2, aligned(rows)))
    if parent is not None and (missing := [c for c in parent.cells if c not in space.cells]):
        raise ConversionError(f"space '{space.name}' lacks cell(s) {', '.join(missing)} of its parent "
                              f"'{parent.name}', and a child space cannot remove a cell")
    earlier: list[tuple[str, ir.Cell]] = []
    for cname, cell in space.cells.items():
        _name(cname, "cell")
        inherited = parent.cells.get(cname) if parent is not None else None
        base: Base = inherited if parent is not None else UNKNOWN if ref_name is not None else None
        options = [(f"cell {cname}", _cell_lines(cell, base, library))]
        options += [(f"cell {cname} extends {e}", _cell_lines(cell, c, library)) for e, c in earlier]
        header, lines = min(options, key=lambda o: len(o[1]))
        if lines or header != f"cell {cname}" or inherited is None:
            body += _block(1, header, _stmts(2, lines))
        earlier.append((cname, cell))
    body += _network(space, parent, ref_name)
    return _block(0, f"space {space.name}" + (f" extends {ref_name}" if ref_name else ""), body, blank)
