"""The long fuzz run (outside the test suite's time budget): every generator of fuzz_cases.py, plus
the token-level mutations of test_fuzz.py, for a given number of seconds.

    OMP_NUM_THREADS=1 python tests/fuzz_long.py --seconds 300 [--seed 0]

Prints the cases run per kind, the number of exceptions that are not GenospecErrors (each with
its case and traceback; must be 0), the count of failed checks, the slowest case and the peak
memory of the process (resource.getrusage). Exit status 1 when anything but a GenospecError or a
clean load happened.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_cases  # noqa: E402
from fuzz_cases import TOKEN, UNITS, VOCABULARY, Case  # noqa: E402
from genospec.errors import GenospecError  # noqa: E402


def token_case(rng: random.Random) -> Case:
    """test_fuzz.py's mutations: delete, duplicate, swap, replace a token; insert noise; truncate."""
    path, text = rng.choice(UNITS)
    toks = TOKEN.findall(text)
    solid = [i for i, t in enumerate(toks) if not t.isspace()]
    for _ in range(rng.randint(1, 4)):
        i, j = rng.choice(solid), rng.choice(solid)
        how = rng.choice(["delete", "duplicate", "swap", "replace", "noise", "truncate"])
        if how == "delete":
            toks[i] = ""
        elif how == "duplicate":
            toks[j] = toks[i] + " " + toks[j]
        elif how == "swap":
            toks[i], toks[j] = toks[j], toks[i]
        elif how == "replace":
            toks[i] = rng.choice(VOCABULARY)
        elif how == "noise":
            toks[i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12))).decode("latin-1") + toks[i]
        else:
            toks = toks[:i]
            break
    return Case("tokens", str(path), "".join(toks))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    kinds = [*fuzz_cases.KINDS, "tokens"]
    runs, spec_errors, bad = Counter(), Counter(), []
    failed_checks = 0
    slowest = (0.0, None)
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        kind = rng.choice(kinds)
        case = token_case(rng) if kind == "tokens" else fuzz_cases.make(kind, rng)
        start = time.perf_counter()
        try:
            fuzz_cases.run(case)
        except GenospecError as e:
            spec_errors[kind] += 1
            try:
                fuzz_cases.check_error(e, case)
            except AssertionError as failure:
                failed_checks += 1
                print(f"CHECK FAILED {failure!r:.2000}", flush=True)
        except Exception:  # noqa: BLE001 - what the run is looking for
            bad.append(case)
            print(f"NOT A GenospecError in {case!r}\n{traceback.format_exc()}", flush=True)
        took = time.perf_counter() - start
        runs[kind] += 1
        if took > slowest[0]:
            slowest = (took, case)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"cases run: {sum(runs.values()):,} in {args.seconds:.0f} s (seed {args.seed})")
    for kind in kinds:
        print(f"  {kind:12} {runs[kind]:7,} run, {spec_errors[kind]:7,} ended in a GenospecError")
    print(f"non-GenospecError exceptions: {len(bad)}")
    print(f"failed message checks: {failed_checks}")
    took, case = slowest
    shown = re.sub(r"\s+", " ", repr(case))[:300]
    print(f"slowest case: {took:.2f} s: {shown}")
    print(f"peak memory (max RSS): {peak:.0f} MiB")
    return 1 if bad or failed_checks else 0


if __name__ == "__main__":
    sys.exit(main())
