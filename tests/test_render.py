"""Graphviz pictures: read back from the SVG that `dot` draws."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from genospec.errors import RenderError, SpecError
from genospec.interchange import load_genotype_file, parse_nb201
from genospec.ir import Cell, Edge, Output, Space, Topology
from genospec.oplib import STANDARD_OPS
from genospec.render import render_genotype, render_space, render_weights, write
from genospec.render.palette import op_colour

SVG = "{http://www.w3.org/2000/svg}"
SPACES = load_genotype_file(Path(__file__).parent / "data" / "published_genotypes.txt")
DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
             "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")


def darts_space() -> Space:
    """The DARTS space (14 edges x 8 ops, pick 2) with DOTS Group-V2 groups; edge 0->2 of the
    normal cell narrowed to two ops, as in RobustDARTS S1."""
    def full(name: str, stride: int) -> Cell:
        edges = [Edge(i, j, DARTS_OPS, i) for j in range(2, 6) for i in range(j)]
        if name == "normal":
            edges[0] = Edge(0, 2, ("skip_connect", "dil_conv_3x3"), 0)
        return Cell.build(name, 2, 4, stride, Topology("pick", 2, 2), edges,
                          Output("concat", (2, 3, 4, 5)))
    return Space("darts_groups", "space", {n: STANDARD_OPS[n] for n in DARTS_OPS},
                 {"normal": full("normal", 1), "reduce": full("reduce", 2)},
                 groups={"free": DARTS_OPS[:4], "param": DARTS_OPS[4:]})


def _lines(g: ET.Element) -> list[str]:
    """The text lines of an SVG group (an HTML-like label writes one <text> per styled span;
    the spans of one line share its y)."""
    lines: dict[str, str] = {}
    for t in g.findall(f"{SVG}text"):
        lines[t.get("y")] = lines.get(t.get("y"), "") + (t.text or "")
    return list(lines.values())


class Drawn:
    """What an SVG shows: node labels by DOT name, edges as (src, dst, label lines, attrs), and
    each edge's <text> elements (``spans``)."""

    def __init__(self, path: Path):
        root = ET.parse(path).getroot()
        self.title = [t.text for t in root.find(f"{SVG}g").findall(f"{SVG}text")]
        self.nodes, self.edges, self.spans = {}, [], {}
        for g in root.iter(f"{SVG}g"):
            name = g.findtext(f"{SVG}title")
            if g.get("class") == "node":
                self.nodes[name] = " ".join(_lines(g))
            elif g.get("class") == "edge":
                src, dst = name.split("->")
                path_el = g.find(f"{SVG}path")
                self.edges.append((src, dst, _lines(g), dict(path_el.attrib)))
                self.spans[(src, dst)] = g.findall(f"{SVG}text")

    def pairs(self) -> list[tuple[str, str, str]]:
        return [(s, d, " ".join(t)) for s, d, t, _ in self.edges]

    def into(self, dst: str) -> list[tuple[str, str]]:
        return [(s, " ".join(t)) for s, d, t, _ in self.edges if d == dst]


def draw(graph, tmp_path: Path) -> Drawn:
    return Drawn(write(graph, tmp_path / "cell.svg"))


def test_darts_v2_normal_cell(tmp_path: Path) -> None:
    seen = draw(render_genotype(SPACES["DARTS_V2"], "normal"), tmp_path)
    assert seen.nodes == {"0": "c_{k-2}", "1": "c_{k-1}", "2": "2", "3": "3", "4": "4", "5": "5",
                          "out": "c_{k}"}
    assert sorted(seen.into("5")) == [("0", "skip_connect"), ("2", "dil_conv_3x3")]
    assert sorted(seen.into("4")) == [("0", "skip_connect"), ("1", "sep_conv_3x3")]
    assert sorted(seen.into("out")) == [("2", ""), ("3", ""), ("4", ""), ("5", "")]
    assert len(seen.edges) == 8 + 4
    assert seen.title == ["DARTS_V2: cell normal"]


def test_concat_subset_and_parallel_edges(tmp_path: Path) -> None:
    reduce = draw(render_genotype(SPACES["NASNet"], "reduce"), tmp_path)
    assert sorted(s for s, _ in reduce.into("out")) == ["4", "5", "6"]
    assert reduce.title == ["NASNet: reduction cell reduce"]
    normal = draw(render_genotype(SPACES["NASNet"], "normal"), tmp_path)
    assert normal.into("5") == [("0", "avg_pool_3x3"), ("0", "avg_pool_3x3")]
    assert sorted(s for s, _ in normal.into("out")) == ["2", "3", "4", "5", "6"]


def test_nb201_cell_has_one_input(tmp_path: Path) -> None:
    space = parse_nb201("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
                        "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    seen = draw(render_genotype(space, "normal"), tmp_path)
    assert seen.nodes == {"0": "c_{k-1}", "1": "1", "2": "2", "3": "3", "out": "c_{k}"}
    assert seen.into("out") == [("3", "")]
    assert sorted(seen.into("3")) == [("0", "skip_connect"), ("1", "nor_conv_3x3"),
                                      ("2", "skip_connect")]


def test_space_picture(tmp_path: Path) -> None:
    seen = draw(render_space(darts_space(), "normal"), tmp_path)
    labels = dict(((s, d), t) for s, d, t in seen.pairs())
    assert len(seen.edges) == 14 + 4
    assert labels[("0", "2")] == "2 ops skip_connect dil_conv_3x3"
    assert all(labels[(str(i), str(j))] == "8 ops" for j in range(3, 6) for i in range(j))
    # per node C(n,2) edge pairs x selectable ops (zero excluded) on both: node 2 keeps 0->2
    # (2 ops) and 1->2 (7), nodes 3..5 choose 2 of 3, 4, 5 edges with 7 ops each
    assert seen.title == [
        "space darts_groups: cell normal (stride 1)",
        f"topology pick 2: {2 * 7 * 3 * 49 * 6 * 49 * 10 * 49:,} architectures",
        "ops: skip_connect, dil_conv_3x3, none, max_pool_3x3, avg_pool_3x3, sep_conv_3x3, "
        "sep_conv_5x5, dil_conv_5x5",
        "group free = none, max_pool_3x3, avg_pool_3x3, skip_connect",
        "group param = sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5"]
    reduce = draw(render_space(darts_space(), "reduce"), tmp_path)
    assert reduce.title[1] == "topology pick 2: 1,037,664,180 architectures"


def test_weights_picture(tmp_path: Path) -> None:
    space = darts_space()
    weights = {(0, 2): {"skip_connect": 0.25, "dil_conv_3x3": 0.75},
               (1, 2): {"sep_conv_3x3": 0.5, "none": 0.125, "skip_connect": 0.375}}
    seen = draw(render_weights(space, "normal", weights, {(0, 2): 0.2, (1, 2): 0.8}), tmp_path)
    by_edge = {(s, d): (t, a) for s, d, t, a in seen.edges}
    assert by_edge[("0", "2")][0] == ["edge 0.200", "dil_conv_3x3 0.750", "skip_connect 0.250"]
    # the 2 largest weights; zero is left out where topology picks the edges
    assert by_edge[("1", "2")][0] == ["edge 0.800", "sep_conv_3x3 0.500", "skip_connect 0.375"]
    # pen width from the weakest drawn edge (0.8) to the strongest (4.5)
    assert by_edge[("1", "2")][1]["stroke-width"] == "4.5"
    assert by_edge[("0", "2")][1]["stroke-width"] == "0.8"
    assert by_edge[("0", "3")][0] == [] and by_edge[("0", "3")][1]["stroke-dasharray"] == "5,2"
    assert seen.title[-1] == ("edge labels: the 2 largest op weights; pen width: edge weight, "
                              "0.200 (thinnest) to 0.800 (thickest)")
    # op names in the figures' op colours
    ops = {t.text: t.get("fill") for t in seen.spans[("0", "2")] if t.text in DARTS_OPS}
    assert ops == {"dil_conv_3x3": op_colour("dil_conv_3x3"),
                   "skip_connect": op_colour("skip_connect")}
    # without strengths, an edge is as strong as its largest selectable op weight
    plain = draw(render_weights(space, "normal", weights), tmp_path)
    widths = {(s, d): a.get("stroke-width") for s, d, _, a in plain.edges}
    assert widths[("0", "2")] == "4.5" and widths[("1", "2")] == "0.8"


def full_weights(space: Space, cell: str) -> dict[tuple[int, int], dict[str, float]]:
    """Distinct op weights on every edge of ``cell`` (each edge's ops sum to 1)."""
    out = {}
    for e in space.cells[cell].edges():
        raw = {o: 1.0 + 0.1 * k + 0.01 * e.src + 0.003 * e.dst for k, o in enumerate(e.ops)}
        out[(e.src, e.dst)] = {o: v / sum(raw.values()) for o, v in raw.items()}
    return out


@pytest.mark.parametrize("top", [1, 2, 3, None])
def test_weights_picture_labels_the_top_ops(tmp_path: Path, top: int | None) -> None:
    space = darts_space()
    weights = full_weights(space, "normal")
    seen = draw(render_weights(space, "normal", weights, top=top), tmp_path)
    for (src, dst), w in weights.items():
        lines = {s: t for s, d, t, _ in seen.edges if d == str(dst)}[str(src)]
        ranked = sorted((o for o in w if o != "none"), key=lambda o: -w[o])
        want = ranked if top is None else ranked[:top]
        assert lines == [f"{o} {w[o]:.3f}" for o in want], (src, dst)


def test_weights_picture_highlights_the_selection(tmp_path: Path) -> None:
    space = darts_space()
    weights = full_weights(space, "normal")
    weights[(2, 4)] = {o: 0.0 for o in weights[(2, 4)]}  # masked away
    selected = {(0, 2): ("dil_conv_3x3",), (1, 2): ("max_pool_3x3",)}  # max_pool: not in top 2
    seen = draw(render_weights(space, "normal", weights, selected=selected), tmp_path)
    by_edge = {(s, d): (t, a) for s, d, t, a in seen.edges}
    assert by_edge[("0", "2")][1]["stroke"] == by_edge[("1", "2")][1]["stroke"] == "#b2182b"
    assert by_edge[("0", "3")][1]["stroke"] == "#999999"  # not selected: grey
    # a kept op is always shown (in bold), the largest others fill up to 2 lines
    lines = by_edge[("1", "2")][0]
    assert len(lines) == 2 and lines[1].startswith("max_pool_3x3 ")
    bold = [t.text for t in seen.spans[("1", "2")] if t.get("font-weight") == "bold"]
    assert "max_pool_3x3" in bold and "dil_conv_5x5" not in bold
    # a zero edge: dotted, faint, unlabelled
    assert by_edge[("2", "4")][0] == [] and by_edge[("2", "4")][1]["stroke"] == "#cccccc"
    assert "stroke-dasharray" in by_edge[("2", "4")][1]


@pytest.mark.parametrize("weights, strength, message", [
    ({(0, 7): {"none": 1.0}}, None, "edge weights name edge 0->7, which cell normal does not have"),
    ({(0, 2): {"none": 1.0}}, None, "edge weights give op 'none' on edge 0->2, which does not carry it"),
    ({(0, 2): {"skip_connect": 1.0}}, {(3, 2): 1.0}, "edge strengths name edge 3->2"),
])
def test_weights_must_fit_the_cell(weights, strength, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        render_weights(darts_space(), "normal", weights, strength)


def test_cell_errors() -> None:
    with pytest.raises(SpecError, match="still has choices"):
        render_genotype(darts_space(), "normal")
    with pytest.raises(SpecError) as info:
        render_genotype(SPACES["DARTS_V2"], "normall")
    assert info.value.hint == "did you mean 'normal'?"


def test_formats_from_suffix(tmp_path: Path) -> None:
    graph = render_genotype(SPACES["DARTS_V1"], "reduce")
    assert write(graph, tmp_path / "a.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert write(graph, tmp_path / "b.pdf").read_bytes().startswith(b"%PDF-")
    assert write(graph, tmp_path / "sub" / "c.SVG").read_text().lstrip().startswith("<?xml")
    assert write(graph, tmp_path / "d.gv").read_text() == graph.source
    with pytest.raises(RenderError) as info:
        write(graph, tmp_path / "e.jpeg")
    assert "use one of the suffixes .svg, .png, .pdf, .gv, .dot" in str(info.value)


def test_missing_dot_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RenderError) as info:
        write(render_genotype(SPACES["DARTS_V2"], "normal"), tmp_path / "x.svg")
    assert "`dot` program was not found" in info.value.message
    assert "apt-get install graphviz" in info.value.hint
    assert not (tmp_path / "x.svg").exists()


def test_render_weights_of_a_run_directory(tmp_path: Path) -> None:
    """`genospec render SPACE --weights RUN` draws the last epoch of the run's last stage."""
    import json

    from click.testing import CliRunner

    from genospec.cli.main import main

    run = tmp_path / "run"
    run.mkdir()
    def record(stage: str, epoch: int, w: float) -> dict:
        return {"stage": stage, "epoch": epoch, "weights": {
            "normal": {"0->2": {"skip_connect": w, "dil_conv_3x3": 1 - w}},
            "reduce": {"1->2": {"max_pool_3x3": 1.0}}}}
    lines = [record("ops", 1, 0.5), record("ops", 2, 0.125), record("topo", 1, 0.9)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    space_file = Path(__file__).parents[1] / "specs" / "spaces" / "darts.gs"
    out = tmp_path / "w.svg"
    r = CliRunner().invoke(main, ["render", str(space_file), "darts", "--weights", str(run),
                                  "--stage", "ops", "-o", str(out)])
    assert r.exit_code == 0, r.output
    normal = Drawn(tmp_path / "w_normal.svg")
    by_edge = {(s, d): t for s, d, t, _ in normal.edges}
    assert by_edge[("0", "2")] == ["dil_conv_3x3 0.875", "skip_connect 0.125"]
    assert (tmp_path / "w_reduce.svg").exists()
    r = CliRunner().invoke(main, ["render", str(space_file), "darts", "--weights", str(run),
                                  "--stage", "ops", "--top", "1", "--cell", "normal",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert {(s, d): t for s, d, t, _ in Drawn(out).edges}[("0", "2")] == ["dil_conv_3x3 0.875"]
    # a finished stage's result (<stage>.gs) is highlighted: DARTS_V2 keeps 0->2, not 0->3
    genotypes = space_file.parents[1] / "genotypes" / "darts.gs"
    (run / "topo.gs").write_text(genotypes.read_text().replace(
        '"../spaces/darts.gs"', f'"{space_file.as_posix()}"'))
    # the last stage by default; a stage the run lacks is named with the ones it has
    r = CliRunner().invoke(main, ["render", str(space_file), "darts", "--weights", str(run),
                                  "--cell", "normal", "-o", str(out)])
    assert r.exit_code == 0
    topo = {(s, d): (t, a) for s, d, t, a in Drawn(out).edges}
    assert topo[("0", "2")][0][0] == "skip_connect 0.900"
    assert topo[("0", "2")][1]["stroke"] == "#b2182b"
    r = CliRunner().invoke(main, ["render", str(space_file), "darts", "--weights", str(run),
                                  "--stage", "top"])
    assert r.exit_code == 1
    assert "has no stage 'top' with weights; it has ops, topo" in r.output
    assert "did you mean 'topo'" in r.output
