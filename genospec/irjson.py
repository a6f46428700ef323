"""The IR as JSON, validated against the JSON Schema shipped in ``genospec/schemas``.

``space_to_json`` and ``space_from_json`` are inverses: a document holds the op library, the
cells (nodes, edges with their ops and listed order, topology, output, stride, inputs), groups,
the network skeleton (reduction positions as ``"1/3"`` strings), the kind and ``of``.
"""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from .errors import ConversionError, did_you_mean
from .ir import Cell, Edge, Network, OpDef, Output, Space, Topology
from .oplib import KINDS

FORMAT, VERSION = "genospec-ir", 1


@lru_cache(maxsize=1)
def ir_schema() -> dict[str, Any]:
    """The IR JSON Schema, read from the installed package."""
    text = resources.files("genospec").joinpath("schemas/ir.schema.json").read_text("utf-8")
    return json.loads(text)


def validate_ir_json(doc: Any) -> None:
    """Raise ``ConversionError`` naming the offending place if ``doc`` breaks the schema."""
    validator = jsonschema.Draft202012Validator(ir_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        raise ConversionError(f"invalid IR JSON at {where}: {error.message}")


# -- to JSON --------------------------------------------------------------------------------

def _op_json(op: OpDef) -> dict[str, Any]:
    return {"name": op.name, "kind": op.kind, "args": list(op.args), "kwargs": dict(op.kwargs)}


def _cell_json(cell: Cell) -> dict[str, Any]:
    t, out = cell.topology, cell.output
    return {
        "name": cell.name, "inputs": cell.inputs, "nodes": cell.nodes, "stride": cell.stride,
        "topology": {"kind": t.kind, "lo": t.lo, "hi": t.hi},
        "edges": [{"src": e.src, "dst": e.dst, "ops": list(e.ops), "order": e.order}
                  for e in cell.edges()],
        "output": {"kind": out.kind, "nodes": list(out.nodes)},
    }


def _network_json(net: Network) -> dict[str, Any]:
    doc = dataclasses.asdict(net)
    doc["reductions"] = [f"{f.numerator}/{f.denominator}" for f in net.reductions]
    return doc


def space_to_json(space: Space) -> dict[str, Any]:
    """A JSON-ready dict of ``space`` (valid against :func:`ir_schema`)."""
    doc: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "name": space.name, "kind": space.kind,
        "of": space.of,
        "ops": [_op_json(o) for o in space.ops.values()],
        "cells": [_cell_json(c) for c in space.cells.values()],
        "groups": None if space.groups is None else {g: list(ops) for g, ops in space.groups.items()},
        "network": _network_json(space.network),
    }
    if space.doc is not None:
        doc["doc"] = space.doc
    return doc


# -- from JSON ------------------------------------------------------------------------------

def _op_from(doc: dict[str, Any]) -> OpDef:
    if doc["kind"] not in KINDS:
        raise ConversionError(f"op {doc['name']!r} has unknown kind {doc['kind']!r}",
                              hint=did_you_mean(doc["kind"], KINDS))
    return OpDef(doc["name"], doc["kind"], tuple(doc["args"]), tuple(doc["kwargs"].items()))


def _cell_from(doc: dict[str, Any], ops: dict[str, OpDef]) -> Cell:
    name, inputs, nodes = doc["name"], doc["inputs"], doc["nodes"]
    last = inputs + nodes - 1
    edges = []
    for e in doc["edges"]:
        src, dst = e["src"], e["dst"]
        if not (inputs <= dst <= last and src < dst):
            raise ConversionError(f"cell {name}: edge {src}->{dst} must go from an earlier node "
                                  f"to an intermediate node ({inputs}..{last})")
        for op in e["ops"]:
            if op not in ops:
                raise ConversionError(f"cell {name}: edge {src}->{dst} uses op {op!r}, which is "
                                      f"not in the op library", hint=did_you_mean(op, ops))
        edges.append(Edge(src, dst, tuple(e["ops"]), e["order"]))
    out = doc["output"]
    if any(not inputs <= j <= last for j in out["nodes"]):
        raise ConversionError(f"cell {name}: output nodes {out['nodes']} must be intermediate "
                              f"nodes ({inputs}..{last})")
    t = doc["topology"]
    if t["hi"] is not None and t["hi"] < t["lo"]:
        raise ConversionError(f"cell {name}: topology pick {t['lo']}..{t['hi']} is empty")
    return Cell.build(name, inputs, nodes, doc["stride"], Topology(t["kind"], t["lo"], t["hi"]),
                      edges, Output(out["kind"], tuple(out["nodes"])))


def _unique(kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ConversionError(f"{kind} {n!r} is defined twice")
        seen.add(n)


def space_from_json(doc: Any) -> Space:
    """The ``Space`` of an IR JSON document; schema and cross-reference errors raise
    ``ConversionError``."""
    validate_ir_json(doc)
    _unique("op", [o["name"] for o in doc["ops"]])
    _unique("cell", [c["name"] for c in doc["cells"]])
    ops = {o["name"]: _op_from(o) for o in doc["ops"]}
    cells = {c["name"]: _cell_from(c, ops) for c in doc["cells"]}
    groups = doc["groups"]
    if groups is not None:
        owner: dict[str, str] = {}
        for g, members in groups.items():
            for op in members:
                if op not in ops:
                    raise ConversionError(f"group {g} lists op {op!r}, which is not in the op "
                                          f"library", hint=did_you_mean(op, ops))
                if op in owner:
                    raise ConversionError(f"op {op!r} is in groups {owner[op]} and {g}")
                owner[op] = g
        groups = {g: tuple(members) for g, members in groups.items()}
    net = dict(doc["network"])
    net["reductions"] = tuple(Fraction(r) for r in net["reductions"])
    return Space(doc["name"], doc["kind"], ops, cells, Network(**net), groups, doc["of"],
                 doc=doc.get("doc"))
