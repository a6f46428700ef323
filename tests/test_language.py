"""The language's meaning: inheritance, counting, topology rules, genotype fit, recipe settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from genospec import ir
from genospec.errors import SpecError, SpecErrors, SpecSyntaxError
from genospec.lang.loader import load, loads

DATA = Path(__file__).parent / "data"

DARTS = """
space darts {
  ops {
    none = zero
    max_pool_3x3 = max_pool(3)
    avg_pool_3x3 = avg_pool(3)
    skip_connect = identity
    sep_conv_3x3 = sep_conv(3)
    sep_conv_5x5 = sep_conv(5)
    dil_conv_3x3 = dil_conv(3, dilation=2)
    dil_conv_5x5 = dil_conv(5, dilation=2)
  }
  cell normal { inputs 2 nodes 4 edges all topology pick 2 output concat }
  cell reduce extends normal { stride 2 }
}
"""


def space(text: str, name: str) -> ir.Space:
    obj = loads(DARTS + text, "t.gs").get(name)
    assert isinstance(obj, ir.Space)
    return obj


def test_design_example_parses_and_counts() -> None:
    m = load(DATA / "design.gs")
    darts = m.spaces["darts"]
    assert [ir.cell_architectures(darts, c) for c in darts.cells.values()] == [1_037_664_180] * 2
    assert ir.space_architectures(darts) == 1_076_746_950_455_072_400
    assert ir.cell_architectures(m.spaces["any"], m.spaces["any"].cells["normal"]) == 4_319_684_586_945


def test_darts_cell_structure() -> None:
    s = space("", "darts")
    normal, reduce = s.cells["normal"], s.cells["reduce"]
    assert [(e.src, e.dst) for e in normal.edges()][:5] == [(0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    assert len(normal.edges()) == 14 and normal.stride == 1 and reduce.stride == 2
    assert normal.output == ir.Output("concat", (2, 3, 4, 5))
    assert normal.edges()[0].ops[0] == "none" and len(normal.edges()[0].ops) == 8


def test_child_cell_modifies_inherited_cell_only() -> None:
    s = space("space p extends darts { cell normal { edges 0->2, 1->2, 0->3, 2->3, 1->4, 3->4, 0->5, 4->5 "
              "topology keep all } }", "p")
    assert len(s.cells["normal"].edges()) == 8 and s.cells["normal"].topology.kind == "keep"
    # the reduce cell was resolved in the parent and keeps its 14 edges
    assert len(s.cells["reduce"].edges()) == 14 and s.cells["reduce"].topology.describe() == "pick 2"
    # keep all: zero counts as a choice, so 8 ops on each of 8 edges
    assert ir.cell_architectures(s, s.cells["normal"]) == 8 ** 8


def test_per_edge_op_lists() -> None:
    s = space("space s { ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) } "
              "cell normal { nodes 4 edges all: skip_connect | sep_conv_3x3 topology pick 2 } }", "s")
    assert {e.ops for e in s.cells["normal"].edges()} == {("skip_connect", "sep_conv_3x3")}
    # 180 topologies x 2^8 op choices
    assert ir.cell_architectures(s, s.cells["normal"]) == 180 * 2 ** 8
    frag = space("space f extends darts { cell normal { edge 0->2: skip_connect | dil_conv_3x3 } }", "f")
    assert frag.cells["normal"].edges()[0].ops == ("skip_connect", "dil_conv_3x3")
    assert len(frag.cells["normal"].edges()[1].ops) == 8


def test_pick_range_and_any_counts() -> None:
    s = space("space r extends darts { cell normal { topology pick 1..3 } cell reduce { topology pick any } }", "r")
    # per node with n inputs and 7 selectable ops: sum_k C(n,k) 7^k over the allowed k
    from math import comb
    def node(n: int, ks: range) -> int:
        return sum(comb(n, k) * 7 ** k for k in ks)
    expect_range = node(2, range(1, 3)) * node(3, range(1, 4)) * node(4, range(1, 4)) * node(5, range(1, 4))
    assert ir.cell_architectures(s, s.cells["normal"]) == expect_range
    assert ir.cell_architectures(s, s.cells["reduce"]) == (8**2 - 1) * (8**3 - 1) * (8**4 - 1) * (8**5 - 1)


def test_nas_bench_201_count() -> None:
    s = loads("""space nb201 {
      ops { none = zero  skip_connect = identity  nor_conv_1x1 = nor_conv(1)  nor_conv_3x3 = nor_conv(3)
            avg_pool_3x3 = avg_pool(3) }
      cell normal { inputs 1 nodes 3 edges all topology keep all output 3 }
      network { layout nb201 cells 5 }
    }""", "nb.gs").get("nb201")
    assert ir.space_architectures(s) == 15_625
    assert s.cells["normal"].output == ir.Output("node", (3,))


def test_genotype_keeps_listed_order_and_duplicate_inputs() -> None:
    g = loads("""genotype nasnet_like {
      cell normal { 2 <- sep_conv_3x3(1), skip_connect(0)  3 <- avg_pool_3x3(0), avg_pool_3x3(0)
                    output concat 3 }
      cell reduce { stride 2  2 <- max_pool_3x3(1), max_pool_3x3(0) }
    }""", "g.gs").get()
    n = g.cells["normal"]
    assert [(e.op, e.src) for e in n.in_edges(2)] == [("sep_conv_3x3", 1), ("skip_connect", 0)]
    assert [(e.op, e.src) for e in n.in_edges(3)] == [("avg_pool_3x3", 0)] * 2
    assert n.output.nodes == (3,) and g.cells["reduce"].stride == 2 and n.is_fixed


def test_genotype_must_fit_its_space() -> None:
    text = """genotype bad of darts {
      cell normal { 2 <- sep_conv_3x3(0), sep_cnv_3x3(1)  3 <- skip_connect(0)
                    4 <- none(0), skip_connect(1)  5 <- skip_connect(0), skip_connect(1) }
      cell reduce { 2 <- max_pool_3x3(0), max_pool_3x3(1)  3 <- max_pool_3x3(0), max_pool_3x3(1)
                    4 <- max_pool_3x3(0), max_pool_3x3(1)  5 <- max_pool_3x3(0), max_pool_3x3(1) }
    }"""
    with pytest.raises(SpecErrors) as info:
        loads(DARTS + text, "t.gs")
    messages = [e.message for e in info.value.errors]
    assert "unknown op 'sep_cnv_3x3'" in messages
    assert any("did you mean 'sep_conv_3x3'" in (e.hint or "") for e in info.value.errors)
    assert "node 3 has 1 input(s) but space 'darts' says 'pick 2'" in messages
    assert "op 'none' is not allowed on edge 0->4" in messages


def test_semantic_errors_point_at_tokens() -> None:
    with pytest.raises(SpecError) as info:
        loads("space s { ops { a = zero } cell c { nodes 2 edges 0->2, 3->2: a } }", "s.gs")
    e = info.value
    assert (e.span.line, e.span.column) == (1, 57)
    assert "goes to an earlier node" in e.message
    assert str(e).startswith("s.gs:1:57: error: edge 3->2 goes to an earlier node")


def test_syntax_error_has_position_caret_and_expectation() -> None:
    with pytest.raises(SpecSyntaxError) as info:
        loads("space s {\n  cell c { topology pick }\n}\n", "s.gs")
    text = str(info.value)
    assert text.splitlines()[0] == "s.gs:2:26: error: unexpected '}'"
    assert text.splitlines()[2].endswith("^")
    assert "expected 'any', a number" in text


def test_group_checks() -> None:
    with pytest.raises(SpecErrors) as info:
        loads(DARTS + """space g extends darts { groups { a = none, skip_connect  b = skip_connect, sep_conv_3x3 } }""",
              "g.gs")
    messages = " / ".join(e.message for e in info.value.errors)
    assert "op 'skip_connect' is in two groups ('a' and 'b')" in messages
    assert "op(s) in no group: max_pool_3x3, avg_pool_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5" in messages


def test_extends_cycle_and_unknown_space() -> None:
    with pytest.raises(SpecErrors) as info:
        loads("space a extends b { }\nspace b extends a { }\nspace c extends dart { }", "c.gs")
    messages = [e.message for e in info.value.errors]
    assert any("cycle" in m for m in messages)
    assert "space 'dart' is not defined" in messages


def test_recipe_settings_are_typed() -> None:
    r = load(DATA / "design.gs").recipes["dots"]
    assert r.settings["data"] == {"dataset": "fashion_mnist"} and r.settings["batch"] == 64
    ops, topo = r.stages
    assert ops.settings["relax"][0]["target"] == "groups" and ops.settings["relax"][0]["t_end"] == 0.2
    assert ops.settings["select"]["rule"] == "best_per_group"
    assert ops.quick == {"epochs": 2, "warmup": 1}
    edges = topo.settings["relax"][0]
    assert (edges["target"], edges["method"], edges["decay"], edges["min"]) == ("edges", "combination", 0.72, 0.02)
    assert topo.settings["update"]["mode"] == "onelevel"


def test_recipe_setting_error_suggests() -> None:
    with pytest.raises(SpecError) as info:
        loads(DARTS + "search s of darts { stage a { weights sgd lr 0.1 momentun 0.9 } }", "r.gs")
    assert "unexpected 'momentun'" in info.value.message and info.value.hint == "did you mean 'momentum'?"


def test_imports_resolve_relative_to_file(tmp_path: Path) -> None:
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "darts.gs").write_text(DARTS)
    (tmp_path / "g.gs").write_text('import "spaces/darts.gs"\nspace mine extends darts { cell normal { topology pick any } }\n')
    m = load(tmp_path / "g.gs")
    assert list(m.spaces) == ["mine"] and m.get().cells["normal"].topology.describe() == "pick any"
    (tmp_path / "a.gs").write_text('import "b.gs"\n')
    (tmp_path / "b.gs").write_text('import "a.gs"\n')
    with pytest.raises(SpecError, match="import cycle"):
        load(tmp_path / "a.gs")
