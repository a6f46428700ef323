"""Plugins through the CLI: docs/examples/my_parts.py registers an op, an op relaxation, a
selection rule and a regulariser; docs/examples/my_search.gs names them (docs/extending.md)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from genospec.cli.main import main
from genospec.lang.loader import load

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def test_the_extending_example_runs_end_to_end_through_the_cli(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["--plugin", str(EXAMPLES / "my_parts.py"), "search",
                                  str(EXAMPLES / "my_search.gs"), "--quick", "--out", str(out),
                                  "--quiet"])
    assert r.exit_code == 0, r.stderr
    genotype = load(out / "genotype.gs").get()
    assert genotype.is_genotype
    assert {e.op for c in genotype.cells.values() for e in c.edges()} <= {"skip", "gated", "pool"}
    plan = json.loads((out / "resolved.json").read_text())
    ops = plan["stages"][0]["settings"]
    assert plan["format"] == 3  # typed settings (genospec.lang.settings.StageSettings)
    relax = ops["relax"][0]
    assert relax["method"] == "sharpened" and relax["options"]["strength"] == 0.3
    assert ops["select"] == {"name": "strongest", "options": {}} and ops["plugins"] == ["my_parts"]
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["alpha_l2"] > 0  # the regulariser's term ran in the architecture step
    assert (out / "operations.gs").is_file()  # the custom rule left a reduced space


def test_a_plugin_that_cannot_be_imported_is_a_user_error(tmp_path):
    r = CliRunner().invoke(main, ["--plugin", "no_such_genospec_plugin", "fmt", "--help"])
    assert r.exit_code == 1
    assert "plugin 'no_such_genospec_plugin' cannot be imported" in r.stderr


def test_a_recipe_naming_an_unregistered_part_lists_the_known_ones(tmp_path):
    text = (EXAMPLES / "my_search.gs").read_text().replace('plugins "my_parts"\n', "")
    text = text.replace("select strongest", "select strongst")
    path = tmp_path / "r.gs"
    path.write_text(text)
    r = CliRunner().invoke(main, ["compile", str(path), "my_search"])
    assert r.exit_code == 1
    assert "unknown selection rule 'strongst'" in r.stderr or \
        "unknown op kind" in r.stderr or "gated_conv" in r.stderr
