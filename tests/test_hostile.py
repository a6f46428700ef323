"""Hostile and mistaken input (issue 13): each case ends in a GenospecError with file:line:col and a
caret where a position exists, the documented exit code, no traceback, in seconds.

The limits are the named constants of genospec/limits.py (documented in docs/language.md).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from genospec import checkpoint, limits
from genospec.cli.main import main
from genospec.errors import GenospecError, GenospecWarning, SpecError, SpecErrors
from genospec.interchange import parse_genotype, parse_nb201
from genospec.lang.loader import load, loads
from genospec.search.engine import resume_search, start_search
from search_fixtures import DARTS_LIKE, TINY_SPACE, recipe_text, tiny_dataset

SPECS = Path(__file__).resolve().parent.parent / "specs"
HUGE = "9" * 5000  # more digits than Python converts (4,300)
NORMAL = "cell normal { 2 <- sep_conv_3x3(0), sep_conv_3x3(1) }"
REDUCE = "cell reduce { stride 2  2 <- sep_conv_3x3(0), sep_conv_3x3(1) }"


def _space(body: str = "", ops: str = "a = sep_conv(3)  b = identity", cell: str = "nodes 2 edges all") -> str:
    return f"space s {{\n  ops {{ {ops} }}\n  cell normal {{ {cell} }}\n{body}}}\n"


def _error(text: str, path: str = "x.gs") -> GenospecError:
    start = time.perf_counter()
    with pytest.raises(GenospecError) as info:
        loads(text, path)
    assert time.perf_counter() - start < 10
    return info.value


def _cli(*args: str, code: int) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result.output


# ---- numbers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    _space(ops=f"a = sep_conv({HUGE})"),
    _space(ops=f"a = dil_conv(3, dilation={HUGE})"),
    _space(body=f"  network {{ reduce at 1/{HUGE} }}\n"),
    _space(cell=f"nodes {HUGE} edges all"),
    _space(body=f"  network {{ channels {HUGE}C }}\n"),
    TINY_SPACE + f"search r of tiny {{ batch {HUGE}\n stage a {{ epochs 1 select magnitude }} }}",
], ids=["op-arg", "op-kwarg", "reduce-at", "nodes", "channels-C", "recipe"])
def test_a_number_of_5000_digits_is_refused_where_it_is_written(text: str) -> None:
    before = text[:text.index(HUGE)]
    line, col = before.count("\n") + 1, len(before) - before.rfind("\n")
    e = _error(text)
    assert e.exit_code == 1 and isinstance(e, SpecError)
    digits = len(text[len(before):].split()[0].rstrip(")"))  # 5,000, or 5,001 with the C of 3C
    assert str(e).startswith(f"x.gs:{line}:{col}: error: a number of {digits:,} characters is longer than "
                             f"the limit of {limits.MAX_NUMBER_CHARS}")
    assert len(str(e)) < 1000  # the line is clipped around the caret


def test_reduce_at_a_huge_exponent_is_refused_at_once() -> None:
    e = _error(_space(body="  network { reduce at 1/1e999999999 }\n"))
    assert str(e).splitlines()[0] == f"x.gs:4:25: error: the exponent of 1e999999999 is beyond the limit of " \
                                     f"±{limits.MAX_EXPONENT}"
    assert str(e).splitlines()[-1].strip() == "^" * len("1e999999999")


def test_numbers_at_the_limit_are_read_and_beyond_it_refused() -> None:
    at = "0." + "0" * (limits.MAX_NUMBER_CHARS - 3) + "1"
    assert len(at) == limits.MAX_NUMBER_CHARS
    loads(_space(body=f"  network {{ drop_path {at} }}\n"))  # at the limit: a number like any other
    e = _error(_space(body=f"  network {{ drop_path {at}0 }}\n"))
    assert "longer than the limit of 100" in str(e)
    loads(_space(body=f"  network {{ drop_path 1e-{limits.MAX_EXPONENT} }}\n"))
    assert "beyond the limit" in str(_error(_space(body=f"  network {{ drop_path 1e-{limits.MAX_EXPONENT + 1} }}\n")))
    assert "too large for a number" in str(_error(_space(body="  network { drop_path 1e309 }\n")))


def test_all_bad_numbers_of_a_file_are_reported_together() -> None:
    e = _error(_space(ops=f"a = sep_conv({HUGE})  b = max_pool({HUGE})"))
    assert isinstance(e, SpecErrors) and len(e.errors) == 2


@pytest.mark.parametrize("text", [
    f"Genotype(normal=[('sep_conv_3x3', {HUGE}), ('sep_conv_3x3', 1)], normal_concat=[2], "
    "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])",
    f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=range(2, {HUGE}), "
    "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])",
])
def test_darts_strings_with_huge_numbers_are_refused(text: str) -> None:
    with pytest.raises(GenospecError, match="a number of 5,000 digits is longer than the limit") as info:
        parse_genotype(text)
    assert info.value.exit_code == 1 and info.value.span is not None


def test_nb201_strings_with_huge_numbers_are_refused() -> None:
    with pytest.raises(GenospecError, match="expected op~source") as info:
        parse_nb201(f"|nor_conv_3x3~{HUGE}|")
    assert info.value.span.column == 2 and len(str(info.value)) < 1000


# ---- counting, genotypes, topologies ---------------------------------------------------------
def test_spaces_of_64_nodes_are_counted_and_described() -> None:
    text = _space(ops="a = sep_conv(3)  b = identity  c = max_pool(3)  z = zero",
                  cell="inputs 64 nodes 64 edges all topology keep all")
    out = _cli_on_text(text, code=0)
    assert "architectures in all: ≈" in out and "e+" in out


def _cli_on_text(text: str, *args: str, code: int) -> str:
    runner = CliRunner()
    with runner.isolated_filesystem():
        Path("x.gs").write_text(text, encoding="utf-8")
        result = runner.invoke(main, ["compile", "x.gs", *args])
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result.output


def test_a_genotype_without_a_stride_1_cell_is_a_spec_error() -> None:
    out = _cli_on_text(f"genotype g {{ {REDUCE} }}\n", code=1)
    assert "error: genotype 'g' (x.gs) has no stride-1 cell: every cell it declares (reduce) has stride 2" in out


def test_pick_any_beyond_the_limit_names_the_count_at_the_topology() -> None:
    e = _error(_space(cell="nodes 40 edges all topology pick any"))
    assert str(e).splitlines()[0] == (
        "x.gs:3:36: error: node 17 of cell 'normal' has 17 incoming edges: 'pick any' gives 131,071 edge "
        f"combinations, more than the limit of {limits.MAX_TOPOLOGY_CHOICES:,}")
    loads(_space(cell="nodes 15 edges all topology pick any"))  # node 16: 16 edges, 65,535: at the limit


def test_a_genotype_with_more_edges_than_the_limit_is_refused_at_its_node() -> None:
    n = limits.MAX_CELL_EDGES + 1
    text = "genotype g {\n  cell normal {\n    2 <- " + ", ".join(["sep_conv_3x3(0)"] * n) + "\n  }\n}\n"
    e = _error(text)
    assert str(e).splitlines()[0] == f"x.gs:3:5: error: cell 'normal' has {n:,} edges up to node 2, more than " \
                                     f"the limit of {limits.MAX_CELL_EDGES:,}"


# ---- network sizes -------------------------------------------------------------------------------
def test_huge_network_block_values_are_refused_at_each_number() -> None:
    e = _error(f"genotype g {{ {NORMAL} {REDUCE}\n  network {{ cells 1000000 channels 99999999 classes 10000000 "
               "input 100000 }\n}\n")
    assert [str(x).splitlines()[0] for x in e.errors] == [
        "x.gs:2:19: error: network cells 1000000 is more than the limit of 100",
        "x.gs:2:36: error: network channels 99999999 is more than the limit of 1,024",
        "x.gs:2:53: error: network classes 10000000 is more than the limit of 100,000",
        "x.gs:2:68: error: network input 100000 is more than the limit of 1,024"]


@pytest.mark.parametrize("args, message", [
    (("--input", "-1"), "-1 is not in the range 1<=x<=1024"),
    (("--input", "0"), "0 is not in the range 1<=x<=1024"),
    (("--in-chans", "0"), "0 is not in the range 1<=x<=64"),
    (("--cells", "1000000"), "1000000 is not in the range 1<=x<=100"),
    (("--channels", "100000"), "100000 is not in the range 1<=x<=1024"),
    (("--classes", "100000000"), "100000000 is not in the range 1<=x<=100000"),
])
def test_compile_options_beyond_their_limits_are_usage_errors(args: tuple[str, ...], message: str) -> None:
    assert message in _cli("compile", str(SPECS / "genotypes" / "darts.gs"), "DARTS_V2", *args, code=2)


def test_train_options_beyond_their_limits_are_usage_errors() -> None:
    out = _cli("train", str(SPECS / "genotypes" / "darts.gs"), "DARTS_V2", "--channels", "0", code=2)
    assert "0 is not in the range 1<=x<=1024" in out


@pytest.mark.parametrize("args, message", [
    (("--cells", "100", "--channels", "1024"), "parameters, more than the limit of 1,000,000,000"),
    (("--channels", "1024", "--input", "1024"), "GiB, more than the limit of 1 GiB"),
])
def test_networks_too_large_for_memory_are_refused_before_they_are_built(args: tuple[str, ...],
                                                                          message: str) -> None:
    start = time.perf_counter()
    out = _cli("compile", str(SPECS / "genotypes" / "darts.gs"), "DARTS_V2", *args, code=1)
    assert message in out and time.perf_counter() - start < 30


# ---- error printing ------------------------------------------------------------------------------
def test_thousands_of_errors_print_in_linear_time_and_the_rest_are_counted() -> None:
    n = 3000
    text = "space s {\n  ops {\n" + "".join(f"    o{i} = bogus\n" for i in range(n)) + "  }\n}\n"
    start = time.perf_counter()
    e = _error(text)
    shown = str(e)
    assert time.perf_counter() - start < 10
    assert shown.count(": error: ") == limits.MAX_PRINTED_ERRORS  # n unknown kinds and a space with no cell
    assert shown.endswith(f"... and {n + 1 - limits.MAX_PRINTED_ERRORS:,} more errors ({n + 1:,} in all)")


def test_errors_on_one_long_line_show_it_clipped_around_the_caret() -> None:
    text = "space s { ops { " + " ".join(f"o{i} = bogus" for i in range(2999)) + " } }\n"
    e = _error(text)
    shown = str(e)
    assert len(shown) < 20_000
    last = e.errors[-1]
    rendered = str(last).splitlines()
    assert rendered[1].startswith("   1 | ...") and len(rendered[1]) < limits.MAX_SHOWN_LINE + 20
    caret = rendered[2].index("^")
    assert rendered[1][caret:caret + 5] == "bogus"


@pytest.mark.parametrize("sep", ["\x0c", "\x0b", "\x85", "\u2028", "\u2029", "\r"],
                         ids=["ff", "vt", "nel", "ls", "ps", "cr"])
def test_the_caret_is_under_the_right_line_whatever_line_separators_the_file_holds(sep: str) -> None:
    text = (f"# a comment{sep}with a separator{sep}\n" + f"space s {{ # {sep} {sep}\n"
            + "  ops { a = sep_conv(3) }\n  cell normal { nodes 2 edges all: a | bogus }\n}\n")
    e = _error(text)
    lines = str(e).splitlines()
    assert lines[0] == "x.gs:4:40: error: unknown op 'bogus'"
    assert lines[1] == "   4 |   cell normal { nodes 2 edges all: a | bogus }"
    assert lines[2].index("^") == lines[1].index("bogus")


def test_a_syntax_error_after_a_form_feed_is_shown_on_its_own_line() -> None:
    e = _error("space s {\x0c\n  ops { a = sep_conv(3) }\x0c  ]\n}\n")
    lines = str(e).splitlines()
    assert lines[0] == "x.gs:2:29: error: unexpected ']'"
    assert lines[1] == "   2 |   ops { a = sep_conv(3) }   ]"  # the form feed shows as a space


def test_a_file_that_is_not_utf8_is_reported_at_its_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "bad.gs"
    path.write_bytes("space s {\n  ops { a = identity }  # é\n  # caf".encode("utf-8") + b"\xe9 ok\n}\n")
    with pytest.raises(SpecError) as info:
        load(path)
    first = str(info.value).splitlines()[0]
    assert str(info.value).splitlines()[1] == "   3 |   # caf\ufffd ok"
    assert first == f"{path}:3:8: error: {path} is not UTF-8 text: byte 0xe9 cannot start or continue a character"


# ---- files ---------------------------------------------------------------------------------------
def test_devices_fifos_and_directories_are_refused_without_reading(tmp_path: Path) -> None:
    start = time.perf_counter()
    assert "cannot read /dev/zero: it is a character device, not a regular file" in \
        _cli("compile", "/dev/zero", code=1)
    fifo = tmp_path / "pipe.gs"
    os.mkfifo(fifo)
    assert "it is a FIFO (named pipe), not a regular file" in _cli("compile", str(fifo), code=1)
    assert "it is a FIFO (named pipe), not a regular file" in _cli("fmt", str(fifo), code=1)
    assert "it is a character device" in _cli("convert", "/dev/zero", "--to", "gs", code=1)
    (tmp_path / "dir.gs").mkdir()
    (tmp_path / "main.gs").write_text('import "dir.gs"\nimport "pipe.gs"\n', encoding="utf-8")
    with pytest.raises(SpecErrors) as info:
        load(tmp_path / "main.gs")
    assert [str(e).splitlines()[0].split(": ", 1)[1] for e in info.value.errors] == [
        "error: cannot import 'dir.gs': it is a directory, not a regular file",
        "error: cannot import 'pipe.gs': it is a FIFO (named pipe), not a regular file"]
    assert time.perf_counter() - start < 10


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.gs"
    path.write_text("#" * (limits.MAX_FILE_BYTES + 1), encoding="utf-8")
    with pytest.raises(SpecError, match=f"it has {limits.MAX_FILE_BYTES + 1:,} bytes or more, more than the "
                                        f"limit of {limits.MAX_FILE_BYTES:,}"):
        load(path)


def test_importing_a_file_that_is_not_gs_never_shows_its_content(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secrethash:19000:0:99999:7:::\n", encoding="utf-8")
    (tmp_path / "main.gs").write_text(f'import "{secret}"\n', encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load(tmp_path / "main.gs")
    assert "secrethash" not in str(info.value) and "$6$" not in str(info.value)
    assert f"cannot import '{secret}': only .gs files can be imported" in str(info.value)


# ---- convert -------------------------------------------------------------------------------------
GENOTYPE = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=[2], "
            "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])")


@pytest.mark.parametrize("text, message", [
    (GENOTYPE.replace("normal_concat=[2]", "normal_concat=" + "[" * 990 + "]" * 990),
     f"brackets nested more than {limits.MAX_NESTING} deep"),
    (GENOTYPE.replace("reduce_concat=[2]", "reduce_concat=range(0, 100000000)"),
     "range(0, 100000000) lists 100,000,000 nodes, more than the limit of 64"),
    (GENOTYPE.replace("('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat",
                      ", ".join(["('sep_conv_3x3', 0)"] * 10_000) + "], normal_concat", 1),
     f"a list of more than {limits.MAX_GENOTYPE_ENTRIES} items"),
    (GENOTYPE.replace("('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat",
                      ", ".join(["('sep_conv_3x3', 0)"] * 100_000) + "], normal_concat", 1),
     f"characters, more than the limit of {limits.MAX_FILE_BYTES:,}"),
    ("|none~0|+" * 1000 + "|none~0|", "1,001 nodes, more than the limit of 64"),
], ids=["nesting", "range", "10000-edges", "100000-edges", "nb201-nodes"])
def test_convert_bounds_depth_and_size(text: str, message: str) -> None:
    start = time.perf_counter()
    out = _cli("convert", text, "--to", "gs", code=1)
    assert message in out and time.perf_counter() - start < 10
    assert len(out) < 2000


def test_convert_reads_deep_json_without_a_recursion_error(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert "JSON nested too deep" in _cli("convert", str(tmp_path / "deep.json"), "--to", "gs", code=1)


# ---- run directories -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny search whose recipe imports its space from another directory."""
    tmp = tmp_path_factory.mktemp("hostile_run")
    (tmp / "spaces").mkdir()
    (tmp / "spaces" / "tiny.gs").write_text(TINY_SPACE, encoding="utf-8")
    (tmp / "recipes").mkdir()
    path = tmp / "recipes" / "recipe.gs"
    body = DARTS_LIKE.replace("epochs 3", "epochs 1")
    path.write_text('import "../spaces/tiny.gs"\n' + recipe_text("", body), encoding="utf-8")
    recipe = load(path).get("tiny_search")
    return start_search(recipe, out=tmp / "run", dataset=tiny_dataset()).run.path


@pytest.fixture
def run_copy(finished_run: Path, tmp_path: Path) -> Path:
    shutil.copytree(finished_run, tmp_path / "run")
    return tmp_path / "run"


def test_the_recipe_copied_into_a_run_compiles_from_there(finished_run: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(finished_run, moved)  # the original import path means nothing here
    recipe = load(moved / "recipe.gs").get("tiny_search")
    assert recipe.space.name == "tiny" and [s.name for s in recipe.stages] == ["search"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot read"),
    ("[]", "is damaged: missing or malformed recipe, space, start, stages"),
    ('{"recipe": "r", "space": "s", "start": 0, "stages": [1]}', "malformed stages"),
    ('{"recipe": "r", "space": "s", "start": 5, "stages": []}', "malformed start (stage 5 of 0)"),
])
def test_a_malformed_resolved_json_ends_in_exit_3_naming_the_file(run_copy: Path, content: str,
                                                                  message: str) -> None:
    (run_copy / "resolved.json").write_text(content, encoding="utf-8")
    out = _cli("search", "--resume", str(run_copy), code=3)
    assert f"{run_copy / 'resolved.json'}" in out and message in out


def _rewrite_checkpoint(run: Path, change) -> None:
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    change(state)
    torch.save(state, run / "checkpoint.pt")
    (run / "checkpoint.prev.pt").unlink(missing_ok=True)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("model"), "checkpoint.pt lacks model"),
    (lambda s: s.update(epoch="three"), "checkpoint.pt: 'epoch' holds str, not int"),
    (lambda s: s.update(stage=7), "checkpoint.pt: stage 7, epoch 1, step 0 is not a point of this run"),
    (lambda s: s.update(run_id="0123456789abcdef"), "checkpoint.pt was written by another run"),
], ids=["missing-key", "wrong-type", "bad-stage", "another-run"])
def test_a_foreign_or_damaged_checkpoint_ends_in_exit_3_naming_the_file(run_copy: Path, change,
                                                                       message: str) -> None:
    _rewrite_checkpoint(run_copy, change)
    with pytest.raises(checkpoint.CheckpointError, match=message) as info:
        resume_search(run_copy, dataset=tiny_dataset())
    assert info.value.exit_code == 3
    out = _cli("search", "--resume", str(run_copy), code=3)
    assert message in out


def test_a_checkpoint_of_another_space_is_refused(finished_run: Path, run_copy: Path) -> None:
    space = run_copy / "space.gs"
    space.write_text(space.read_text(encoding="utf-8").replace("nodes 2", "nodes 3"), encoding="utf-8")
    with pytest.raises(checkpoint.CheckpointError, match="written by another run"):
        resume_search(run_copy, dataset=tiny_dataset())


def test_a_damaged_checkpoint_falls_back_to_the_previous_one_and_says_so(run_copy: Path) -> None:
    shutil.copyfile(run_copy / "checkpoint.pt", run_copy / "checkpoint.prev.pt")
    (run_copy / "checkpoint.pt").write_bytes(b"\x00" * 100)
    with pytest.warns(GenospecWarning, match=r"checkpoint\.pt: .*continuing from the previous checkpoint "
                                             r".*checkpoint\.prev\.pt"):
        state = checkpoint.load(run_copy / "checkpoint.pt")
    assert state["stage"] == 0


def test_the_cli_prints_the_fallback_as_a_warning(run_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copyfile(run_copy / "checkpoint.pt", run_copy / "checkpoint.prev.pt")
    (run_copy / "checkpoint.pt").write_bytes(b"\x00" * 100)
    (run_copy / "resolved.json").write_text(
        json.dumps({**json.loads((run_copy / "resolved.json").read_text()), "data": "no_such_dataset"}))
    result = CliRunner().invoke(main, ["search", "--resume", str(run_copy), "--quiet"])
    assert "warning: " in result.output and "continuing from the previous checkpoint" in result.output
    assert "Traceback" not in result.output


def test_a_call_among_a_settings_values_is_a_spec_error_not_a_parse_tree() -> None:
    e = _error(TINY_SPACE + "search r of tiny {\n  stage a { epochs 1  arch adam f(3) lr 1e-3  select magnitude }\n}\n")
    assert str(e).splitlines()[0] == "x.gs:20:33: error: 'arch': unexpected 'f'"
