"""`genospec study`: Kendall tau-b, and each study end to end on tiny spaces and synthetic data."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from genospec.cli.main import main
from genospec.data import Dataset, make_synthetic
from genospec.lang.loader import load
from genospec.render.charts import save
from genospec.study import (PAPER, QUICK, StudyOptions, edarts, kendall, kendall_tau_b, run_study,
                            skips)
from genospec.study.recipes import (DARTS_SPACE, S2_SPACE, S4_SPACE, darts_recipe,
                                    dots_topology_recipe)
from genospec.study.runner import arch_tensors, load_space, resized

STUDIES = Path(__file__).resolve().parents[1] / "studies"

# ---- Kendall tau-b ------------------------------------------------------------------------------


def test_tau_b_without_ties():
    assert kendall_tau_b([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert kendall_tau_b([1, 2, 3, 4], [40, 30, 20, 10]) == -1.0
    # 5 concordant, 1 discordant pair of 6: (5 - 1) / 6
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)


def test_tau_b_with_ties():
    # a tie in x only: 5 concordant pairs, n0 = 6, n1 = 1, n2 = 0 -> 5 / sqrt(5 * 6)
    assert kendall_tau_b([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(5 / math.sqrt(30))
    # ties on both sides: n_c = 5, n_d = 1, n1 = n2 = 2 of n0 = 10 -> 4 / 8
    assert kendall_tau_b([1, 1, 2, 2, 3], [1, 2, 1, 2, 3]) == pytest.approx(0.5)
    # Kendall's textbook case (a pair tied in both x and y): n_c = 2, n_d = 6, n1 = 2, n2 = 1
    assert kendall_tau_b([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]) == pytest.approx(-4 / math.sqrt(72))
    # values that differ by less than their product can represent still order the pair
    assert kendall_tau_b([1e-200, 2e-200], [1e-200, 3e-200]) == 1.0


def test_tau_b_undefined_and_misuse():
    assert kendall_tau_b([0.25, 0.25, 0.25], [1, 2, 3]) is None  # every accuracy tied
    assert kendall_tau_b([1], [2]) is None
    with pytest.raises(ValueError, match="one length"):
        kendall_tau_b([1, 2], [1, 2, 3])


# ---- the studies, end to end ---------------------------------------------------------------
# The studies' spaces cut down to two intermediate nodes (5 edges a cell, 3 pairs at the last node).
TINY_DARTS = """
space darts {
  ops {
    none = zero
    skip_connect = identity
    sep_conv_3x3 = sep_conv(3)
    avg_pool_3x3 = avg_pool(3)
  }
  cell normal { inputs 2  nodes 2  edges all  topology pick 2  output concat }
  cell reduce extends normal { stride 2 }
  network { cells 3  channels 4 }
}
"""
# the studies' S2 and S4 on top of the tiny DARTS space
TINY_S2 = TINY_DARTS + S2_SPACE[len(DARTS_SPACE):]
TINY_S4 = TINY_DARTS + S4_SPACE[len(DARTS_SPACE):]

TINY = replace(QUICK, name="tiny", epochs=2, warmup=1, cells=3, channels=4, batch=16,
               subset=(32, 32), edarts_subset=(16, 16), finetune=1, train_epochs=1,
               train_cells=3, train_channels=4, train_batch=16, train_subset=32, test_subset=16,
               image_size=None)


def tiny_dataset() -> Dataset:
    train, test = make_synthetic(n_train=64, n_test=16, num_classes=4, in_chans=1, size=8,
                                 seed=3, noise=0.05)
    return Dataset("synthetic", 1, 8, 4, train, test, hflip=False)


@pytest.fixture
def tiny(monkeypatch, tmp_path) -> StudyOptions:
    monkeypatch.setattr(kendall, "DARTS_SPACE", TINY_DARTS)
    monkeypatch.setattr(edarts, "DARTS_SPACE", TINY_DARTS)
    monkeypatch.setattr(skips, "SPACES", {"S2": (TINY_S2, "robust_darts_s2", "skip_connect"),
                                          "S4": (TINY_S4, "robust_darts_s4", "noise")})
    return StudyOptions(scale=TINY, dataset=tiny_dataset(), out=tmp_path / "out",
                        work=tmp_path / "work")


def settings(run: str) -> dict:
    return json.loads((Path(run) / "resolved.json").read_text())["stages"][0]["settings"]


def check_files(result, name: str) -> dict:
    assert result.json_path.name == f"{name}_tiny_synthetic.json"
    written = json.loads(result.json_path.read_text())  # strict JSON: no NaN
    assert written == result.result
    assert written["scale"]["name"] == "tiny" and written["data"] == "synthetic"
    assert written["time"]["wall_s"] > 0 and written["time"]["cpu_s"] > 0
    stem = result.json_path.with_suffix("")
    assert result.figures == [stem.with_suffix(f".{k}") for k in ("png", "svg", "pdf")]
    assert result.svg_path == stem.with_suffix(".svg")
    assert ET.parse(result.svg_path).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert result.figures[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.figures[2].read_bytes()[:5] == b"%PDF-"
    assert result.summary[-1].startswith("time: ")
    return written


def test_kendall_study(tiny):
    result = run_study("kendall", tiny)
    r = check_files(result, "kendall")
    assert (r["cell"], r["node"]) == ("normal", 3)
    assert [p["inputs"] for p in r["pairs"]] == [[0, 1], [0, 2], [1, 2]]
    acc = [p["accuracy"] for p in r["pairs"]]
    assert r["tau_b"] == {
        "darts_alpha": kendall_tau_b([p["darts_importance"] for p in r["pairs"]], acc),
        "dots_beta": kendall_tau_b([p["dots_beta"] for p in r["pairs"]], acc)}
    for p in r["pairs"]:  # each pair's network was trained, with the recorded accuracy
        report = json.loads((tiny.work / "train_pair_{}_{}".format(*p["inputs"]) /
                             "report.json").read_text())
        assert report["top1"] == p["accuracy"] and report["epochs_done"] == 1
    # DOTS searched pairs of edges on DARTS' ops: one op a edge, the ops the pairs were given
    dots = settings(r["dots_run"])
    assert dots["update"]["mode"] == "onelevel" and dots["warmup"] == 1
    assert [x["method"] for x in dots["relax"]] == ["combination"]
    searched = load(Path(r["dots_run"]) / "space.gs").get("darts_ops")
    alpha = arch_tensors(Path(r["darts_run"]))["normal.alpha"]
    darts_ops = load_space(TINY_DARTS, "darts").cells["normal"].op_names()
    for e, edge in enumerate(searched.cells["normal"].edges()):
        argmax = max((o for o in darts_ops if o != "none"),
                     key=lambda o: alpha[e, darts_ops.index(o)])
        assert edge.ops == (argmax,)
    by_input = {e.src: e.op for e in searched.cells["normal"].in_edges(3)}
    assert all([by_input[i] for i in p["inputs"]] == p["ops"] for p in r["pairs"])
    # DARTS' genotype takes the pair of largest importance at the last node
    genotype = load(Path(r["darts_run"]) / "genotype.gs").get()
    best = max(r["pairs"], key=lambda p: p["darts_importance"])
    assert sorted(e.src for e in genotype.cells["normal"].in_edges(3)) == best["inputs"]
    assert result.summary[0].startswith("Kendall tau-b, accuracy vs darts_alpha: ")


def test_skips_study(tiny):
    result = run_study("skips", replace(tiny, scale=replace(TINY, subset=(16, 16))))
    r = check_files(result, "skips")
    assert [(x["space"], x["method"]) for x in r["results"]] == [
        (s, m) for s in ("S2", "S4") for m in ("DARTS", "DARTS-PT", "DOTS")]
    for x in r["results"]:
        s = settings(x["run"])
        rule = {"DARTS": "magnitude", "DARTS-PT": "perturbation", "DOTS": "best_combination"}
        assert s["select"]["name"] == rule[x["method"]]
        assert (s["epochs"], s["data"]["subset"]) == (2, [16, 16])  # one budget for every method
        assert s["update"]["mode"] == ("onelevel" if x["method"] == "DOTS" else "bilevel")
        genotype = load(Path(x["run"]) / "genotype.gs").get()
        assert x["normal"] == sum(e.op == x["op"] for e in genotype.cells["normal"].edges())
        assert x["reduce"] == sum(e.op == x["op"] for e in genotype.cells["reduce"].edges())
        assert x["edges"] == 4
    assert len(result.summary) == 7


def test_edarts_study(tiny):
    result = run_study("edarts", tiny)
    r = check_files(result, "edarts")
    want = [("DARTS", [32, 32], "step"), ("DARTS + data subset", [16, 16], "step"),
            ("DARTS + epoch update", [32, 32], "epoch"),
            ("DARTS + data subset + epoch update", [16, 16], "epoch")]
    assert [(v["variant"], v["subset"]) for v in r["variants"]] == [w[:2] for w in want]
    for v, (_, subset, per) in zip(r["variants"], want):
        (run,) = v["runs"]
        s = settings(run["run"])
        assert (s["data"]["subset"], s["update"]["per"], s["update"]["order"]) == \
            (subset, per, "first_order")
        assert v["normal"] == run["normal"] and v["reduce"] == run["reduce"]
        # sparse update: one architecture step per epoch, else one per step
        steps = [m["arch_updates"] for m in map(json.loads, (Path(run["run"]) /
                                                             "metrics.jsonl").open())]
        assert steps == ([1, 1] if per == "epoch" else [subset[0] // 16] * 2)


def test_quick_scale_shrinks_images_by_area_averaging():
    ds = tiny_dataset()
    small = resized(ds, 4)
    assert small.size == 4 and small.train.images.shape == (64, 1, 4, 4)
    assert small.test.images.shape == (16, 1, 4, 4)
    block = ds.train.images[5, 0, 2:4, 4:6].float().mean()
    assert small.train.images[5, 0, 1, 2] == torch.round(block).to(torch.uint8)
    assert torch.equal(small.train.labels, ds.train.labels)
    assert resized(ds, 8) is ds


@pytest.mark.parametrize("scale", [QUICK, PAPER])
def test_edarts_subset_keeps_the_sparse_update_sparse(scale):
    # with one batch an epoch, "every step" and "once per epoch" would be the same search
    assert scale.edarts_subset[0] >= 2 * scale.batch


def test_recipes_parse_at_paper_scale():
    text = darts_recipe("r", DARTS_SPACE, "darts", PAPER, 2, order="second_order",
                        per_epoch=True, subset=PAPER.edarts_subset)
    stage = load_recipe(text, "r").stages[0].settings
    assert stage["update"] == {"mode": "bilevel", "order": "second_order", "every": 1,
                               "per": "epoch"}
    text = dots_topology_recipe("d", S2_SPACE, "robust_darts_s2", PAPER, 2, relax_ops=True)
    relax = {x["target"]: x for x in load_recipe(text, "d").stages[0].settings["relax"]}
    assert (relax["edges"]["t0"], relax["edges"]["decay"], relax["edges"]["min"]) == \
        (10.0, 0.72, 0.02)
    assert relax["ops"]["min"] == pytest.approx(2e-5)


def load_recipe(text: str, name: str):
    from genospec.lang.loader import loads
    return loads(text).get(name)


@pytest.mark.parametrize("name", ["kendall", "skips", "edarts"])
def test_study_figure_is_redrawn_from_its_json(name, tmp_path):
    """The committed quick results (studies/*.json) give each study's figure: every pair a
    point, every (space, cell, method) or (variant, cell) count a labelled bar."""
    result = json.loads((STUDIES / f"{name}_quick_fashion_mnist.json").read_text())
    module = {"kendall": kendall, "skips": skips, "edarts": edarts}[name]
    fig = module.picture(result)
    if name == "kendall":
        assert [len(ax.collections[0].get_offsets()) for ax in fig.axes] == [10, 10]
        assert "tau-b = -0.27" in fig.axes[0].get_title()
    else:
        (ax,) = fig.axes
        counts = [r[c] for r in result["results" if name == "skips" else "variants"]
                  for c in ("normal", "reduce")]
        assert sorted(p.get_height() for p in ax.patches) == sorted(counts)
        assert ax.get_ylim()[1] >= max(counts)
    paths = save(fig, tmp_path / name)
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_cli_runs_a_study_and_reports_errors(monkeypatch, tmp_path):
    from genospec.registry import STUDY, registry
    from genospec.study.runner import StudyResult
    seen = {}

    def fake(options, reporter):  # the command's glue, not the study (tested above)
        seen["options"] = options
        return StudyResult("edarts", {}, tmp_path / "e.json", tmp_path / "e.svg",
                           ["DARTS: skip_connect normal 3, reduce 4", "time: 1 s wall, 2 s CPU"])

    with registry(STUDY).replaced("edarts", fake):  # the CLI asks the registry
        _check_cli_study(tmp_path, seen)
    assert registry(STUDY).get("edarts") is edarts.run_edarts


def _check_cli_study(tmp_path, seen) -> None:
    r = CliRunner().invoke(main, ["study", "edarts", "--quick", "--data", "synthetic",
                                  "--out", str(tmp_path / "o"), "--seed", "7"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ("DARTS: skip_connect normal 3, reduce 4\ntime: 1 s wall, 2 s CPU\n"
                        f"{tmp_path / 'e.json'}\n{tmp_path / 'e.svg'}\n")
    o = seen["options"]
    assert (o.scale, o.data, o.out, o.work, o.seed, o.device) == \
        (QUICK, "synthetic", tmp_path / "o", None, 7, "cpu")
    quiet = CliRunner().invoke(main, ["study", "edarts", "--quiet", "--threads", "1"])
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    assert seen["options"].scale == PAPER
    bad = CliRunner().invoke(main, ["study", "kendal"])
    assert bad.exit_code == 2 and "kendall" in bad.stderr
    missing = CliRunner().invoke(main, ["study", "skips", "--quick", "--data", "cifar10"])
    assert missing.exit_code == 3 and "needs a directory" in missing.stderr
