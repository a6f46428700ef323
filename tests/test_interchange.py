"""DARTS Genotype strings and NAS-Bench-201 arch strings <-> IR."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from genospec.errors import ConversionError
from genospec.interchange import (DartsGenotype, darts_genotype, from_darts, load_genotype_file,
                                  parse_genotype, parse_genotype_file, parse_nb201, to_darts,
                                  to_nb201)
from genospec.ir import Cell, Edge, Output, Space, Topology
from genospec.oplib import STANDARD_OPS

PUBLISHED = Path(__file__).parent / "data" / "published_genotypes.txt"


def _oracle() -> dict[str, DartsGenotype]:
    """The published genotypes read independently of genospec: Python's own parser on each
    line, literals through ``ast.literal_eval`` (data only) and ``range(a, b)`` expanded."""
    found = {}
    for line in PUBLISHED.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assign = ast.parse(line).body[0]
        fields = {}
        for kw in assign.value.keywords:
            v = kw.value
            if isinstance(v, ast.Call) and v.func.id == "range":
                fields[kw.arg] = list(range(*(ast.literal_eval(a) for a in v.args)))
            else:
                fields[kw.arg] = list(ast.literal_eval(v))
        found[assign.targets[0].id] = DartsGenotype(**fields)
    return found


ORACLE = _oracle()
SPACES = load_genotype_file(PUBLISHED)


# -- DARTS ----------------------------------------------------------------------------------

def test_published_file_holds_66_genotypes_in_order() -> None:
    assert len(SPACES) == 66 == len(ORACLE)
    assert list(SPACES) == list(ORACLE)
    assert list(SPACES)[:4] == ["DARTS_V1", "DARTS_V2", "NASNet", "AmoebaNet"]
    assert list(SPACES)[-1] == "blank_pt_s5_3"


@pytest.mark.parametrize("name", list(ORACLE))
def test_published_genotype_round_trips(name: str) -> None:
    expected = ORACLE[name]
    space = SPACES[name]
    assert space.name == name and space.kind == "genotype" and space.of is None
    assert darts_genotype(space) == expected
    text = to_darts(space)
    again = parse_genotype(text)
    assert darts_genotype(again) == expected
    assert to_darts(again) == text
    assert darts_genotype(from_darts(expected, name)) == expected


def test_darts_v2_ir() -> None:
    space = SPACES["DARTS_V2"]
    normal, reduce = space.cells["normal"], space.cells["reduce"]
    assert (normal.inputs, normal.nodes, normal.stride) == (2, 4, 1)
    assert (reduce.inputs, reduce.nodes, reduce.stride) == (2, 4, 2)
    assert normal.topology == Topology("keep") and normal.is_fixed
    assert normal.output == Output("concat", (2, 3, 4, 5))
    assert normal.in_edges(4) == [Edge(1, 4, ("sep_conv_3x3",), 0), Edge(0, 4, ("skip_connect",), 1)]
    assert normal.in_edges(5) == [Edge(0, 5, ("skip_connect",), 0), Edge(2, 5, ("dil_conv_3x3",), 1)]
    assert set(space.ops) == {"sep_conv_3x3", "skip_connect", "dil_conv_3x3", "max_pool_3x3"}
    assert space.ops["dil_conv_3x3"] == STANDARD_OPS["dil_conv_3x3"]
    assert space.ops["dil_conv_3x3"].options == {"dilation": 2}
    assert to_darts(space) == (
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
        "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
        "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
        "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
        "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
        "reduce_concat=[2, 3, 4, 5])")


def test_nasnet_is_a_multigraph_with_a_concat_subset() -> None:
    space = SPACES["NASNet"]
    normal, reduce = space.cells["normal"], space.cells["reduce"]
    assert normal.nodes == 5 and normal.output.nodes == (2, 3, 4, 5, 6)
    assert [(e.src, e.op) for e in normal.in_edges(5)] == [(0, "avg_pool_3x3"), (0, "avg_pool_3x3")]
    assert reduce.output == Output("concat", (4, 5, 6))
    assert "sep_conv_7x7" in space.ops and "conv_7x1_1x7" in SPACES["AmoebaNet"].ops


def test_positional_fields_tuples_dotted_name_and_multiline_file() -> None:
    text = """
# a comment line
first = genotypes.Genotype(
    [('sep_conv_3x3', 0), ("skip_connect", 1),],   # trailing comma, double quotes
    (2,),
    reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)],
    reduce_concat=range(2, 3),
)
second = Genotype(normal=[('none', 0), ('noise', 1)], normal_concat=[2],
                  reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])
"""
    spaces = parse_genotype_file(text)
    assert list(spaces) == ["first", "second"]
    assert darts_genotype(spaces["first"]) == DartsGenotype(
        [("sep_conv_3x3", 0), ("skip_connect", 1)], [2], [("max_pool_3x3", 0), ("max_pool_3x3", 1)], [2])
    assert parse_genotype("X = " + to_darts(spaces["second"])).name == "X"


def _error(text: str) -> ConversionError:
    with pytest.raises(ConversionError) as info:
        parse_genotype_file(text, "g.txt")
    return info.value


GOOD_REDUCE = "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2]"


def test_unknown_op_is_named_with_position_and_hint() -> None:
    e = _error(f"A = Genotype(normal=[('sep_conv_3x3', 0),\n  ('sep_conv_3x4', 1)], "
               f"normal_concat=[2], {GOOD_REDUCE})")
    assert "unknown op 'sep_conv_3x4'" in e.message
    assert (e.span.line, e.span.column) == (2, 3)
    assert e.hint == "did you mean 'sep_conv_3x3'?"
    assert str(e).startswith("g.txt:2:3: error: normal: unknown op 'sep_conv_3x4'")


@pytest.mark.parametrize("text, message", [
    (f"A = Genotype(normal=[('skip_connect', 2), ('skip_connect', 1)], normal_concat=[2], {GOOD_REDUCE})",
     "node 2 takes input 2, which is not a cell input or an earlier node (0..1)"),
    (f"A = Genotype(normal=[('skip_connect', 0)], normal_concat=[2], {GOOD_REDUCE})",
     "2 (op, input) pairs per node, found 1 pairs"),
    (f"A = Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)], normal_concat=[2, 3], {GOOD_REDUCE})",
     "node 3 is not an intermediate node (2..2)"),
    (f"A = Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)], normal_concat=[2, 2], {GOOD_REDUCE})",
     "must list distinct nodes"),
    ("A = Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)], normal_concat=[2])",
     "Genotype is missing reduce, reduce_concat"),
    (f"A = Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)], normal_cat=[2], {GOOD_REDUCE})",
     "unknown Genotype field 'normal_cat'"),
    (f"A = Genotype(normal=[('skip_connect', 0, 1), ('skip_connect', 1)], normal_concat=[2], {GOOD_REDUCE})",
     "expected ('op', input)"),
    (f"A = Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)] normal_concat=[2], {GOOD_REDUCE})",
     "expected ',' or ')', found 'normal_concat'"),
    ("A = __import__('os').system('false')", "unexpected character '.'"),
    ("A = os_system('false')", "expected 'Genotype(...)', found 'os_system'"),
    (f"A = Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)], normal_concat=[2], {GOOD_REDUCE})\n"
     f"A = Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)], normal_concat=[2], {GOOD_REDUCE})",
     "genotype 'A' is defined twice"),
])
def test_malformed_genotypes_raise_conversion_errors(text: str, message: str) -> None:
    assert message in _error(text).message


def _space_with_node_inputs(counts: list[int]) -> Space:
    edges = [Edge(src, j + 2, ("skip_connect",), k)
             for j, n in enumerate(counts) for k, src in enumerate(range(n))]
    cell = Cell.build("normal", 2, len(counts), 1, Topology("keep"), edges,
                      Output("concat", tuple(range(2, 2 + len(counts)))))
    return Space("flexible", "genotype", {"skip_connect": STANDARD_OPS["skip_connect"]},
                 {"normal": cell})


def test_to_darts_needs_two_inputs_per_node() -> None:
    ok = _space_with_node_inputs([2, 2])
    assert to_darts(ok) == ("Genotype(normal=[('skip_connect', 0), ('skip_connect', 1), "
                            "('skip_connect', 0), ('skip_connect', 1)], normal_concat=[2, 3], "
                            "reduce=[('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), "
                            "('skip_connect', 1)], reduce_concat=[2, 3])")
    with pytest.raises(ConversionError, match="node 3 has 3 inputs; the DARTS format needs exactly 2"):
        to_darts(_space_with_node_inputs([2, 3]))


def test_to_darts_refuses_a_space_with_choices() -> None:
    space = _space_with_node_inputs([2, 2])
    cell = space.cells["normal"]
    space.cells["normal"] = Cell(cell.name, 2, 2, 1, Topology("pick", 2, 2), cell.graph)
    with pytest.raises(ConversionError, match="still has choices"):
        to_darts(space)


# -- NAS-Bench-201 --------------------------------------------------------------------------

NB201 = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_nb201_ir() -> None:
    space = parse_nb201(ARCH, "best")
    assert space.name == "best" and space.kind == "genotype"
    assert list(space.cells) == ["normal"]
    cell = space.cells["normal"]
    assert (cell.inputs, cell.nodes, cell.stride, cell.node_ids) == (1, 3, 1, [1, 2, 3])
    assert cell.topology == Topology("keep") and cell.output == Output("node", (3,))
    assert [(e.src, e.dst, e.op) for e in cell.edges()] == [
        (0, 1, "nor_conv_3x3"), (0, 2, "nor_conv_3x3"), (1, 2, "avg_pool_3x3"),
        (0, 3, "skip_connect"), (1, 3, "nor_conv_3x3"), (2, 3, "skip_connect")]
    assert space.network.layout == "nb201"
    assert space.ops["nor_conv_3x3"] == STANDARD_OPS["nor_conv_3x3"]


def test_nb201_architectures_round_trip() -> None:
    """Every 8th of the 5^6 = 15,625 architectures (all of them take ~10 s)."""
    seen = set()
    for ops in itertools.islice(itertools.product(NB201, repeat=6), 0, None, 8):
        arch = "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)
        space = parse_nb201(arch)
        assert to_nb201(space) == arch
        seen.add(tuple(e.op for e in space.cells["normal"].edges()))
    assert len(seen) == 1954


def test_nb201_keeps_listed_order() -> None:
    arch = "|none~0|+|skip_connect~1|noise~0|"
    space = parse_nb201(f"  {arch}\n")
    assert [e.src for e in space.cells["normal"].in_edges(2)] == [1, 0]
    assert to_nb201(space) == arch


@pytest.mark.parametrize("arch, message", [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|", "node 2 must take one edge from each of nodes 0..1"),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~0|", "node 2 must take one edge"),
    ("|nor_conv_3x5~0|", "unknown op 'nor_conv_3x5'"),
    ("|skip_connect~1|", "node 1 takes input 1, which is not an earlier node"),
    ("|skip_connect0|", "expected op~source"),
    ("skip_connect~0", "not a NAS-Bench-201 arch string"),
    ("|skip_connect~0|+", "not a NAS-Bench-201 arch string"),
])
def test_malformed_nb201_strings(arch: str, message: str) -> None:
    with pytest.raises(ConversionError, match=message.replace("|", r"\|")):
        parse_nb201(arch)


def test_nb201_unknown_op_hint() -> None:
    with pytest.raises(ConversionError) as info:
        parse_nb201("|nor_conv_3x5~0|")
    assert info.value.hint == "did you mean 'nor_conv_3x3'?"
    assert (info.value.span.column, info.value.span.end_column) == (2, 16)


def test_to_nb201_refuses_darts_genotypes() -> None:
    with pytest.raises(ConversionError, match="one cell; found normal, reduce"):
        to_nb201(SPACES["DARTS_V2"])
    with pytest.raises(ConversionError, match="has 2 inputs"):
        to_nb201(_space_with_node_inputs([2, 2]))


def test_spec_genotypes_are_the_published_ones() -> None:
    """The .gs genotypes under specs/ (read by the language front end) give the same DARTS lists."""
    from genospec.lang.loader import load
    specs = Path(__file__).parent.parent / "specs" / "genotypes"
    found = {}
    for path in sorted(specs.glob("*.gs")):
        found.update(load(path).genotypes)
    assert set(ORACLE) <= set(found)
    for name, expected in ORACLE.items():
        assert darts_genotype(found[name]) == expected
        assert to_darts(found[name]) == to_darts(SPACES[name])
