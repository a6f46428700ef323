"""IR -> .gs text: exact text, fmt-stable, and loading back to the same IR."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from genospec import ir
from genospec.errors import ConversionError
from genospec.interchange import parse_genotype_file, parse_nb201
from genospec.irjson import space_to_json
from genospec.lang.emit import emit_file, emit_space
from genospec.lang.fmt import format_text
from genospec.lang.loader import load, loads

ROOT = Path(__file__).resolve().parent.parent

DARTS = """\
space darts {
  ops {
    none = zero  max_pool_3x3 = max_pool(3)  avg_pool_3x3 = avg_pool(3)  skip_connect = identity
    sep_conv_3x3 = sep_conv(3)  sep_conv_5x5 = sep_conv(5)
    dil_conv_3x3 = dil_conv(3, dilation=2)  dil_conv_5x5 = dil_conv(5, dilation=2)
  }
  cell normal { inputs 2 nodes 4 edges all topology pick 2 output concat }
  cell reduce extends normal { stride 2 }
  network { stem conv(3, channels=3C) cells 8 reduce at 1/3, 2/3 channels 16 }
}
"""

DARTS_V2 = """\
genotype DARTS_V2 of darts {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(1), skip_connect(0)
    5 <- skip_connect(0), dil_conv_3x3(2)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- max_pool_3x3(0), max_pool_3x3(1)
    3 <- skip_connect(2), max_pool_3x3(1)
    4 <- max_pool_3x3(0), skip_connect(2)
    5 <- skip_connect(2), max_pool_3x3(1)
    output concat 2, 3, 4, 5
  }
}
"""


def _norm(space: ir.Space, used_ops_only: bool = False) -> dict:
    """IR as data, edges in listed order (their `order` numbers may be renumbered)."""
    doc = space_to_json(space)
    for c, cell in zip(doc["cells"], space.cells.values()):
        c["edges"] = [(e.src, e.dst, e.ops) for e in cell.edges()]
    if used_ops_only:
        used = {o for cell in space.cells.values() for o in cell.op_names()}
        doc["ops"] = sorted((o for o in doc["ops"] if o["name"] in used), key=lambda o: o["name"])
    return doc


def _round_trip(space: ir.Space, text: str, prelude: str = "", used_ops_only: bool = False) -> None:
    assert format_text(text) == text
    back = loads(prelude + "\n" + text if prelude else text).get(space.name)
    assert _norm(back, used_ops_only) == _norm(space, used_ops_only)


@pytest.fixture(scope="module")
def darts() -> ir.Space:
    return loads(DARTS).spaces["darts"]


def test_darts_v2_genotype(darts: ir.Space, tmp_path: Path) -> None:
    g = loads(DARTS + DARTS_V2).genotypes["DARTS_V2"]
    text = emit_space(g)
    assert text == DARTS_V2
    _round_trip(g, text, DARTS)
    assert emit_space(g, of=darts) == DARTS_V2  # same network and ops: nothing more to say
    (tmp_path / "darts.gs").write_text(DARTS)
    with_import = emit_space(g, imports=["darts.gs"])
    assert with_import == 'import "darts.gs"\n\n' + DARTS_V2
    assert format_text(with_import) == with_import
    back = loads(with_import, str(tmp_path / "v2.gs")).genotypes["DARTS_V2"]
    assert _norm(back) == _norm(g)


def test_nasnet_like_standalone_genotype() -> None:
    text = """\
genotype NASNet {
  cell normal {
    2 <- sep_conv_5x5(1), sep_conv_3x3(0)
    3 <- sep_conv_5x5(0), sep_conv_3x3(0)
    4 <- avg_pool_3x3(1), skip_connect(0)
    5 <- avg_pool_3x3(0), avg_pool_3x3(0)
    6 <- sep_conv_3x3(1), skip_connect(1)
    output concat 2, 3, 4, 5, 6
  }
  cell reduce {
    stride 2
    2 <- sep_conv_5x5(1), sep_conv_7x7(0)
    3 <- max_pool_3x3(1), sep_conv_7x7(0)
    4 <- avg_pool_3x3(1), sep_conv_5x5(0)
    5 <- skip_connect(3), avg_pool_3x3(2)
    6 <- sep_conv_3x3(2), max_pool_3x3(1)
    output concat 4, 5, 6
  }
}
"""
    g = loads(text).genotypes["NASNet"]
    assert [(e.src, e.op) for e in g.cells["normal"].in_edges(5)] == [(0, "avg_pool_3x3"), (0, "avg_pool_3x3")]
    assert emit_space(g) == text
    _round_trip(g, text)


def test_standalone_genotype_writes_its_own_ops_and_network() -> None:
    text = ("genotype g { ops { skip_connect = identity  wide = sep_conv(9) } "
            "cell normal { inputs 1 1 <- wide(0) 2 <- skip_connect(1), wide(0) output sum 1, 2 } "
            "network { cells 3 channels 8 auxiliary drop_path 0.2 } }")
    g = loads(text).genotypes["g"]
    out = emit_space(g)
    assert out == """\
genotype g {
  ops {
    wide = sep_conv(9)
  }
  cell normal {
    inputs 1
    1 <- wide(0)
    2 <- skip_connect(1), wide(0)
    output sum 1, 2
  }
  network {
    cells 3
    channels 8
    auxiliary
    drop_path 0.2
  }
}
"""
    _round_trip(g, out)


def test_published_darts_genotypes_round_trip() -> None:
    found = parse_genotype_file((ROOT / "tests" / "data" / "published_genotypes.txt").read_text())
    assert len(found) == 66  # the fixture file's count
    text = emit_file(list(found.values()))
    assert format_text(text) == text
    back = loads(text)
    assert back.order == list(found)
    for name, g in found.items():  # convert keeps only the ops a genotype uses; .gs brings the rest
        assert _norm(back.genotypes[name], used_ops_only=True) == _norm(g, used_ops_only=True)


S1_TEXT = """\
space s1 extends darts {
  cell normal {
    edge 0->2: skip_connect | dil_conv_3x3
    edge 1->2: skip_connect | dil_conv_5x5
    edge 0->3: skip_connect | dil_conv_5x5
    edge 0->4: max_pool_3x3 | skip_connect
  }
  cell reduce {
    edge 0->2: max_pool_3x3 | avg_pool_3x3
  }
}
"""


def test_reduced_space_against_a_known_parent(darts: ir.Space) -> None:
    s1 = loads(DARTS + S1_TEXT).spaces["s1"]
    assert emit_space(s1, of=darts) == S1_TEXT
    _round_trip(s1, S1_TEXT, DARTS)


def test_reduced_space_against_a_parent_known_by_name(darts: ir.Space) -> None:
    s1 = loads(DARTS + S1_TEXT).spaces["s1"]
    text = emit_space(s1, of="darts")
    assert text == ("""\
space s1 extends darts {
  cell normal {
    inputs 2
    nodes 4
    stride 1
    edges all
    edge 0->2: skip_connect | dil_conv_3x3
    edge 1->2: skip_connect | dil_conv_5x5
    edge 0->3: skip_connect | dil_conv_5x5
    edge 0->4: max_pool_3x3 | skip_connect
    topology pick 2
    output concat
  }
  cell reduce extends normal {
    stride 2
    edges all
    edge 0->2: max_pool_3x3 | avg_pool_3x3
  }
}
""")
    _round_trip(s1, text, DARTS)


def test_space_the_search_engine_reduces(darts: ir.Space) -> None:
    """Keep two ops per edge (as `select best per group` does), built directly as IR."""
    cells = {}
    for shift, (name, cell) in enumerate(darts.cells.items()):
        edges = [ir.Edge(e.src, e.dst, (e.ops[1 + (k + shift) % 3], e.ops[4 + k % 4]), order=e.order)
                 for k, e in enumerate(cell.edges())]
        cells[name] = ir.Cell.build(name, cell.inputs, cell.nodes, cell.stride, cell.topology, edges, cell.output)
    reduced = ir.Space("stage_ops", "space", dict(darts.ops), cells, darts.network)
    text = emit_space(reduced, of=darts)
    assert text.count("\n    edge ") == 28 and "inputs" not in text and "ops {" not in text
    _round_trip(reduced, text, DARTS)
    uniform = {n: ir.Cell.build(n, c.inputs, c.nodes, c.stride, c.topology,
                                [dataclasses.replace(e, ops=("skip_connect", "sep_conv_3x3")) for e in c.edges()],
                                c.output) for n, c in darts.cells.items()}
    s2 = dataclasses.replace(reduced, name="s2", cells=uniform)
    assert emit_space(s2, of=darts) == ("space s2 extends darts {\n"
                                        "  cell normal {\n    edges all: skip_connect | sep_conv_3x3\n  }\n"
                                        "  cell reduce {\n    edges all: skip_connect | sep_conv_3x3\n  }\n}\n")


def test_full_space_uses_cell_extends(darts: ir.Space) -> None:
    text = emit_space(darts)
    assert text == """\
space darts {
  ops {
    none         = zero
    max_pool_3x3 = max_pool(3)
    avg_pool_3x3 = avg_pool(3)
    skip_connect = identity
    sep_conv_3x3 = sep_conv(3)
    sep_conv_5x5 = sep_conv(5)
    dil_conv_3x3 = dil_conv(3, dilation=2)
    dil_conv_5x5 = dil_conv(5, dilation=2)
  }
  cell normal {
    inputs 2
    nodes 4
    edges all
    topology pick 2
    output concat
  }
  cell reduce extends normal {
    stride 2
  }
}
"""
    _round_trip(darts, text)


def test_nas_bench_201_space_and_genotype() -> None:
    space_text = """\
space nb201 {
  ops {
    none         = zero
    skip_connect = identity
    nor_conv_1x1 = nor_conv(1)
    nor_conv_3x3 = nor_conv(3)
    avg_pool_3x3 = avg_pool(3)
  }
  cell normal {
    inputs 1
    nodes 3
    edges all
    topology keep all
    output 3
  }
  network {
    layout nb201
    cells 5
  }
}
"""
    space = loads(space_text).spaces["nb201"]
    assert ir.space_architectures(space) == 5 ** 6
    assert emit_space(space) == space_text
    _round_trip(space, space_text)
    g = parse_nb201("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|skip_connect~2|",
                    "arch")
    text = emit_space(g)
    assert text == """\
genotype arch {
  cell normal {
    inputs 1
    1 <- nor_conv_3x3(0)
    2 <- skip_connect(0), nor_conv_1x1(1)
    3 <- avg_pool_3x3(0), none(1), skip_connect(2)
    output 3
  }
  network {
    layout nb201
    stem conv(3, channels=C)
    cells 15
  }
}
"""
    _round_trip(g, text, used_ops_only=True)
    of_space = dataclasses.replace(g, network=space.network, of="nb201")
    assert emit_space(of_space, of="nb201").splitlines()[:3] == [
        "genotype arch of nb201 {", "  cell normal {", "    1 <- nor_conv_3x3(0)"]
    _round_trip(of_space, emit_space(of_space, of="nb201"), space_text, used_ops_only=True)


def test_topology_ranges_outputs_and_network_settings() -> None:
    text = ("space t { ops { a = identity b = avg_pool(3) } "
            "cell normal { inputs 2 nodes 3 edges all: a | b edge 0->2: b topology pick 1..2 output sum 3, 4 } "
            "cell reduce { inputs 2 nodes 2 stride 2 edges 0->2, 1->3, 2->3 topology pick any output concat 3 } "
            "network { layout imagenet input 224 classes 1000 reduce at 1/2 auxiliary weight 0.5 drop_path 0.1 } }")
    space = loads(text).spaces["t"]
    out = emit_space(space)
    assert "    topology pick 1..2\n    output sum 3, 4\n" in out
    assert "    edges 0->2, 1->3, 2->3\n    topology pick any\n    output concat 3\n" in out
    assert ("  network {\n    layout imagenet\n    classes 1000\n    input 224\n    reduce at 1/2\n"
            "    auxiliary weight 0.5\n    drop_path 0.1\n  }\n") in out
    _round_trip(space, out)
    quiet = dataclasses.replace(space, network=dataclasses.replace(space.network, auxiliary=False))
    assert "    auxiliary weight 0.5\n    auxiliary off\n" in emit_space(quiet)
    _round_trip(quiet, emit_space(quiet))


def test_every_spec_declaration_round_trips() -> None:
    modules = [load(p) for p in sorted(ROOT.glob("specs/**/*.gs"))]
    spaces = {n: s for m in modules for n, s in m.spaces.items()}
    count = 0
    for m in modules:
        for name, space in {**m.spaces, **m.genotypes}.items():
            if space.of is None:
                _round_trip(space, emit_space(space))
            else:
                parent = spaces[space.of]
                _round_trip(space, emit_space(space, of=parent), emit_space(parent))
            count += 1
    assert count >= 10


def test_what_the_language_cannot_say(darts: ir.Space) -> None:
    g = loads(DARTS + DARTS_V2).genotypes["DARTS_V2"]
    normal = g.cells["normal"]
    two_ops = [dataclasses.replace(e, ops=("skip_connect", "sep_conv_3x3")) if e.dst == 2 else e
               for e in normal.edges()]
    bad_cell = ir.Cell.build("normal", 2, 4, 1, normal.topology, two_ops, normal.output)
    with pytest.raises(ConversionError, match="has 2 ops"):
        emit_space(dataclasses.replace(g, cells={"normal": bad_cell}))
    with pytest.raises(ConversionError, match="not a .gs name"):
        emit_space(dataclasses.replace(g, name="my-genotype"))
    odd = ir.Cell.build("normal", 2, 4, 1, ir.Topology("pick", 2, None), list(darts.cells["normal"].edges()),
                        darts.cells["normal"].output)
    with pytest.raises(ConversionError, match="pick 2..any"):
        emit_space(dataclasses.replace(darts, cells={"normal": odd}))
    with pytest.raises(ConversionError, match="input channel"):
        emit_space(dataclasses.replace(darts, network=dataclasses.replace(darts.network, input_channels=1)))
    only_normal = dataclasses.replace(darts, name="child", cells={"normal": darts.cells["normal"]})
    with pytest.raises(ConversionError, match="cannot remove a cell"):
        emit_space(only_normal, of=darts)
