"""IR <-> JSON, validated against the JSON Schema shipped with the package."""

from __future__ import annotations

import copy
import json
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest

from genospec.errors import ConversionError
from genospec.interchange import load_genotype_file, parse_nb201
from genospec.ir import Cell, Edge, Network, Output, Space, Topology
from genospec.irjson import ir_schema, space_from_json, space_to_json
from genospec.oplib import STANDARD_OPS

PUBLISHED = Path(__file__).parent / "data" / "published_genotypes.txt"
DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
             "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")


def darts_groups_space() -> Space:
    """The DARTS space with DOTS Group-V2 groups, an ImageNet network and a 1-input sum cell."""
    def full(name: str, stride: int) -> Cell:
        edges = [Edge(i, j, DARTS_OPS, i) for j in range(2, 6) for i in range(j)]
        return Cell.build(name, 2, 4, stride, Topology("pick", 2, 2), edges,
                          Output("concat", (2, 3, 4, 5)))
    extra = Cell.build("extra", 1, 2, 1, Topology("pick", 1, None),
                       [Edge(0, 1, ("skip_connect",)), Edge(0, 2, ("sep_conv_3x3", "none"), 0),
                        Edge(1, 2, ("skip_connect",), 1)], Output("sum", (1, 2)))
    return Space("darts_groups", "space", {n: STANDARD_OPS[n] for n in DARTS_OPS},
                 {"normal": full("normal", 1), "reduce": full("reduce", 2), "extra": extra},
                 Network(layout="imagenet", cells=14, channels=48, classes=1000, input_size=224,
                         reductions=(Fraction(1, 3), Fraction(2, 3)), auxiliary=True,
                         drop_path=0.2),
                 groups={"free": DARTS_OPS[:4], "param": DARTS_OPS[4:]}, doc="DOTS Group-V2")


def _same(a: Space, b: Space) -> None:
    """Field-by-field equality of two spaces (cells compared through their queries)."""
    assert (a.name, a.kind, a.of, a.doc, a.groups, a.network) == \
        (b.name, b.kind, b.of, b.doc, b.groups, b.network)
    assert a.ops == b.ops and list(a.ops) == list(b.ops)
    assert list(a.cells) == list(b.cells)
    for ca, cb in zip(a.cells.values(), b.cells.values()):
        assert (ca.name, ca.inputs, ca.nodes, ca.stride, ca.topology, ca.output) == \
            (cb.name, cb.inputs, cb.nodes, cb.stride, cb.topology, cb.output)
        assert ca.edges() == cb.edges()


def test_schema_ships_in_the_package_and_is_valid() -> None:
    schema = ir_schema()
    assert schema["$id"] == "urn:genospec:ir:1"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_space_round_trip() -> None:
    space = darts_groups_space()
    doc = space_to_json(space)
    text = json.dumps(doc)
    back = space_from_json(json.loads(text))
    _same(space, back)
    assert space_to_json(back) == doc
    assert doc["network"]["reductions"] == ["1/3", "2/3"]
    assert doc["groups"] == {"free": list(DARTS_OPS[:4]), "param": list(DARTS_OPS[4:])}
    assert doc["cells"][0]["topology"] == {"kind": "pick", "lo": 2, "hi": 2}
    assert len(doc["cells"][0]["edges"]) == 14
    assert doc["cells"][2]["topology"] == {"kind": "pick", "lo": 1, "hi": None}
    assert doc["ops"][6] == {"name": "dil_conv_3x3", "kind": "dil_conv", "args": [3],
                             "kwargs": {"dilation": 2}}
    assert back.network.reduction_positions() == [4, 9]


def test_genotypes_round_trip() -> None:
    spaces = list(load_genotype_file(PUBLISHED).values())
    spaces.append(parse_nb201("|none~0|+|skip_connect~1|nor_conv_1x1~0|+"
                              "|avg_pool_3x3~2|nor_conv_3x3~0|none~1|"))
    for space in spaces:
        doc = json.loads(json.dumps(space_to_json(space)))
        back = space_from_json(doc)
        _same(space, back)
        assert space_to_json(back) == doc
    nasnet = space_to_json(spaces[2])["cells"][0]
    assert [e for e in nasnet["edges"] if e["dst"] == 5] == [
        {"src": 0, "dst": 5, "ops": ["avg_pool_3x3"], "order": 0},
        {"src": 0, "dst": 5, "ops": ["avg_pool_3x3"], "order": 1}]


def _broken(edit) -> ConversionError:
    doc = copy.deepcopy(space_to_json(darts_groups_space()))
    edit(doc)
    with pytest.raises(ConversionError) as info:
        space_from_json(doc)
    return info.value


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("cells"), "invalid IR JSON at /: 'cells' is a required property"),
    (lambda d: d["cells"][0]["topology"].update(kind="choose"),
     "invalid IR JSON at /cells/0/topology/kind: 'choose' is not one of ['pick', 'keep']"),
    (lambda d: d["network"].update(reductions=["0.33"]),
     "invalid IR JSON at /network/reductions/0: '0.33' does not match"),
    (lambda d: d["cells"][1]["edges"][0].update(order=-1),
     "invalid IR JSON at /cells/1/edges/0/order: -1 is less than the minimum of 0"),
    (lambda d: d.update(colour="red"), "Additional properties are not allowed ('colour' was unexpected)"),
    (lambda d: d.update(version=2), "invalid IR JSON at /version: 1 was expected"),
    (lambda d: d["cells"][0]["edges"][0].update(ops=[]), "/cells/0/edges/0/ops: [] should be non-empty"),
])
def test_schema_rejects(edit, message: str) -> None:
    assert message in _broken(edit).message


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["cells"][0]["edges"][0].update(ops=["sep_conv_3x5"]),
     "cell normal: edge 0->2 uses op 'sep_conv_3x5', which is not in the op library"),
    (lambda d: d["cells"][0]["edges"][0].update(src=4),
     "cell normal: edge 4->2 must go from an earlier node to an intermediate node (2..5)"),
    (lambda d: d["cells"][0]["output"].update(nodes=[2, 6]), "output nodes [2, 6] must be"),
    (lambda d: d["ops"].append(dict(d["ops"][0])), "op 'none' is defined twice"),
    (lambda d: d["ops"][0].update(kind="zeros"), "op 'none' has unknown kind 'zeros'"),
    (lambda d: d["groups"]["param"].append("none"), "op 'none' is in groups free and param"),
    (lambda d: d["cells"][0]["topology"].update(lo=3), "topology pick 3..2 is empty"),
])
def test_cross_references_are_checked(edit, message: str) -> None:
    assert message in _broken(edit).message


SPECS = sorted((Path(__file__).parent.parent / "specs").rglob("*.gs"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_spec_round_trips(path: Path) -> None:
    from genospec.lang.loader import load
    module = load(path)
    spaces = [*module.spaces.values(), *module.genotypes.values(),
              *(r.space for r in module.recipes.values())]
    assert spaces
    for space in spaces:
        doc = json.loads(json.dumps(space_to_json(space)))
        back = space_from_json(doc)
        _same(space, back)
        assert space_to_json(back) == doc
