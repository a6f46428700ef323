"""Fuzzing the loader: mutated spec files raise genospec errors and nothing else.

Every `.gs` file under specs/ is cut into units (see fuzz_cases.py), then mutated at the token
level (deletion, duplication, swaps, replacement by a token of another spec), by inserting random
characters, or by truncation; and by the hostile generators of fuzz_cases.py (byte-level
mutations, numbers at and beyond the limits, deep nesting, Unicode line separators, very long
lines, thousands of errors, DARTS and NAS-Bench-201 strings), also through the CLI. `loads` must
either succeed or raise a `GenospecError` whose text renders, stays short and points where the
parser saw the problem; any other exception is a bug. tests/fuzz_long.py runs the same
generators for minutes.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_cases
from fuzz_cases import SPECS, TOKEN, UNITS, VOCABULARY
from genospec.cli.main import main
from genospec.errors import GenospecError
from genospec.lang.loader import loads

EXAMPLES_PER_MUTATION = 500
EXAMPLES_PER_HOSTILE_KIND = {"bytes": 150, "numbers": 150, "nesting": 40, "separators": 150,
                             "long_line": 25, "many_errors": 12, "darts": 150, "nb201": 150}
CLI_EXAMPLES = 25


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


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


@pytest.mark.parametrize("kind", fuzz_cases.KINDS)
def test_hostile_inputs_raise_only_short_genospec_errors_in_seconds(kind: str) -> None:
    @settings(max_examples=EXAMPLES_PER_HOSTILE_KIND[kind], deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.randoms(use_true_random=False))
    def run(rng: random.Random) -> None:
        case = fuzz_cases.make(kind, rng)
        start = time.perf_counter()
        fuzz_cases.check(case)
        assert time.perf_counter() - start < 10, case

    run()


def test_the_cli_on_mutants_exits_0_or_1_without_a_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    rng = random.Random(13)
    spaces = [k for k in fuzz_cases.GS_KINDS]
    for i in range(CLI_EXAMPLES):
        case = fuzz_cases.gs_case(spaces[i % len(spaces)], rng)
        path = tmp_path / f"mutant{i}.gs"
        path.write_bytes(case.data if isinstance(case.data, bytes) else case.data.encode("utf-8", "surrogatepass"))
        command = ["compile", str(path)] if i % 2 else ["fmt", "--check", str(path)]
        result = runner.invoke(main, command)
        assert result.exit_code in (0, 1), (case, result.output[-2000:], result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), case
        assert "Traceback" not in result.output and len(result.output) < fuzz_cases.MAX_MESSAGE
