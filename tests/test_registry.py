"""The one registry: parts registered from Python are read by the language with their options;
recipe numbers outside their declared ranges are refused at the number (issues 13, 14)."""

from __future__ import annotations

import pytest

from genospec.errors import SpecError, SpecErrors
from genospec.lang.loader import load
from genospec.registry import (OP_KIND, OP_RELAXATION, REGULARISER, SELECTION, Option, Registry,
                               registry)

SPACE = """
space tiny {
  ops { skip = identity  conv = sep_conv(3) }
  cell normal { inputs 2 nodes 1 edges all topology pick 1 output concat }
  network { cells 3 channels 4 }
}
"""


def recipe(tmp_path, body: str):
    path = tmp_path / "r.gs"
    path.write_text(SPACE + "search s of tiny {\n" + body + "\n}\n", encoding="utf-8")
    return load(path).get("s")


def errors_of(tmp_path, body: str) -> list[str]:
    with pytest.raises((SpecError, SpecErrors)) as info:
        recipe(tmp_path, body)
    return str(info.value).splitlines()


@pytest.mark.parametrize("setting, message, caret", [
    ("weights sgd lr -0.1", "'weights': 'lr' must be in (0, 10], not -0.1", "-0.1"),
    ("weights sgd lr 0.1 momentum 1.5", "'momentum' must be in [0, 1), not 1.5", "1.5"),
    ("weights sgd lr 0.1 decay -1", "'decay' cannot be negative", "-1"),
    ("weights sgd lr 0.1 clip -5", "'clip' must be in (0, 1000000]", "-5"),
    ("arch adam betas 0.5, 1", "'betas' must be in [0, 1), not 1", "1"),
    ("arch adam lr 1e300", "'lr' must be in (0, 10]", "1e300"),
    ("seed 18446744073709551617", "'seed' must be in [0, 9007199254740992]",
     "18446744073709551617"),
    ("batch 0", "'batch' must be in [1, 1000000]", "0"),
    ("epochs 1000000000", "'epochs' must be in [0, 100000]", "1000000000"),
])
def test_numbers_outside_their_range_are_refused_at_the_number(tmp_path, setting, message,
                                                                caret):
    lines = errors_of(tmp_path, f"{setting}\n  stage a {{ epochs 1 }}")
    assert message in lines[0] and lines[0].startswith(str(tmp_path / "r.gs") + ":8:")
    source, marks = lines[1], lines[2]
    start = marks.index("^")
    assert source[start:start + len(caret)] == caret and marks.count("^") == len(caret)


def test_unknown_names_list_the_registered_ones(tmp_path):
    lines = errors_of(tmp_path, "stage a { select magnitud }")
    assert "unknown selection rule 'magnitud' (known: best combination" in lines[0]
    with pytest.raises(SpecError) as info:
        recipe(tmp_path, "data fashon_mnist\n stage a { epochs 1 }")
    assert "unknown dataset 'fashon_mnist'" in str(info.value)
    assert "did you mean 'fashion_mnist'" in str(info.value)
    with pytest.raises(SpecError, match="did you mean 'bilevel'"):
        recipe(tmp_path, "stage a { update bilevl }")


@pytest.fixture
def parts():
    """Register a relaxation, a selection rule and a regulariser for one test."""
    added = []

    def add(kind: str, name: str, target, **kwargs):
        registry(kind).register(name, target, **kwargs)
        added.append((kind, name))

    yield add
    for kind, name in added:
        registry(kind).unregister(name)


def test_parts_registered_from_python_are_read_with_their_options(tmp_path, parts):
    parts(OP_RELAXATION, "sharp", object, tags=("ops",), options=(
        Option("strength", float, 0.5, lo=0.0, hi=1.0),
        Option("hard", bool, False, flag="hard", flag_value=True)))
    parts(SELECTION, "leaders", object, words=("leaders",), options=(
        Option("k", int, 2, lo=1, hi=8, positional=True),))
    parts(REGULARISER, "tiny_l2", object, options=(Option("weight", float, 0.1, lo=0.0),))
    r = recipe(tmp_path, """
  stage a {
    relax ops sharp temperature 5 -> 1 per epoch strength 0.3 hard
    select leaders 3
    regularise tiny_l2 weight 0.2
  }""")
    s = r.stages[0].settings
    assert s["relax"] == [{"target": "ops", "method": "sharp", "t0": 5.0, "t_end": 1.0,
                           "decay": None, "min": None, "per": "epoch", "strength": 0.3,
                           "hard": True}]
    assert s["select"] == {"rule": "leaders", "k": 3}
    assert s["regularise"] == [{"name": "tiny_l2", "weight": 0.2}]
    lines = errors_of(tmp_path, "stage a { relax ops sharp strength 3 }")
    assert "'relax': 'strength' must be in [0, 1], not 3" in lines[0]
    lines = errors_of(tmp_path, "stage a { select leaders 9 }")
    assert "'select': 'k' must be in [1, 8], not 9" in lines[0]
    lines = errors_of(tmp_path, "stage a { regularise tiny_l2 wieght 1 }")
    assert "'regularise': regulariser 'tiny_l2' has no option 'wieght'" in lines[0]


def test_registry_rules():
    reg: Registry = Registry("thing")
    reg.register("a", "genospec.registry:Registry", options=(Option("x", int, 1, lo=0),))
    assert reg.get("a") is Registry  # imported on first use
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", object)
    with pytest.raises(SpecError, match=r"unknown thing 'b' \(known: a\)"):
        reg.get("b")
    assert reg.part("a").check({"x": 3}) == {"x": 3}
    with pytest.raises(SpecError, match="'x' cannot be negative"):
        reg.part("a").check({"x": -1})
    assert "sep_conv" in registry(OP_KIND).names()


def test_reading_a_recipe_does_not_import_torch():
    import subprocess
    import sys
    code = ("import sys; from genospec.lang.loader import load; "
            "load('specs/searches/dots.gs'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
