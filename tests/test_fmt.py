"""The formatter: canonical layout, comments kept, idempotent, meaning-preserving.

Files under specs/ must already be in the canonical layout (`genospec fmt --check specs` is
clean). The samples in tests/data/fmt/ have golden files tests/golden/fmt/<path>.golden,
regenerated with GENOSPEC_REGEN=1.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genospec.errors import InternalError, SpecError, SpecSyntaxError
from genospec.lang import fmt
from genospec.lang.fmt import format_file, format_text, module_meaning
from genospec.lang.loader import loads
from genospec.lang.parser import parse

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "fmt"
SAMPLES = sorted([*ROOT.glob("specs/**/*.gs"), *ROOT.glob("tests/data/fmt/*.gs")])
IDS = [str(p.relative_to(ROOT)) for p in SAMPLES]


def _comments(text: str) -> list[str]:
    return sorted(c.text.rstrip() for c in parse(text).comments)


def test_samples_exist() -> None:
    assert len([p for p in SAMPLES if "tests" in p.parts]) == 3


@pytest.mark.parametrize("path", SAMPLES, ids=IDS)
def test_sample_formats_stably_and_keeps_meaning(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    out = format_text(text, str(path))
    assert format_text(out, str(path)) == out
    assert module_meaning(loads(out, str(path))) == module_meaning(loads(text, str(path)))
    assert _comments(out) == _comments(text)
    if "specs" in path.relative_to(ROOT).parts[:1]:
        assert out == text, f"{path.name} is not formatted: run `genospec fmt {path.relative_to(ROOT)}`"
        return
    golden = GOLDEN / (str(path.relative_to(ROOT)).replace(os.sep, "__") + ".golden")
    if os.environ.get("GENOSPEC_REGEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden.name}: run with GENOSPEC_REGEN=1"
    assert out == golden.read_text(encoding="utf-8")


def test_layout_of_a_messy_space() -> None:
    text = ("space s{ops{none=zero() skip_connect = identity conv=sep_conv( 3 ) d=dil_conv(5,dilation = 2)}\n"
            "cell normal{inputs 2 nodes 2 edges 0 -> 2,1->2 , 0->3,2->3:skip_connect|conv edge 1->2 : none|d\n"
            "topology pick 1 .. 2 output concat 2,3}cell reduce extends normal{stride 2}\n"
            "network{stem conv(3,channels=3C) reduce at 1 / 3 , 2/3 drop_path 3e-1}}")
    assert format_text(text) == """\
space s {
  ops {
    none         = zero
    skip_connect = identity
    conv         = sep_conv(3)
    d            = dil_conv(5, dilation=2)
  }
  cell normal {
    inputs 2
    nodes 2
    edges 0->2, 1->2, 0->3, 2->3: skip_connect | conv
    edge 1->2: none | d
    topology pick 1..2
    output concat 2, 3
  }
  cell reduce extends normal {
    stride 2
  }
  network {
    stem conv(3, channels=3C)
    reduce at 1/3, 2/3
    drop_path 3e-1
  }
}
"""


def test_recipe_settings_one_per_line() -> None:
    text = ('space s { ops { a = identity } cell c { nodes 1 edges all } }\n'
            'search r of s { data cifar10 root "/d" split 0.5 subset 100,50 quick{epochs 1}\n'
            'stage one { epochs 3 warmup 1 weights sgd lr 0.025->1E-3 cosine '
            'bias a=+0.5 relax ops temperature 10 -> 0.2 per epoch quick { epochs 1 } } }')
    assert format_text(text) == """\
space s {
  ops {
    a = identity
  }
  cell c {
    nodes 1
    edges all
  }
}

search r of s {
  data cifar10
  root "/d"
  split 0.5
  subset 100, 50
  quick {
    epochs 1
  }
  stage one {
    epochs 3
    warmup 1
    weights sgd lr 0.025 -> 1E-3 cosine
    bias a=+0.5
    relax ops temperature 10 -> 0.2 per epoch
    quick {
      epochs 1
    }
  }
}
"""


def test_comment_placement() -> None:
    text = """\
# header

# about s
space s {  # on the header line
  ops { a = identity   # trailing a
        b = zero }     # after the ops block
  cell c {
    nodes 1
    edges 0->2,   # inside a statement
          1->2
    # end of the cell
  }
}
genotype g of s { cell c { 2 <- a(0), a(1) output concat 2 } }  # after g
# end of file
"""
    assert format_text(text) == """\
# header

# about s
space s {  # on the header line
  ops {
    a = identity  # trailing a
    b = zero
  }  # after the ops block
  cell c {
    nodes 1
    # inside a statement
    edges 0->2, 1->2
    # end of the cell
  }
}

genotype g of s {
  cell c {
    2 <- a(0), a(1)
    output concat 2
  }
}  # after g

# end of file
"""


def test_trailing_comments_of_consecutive_lines_share_a_column() -> None:
    out = format_text("space s { ops { a = identity # x\n long_name = zero # y\n } cell c { nodes 1 edges all } }")
    assert "    a         = identity  # x\n    long_name = zero      # y\n" in out


def test_empty_blocks_and_comment_only_files() -> None:
    assert format_text("space s {ops{} cell c{nodes 1 edges all}network{ }}") == (
        "space s {\n  ops {}\n  cell c {\n    nodes 1\n    edges all\n  }\n  network {}\n}\n")
    assert format_text("space s { ops {\n # nothing yet\n } cell c { nodes 1 edges all } }").startswith(
        "space s {\n  ops {\n    # nothing yet\n  }\n")
    assert format_text("  # only a comment\n\n\n# and another\n") == "# only a comment\n\n# and another\n"
    assert format_text("") == ""


def test_numbers_are_kept_as_written_and_crlf_is_read() -> None:
    out = format_text("space s {\r\n  network { drop_path 2.50E-1 }  # x\r\n  cell c { nodes 1 edges all } }\r\n")
    assert "    drop_path 2.50E-1\n  }  # x\n" in out and "\r" not in out


def test_imports_are_grouped_and_compared_on_own_declarations(tmp_path: Path) -> None:
    (tmp_path / "base.gs").write_text("space base { ops { a = identity } cell c { nodes 1 edges all } }\n")
    (tmp_path / "more.gs").write_text("space more extends base { }\n")
    f = tmp_path / "g.gs"
    f.write_text('import "base.gs"   import "more.gs"\ngenotype g of more { cell c { 2 <- a(0), a(1) } }\n')
    assert format_file(f) is True
    assert f.read_text() == ('import "base.gs"\nimport "more.gs"\n\ngenotype g of more {\n  cell c {\n'
                             '    2 <- a(0), a(1)\n  }\n}\n')
    assert format_file(f) is False


def test_format_file_check_mode_leaves_the_file(tmp_path: Path) -> None:
    f = tmp_path / "s.gs"
    f.write_text("space s { ops { a = identity } cell c { nodes 1 edges all } }")
    assert format_file(f, write=False) is True
    assert f.read_text() == "space s { ops { a = identity } cell c { nodes 1 edges all } }"
    with pytest.raises(SpecError, match="no such file"):
        format_file(tmp_path / "missing.gs")


def test_syntax_error_is_raised_unchanged() -> None:
    text = "space s {\n  cell c { nodes 2 edges all topology pick }\n}\n"
    with pytest.raises(SpecSyntaxError) as direct:
        parse(text, "bad.gs")
    with pytest.raises(SpecSyntaxError) as via_fmt:
        format_text(text, "bad.gs")
    assert str(via_fmt.value) == str(direct.value)
    assert "bad.gs:2:" in str(via_fmt.value)


def test_file_with_semantic_errors_is_still_formatted() -> None:
    text = "space s { ops { a = identity } cell c { nodes 1 edges all: b } }"
    with pytest.raises(SpecError):
        loads(text)
    assert "edges all: b\n" in format_text(text)


def test_a_printer_that_changes_syntax_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fmt.print_file
    monkeypatch.setattr(fmt, "print_file", lambda tree, text: real(tree, text).replace("pick 2", "pick 1"))
    with pytest.raises(InternalError, match="syntax tree"):
        format_text("space s { ops { a = identity } cell c { nodes 2 edges all topology pick 2 } }")


def test_a_printer_that_drops_a_comment_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fmt.print_file
    monkeypatch.setattr(fmt, "print_file", lambda tree, text: real(tree, text).replace("  # note", ""))
    with pytest.raises(InternalError, match="comment"):
        format_text("space s { ops { a = identity } # note\n cell c { nodes 1 edges all } }")


def test_the_ir_check_catches_a_change_the_syntax_check_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fmt.print_file
    monkeypatch.setattr(fmt, "print_file", lambda tree, text: real(tree, text).replace("nodes 2", "nodes 3"))
    monkeypatch.setattr(fmt, "syntax_shape", lambda node: None)
    with pytest.raises(InternalError, match="IR differs"):
        format_text("space s { ops { a = identity } cell c { nodes 2 edges all } }")


def test_an_unstable_printer_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fmt.print_file
    monkeypatch.setattr(fmt, "print_file", lambda tree, text: real(tree, text) + "\n" * (text.count("\n") + 1))
    with pytest.raises(InternalError, match="not stable"):
        format_text("space s { ops { a = identity } cell c { nodes 1 edges all } }")


def _strip_comments(text: str) -> str:
    lines = text.splitlines()
    for c in parse(text).comments:
        lines[c.line - 1] = lines[c.line - 1][:c.column - 1].rstrip()
    return "\n".join(lines) + "\n"


BARE = _strip_comments((ROOT / "tests" / "data" / "fmt" / "design.gs").read_text(encoding="utf-8"))
GAPS = list(re.finditer(r"\s+", BARE))
CANON = format_text(BARE)


def _regap(fills: list[str]) -> str:
    out, at = [], 0
    for gap, fill in zip(GAPS, fills):
        out += [BARE[at:gap.start()], fill]
        at = gap.end()
    return "".join(out) + BARE[at:]


@settings(max_examples=12, deadline=None)
@given(st.lists(st.sampled_from([" ", "\n", "\t\n  ", "\n\n\n"]), min_size=len(GAPS), max_size=len(GAPS)))
def test_layout_does_not_depend_on_whitespace(fills: list[str]) -> None:
    assert format_text(_regap(fills)) == CANON


@settings(max_examples=12, deadline=None)
@given(st.lists(st.sampled_from([" ", " ", "\n", " # after\n", "\n  # alone\n\n"]),
                min_size=len(GAPS), max_size=len(GAPS)))
def test_comments_anywhere_survive_and_settle(fills: list[str]) -> None:
    text = _regap(fills)
    out = format_text(text)  # itself checks: same syntax, same IR, comments kept, stable
    assert _comments(out) == _comments(text)
    code = [ln for ln in _strip_comments(out).splitlines() if ln]
    assert code == [ln for ln in CANON.splitlines() if ln]
