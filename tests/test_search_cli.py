"""`genospec search` through click's CliRunner, stdout and stderr kept apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from genospec.cli.main import main
from genospec.lang.loader import load
from genospec.nn import native
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

    # resuming a finished run changes nothing and prints the same result; --quiet: nothing
    again = run("search", "--resume", out)
    assert again.exit_code == 0, again.stderr
    assert again.stdout == r.stdout
    quiet = run("search", "--resume", out, "--quiet")
    assert quiet.exit_code == 0, quiet.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")  # --quiet: not even the busy warning


def test_search_json_lines(tmp_path, recipe):
    r = run("search", recipe, "tiny_search", "--json", "--out", tmp_path / "run")
    assert r.exit_code == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["event"] for e in events] == ["header", "epoch", "epoch", "stage", "done"]
    header = events.pop(0)
    assert header["run"] == str(tmp_path / "run") and header["device"] == "cpu"
    assert header["train_images"] + header["val_images"] > 0 and header["parameters"] > 0
    assert header["memory"].endswith("GiB") and header["threads"] >= 1
    assert header["kernels"] == native.status()  # which C kernels run, or why none does
    assert header["kernels"].startswith(("C depthwise", "PyTorch only ("))
    assert [e["epoch"] for e in events[:2]] == [1, 2]
    assert events[0]["eta"].endswith("s") and "eta" not in events[1]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"} <= set(events[0])
    assert events[-1]["genotype"] == str(tmp_path / "run" / "genotype.gs")
    assert not_busy(r.stderr) == ""


def not_busy(stderr: str) -> str:
    """stderr without the warning a loaded machine (other tests, other users) adds."""
    return "".join(ln for ln in stderr.splitlines(keepends=True)
                   if not ln.startswith("warning: the machine is busy"))


@pytest.mark.parametrize("args, code, message", [
    (["{recipe}", "tiny"], 1, "is a space, not a search recipe"),
    (["{recipe}", "tiny_serch"], 1, "did you mean 'tiny_search'"),
    (["{recipe}", "tiny_search", "--from", "nope"], 1, "has no stage 'nope'"),
    (["{recipe}", "--space", "{recipe}"], 2, "--space needs --from STAGE"),
    ([], 2, "give a recipe file"),
    (["--resume", "{tmp}"], 3, "is not a search run directory"),
    (["{recipe}", "--resume", "{tmp}"], 2, "--resume takes only the run directory"),
    (["{recipe}", "tiny_search", "--out", "{tmp}"], 3, "is not empty"),
    (["{recipe}", "tiny_search", "--device", "cuda:7"], 3,
     "no CUDA device"),
    (["{recipe}", "tiny_search", "--epochs", "0"], 2, "--epochs"),
    (["{recipe}", "tiny_search", "--data", "cifar11"], 2, "cifar10"),
    (["{recipe}", "tiny_search", "--seed", "1", "--resume", "{tmp}"], 2, "--resume takes only"),
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


def test_a_file_is_searched_without_a_name_only_when_it_holds_one_recipe(tmp_path, recipe):
    """The file of the `recipe` fixture declares a space and one recipe: the recipe is the one a
    search takes. With a second recipe, the command lists the declarations and exits 2."""
    from pathlib import Path

    from genospec.cli.common import pick_declaration
    assert pick_declaration(str(recipe), None, "search", "search").name == "tiny_search"
    two = tmp_path / "two.gs"
    text = Path(recipe).read_text()
    two.write_text(text + "\n" + text[text.index("search tiny_search"):].replace(
        "search tiny_search", "search other_search", 1))
    r = run("search", two)
    assert r.exit_code == 2 and r.stdout == ""
    assert "declares 2 search declarations; name one:" in r.stderr
    assert "  search   tiny_search\n  search   other_search\n" in r.stderr
