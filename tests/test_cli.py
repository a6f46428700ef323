"""The command line through click's CliRunner (stdout and stderr apart) and subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from genospec.cli.main import main

DATA = Path(__file__).parent / "data"
DESIGN = str(DATA / "design.gs")
FIXTURE = DATA / "published_genotypes.txt"


def run(*args: str) -> "click.testing.Result":  # noqa: F821
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_compile_space_prints_exact_counts() -> None:
    r = run("compile", DESIGN, "darts")
    assert r.exit_code == 0, r.stderr
    assert "architectures: 1,037,664,180" in r.stdout
    assert "architectures in all: 1,076,746,950,455,072,400" in r.stdout
    assert "topologies: 180" in r.stdout
    r = run("compile", DESIGN, "any")
    assert "architectures: 4,319,684,586,945" in r.stdout


def test_compile_genotype_reports_parameters_and_macs() -> None:
    r = run("compile", DESIGN, "darts_v2", "--channels", "36", "--cells", "20", "--auxiliary")
    assert r.exit_code == 0, r.stderr
    assert "parameters: 3,825,768 with the auxiliary head, 3,349,342 without" in r.stdout
    assert "multiply-adds:" in r.stdout


def test_compile_json_is_valid_ir() -> None:
    from genospec.irjson import space_from_json, validate_ir_json
    r = run("compile", DESIGN, "s2", "--json")
    doc = json.loads(r.stdout)
    validate_ir_json(doc)
    assert space_from_json(doc).name == "s2"


def test_spec_error_goes_to_stderr_with_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gs"
    bad.write_text("space s {\n  ops { a = sep_cnv(3) }\n  cell c { nodes 1 edges all: b }\n}\n")
    r = run("compile", str(bad))
    assert r.exit_code == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0].endswith("bad.gs:2:13: error: unknown op kind 'sep_cnv'")
    assert lines[1] == "   2 |   ops { a = sep_cnv(3) }"
    assert lines[2] == " " * 19 + "^" * 7
    assert lines[3] == "hint: did you mean 'sep_conv'?"
    assert lines[5].endswith("bad.gs:3:31: error: unknown op 'b'")  # all errors of a file at once


def test_usage_error_exit_2() -> None:
    r = run("compile")
    assert r.exit_code == 2


@pytest.mark.parametrize("command", ["compile", "render", "fmt", "convert"])
def test_every_command_help_has_an_example(command: str) -> None:
    r = run(command, "--help")
    assert r.exit_code == 0 and "Examples:" in r.stdout and f"genospec {command}" in r.stdout


def test_convert_darts_round_trip() -> None:
    line = next(ln for ln in FIXTURE.read_text().splitlines() if ln.startswith("DARTS_V2 ="))
    text = line.split("=", 1)[1].strip()
    r = run("convert", text, "--to", "darts")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == text


def test_convert_nb201_and_bad_input() -> None:
    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"
    r = run("convert", arch, "--to", "nb201")
    assert r.stdout.strip() == arch
    r = run("convert", "hello", "--to", "gs")
    assert r.exit_code == 1 and "cannot tell what this is" in r.stderr


def test_render_writes_svg_with_only_concat_nodes_feeding_output(tmp_path: Path) -> None:
    g = tmp_path / "g.gs"
    g.write_text("genotype g { cell normal { 2 <- skip_connect(0), skip_connect(1)  3 <- sep_conv_3x3(2)\n"
                 "  output concat 3 } }\n")
    out = tmp_path / "g.svg"
    r = run("render", str(g), "-o", str(out))
    assert r.exit_code == 0, r.stderr
    svg = out.read_text()
    assert "<title>3&#45;&gt;out</title>" in svg and "<title>2&#45;&gt;out</title>" not in svg
    assert "sep_conv_3x3" in svg


LIGHT = """
import sys
from click.testing import CliRunner
from genospec.cli.main import main
r = CliRunner().invoke(main, {args!r})
assert r.exit_code == 0, (r.output, r.exception)
heavy = sorted(m for m in ("torch", "torchvision") if m in sys.modules)
print(",".join(heavy) or "none")
"""


@pytest.mark.parametrize("args", [
    ["--help"],
    ["fmt", "{tmp}/design.gs"],
    ["convert", DESIGN, "--name", "darts_v2", "--to", "darts"],
    ["render", DESIGN, "darts_v2", "--cell", "normal", "-o", "{tmp}/x.gv"],
    ["compile", DESIGN, "darts"],
])
def test_light_commands_never_import_torch(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "design.gs").write_text(Path(DESIGN).read_text())
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = subprocess.run([sys.executable, "-c", LIGHT.format(args=args)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"
