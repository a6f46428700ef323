"""`genospec search` through click's CliRunner, stdout and stderr kept apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from genospec.cli.main import main
from genospec.lang.loader import load
from search_fixtures import TINY_SPACE, recipe_text

# 32 + 32 synthetic images (3 x 32 x 32), batch 16: two steps per epoch of a one-cell supernet
RECIPE = recipe_text(TINY_SPACE, """
  data synthetic
  subset 32, 32
  batch 16
  seed 4
  quick { epochs 1 }
  stage search {
    epochs 2
    supernet cells 1 channels 4
    select magnitude
  }
""")


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def recipe(tmp_path) -> Path:
    path = tmp_path / "recipe.gs"
    path.write_text(RECIPE, encoding="utf-8")
    return path


def test_search_progress_on_stderr_result_on_stdout(tmp_path, recipe):
    out = tmp_path / "run"
    r = run("search", recipe, "tiny_search", "--quick", "--out", out)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{out / 'genotype.gs'}\n"
    assert "epoch: stage=search epoch=1 epochs=1" in r.stderr
    assert f"stage: stage=search output={out / 'search.gs'}" in r.stderr
    assert load(out / "genotype.gs").get("tiny_search_search").is_genotype
    plan = json.loads((out / "resolved.json").read_text())
    assert plan["quick"] is True and plan["stages"][0]["settings"]["epochs"] == 1

    # resuming a finished run changes nothing and prints the same result
    again = run("search", "--resume", out, "--quiet")
    assert again.exit_code == 0, again.stderr
    assert (again.stdout, again.stderr) == (r.stdout, "")


def test_search_json_lines(tmp_path, recipe):
    r = run("search", recipe, "--json", "--out", tmp_path / "run")
    assert r.exit_code == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["event"] for e in events] == ["epoch", "epoch", "stage", "done"]
    assert [e["epoch"] for e in events[:2]] == [1, 2]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"} <= set(events[0])
    assert events[-1]["genotype"] == str(tmp_path / "run" / "genotype.gs")
    assert r.stderr == ""


@pytest.mark.parametrize("args, code, message", [
    (["{recipe}", "tiny"], 1, "is a space, not a search recipe"),
    (["{recipe}", "tiny_serch"], 1, "did you mean 'tiny_search'"),
    (["{recipe}", "--from", "nope"], 1, "has no stage 'nope'"),
    (["{recipe}", "--space", "{recipe}"], 2, "--space needs --from STAGE"),
    ([], 2, "give a recipe file"),
    (["--resume", "{tmp}"], 3, "is not a search run directory"),
    (["{recipe}", "--resume", "{tmp}"], 2, "--resume takes only the run directory"),
    (["{recipe}", "--out", "{tmp}"], 3, "is not empty"),
    (["{recipe}", "--device", "cuda:7"], 3, "no CUDA device"),
])
def test_search_errors(tmp_path, recipe, args, code, message):
    if "--device" in args:
        import torch
        if torch.cuda.is_available():
            pytest.skip("a CUDA device is present")
    r = run("search", *[a.format(recipe=recipe, tmp=tmp_path) for a in args])
    assert r.exit_code == code
    assert message in r.stderr
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
