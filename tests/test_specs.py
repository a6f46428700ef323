"""The shipped specs: every file loads, spaces have their exact sizes, published genotypes are exact.

Genotypes are compared with tests/data/published_genotypes.txt (the authors' `Genotype(...)` lines),
read here by a small data parser of its own so the check does not depend on genospec's converters.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from genospec import ir
from genospec.lang.loader import load

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
FIXTURE = ROOT / "tests" / "data" / "published_genotypes.txt"
SPEC_FILES = sorted(SPECS.rglob("*.gs"))

# A DARTS cell: intermediate nodes 2..5 have 2, 3, 4, 5 candidate inputs; each keeps 2.
DARTS_TOPOLOGIES = math.comb(2, 2) * math.comb(3, 2) * math.comb(4, 2) * math.comb(5, 2)  # 1*3*6*10


def _space(file: str, name: str) -> ir.Space:
    found = load(SPECS / "spaces" / file).spaces[name]
    assert found.kind == "space"
    return found


def _per_cell(space: ir.Space) -> dict[str, int]:
    return {name: ir.cell_architectures(space, cell) for name, cell in space.cells.items()}


@pytest.mark.parametrize("path", SPEC_FILES, ids=[str(p.relative_to(SPECS)) for p in SPEC_FILES])
def test_spec_file_loads(path: Path) -> None:
    module = load(path)
    assert module.order, f"{path} declares nothing"
    assert path.read_text(encoding="utf-8").startswith("#"), "each spec file starts by naming its source"


def test_darts_space_size() -> None:
    assert DARTS_TOPOLOGIES == 180
    per_cell = DARTS_TOPOLOGIES * 7**8  # zero only helps the search: 7 selectable ops on 8 kept edges
    assert per_cell == 1_037_664_180
    for file, name in [("darts.gs", "darts"), ("darts_pt.gs", "darts_pt"),
                       ("darts_groups.gs", "darts_group_v1"), ("darts_groups.gs", "darts_group_v2")]:
        space = _space(file, name)
        assert _per_cell(space) == {"normal": per_cell, "reduce": per_cell}, name
        assert ir.space_architectures(space) == per_cell**2 == 1_076_746_950_455_072_400


def test_darts_space_layout() -> None:
    darts = _space("darts.gs", "darts")
    normal, reduce = darts.cells["normal"], darts.cells["reduce"]
    assert (normal.inputs, normal.nodes, normal.stride, reduce.stride) == (2, 4, 1, 2)
    assert len(normal.edges()) == len(reduce.edges()) == 14
    assert list(darts.ops) == ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                               "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]
    assert darts.network.cells == 8 and darts.network.channels == 16
    assert darts.network.reduction_positions() == [2, 5]
    assert "none" not in _space("darts_pt.gs", "darts_pt").ops


def test_dots_groups() -> None:
    v1, v2 = _space("darts_groups.gs", "darts_group_v1"), _space("darts_groups.gs", "darts_group_v2")
    assert v1.groups == {"skip": ("skip_connect",), "pool": ("max_pool_3x3", "avg_pool_3x3"),
                         "sep": ("sep_conv_3x3", "sep_conv_5x5"), "dil": ("dil_conv_3x3", "dil_conv_5x5")}
    # Group-V1 has no group for zero, so zero is on no edge; Group-V2 keeps all 8 ops.
    assert all("none" not in e.ops and len(e.ops) == 7 for c in v1.cells.values() for e in c.edges())
    assert v2.groups == {"free": ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect"),
                         "param": ("sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")}
    assert all(len(e.ops) == 8 for c in v2.cells.values() for e in c.edges())


def test_pick_any_size() -> None:
    # DOTS eq. 13: a node with n candidate edges keeps any of the 2^n - 1 non-empty subsets; with
    # 7 selectable ops per kept edge, sum_k C(n,k) 7^k = 8^n - 1 per node.
    per_cell = (8**2 - 1) * (8**3 - 1) * (8**4 - 1) * (8**5 - 1)  # 63 * 511 * 4095 * 32767
    assert per_cell == 4_319_684_586_945
    space = _space("darts_pick_any.gs", "darts_pick_any")
    assert _per_cell(space) == {"normal": per_cell, "reduce": per_cell}
    assert ir.space_architectures(space) == per_cell**2


def test_robust_darts_sizes() -> None:
    # S1-S4: two selectable ops on every edge (S3's third op is zero, which only helps the search).
    per_cell = DARTS_TOPOLOGIES * 2**8
    assert per_cell == 46_080
    for s in (1, 2, 3, 4):
        space = _space("robust_darts.gs", f"robust_darts_s{s}")
        assert _per_cell(space) == {"normal": per_cell, "reduce": per_cell}
        assert ir.space_architectures(space) == 2_123_366_400


def test_robust_darts_s1_edge_lists() -> None:
    s1 = _space("robust_darts.gs", "robust_darts_s1")
    normal = {(e.src, e.dst): e.ops for e in s1.cells["normal"].edges()}
    reduce = {(e.src, e.dst): e.ops for e in s1.cells["reduce"].edges()}
    assert normal[(0, 2)] == ("skip_connect", "dil_conv_3x3") and reduce[(0, 2)] == ("max_pool_3x3", "avg_pool_3x3")
    assert normal[(0, 4)] == ("max_pool_3x3", "skip_connect") and reduce[(1, 4)] == ("max_pool_3x3", "sep_conv_3x3")
    assert normal[(4, 5)] == ("dil_conv_3x3", "dil_conv_5x5") and reduce[(4, 5)] == ("skip_connect", "dil_conv_5x5")
    assert {e.ops for e in _space("robust_darts.gs", "robust_darts_s4").cells["reduce"].edges()} == {
        ("noise", "sep_conv_3x3")}


def test_nas_bench_201_sizes() -> None:
    nb201 = _space("nas_bench_201.gs", "nas_bench_201")
    cell = nb201.cells["normal"]
    assert (cell.inputs, cell.nodes, len(cell.edges()), cell.output) == (1, 3, 6, ir.Output("node", (3,)))
    assert (nb201.network.layout, nb201.network.cells, nb201.network.channels) == ("nb201", 15, 16)
    assert nb201.network.reduction_positions() == [5, 10]  # 5 cells per stage
    assert ir.space_architectures(nb201) == 5**6 == 15_625  # keep all: zero is a choice
    for name in ("nas_bench_201_s2", "nas_bench_201_s4", "nas_bench_201_none_conv"):
        assert ir.space_architectures(_space("nas_bench_201.gs", name)) == 2**6 == 64


def test_edarts_fixed_path() -> None:
    edarts = _space("edarts.gs", "edarts")
    for cell in edarts.cells.values():
        assert cell.topology.kind == "keep"
        assert [(e.src, e.dst) for e in cell.edges()] == [(0, 2), (1, 2), (0, 3), (2, 3), (1, 4), (3, 4),
                                                         (0, 5), (4, 5)]
    assert edarts.network.cells == 5


# ---- published genotypes ------------------------------------------------------------------------
_LINE = re.compile(r"^(\w+) = Genotype\((.*)\)\s*(?:#.*)?$")
_PAIR = re.compile(r"\('(\w+)',\s*(\d+)\)")
_CONCAT = r"{}_concat=(?:range\((\d+), (\d+)\)|\[([\d, ]+)\])"

Cell = tuple[list[tuple[str, int]], list[int]]


def _published() -> dict[str, dict[str, Cell]]:
    """NAME -> {"normal": ([(op, input), ...], concat), "reduce": ...} from the fixture."""
    out = {}
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        body, cells = m.group(2), {}
        for kind in ("normal", "reduce"):
            pairs = re.search(rf"\b{kind}=\[(.*?)\]", body).group(1)
            c = re.search(_CONCAT.format(kind), body)
            concat = list(range(int(c[1]), int(c[2]))) if c[1] else [int(x) for x in c[3].split(",")]
            cells[kind] = ([(op, int(i)) for op, i in _PAIR.findall(pairs)], concat)
        out[m.group(1)] = cells
    return out


def _shipped() -> dict[str, ir.Space]:
    found: dict[str, ir.Space] = {}
    for path in sorted((SPECS / "genotypes").glob("*.gs")):
        for name, g in load(path).genotypes.items():
            assert name not in found, f"{name} is declared twice"
            found[name] = g
    return found


PUBLISHED = _published()
SHIPPED = _shipped()


def test_fixture_parser_reads_every_line() -> None:
    lines = [s for s in FIXTURE.read_text(encoding="utf-8").splitlines() if s and not s.startswith("#")]
    assert len(PUBLISHED) == len(lines) == 66
    assert PUBLISHED["DARTS_V2"]["reduce"] == ([("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2),
                                                ("max_pool_3x3", 1), ("max_pool_3x3", 0), ("skip_connect", 2),
                                                ("skip_connect", 2), ("max_pool_3x3", 1)], [2, 3, 4, 5])


def test_every_published_genotype_is_shipped() -> None:
    assert sorted(SHIPPED) == sorted(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_genotype_equals_published(name: str) -> None:
    g = SHIPPED[name]
    assert g.is_genotype
    for kind, (pairs, concat) in PUBLISHED[name].items():
        cell = g.cells[kind]
        assert [(e.op, e.src) for j in cell.node_ids for e in cell.in_edges(j)] == pairs, kind
        assert len(pairs) == 2 * cell.nodes  # DARTS lists two inputs per node, in node order
        assert cell.output == ir.Output("concat", tuple(concat)), kind
        assert cell.stride == (2 if kind == "reduce" else 1)


def test_genotypes_are_of_their_spaces() -> None:
    of = {name: g.of for name, g in SHIPPED.items()}
    assert of["NASNet"] is None and of["AmoebaNet"] is None
    assert {of[n] for n in ("DARTS_V1", "DARTS_V2", "PC_DARTS_cifar", "PC_DARTS_image", "PDARTS")} == {"darts"}
    assert {of[n] for n in ("DOTS_final_C10", "DOTS_final_C100", "DOTS_ImageNet")} == {"darts_group_v2"}
    for name, space in of.items():
        m = re.fullmatch(r"(?:darts|blank)_pt_s(\d)(?:_c100|_svhn)?_\d", name)
        if m:
            assert space == ("darts_pt" if m[1] == "5" else f"robust_darts_s{m[1]}"), name
