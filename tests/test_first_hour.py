"""Issue 17's flags and tracking: list, several declarations without a NAME, --threads, --seed and
--epochs, the start header, metrics.csv, resolved.json's versions, train's .pt2."""

from __future__ import annotations

import csv
import re
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from genospec.cli.common import busy_warning, default_threads
from genospec.cli.main import main
from genospec.nn import native
from genospec.progress import eta
from search_fixtures import TINY_SPACE, recipe_text

RECIPE = recipe_text(TINY_SPACE, """
  data synthetic
  subset 32, 32
  batch 16
  seed 4
  stage search {
    epochs 3
    supernet cells 1 channels 4
    select magnitude
  }
""")

GENOTYPE = """genotype tiny {
  cell normal { 2 <- sep_conv_3x3(0), skip_connect(1)  3 <- max_pool_3x3(2), skip_connect(0) }
  cell reduce { stride 2  2 <- max_pool_3x3(0), max_pool_3x3(1)  3 <- skip_connect(2), avg_pool_3x3(1) }
}
"""


def run(*args) -> "click.testing.Result":  # noqa: F821
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_list_names_every_declaration_of_a_file() -> None:
    r = run("list", "specs/searches/darts.gs")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "search   darts_first_order" in lines and "search   darts_second_order" in lines
    assert all(ln.split()[0] in ("space", "genotype", "search") for ln in lines)
    assert run("list", "specs/spaces/darts.gs").stdout.splitlines()[0] == "space    darts"


@pytest.mark.parametrize("command", ["compile", "render", "search", "train"])
def test_several_declarations_without_a_name_are_listed_with_exit_2(command) -> None:
    r = run(command, "specs/genotypes/darts.gs")
    assert r.exit_code == 2 and r.stdout == ""
    assert "declares" in r.stderr and "genotype DARTS_V2" in r.stderr
    assert f"for example: genospec {command} specs/genotypes/darts.gs " in r.stderr


def test_a_file_with_one_declaration_needs_no_name(tmp_path) -> None:
    path = tmp_path / "one.gs"
    path.write_text(GENOTYPE)
    r = run("compile", path)
    assert r.exit_code == 0 and "tiny" in r.stdout


def test_threads_default_and_busy_warning() -> None:
    import os
    assert default_threads() == len(os.sched_getaffinity(0))
    assert busy_warning(1.5, 2) is None
    line = busy_warning(7.25, 2)
    assert line.startswith("warning: the machine is busy (load average 7.2 on 2 cores)")
    assert "\n" not in line and "--threads" in line
    assert [eta(5), eta(185), eta(3725)] == ["5s", "3m05s", "1h02m"]


def test_search_seed_epochs_threads_header_csv_and_versions(tmp_path) -> None:
    recipe = tmp_path / "recipe.gs"
    recipe.write_text(RECIPE)
    out = tmp_path / "run"
    before = torch.get_num_threads()
    try:
        r = run("search", recipe, "tiny_search", "--seed", "9", "--epochs", "2", "--threads", "1",
                "--out", out)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert r.exit_code == 0, r.stderr
    assert f"run {out}\n  stage: search\n  device: cpu\n  threads: 1\n  data: synthetic\n" \
           "  train images: 32\n  val images: 32\n  epochs: 2\n" in r.stderr
    assert f"  kernels: {native.status()}\n" in r.stderr  # on the CPU: which C kernels run
    assert "eta=" in r.stderr and "None" not in r.stderr
    plan = json.loads((out / "resolved.json").read_text())
    settings = plan["stages"][0]["settings"]
    assert (settings["seed"], settings["epochs"]) == (9, 2)  # the recipe says 4 and 3
    assert recipe.read_text() == RECIPE  # not edited
    assert plan["versions"]["torch"] == torch.__version__ and plan["versions"]["genospec"]
    assert plan["data_root_absolute"] is None  # synthetic: no directory
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    jsonl = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["epoch"]) for r in rows] == [("search", "1"), ("search", "2")]
    assert float(rows[1]["val_loss"]) == pytest.approx(jsonl[1]["val_loss"])
    assert "weights" not in rows[0] and rows[0]["arch_val_loss"] != "None"


def test_train_writes_a_pt2_that_loads_without_genospec(tmp_path) -> None:
    spec = tmp_path / "tiny.gs"
    spec.write_text(GENOTYPE)
    out = tmp_path / "run"
    r = run("train", spec, "--data", "synthetic", "--epochs", "1", "--cells", "3", "--channels", "4",
            "--batch", "50", "--cutout", "0", "--drop-path", "0", "--out", out, "--threads", "1")
    assert r.exit_code == 0, r.stderr
    assert f"wrote the run to {out}" in r.stderr and f"run {out}\n" in r.stderr
    report = json.loads(r.stdout)
    assert report["network"] == str(out / "network.pt2")
    code = ("import sys, torch; m = torch.export.load(sys.argv[1]).module(); "
            "print(tuple(m(torch.zeros(3, 3, 32, 32)).shape))")
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-S", "-c", code, str(out / "network.pt2")],
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(Path(torch.__file__).parents[1])})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 10)"


DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
            "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
            "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
            "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def test_a_copied_genotype_imports_the_bundled_spaces(tmp_path) -> None:
    from genospec.lang.loader import load
    text = (Path("specs/genotypes/darts.gs").read_text())
    path = tmp_path / "mine.gs"
    path.write_text(re.sub(r'import "[^"]*"', 'import "genospec:spaces/darts.gs"', text))
    assert load(path).get("DARTS_V2").of == "darts"
    path.write_text('import "genospec:spaces/dartz.gs"\n')
    r = run("compile", path)
    assert r.exit_code == 1 and "spaces/darts.gs" in r.stderr  # the hint lists what is bundled


def test_convert_writes_gs_that_compiles(tmp_path) -> None:
    r = run("convert", DARTS_V2, "--to", "gs", "--of", "darts")
    assert r.stdout.startswith('import "genospec:spaces/darts.gs"\n\ngenotype darts_genotype of darts {')
    (tmp_path / "a.gs").write_text(r.stdout)
    assert run("compile", tmp_path / "a.gs").exit_code == 0
    ir_json = run("compile", "specs/genotypes/darts.gs", "DARTS_V2", "--json").stdout
    (tmp_path / "v2.json").write_text(ir_json)
    r = run("convert", tmp_path / "v2.json", "--to", "gs")  # JSON -> .gs: imports its space
    (tmp_path / "b.gs").write_text(r.stdout)
    done = run("compile", tmp_path / "b.gs")
    assert done.exit_code == 0, done.stderr
    r = run("convert", DARTS_V2, "--to", "gs", "--of", "nope")
    assert r.exit_code == 1 and "--import" in r.stderr


def _has_tensorboard() -> bool:
    import importlib.util
    return importlib.util.find_spec("tensorboard") is not None


@pytest.mark.skipif(_has_tensorboard(), reason="tensorboard is installed")
def test_tensorboard_without_the_extra_says_how_to_install_it(tmp_path) -> None:
    spec = tmp_path / "tiny.gs"
    spec.write_text(GENOTYPE)
    r = run("train", spec, "--data", "synthetic", "--tensorboard", "--out", tmp_path / "run")
    assert r.exit_code == 2 and "pip install 'genospec[tensorboard]'" in r.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not _has_tensorboard(), reason="needs the optional extra genospec[tensorboard]")
def test_tensorboard_event_files(tmp_path) -> None:
    recipe = tmp_path / "recipe.gs"
    recipe.write_text(RECIPE)
    r = run("search", recipe, "tiny_search", "--epochs", "1", "--out", tmp_path / "run",
            "--tensorboard", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))


@pytest.mark.parametrize("file, name", [("specs/searches/darts.gs", "darts_first_order"),
                                        ("specs/searches/dots.gs", "dots"),
                                        ("specs/searches/darts_pt.gs", "darts_pt_darts")])
def test_a_recipe_is_described_without_python_reprs(file, name) -> None:
    r = run("compile", file, name)
    assert r.exit_code == 0, r.stderr
    head = r.stdout.split("\n\n")[0]  # the recipe part, before its space
    for repr_only in ("{'", "['", "None", "True", "False", "': "):
        assert repr_only not in head, (repr_only, head)
    assert "  stage " in head and "weights { optimizer sgd" in head


def test_metrics_log_the_genotype_selection_would_derive_at_every_epoch(tmp_path) -> None:
    from genospec.lang.loader import load
    from genospec.search.engine import start_search
    recipe = tmp_path / "recipe.gs"
    recipe.write_text(RECIPE)
    result = start_search(load(recipe).get("tiny_search"), out=tmp_path / "run")
    records = result.run.metrics()
    assert len(records) == 3 and all("genotype" in r for r in records)
    final = {c: sorted(f"{e.src}->{e.dst} {'|'.join(e.ops)}" for e in cell.edges())
             for c, cell in result.space.cells.items()}
    assert {c: sorted(v) for c, v in records[-1]["genotype"].items()} == final
    # derived from that epoch's weights: the largest op of each kept edge (DARTS: none aside)
    for cell, lines in records[0]["genotype"].items():
        for line in lines:
            edge, op = line.split()
            weights = {o: w for o, w in records[0]["weights"][cell][edge].items() if o != "none"}
            assert weights[op] == max(weights.values())


def test_input_size_is_for_imagefolder(tmp_path) -> None:
    spec = tmp_path / "tiny.gs"
    spec.write_text(GENOTYPE)
    r = run("train", spec, "--data", "cifar10", "--data-root", tmp_path, "--input-size", "16",
            "--out", tmp_path / "run")  # refused before any data is read
    assert r.exit_code == 3 and "takes no option size" in r.stderr
    assert "ImageFolder" in r.stderr and "unexpected keyword" not in r.stderr
