"""DARTS-PT: perturbation-based architecture selection on a trained supernet (paper 004).

Operation selection (paper 004 §4.1-4.2, Algorithm 1): visit the edges in a random order; on
each, mask every candidate op in turn and measure the supernet's validation accuracy ACC\\o;
discretise the edge to o* = argmin_o ACC\\o, the op whose removal hurts most; fine-tune; go on.

Topology selection (§4.2: "decided in a similar fashion"; DESIGN §2): visit the nodes in a
random order; on each, drop every incoming edge in turn and measure ACC\\e, then keep the k
edges (``pick k``) whose removal hurts most; fine-tune; go on. Two readings (`decide_node`,
option ``edge_rule`` of ``select perturbation``): ``single`` (the default, as the released code
ruocwang/darts-pt ``project_edge`` does) ranks every edge by its removal alone against the
full node; ``sequential`` removes the least harmful edge, re-measures with it removed, and
repeats until k remain.

Rounds and fine-tuning follow the released code (ruocwang/darts-pt, ``sota/cnn/projection.py``):
one round decides one edge (later one node) of every cell type, cell types in space order, and
the supernet is fine-tuned ``epochs`` epochs between two rounds, none after the last (5 in the
paper: §5 and its fine-tuning ablation, Fig. 9). Every visiting order is drawn up front from the
``rng`` given, so a resumed selection repeats the plan of the interrupted one.

Candidates are the edge's selectable ops (`ir.Space.selectable_ops`): the zero op is never
chosen where the topology chooses edges (DARTS rule), and is an ordinary candidate in ``keep
all`` cells (NAS-Bench-201). An edge with a single candidate is discretised at the start without
being measured. Ties: the op listed first on the edge wins; among edges whose removal hurts
equally the later-listed one goes, as in the released code.

`perturbation_select` is independent of the search engine: it takes ``evaluate() -> accuracy``
and ``finetune(epochs)`` callables (the engine's are in `genospec.search.perturbation_stage`).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Callable, Literal, Sequence, Union

from .. import ir
from ..errors import SpecError
from ..nn.supernet import Supernet
from .select import genotype_cell

Target = Literal["ops", "edges", "both"]
TARGETS: tuple[str, ...] = ("ops", "edges", "both")


@dataclass(frozen=True)
class OpDecision:
    """Edge ``edge`` (position in ``cell.edges()``) of cell type ``cell`` discretised to ``op``;
    ``accuracies[i]`` is the validation accuracy measured with ``candidates[i]`` masked."""

    cell: str
    edge: int
    op: str
    candidates: tuple[str, ...]
    accuracies: tuple[float, ...]


@dataclass(frozen=True)
class NodeDecision:
    """Node ``node`` of cell type ``cell`` keeps the edges at positions ``kept``; ``dropped``
    lists the removed ones in removal order, ``accuracies[i]`` the accuracy measured without
    ``dropped[i]`` when it was chosen."""

    cell: str
    node: int
    kept: tuple[int, ...]
    dropped: tuple[int, ...]
    accuracies: tuple[float, ...]


Decision = Union[OpDecision, NodeDecision]


@dataclass(frozen=True)
class Task:
    """One decision to make: ``kind`` "op" (``index``: edge position) or "node" (node id)."""

    kind: Literal["op", "node"]
    cell: str
    index: int


def task_of(d: Decision) -> Task:
    """The task a decision settles."""
    if isinstance(d, OpDecision):
        return Task("op", d.cell, d.edge)
    return Task("node", d.cell, d.node)


def decision_to_dict(d: Decision) -> dict:
    """Plain data (for checkpoints and metrics); `decision_from_dict` reverses it."""
    return {"kind": task_of(d).kind, **asdict(d)}


def decision_from_dict(data: dict) -> Decision:
    """A decision from `decision_to_dict` data (lists read back as tuples)."""
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "kind"}
    return OpDecision(**fields) if data["kind"] == "op" else NodeDecision(**fields)


# ---- the plan ----------------------------------------------------------------------------------
def _pick_k(cell: ir.Cell) -> int | None:
    """k of ``pick k`` (None for ``keep all``); a SpecError for topologies PT cannot select."""
    topo = cell.topology
    if topo.kind == "keep":
        return None
    if topo.hi != topo.lo:
        raise SpecError(f"perturbation selection of edges needs 'pick k' or 'keep all'; cell "
                        f"{cell.name!r} has '{topo.describe()}'",
                        hint="use 'select perturbation ops', then another rule for the edges")
    for j in cell.node_ids:
        if len(cell.in_edges(j)) < topo.lo:
            raise SpecError(f"cell {cell.name!r}: node {j} has {len(cell.in_edges(j))} incoming "
                            f"edges, fewer than '{topo.describe()}' keeps")
    return topo.lo


def check(space: ir.Space, target: str) -> None:
    """Reject a space that perturbation selection with ``target`` cannot select from."""
    if target not in TARGETS:
        raise SpecError(f"perturbation target must be one of {', '.join(TARGETS)}, not {target!r}")
    for cell in space.cells.values():
        for edge in cell.edges():
            n = len(space.selectable_ops(cell, edge))
            if n == 0:
                raise SpecError(f"cell {cell.name!r}: edge {edge.src}->{edge.dst} has no op "
                                "that can be selected")
            if target == "edges" and n > 1:
                raise SpecError(f"'select perturbation edges' needs one op per edge; edge "
                                f"{edge.src}->{edge.dst} of cell {cell.name!r} has {n}",
                                hint="use 'select perturbation' to select ops and edges")
        if target != "ops":
            _pick_k(cell)


def _rounds(per_cell: list[list[Task]]) -> list[list[Task]]:
    """Round r holds the r-th task of every cell type that has one."""
    return [[tasks[r] for tasks in per_cell if r < len(tasks)]
            for r in range(max((len(tasks) for tasks in per_cell), default=0))]


def plan(space: ir.Space, target: str, rng: random.Random) -> list[list[Task]]:
    """The rounds of decisions: op rounds, then node rounds.

    For every cell type (in space order) ``rng.sample`` draws the order of its edges with more
    than one candidate, then for every cell type the order of its nodes with more incoming
    edges than k; round r holds the r-th task of each cell type that has one.
    """
    check(space, target)
    cells = list(space.cells.values())
    ops, nodes = [], []
    for cell in cells:
        multi = [e for e, edge in enumerate(cell.edges())
                 if target != "edges" and len(space.selectable_ops(cell, edge)) > 1]
        ops.append([Task("op", cell.name, e) for e in rng.sample(multi, len(multi))])
    for cell in cells:
        k = _pick_k(cell) if target != "ops" else None
        choosing = [j for j in cell.node_ids if k is not None and len(cell.in_edges(j)) > k]
        nodes.append([Task("node", cell.name, j) for j in rng.sample(choosing, len(choosing))])
    return _rounds(ops) + _rounds(nodes)


# ---- decisions ---------------------------------------------------------------------------------
def _node_span(cell: ir.Cell, node: int) -> list[int]:
    """Positions in ``cell.edges()`` of ``node``'s incoming edges."""
    first = sum(len(cell.in_edges(j)) for j in cell.node_ids if j < node)
    return list(range(first, first + len(cell.in_edges(node))))


def decide_op(model: Supernet, space: ir.Space, cell: ir.Cell, e: int,
              evaluate: Callable[[], float]) -> OpDecision:
    """Algorithm 1's inner loop on edge ``e``: ACC\\o for every candidate, o* = argmin."""
    candidates = space.selectable_ops(cell, cell.edges()[e])
    accs = []
    for op in candidates:
        model.mask_op(cell.name, e, op)
        try:
            accs.append(float(evaluate()))
        finally:
            model.unmask_op(cell.name, e, op)
    best = min(range(len(candidates)), key=lambda i: (accs[i], i))
    return OpDecision(cell.name, e, candidates[best], tuple(candidates), tuple(accs))


EDGE_RULES = ("single", "sequential")


def decide_node(model: Supernet, cell: ir.Cell, node: int, k: int,
                evaluate: Callable[[], float], rule: str = "single") -> NodeDecision:
    """Keep ``k`` of ``node``'s incoming edges, removing the others by how little their
    removal hurts (largest ACC\\e; ties: the later-listed edge goes first).

    ``rule`` "single" (the released code, ruocwang/darts-pt ``project_edge``): each edge's
    removal is measured once, alone, against the full node, and the n - k least harmful go.
    "sequential": one edge at a time, re-measured after each removal with the earlier
    removals in place. The two agree on nodes with k + 1 inputs. The supernet is left as it
    was; `apply` drops the removed edges."""
    if rule not in EDGE_RULES:
        raise ValueError(f"edge rule must be one of {', '.join(EDGE_RULES)}, not {rule!r}")
    remaining, dropped, accs = _node_span(cell, node), [], []
    try:
        while len(remaining) > k:
            measured = []
            for e in remaining:
                model.drop_edge(cell.name, e)
                try:
                    measured.append(float(evaluate()))
                finally:
                    model.restore_edge(cell.name, e)
            order = sorted(range(len(remaining)), key=lambda i: (measured[i], i), reverse=True)
            for i in order[:len(remaining) - k if rule == "single" else 1]:
                dropped.append(remaining[i])
                accs.append(measured[i])
                if rule == "sequential":
                    model.drop_edge(cell.name, remaining[i])
            remaining = [e for e in remaining if e not in dropped]
    finally:
        for e in dropped:
            model.restore_edge(cell.name, e)
    return NodeDecision(cell.name, node, tuple(remaining), tuple(dropped), tuple(accs))


def apply(model: Supernet, d: Decision) -> None:
    """Put a decision into the supernet: discretise the edge, or drop the node's removed edges."""
    if isinstance(d, OpDecision):
        model.discretize_edge(d.cell, d.edge, d.op)
    else:
        for e in d.dropped:
            model.drop_edge(d.cell, e)


def _single_candidates(space: ir.Space) -> list[tuple[str, int, str]]:
    """(cell, edge position, op) of every edge with exactly one candidate."""
    found = []
    for cell in space.cells.values():
        for e, edge in enumerate(cell.edges()):
            ops = space.selectable_ops(cell, edge)
            if len(ops) == 1:
                found.append((cell.name, e, ops[0]))
    return found


def perturbation_select(model: Supernet, space: ir.Space, evaluate: Callable[[], float],
                        finetune: Callable[[int], None], rng: random.Random, *,
                        target: Target = "both", epochs: int = 5,
                        done: Sequence[Decision] = (),
                        on_decision: Callable[[list[Decision]], None] | None = None,
                        decide: Callable[..., OpDecision] | None = None,
                        edge_rule: str = "single") -> list[Decision]:
    """Run DARTS-PT on ``model`` (compiled from ``space``) and return every decision in order.

    ``target``: "ops" (Algorithm 1 only), "edges" (topology only; one op per edge), "both".
    ``evaluate()`` returns the supernet's validation accuracy as it stands; ``finetune(n)``
    trains it n epochs and is called with ``epochs`` after every round but the last (never when
    ``epochs`` is 0). ``done`` are decisions of an interrupted selection (same space, target and
    ``rng`` seed): they are applied without measuring, and their rounds still call
    ``finetune`` so that a resuming caller can skip the epochs it already ran.
    ``on_decision(decisions)`` is called after each new decision (to checkpoint).
    ``decide(model, space, cell, e, evaluate)`` makes the op decisions (default `decide_op`,
    the perturbation measure; PT-Mag's magnitude rule is `genospec.search.pt_mag`);
    ``edge_rule`` how `decide_node` ranks a node's edges ("single" or "sequential").
    """
    decide = decide_op if decide is None else decide
    rounds = plan(space, target, rng)
    for cell_name, e, op in _single_candidates(space):
        model.discretize_edge(cell_name, e, op)
    replay = {task_of(d): d for d in done}
    if len(replay) != len(done):
        raise ValueError("the decisions to resume from repeat a task")
    decisions: list[Decision] = []
    for r, tasks in enumerate(rounds):
        for task in tasks:
            d = replay.pop(task, None)
            fresh = d is None
            if d is None:
                cell = space.cells[task.cell]
                d = (decide(model, space, cell, task.index, evaluate) if task.kind == "op"
                     else decide_node(model, cell, task.index, cell.topology.lo, evaluate,
                                      edge_rule))
            apply(model, d)
            decisions.append(d)
            if fresh and on_decision is not None:
                on_decision(decisions)
        if r + 1 < len(rounds) and epochs > 0:
            finetune(epochs)
    if replay:
        raise ValueError(f"decisions to resume from are not in the plan: {list(replay)}")
    return decisions


# ---- the result --------------------------------------------------------------------------------
def selected_space(space: ir.Space, decisions: Sequence[Decision], target: str,
                   name: str) -> ir.Space:
    """The architecture the decisions select: a genotype, or (``ops`` on ``pick k`` cells) a
    reduced space with one op per edge and the cells' own topology. Kept edges are listed in
    their order in the space."""
    ops = {(c, e): op for c, e, op in _single_candidates(space)}
    kept: dict[tuple[str, int], tuple[int, ...]] = {}
    for d in decisions:
        if isinstance(d, OpDecision):
            ops[(d.cell, d.edge)] = d.op
        else:
            kept[(d.cell, d.node)] = d.kept
    cells = {}
    for cell in space.cells.values():
        edges = cell.edges()
        missing = [e for e in range(len(edges)) if (cell.name, e) not in ops]
        if missing:
            raise ValueError(f"cell {cell.name!r}: no op decided on edges {missing}")
        if target == "ops" and cell.topology.kind == "pick":
            reduced = [ir.Edge(x.src, x.dst, (ops[(cell.name, e)],), x.order)
                       for e, x in enumerate(edges)]
            cells[cell.name] = ir.Cell.build(cell.name, cell.inputs, cell.nodes, cell.stride,
                                             cell.topology, reduced, cell.output)
            continue
        k = _pick_k(cell)
        chosen = []
        for j in cell.node_ids:
            span = _node_span(cell, j)
            members = kept.get((cell.name, j), tuple(span))
            if k is not None and len(members) != k:
                raise ValueError(f"cell {cell.name!r}: node {j} has no edge decision")
            chosen.append([(edges[e], ops[(cell.name, e)]) for e in sorted(members)])
        cells[cell.name] = genotype_cell(cell, chosen)
    kind = "genotype" if all(c.is_fixed for c in cells.values()) else "space"
    return ir.Space(name, kind, dict(space.ops), cells, space.network, space.groups)
