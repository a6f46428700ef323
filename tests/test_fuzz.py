"""Fuzzing the loader: mutated spec files raise genospec errors and nothing else.

Every `.gs` file under specs/ is cut into units (the file's imports and space/search
declarations, plus at most one genotype, so that a unit loads in a few milliseconds), then
mutated at the token level (deletion, duplication, swaps, replacement by a token of another spec),
by inserting random characters, or by truncation. `loads` must either succeed or raise a
`GenospecError` whose text renders; any other exception is a bug in the language front end.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genospec.errors import GenospecError
from genospec.lang.loader import loads

SPECS = Path(__file__).resolve().parent.parent / "specs"
EXAMPLES_PER_MUTATION = 500

# Strings, comments, words/numbers, two-character operators, whitespace, any other character.
_TOKEN = re.compile(r'"[^"\n]*"|#[^\n]*|[\w.+-]+|->|<-|\s+|.', re.S)
_DECL = re.compile(r"^(?=(?:space|genotype|search)\b)", re.M)


def _units() -> list[tuple[Path, str]]:
    """(file, text) pairs covering every spec file; genotypes are split one per unit."""
    units = []
    for path in sorted(SPECS.rglob("*.gs")):
        head, *decls = _DECL.split(path.read_text(encoding="utf-8"))
        shared = head + "".join(d for d in decls if not d.startswith("genotype"))
        genotypes = [d for d in decls if d.startswith("genotype")]
        units += [(path, shared + g) for g in genotypes] or [(path, shared)]
    return units


UNITS = _units()
VOCABULARY = sorted({t for _, text in UNITS for t in _TOKEN.findall(text) if not t.isspace()})


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _check(path: Path, text: str) -> None:
    try:
        loads(text, str(path))
    except GenospecError as e:
        assert str(e)


@st.composite
def _mutated(draw: st.DrawFn, kind: str) -> tuple[Path, str]:
    path, text = draw(st.sampled_from(UNITS))
    toks = _tokens(text)
    solid = [i for i, t in enumerate(toks) if not t.isspace()]
    i = draw(st.sampled_from(solid))
    j = draw(st.sampled_from(solid))
    if kind == "delete":
        del toks[i]
    elif kind == "duplicate":
        toks.insert(j, toks[i] + " ")
    elif kind == "swap":
        toks[i], toks[j] = toks[j], toks[i]
    elif kind == "replace":
        toks[i] = draw(st.sampled_from(VOCABULARY))
    elif kind == "bytes":
        noise = draw(st.binary(min_size=1, max_size=12)).decode("latin-1")
        toks.insert(i, noise)
    elif kind == "truncate":
        cut = draw(st.integers(0, len(text)))
        return path, text[:cut]
    return path, "".join(toks)


def test_units_cover_every_spec_file() -> None:
    files = {p for p, _ in UNITS}
    assert files == set(SPECS.rglob("*.gs")) and len(files) >= 17
    for path, text in UNITS:  # unmutated units load
        loads(text, str(path))


@pytest.mark.parametrize("kind", ["delete", "duplicate", "swap", "replace", "bytes", "truncate"])
def test_mutations_raise_only_genospec_errors(kind: str) -> None:
    @settings(max_examples=EXAMPLES_PER_MUTATION, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_mutated(kind))
    def run(case: tuple[Path, str]) -> None:
        _check(*case)

    run()
