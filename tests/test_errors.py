"""Error messages, one bad file per error class, checked against golden text.

Each tests/data/bad/NAME.gs has a golden tests/golden/errors/NAME.txt holding ``str(error)``:
file:line:col, the message, the source line with a caret under the offending token, and a hint
(with a did-you-mean for misspelt names). Files are loaded from inside tests/data/bad so the
paths in the messages are the bare file names. Regenerate with GENOSPEC_REGEN=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genospec.errors import GenospecError, SpecError, SpecErrors, SpecSyntaxError
from genospec.lang.loader import load

ROOT = Path(__file__).resolve().parent
BAD = ROOT / "data" / "bad"
GOLDEN = ROOT / "golden" / "errors"
CASES = sorted(p.stem for p in BAD.glob("*.gs"))

# What each bad file is about: (error class, the first line of its message, a hint fragment).
EXPECTED = {
    "syntax_error": (SpecSyntaxError, "syntax_error.gs:8:3: error: unexpected '}'", "expected 'any', a number"),
    "unknown_op": (SpecError, "unknown_op.gs:6:16: error: unknown op 'skip_conect'",
                   "did you mean 'skip_connect'?"),
    "unknown_cell_extends": (SpecError, "unknown_cell_extends.gs:5:23: error: cell 'normla' is not defined",
                             "did you mean 'normal'?"),
    "unknown_space": (SpecError, "unknown_space.gs:2:15: error: space 'dartz' is not defined", None),
    "edge_to_itself": (SpecError, "edge_to_itself.gs:6:23: error: edge 3->3 connects a node to itself", None),
    "edge_from_later_node": (SpecError, "edge_from_later_node.gs:6:29: error: edge 3->2 goes to an earlier node",
                             "edges run from earlier nodes"),
    "genotype_input_from_later_node": (SpecError, "genotype_input_from_later_node.gs:4:40: error: node 2 cannot "
                                       "take input from node 3", "inputs come from earlier nodes 0..1"),
    "fewer_edges_than_pick": (SpecError, "fewer_edges_than_pick.gs:7:5: error: node 3 of cell 'normal' has 1 "
                              "incoming edge(s), fewer than 'pick 2' asks for", None),
    "op_in_two_groups": (SpecError, "op_in_two_groups.gs:6:27: error: op 'skip_connect' is in two groups "
                         "('free' and 'param')", "exactly one group"),
    "op_in_no_group": (SpecError, "op_in_no_group.gs:4:3: error: op(s) in no group: sep_conv_5x5",
                       "exactly one group"),
    "concat_missing_node": (SpecError, "concat_missing_node.gs:8:25: error: output names node 5, which cell "
                            "'normal' does not have", "intermediate nodes are 2..3"),
    "genotype_edge_absent": (SpecError, "genotype_edge_absent.gs:14:23: error: edge 0->3 is not in space 'path'",
                             "node 3 may take inputs from: 1, 2"),
    "genotype_op_not_allowed": (SpecErrors, "genotype_op_not_allowed.gs:14:27: error: op 'dil_conv_3x3' is not "
                                "allowed on edge 1->2", "allowed: skip_connect, sep_conv_3x3"),
    "genotype_wrong_input_count": (SpecError, "genotype_wrong_input_count.gs:10:5: error: node 3 has 3 input(s) "
                                   "but space 's' says 'pick 2'", None),
    "extends_cycle": (SpecError, "extends_cycle.gs:5:17: error: 'extends' forms a cycle: a -> b -> a", None),
    "import_cycle_a": (SpecError, "import_cycle_b.gs:2:1: error: import cycle: import_cycle_a.gs -> "
                       "import_cycle_b.gs -> import_cycle_a.gs", "remove one of the imports"),
    "import_cycle_b": (SpecError, "import_cycle_a.gs:2:1: error: import cycle: import_cycle_b.gs -> "
                       "import_cycle_a.gs -> import_cycle_b.gs", "remove one of the imports"),
    "duplicate_names": (SpecError, "duplicate_names.gs:7:10: error: 'tiny' is already declared at "
                        "duplicate_names.gs:2:7", "its own name"),
    "bad_recipe_setting": (SpecError, "bad_recipe_setting.gs:10:15: error: 'relax': unexpected 'temprature'",
                           "did you mean 'temperature'?"),
    "several_errors": (SpecErrors, "several_errors.gs:6:31: error: unknown op 'sep_conv_5x5'",
                       "did you mean 'sep_conv_3x3'?"),
}


def _error_of(name: str, monkeypatch: pytest.MonkeyPatch) -> GenospecError:
    monkeypatch.chdir(BAD)
    with pytest.raises(GenospecError) as info:
        load(f"{name}.gs")
    return info.value


def test_every_bad_file_is_described() -> None:
    assert CASES == sorted(EXPECTED)


@pytest.mark.parametrize("name", CASES)
def test_error_matches_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    error = _error_of(name, monkeypatch)
    text = str(error) + "\n"
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("GENOSPEC_REGEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden.name}: run with GENOSPEC_REGEN=1"
    assert text == golden.read_text(encoding="utf-8")

    kind, first_line, hint = EXPECTED[name]
    assert type(error) is kind
    assert text.splitlines()[0].startswith(first_line)
    if hint is not None:
        assert hint in text
    # the offending line is shown under the position, with a caret under the token
    lines = text.splitlines()
    assert lines[1].startswith(f"{int(first_line.split(':')[1]):>4} | ")
    column = int(first_line.split(":")[2])
    assert lines[2].index("^") == len(f"{0:>4} | ") + column - 1


def test_several_errors_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    error = _error_of("several_errors", monkeypatch)
    assert isinstance(error, SpecErrors)
    assert [(e.span.line, e.span.column, e.message) for e in error.errors] == [
        (6, 31, "unknown op 'sep_conv_5x5'"),
        (8, 22, "output names node 4, which cell 'normal' does not have"),  # once, though reduce inherits it
        (16, 40, "node 3 cannot take input from node 5"),
        (20, 13, "space 'tinny' is not defined"),
        (21, 22, "'epochs' cannot be negative"),
    ]
    assert error.exit_code == 1 and str(error).count("error:") == 5


def test_genotype_of_a_broken_space_adds_no_follow_up_errors(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    (tmp_path / "g.gs").write_text(
        "space s {\n  ops { skip_connect = identity }\n  cell normal { nodes 2  edges all: skip  topology pick 2 }\n}\n"
        "genotype g of s {\n  cell normal { 2 <- skip_connect(0)  3 <- skip_connect(2) }\n}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load("g.gs")
    assert str(info.value).splitlines()[0] == "g.gs:3:37: error: unknown op 'skip'"


@pytest.mark.parametrize("target, reason", [
    ("missing.gs", "no such file"),
    ("nul\x00.gs", "embedded null byte"),
    ("x" * 300 + ".gs", "File name too long"),
    ("loop.gs", ""),  # Python 3.11 reports a symlink loop, later versions find no file
], ids=["missing", "nul", "long", "loop"])
def test_unreadable_imports_are_spec_errors(target: str, reason: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "binary.gs").write_bytes(b"\xff\xfe\x00space")
    (tmp_path / "loop.gs").symlink_to(tmp_path / "loop2.gs")
    (tmp_path / "loop2.gs").symlink_to(tmp_path / "loop.gs")
    (tmp_path / "main.gs").write_text(f'import "{target}"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load("main.gs")
    first = str(info.value).splitlines()[0]
    assert first.startswith(f"main.gs:1:1: error: cannot import '") and reason in first


def test_an_imported_file_that_is_not_utf8_is_reported_at_its_first_bad_byte(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "binary.gs").write_bytes(b"space s {\n  ops { a\xff = identity }\n}\n")
    (tmp_path / "main.gs").write_text('import "binary.gs"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load("main.gs")
    assert str(info.value).splitlines()[0] == \
        "binary.gs:2:10: error: binary.gs is not UTF-8 text: byte 0xff cannot start or continue a character"


@pytest.mark.parametrize("make", ["directory", "loop"])
def test_unreadable_files_are_spec_errors(make: str, tmp_path: Path) -> None:
    path = tmp_path / "f.gs"
    if make == "directory":
        path.mkdir()
    else:
        path.symlink_to(path)
    with pytest.raises(SpecError, match=r"^error: cannot read .*f\.gs: "):
        load(path)
