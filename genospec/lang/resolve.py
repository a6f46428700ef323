"""AST -> IR: resolves `extends`, `of` and op names, and checks what the grammar cannot.

Every problem found is collected (with the span of the offending token) and raised together at
the end, so a user sees all errors of a file at once.

Inheritance rules: a child space starts from its parent's fully resolved cells; a `cell X { }`
in the child modifies the inherited cell X statement by statement (a statement kind given in the
child replaces the parent's; any `edges` statement replaces the inherited edge set and per-edge
overrides). `cell Y extends X` starts from X as resolved so far in the same space.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from .. import ir
from ..errors import GenospecError, Span, SpecError, did_you_mean
from ..limits import (MAX_CELL_EDGES, MAX_CHANNELS, MAX_CLASSES, MAX_INPUT_SIZE, MAX_NETWORK_CELLS, MAX_NODES,
                      MAX_TOPOLOGY_CHOICES)
from ..oplib import KINDS, STANDARD_OPS
from . import ast
from .settings import read_network, read_settings

# The largest value of each network-block setting (a network is refused before it is built).
NETWORK_LIMITS = {"cells": MAX_NETWORK_CELLS, "channels": MAX_CHANNELS, "classes": MAX_CLASSES,
                  "input": MAX_INPUT_SIZE}


@dataclass
class _CellState:
    """A cell's statements after inheritance, before it becomes an `ir.Cell`."""

    span: Span
    inputs: int | None = None
    nodes: int | None = None
    stride: int = 1
    edges: list[ast.EdgesStmt] = field(default_factory=list)
    overrides: list[ast.EdgeStmt] = field(default_factory=list)
    topology: ast.TopologyStmt | None = None
    output: ast.OutputStmt | None = None
    node_rules: list[ast.NodeStmt] = field(default_factory=list)


@dataclass
class _SpaceState:
    ops: dict[str, ir.OpDef]
    op_spans: dict[str, Span]
    cells: dict[str, _CellState]
    groups: dict[str, tuple[str, ...]] | None
    group_block: ast.GroupsBlock | None
    network: dict[str, object]


class Resolver:
    """Resolves the declarations of a namespace (one file and its imports)."""

    def __init__(self, decls: dict[str, ast.SpaceDecl | ast.GenotypeDecl | ast.SearchDecl]):
        self.decls = decls
        self.errors: list[GenospecError] = []
        self._states: dict[str, _SpaceState | None] = {}
        self._active: list[str] = []
        self.spaces: dict[str, ir.Space] = {}

    def error(self, message: str, span: Span, hint: str | None = None) -> None:
        self.errors.append(SpecError(message, span, hint))

    # ---- spaces ---------------------------------------------------------------------------
    def space_state(self, name: ast.Ident) -> _SpaceState | None:
        key = name.value
        if key in self._states:
            return self._states[key]
        decl = self.decls.get(key)
        if not isinstance(decl, ast.SpaceDecl):
            known = [k for k, d in self.decls.items() if isinstance(d, ast.SpaceDecl)]
            what = "is a genotype, not a space" if isinstance(decl, ast.GenotypeDecl) else "is not defined"
            self.error(f"space '{key}' {what}", name.span,
                       did_you_mean(key, known) or "declare it, or import the file that declares it")
            return None
        if key in self._active:
            chain = " -> ".join([*self._active[self._active.index(key):], key])
            self.error(f"'extends' forms a cycle: {chain}", name.span, "a space cannot extend itself")
            return None
        self._active.append(key)
        try:
            state = self._build_space_state(decl)
        finally:
            self._active.pop()
        self._states[key] = state
        return state

    def _build_space_state(self, decl: ast.SpaceDecl) -> _SpaceState | None:
        if decl.extends is not None:
            parent = self.space_state(decl.extends)
            if parent is None:
                return None
            state = copy.deepcopy(parent)
        else:
            state = _SpaceState({}, {}, {}, None, None, {})
        for item in decl.items:
            if isinstance(item, ast.OpsBlock):
                self._ops(item, state)
        for item in decl.items:
            if isinstance(item, ast.GroupsBlock):
                state.groups = {g.name.value: tuple(o.value for o in g.ops) for g in item.groups}
                state.group_block = item
            elif isinstance(item, ast.CellDecl):
                self._cell(item, state)
            elif isinstance(item, ast.NetworkBlock):
                state.network.update(self._read_network(item))
        return state

    def _ops(self, block: ast.OpsBlock, state: _SpaceState) -> None:
        seen: set[str] = set()
        for d in block.defs:
            name = d.name.value
            if name in seen:
                self.error(f"op '{name}' is defined twice", d.name.span)
                continue
            seen.add(name)
            kind = d.call.kind.value
            if kind not in KINDS:
                self.error(f"unknown op kind '{kind}'", d.call.kind.span,
                           did_you_mean(kind, KINDS) or "known kinds: " + ", ".join(KINDS))
                continue
            op = self._opdef(name, d.call)
            if op is not None:
                state.ops[name] = op
                state.op_spans[name] = d.name.span

    def _opdef(self, name: str, call: ast.Call) -> ir.OpDef | None:
        sig = KINDS[call.kind.value]
        args, kwargs = [], {}
        allowed_kw = dict(sig.keywords)
        for a in call.args:
            v = a.value
            val: object = v.text
            if v.kind == "number":
                val = float(v.text) if any(c in v.text for c in ".eE") else int(v.text)
            if a.key is None:
                args.append(val)
            elif a.key.value not in allowed_kw:
                self.error(f"op kind '{call.kind.value}' has no parameter '{a.key.value}'", a.key.span,
                           did_you_mean(a.key.value, allowed_kw) or
                           (f"parameters: {', '.join([*sig.positional, *allowed_kw])}" if allowed_kw or sig.positional
                            else f"'{call.kind.value}' takes no parameters"))
                return None
            else:
                kwargs[a.key.value] = val
        if len(args) != len(sig.positional):
            need = ", ".join(sig.positional) or "no positional parameters"
            self.error(f"op kind '{call.kind.value}' takes {len(sig.positional)} positional "
                       f"parameter(s), got {len(args)}", call.span, f"parameters: {need}")
            return None
        for key, val in kwargs.items():  # a positive whole default (dilation=2) takes a positive whole value
            default = allowed_kw[key]
            if isinstance(default, int) and default >= 1 and (not isinstance(val, int) or val < 1):
                self.error(f"'{key}' of op kind '{call.kind.value}' must be a positive whole number, got {val}",
                           call.span)
                return None
        for pname, val in zip(sig.positional, args):
            if pname == "kernel" and (not isinstance(val, int) or val <= 0 or val % 2 == 0):
                self.error(f"kernel size must be a positive odd number, got {val}", call.span)
                return None
        return ir.OpDef(name, call.kind.value, tuple(args), tuple(sorted(kwargs.items())))

    def _cell(self, decl: ast.CellDecl, state: _SpaceState) -> None:
        name = decl.name.value
        if decl.extends is not None:
            base = state.cells.get(decl.extends.value)
            if base is None:
                self.error(f"cell '{decl.extends.value}' is not defined (yet) in this space", decl.extends.span,
                           did_you_mean(decl.extends.value, state.cells))
                return
            cell = copy.deepcopy(base)
            cell.span = decl.span
        elif name in state.cells:
            cell = state.cells[name]
        else:
            cell = _CellState(decl.span)
        apply_cell_items(cell, decl.items, self.errors)
        state.cells[name] = cell

    def space(self, name: ast.Ident) -> ir.Space | None:
        if name.value in self.spaces:
            return self.spaces[name.value]
        state = self.space_state(name)
        if state is None:
            return None
        decl = self.decls[name.value]
        cells = {}
        for cname, cstate in state.cells.items():
            cell = self._build_cell(cname, cstate, state.ops)
            if cell is not None:
                cells[cname] = cell
        if not state.cells:
            self.error(f"space '{name.value}' has no cell", decl.name.span, "add a `cell normal { ... }`")
        self._check_groups(state, {o for c in cells.values() for o in c.op_names()})
        space = ir.Space(name.value, "space", dict(state.ops), cells, self._network(state.network, decl.span),
                         state.groups, file=decl.span.file)
        self.spaces[name.value] = space
        return space

    def _read_network(self, block: ast.NetworkBlock) -> dict[str, object]:
        """A network block's settings; a size beyond its limit (NETWORK_LIMITS) is an error at
        the number, and the setting is dropped."""
        too_big = set()
        for st in block.settings:
            limit = NETWORK_LIMITS.get(st.key.value)
            for v in st.values if limit is not None else ():
                if v.kind == "number" and abs(float(v.text)) > limit:
                    self.error(f"network {st.key.value} {v.text} is more than the limit of {limit:,}", v.span)
                    too_big.add("input_size" if st.key.value == "input" else st.key.value)
        return {k: v for k, v in read_network(block, self.errors).items() if k not in too_big}

    def _network(self, settings: dict[str, object], span: Span) -> ir.Network:
        try:
            return ir.Network(**settings)  # type: ignore[arg-type]
        except TypeError as e:  # pragma: no cover - read_network only returns known keys
            self.error(f"bad network settings: {e}", span)
            return ir.Network()

    def _check_groups(self, state: _SpaceState, used: set[str]) -> None:
        """Groups partition the ops the cells use (``used``); library ops on no edge need none."""
        if state.groups is None or state.group_block is None:
            return
        owner: dict[str, str] = {}
        for g in state.group_block.groups:
            for op in g.ops:
                if op.value not in state.ops:
                    self.error(f"group '{g.name.value}' names unknown op '{op.value}'", op.span,
                               did_you_mean(op.value, state.ops))
                elif op.value in owner:
                    self.error(f"op '{op.value}' is in two groups ('{owner[op.value]}' and '{g.name.value}')",
                               op.span, "each op belongs to exactly one group")
                else:
                    owner[op.value] = g.name.value
        missing = [o for o in state.ops if o in used and o not in owner]
        if missing:
            self.error(f"op(s) in no group: {', '.join(missing)}", state.group_block.span,
                       "when groups are given, every op used on an edge belongs to exactly one group")

    # ---- cells ----------------------------------------------------------------------------
    def _build_cell(self, name: str, c: _CellState, ops: dict[str, ir.OpDef]) -> ir.Cell | None:
        n_errors = len(self.errors)
        inputs = 2 if c.inputs is None else c.inputs
        if c.node_rules:
            return self._build_genotype_cell(name, c, ops, inputs)
        if c.nodes is None:
            self.error(f"cell '{name}' does not say how many nodes it has", c.span, "add `nodes N`")
            return None
        nodes = c.nodes
        node_ids = range(inputs, inputs + nodes)
        edges: dict[tuple[int, int], tuple[str, ...] | None] = {}
        for stmt in c.edges:
            chosen = tuple(o.value for o in stmt.ops) if stmt.ops else None
            if stmt.ops:
                self._check_op_names(stmt.ops, ops)
            if stmt.edges is None:
                for j in node_ids:
                    for i in range(j):
                        edges[(i, j)] = chosen
            else:
                for ref in stmt.edges:
                    key = self._edge_key(ref, inputs, nodes)
                    if key is None:
                        continue
                    if key in edges:
                        self.error(f"edge {key[0]}->{key[1]} is listed twice", ref.span)
                    edges[key] = chosen
        for ov in c.overrides:
            key = self._edge_key(ov.edge, inputs, nodes)
            if key is None:
                continue
            if key not in edges:
                self.error(f"edge {key[0]}->{key[1]} is not an edge of cell '{name}'", ov.edge.span,
                           "declare it with `edges ...` first")
                continue
            self._check_op_names(ov.ops, ops)
            edges[key] = tuple(o.value for o in ov.ops)
        if len(edges) > MAX_CELL_EDGES:
            self.error(f"cell '{name}' has {len(edges):,} edges, more than the limit of {MAX_CELL_EDGES:,}",
                       c.span)
            return None
        all_ops = tuple(o for o in ops)
        ir_edges = [ir.Edge(i, j, chosen if chosen is not None else all_ops, order=k)
                    for k, ((i, j), chosen) in enumerate(sorted(edges.items(), key=lambda kv: (kv[0][1], kv[0][0])))]
        if not ops and len(self.errors) == n_errors:
            self.error(f"cell '{name}' has edges but the space defines no ops", c.span, "add an `ops { ... }` block")
        topology = self._topology(c.topology)
        incoming = dict.fromkeys(node_ids, 0)
        for e in ir_edges:
            incoming[e.dst] += 1
        for j, n in incoming.items() if len(self.errors) == n_errors else ():
            if n == 0:
                self.error(f"node {j} of cell '{name}' has no incoming edge", c.span,
                           "every intermediate node needs at least one edge")
            elif topology.kind == "pick" and n < topology.lo and c.topology is not None:
                self.error(f"node {j} of cell '{name}' has {n} incoming edge(s), fewer than "
                           f"'{topology.describe()}' asks for", c.topology.span)
            elif topology.kind == "pick" and c.topology is not None \
                    and (count := topology.count(n)) > MAX_TOPOLOGY_CHOICES:
                self.error(f"node {j} of cell '{name}' has {n} incoming edges: '{topology.describe()}' gives "
                           f"{count:,} edge combinations, more than the limit of {MAX_TOPOLOGY_CHOICES:,}",
                           c.topology.span, "pick fewer edges (pick 2, pick 1..3) or give the node fewer "
                           "incoming edges")
                break
        output = self._output(c.output, inputs, nodes, name)
        if len(self.errors) > n_errors:
            return None
        return ir.Cell.build(name, inputs, nodes, c.stride, topology, ir_edges, output)

    def _edge_key(self, ref: ast.EdgeRef, inputs: int, nodes: int) -> tuple[int, int] | None:
        src, dst = ref.src.value, ref.dst.value
        if not (ref.src.is_int and ref.dst.is_int):
            self.error("node ids are whole numbers", ref.span)
            return None
        if dst < inputs or dst >= inputs + nodes:
            self.error(f"edge {src}->{dst} ends at node {dst}, which is not an intermediate node",
                       ref.dst.span, f"intermediate nodes are {inputs}..{inputs + nodes - 1}")
            return None
        if src == dst:
            self.error(f"edge {src}->{dst} connects a node to itself", ref.span)
            return None
        if src > dst or src < 0:
            self.error(f"edge {src}->{dst} goes to an earlier node", ref.span,
                       "edges run from earlier nodes (and cell inputs) to later ones")
            return None
        return (src, dst)

    def _check_op_names(self, names: tuple[ast.Ident, ...], ops: dict[str, ir.OpDef]) -> None:
        for o in names:
            if o.value not in ops:
                self.error(f"unknown op '{o.value}'", o.span, did_you_mean(o.value, ops))

    def _topology(self, t: ast.TopologyStmt | None) -> ir.Topology:
        if t is None or t.kind == "keep":
            return ir.Topology("keep")
        if t.kind == "any":
            return ir.Topology("pick", 1, None)
        assert t.lo is not None and t.hi is not None
        lo, hi = t.lo.value, t.hi.value
        if not (t.lo.is_int and t.hi.is_int) or lo < 1 or hi < lo or not math.isfinite(hi):
            self.error(f"'pick' needs whole numbers 1 <= k1 <= k2, got {t.lo.text}..{t.hi.text}"
                       if t.kind == "range" else f"'pick' needs a whole number >= 1, got {t.lo.text}", t.span)
            return ir.Topology("keep")
        return ir.Topology("pick", int(lo), int(hi))

    def _output(self, o: ast.OutputStmt | None, inputs: int, nodes: int, cell: str) -> ir.Output:
        all_nodes = tuple(range(inputs, inputs + nodes))
        if o is None:
            return ir.Output("concat", all_nodes)
        valid = [n for n in o.nodes if n.is_int and inputs <= n.value < inputs + nodes]
        chosen = tuple(int(n.value) for n in valid) or all_nodes
        for n in o.nodes:
            if n not in valid:
                self.error(f"output names node {n.text}, which cell '{cell}' does not have", n.span,
                           f"intermediate nodes are {inputs}..{inputs + nodes - 1}")
        if len(set(chosen)) != len(chosen):
            self.error("output lists a node twice", o.span)
        return ir.Output(o.kind, chosen)

    def _build_genotype_cell(self, name: str, c: _CellState, ops: dict[str, ir.OpDef], inputs: int) -> ir.Cell | None:
        n_errors = len(self.errors)
        rules = {}
        for r in c.node_rules:
            j = r.node.value
            if not r.node.is_int or j < inputs:
                self.error(f"node {r.node.text} cannot take inputs: nodes below {inputs} are cell inputs",
                           r.node.span)
                continue
            if j >= inputs + MAX_NODES:
                self.error(f"node {r.node.text} is out of range: a cell has at most {MAX_NODES} intermediate "
                           f"nodes ({inputs}..{inputs + MAX_NODES - 1})", r.node.span)
                continue
            if j in rules:
                self.error(f"node {j} is given inputs twice", r.node.span, "list all of its inputs on one line")
                continue
            rules[j] = r
        if len(self.errors) > n_errors:
            return None
        nodes = max(rules) - inputs + 1 if rules else 0
        if c.nodes is not None and c.nodes != nodes:
            nodes = max(nodes, c.nodes)
        edges: list[ir.Edge] = []
        for j in range(inputs, inputs + nodes):
            if j not in rules:
                self.error(f"node {j} of cell '{name}' has no inputs", c.span, f"add `{j} <- op(input)`")
                continue
            if len(edges) + len(rules[j].inputs) > MAX_CELL_EDGES:
                self.error(f"cell '{name}' has {len(edges) + len(rules[j].inputs):,} edges up to node {j}, "
                           f"more than the limit of {MAX_CELL_EDGES:,}", rules[j].node.span)
                return None
            for k, inp in enumerate(rules[j].inputs):
                src = inp.src.value
                if not inp.src.is_int or src < 0 or src >= j:
                    self.error(f"node {j} cannot take input from node {inp.src.text}", inp.src.span,
                               f"inputs come from earlier nodes 0..{j - 1}")
                    continue
                edges.append(ir.Edge(int(src), j, (inp.op.value,), order=k))
        output = self._output(c.output, inputs, nodes, name)
        if len(self.errors) > n_errors:
            return None
        # Unknown op names are reported but do not stop the checks that follow (fit to space).
        for r in c.node_rules:
            for inp in r.inputs:
                if inp.op.value not in ops:
                    self.error(f"unknown op '{inp.op.value}'", inp.op.span, did_you_mean(inp.op.value, ops))
        return ir.Cell.build(name, inputs, nodes, c.stride, ir.Topology("keep"), edges, output)

    # ---- genotypes ------------------------------------------------------------------------
    def genotype(self, decl: ast.GenotypeDecl) -> ir.Space | None:
        n_errors = len(self.errors)
        space = self.space(decl.of) if decl.of is not None else None
        if decl.of is not None and space is None:
            return None
        state = self.space_state(decl.of) if decl.of is not None else None
        ops = dict(space.ops) if space else dict(STANDARD_OPS)
        scratch = _SpaceState(ops, {}, {}, None, None, dict(state.network) if state else {})
        for item in decl.items:
            if isinstance(item, ast.OpsBlock):
                self._ops(item, scratch)
        cells: dict[str, ir.Cell] = {}
        broken = False  # the space's cell failed its own checks, which were reported there
        for item in decl.items:
            if isinstance(item, ast.NetworkBlock):
                scratch.network.update(self._read_network(item))
            if not isinstance(item, ast.CellDecl):
                continue
            if item.name.value in cells:
                self.error(f"cell '{item.name.value}' is declared twice", item.name.span)
                continue
            cstate = _CellState(item.span)
            if space is not None:
                target = space.cells.get(item.name.value)
                if target is None:
                    state = self._states.get(space.name)
                    broken = broken or (state is not None and item.name.value in state.cells)
                    if not broken:
                        self.error(f"space '{space.name}' has no cell '{item.name.value}'", item.name.span,
                                   did_you_mean(item.name.value, space.cells))
                    continue
                cstate.inputs, cstate.stride = target.inputs, target.stride
            apply_cell_items(cstate, item.items, self.errors)
            if not cstate.node_rules:
                self.error(f"genotype cell '{item.name.value}' lists no node inputs", item.name.span,
                           "write one line per node: `2 <- sep_conv_3x3(0), sep_conv_3x3(1)`")
                continue
            cell = self._build_cell(item.name.value, cstate, scratch.ops)
            if cell is not None:
                cells[item.name.value] = cell
                if space is not None:
                    self._fits(cell, space, item)
        if broken:
            return None
        if space is not None:
            for cname in space.cells:
                if cname not in cells and len(self.errors) == n_errors:
                    self.error(f"genotype '{decl.name.value}' has no cell '{cname}' of space '{space.name}'",
                               decl.name.span)
        if not cells and len(self.errors) == n_errors:
            self.error(f"genotype '{decl.name.value}' has no cell", decl.name.span)
        if len(self.errors) > n_errors:
            return None
        return ir.Space(decl.name.value, "genotype", scratch.ops, cells,
                        self._network(scratch.network, decl.span), space.groups if space else None,
                        of=space.name if space else None, file=decl.span.file)

    def _fits(self, cell: ir.Cell, space: ir.Space, decl: ast.CellDecl) -> None:
        """A genotype cell must be one architecture of its space's cell (DESIGN §2)."""
        target = space.cells[cell.name]
        rules = {int(i.node.value): i for i in decl.items if isinstance(i, ast.NodeStmt)}
        if cell.nodes != target.nodes:
            self.error(f"cell '{cell.name}' has {cell.nodes} nodes but space '{space.name}' has {target.nodes}",
                       decl.name.span)
            return
        allowed = {(e.src, e.dst): e for e in target.edges()}
        for j in cell.node_ids:
            rule = rules[j]
            ins = cell.in_edges(j)
            for e, inp in zip(ins, rule.inputs):
                te = allowed.get((e.src, e.dst))
                if te is None:
                    self.error(f"edge {e.src}->{e.dst} is not in space '{space.name}'", inp.src.span,
                               f"node {j} may take inputs from: "
                               + ", ".join(str(x.src) for x in target.in_edges(j)))
                elif e.op in space.ops and e.op not in space.selectable_ops(target, te):
                    self.error(f"op '{e.op}' is not allowed on edge {e.src}->{e.dst}", inp.op.span,
                               "allowed: " + ", ".join(space.selectable_ops(target, te)))
            if len({e.src for e in ins}) != len(ins):
                self.error(f"node {j} takes the same input twice, which space '{space.name}' cannot express",
                           rule.span)
            sizes = target.topology.sizes(len(target.in_edges(j)))
            if len(ins) not in sizes:
                want = target.topology.describe()
                self.error(f"node {j} has {len(ins)} input(s) but space '{space.name}' says '{want}'",
                           rule.node.span)

    # ---- recipes --------------------------------------------------------------------------
    def recipe(self, decl: ast.SearchDecl) -> ir.Recipe | None:
        n_errors = len(self.errors)
        space = self.space(decl.of)
        top = read_settings(tuple(i for i in decl.items if isinstance(i, ast.Setting)), self.errors)
        quick = read_settings(tuple(s for i in decl.items if isinstance(i, ast.QuickBlock) for s in i.settings),
                              self.errors)
        stages = []
        names: set[str] = set()
        for st in (i for i in decl.items if isinstance(i, ast.StageDecl)):
            if st.name.value in names:
                self.error(f"stage '{st.name.value}' is declared twice", st.name.span)
            names.add(st.name.value)
            own = [i for i in st.items if isinstance(i, ast.Setting)]
            squick = [s for i in st.items if isinstance(i, ast.QuickBlock) for s in i.settings]
            stages.append(ir.Stage(st.name.value, read_settings(tuple(own), self.errors),
                                   read_settings(tuple(squick), self.errors)))
        if not stages:
            self.error(f"search '{decl.name.value}' has no stage", decl.name.span,
                       "add `stage NAME { epochs ... select ... }`")
        if space is None or len(self.errors) > n_errors:
            return None
        return ir.Recipe(decl.name.value, space, top, stages, quick, file=decl.span.file)


def apply_cell_items(cell: _CellState, items: tuple[ast.CellItem, ...], errors: list[GenospecError]) -> None:
    """Apply one cell body's statements on top of inherited ones (see module docstring)."""
    new_edges = [i for i in items if isinstance(i, ast.EdgesStmt)]
    if new_edges:
        cell.edges = new_edges
        cell.overrides = []
    for it in items:
        if isinstance(it, ast.CountStmt):
            v = it.value
            if not v.is_int or not (v.value in (1, 2) if it.key == "stride" else 1 <= v.value <= MAX_NODES):
                allowed = "1 or 2" if it.key == "stride" else f"a whole number between 1 and {MAX_NODES}"
                errors.append(SpecError(f"'{it.key}' must be {allowed}, got {v.text}", v.span))
                continue
            setattr(cell, it.key, int(v.value))
        elif isinstance(it, ast.EdgeStmt):
            cell.overrides.append(it)
        elif isinstance(it, ast.TopologyStmt):
            cell.topology = it
        elif isinstance(it, ast.OutputStmt):
            cell.output = it
        elif isinstance(it, ast.NodeStmt):
            cell.node_rules.append(it)
