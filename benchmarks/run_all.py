"""Run every benchmark, print a short table and write the results as JSON.

    python benchmarks/run_all.py --reference /path/to/darts            # three alternating pairs
    python benchmarks/run_all.py --reference /path/to/darts --quick    # batch 16, one pair
    python benchmarks/run_all.py --options                             # also genospec's speed options

Rows: the DARTS_V2 evaluation network step, the supernet steps (first-order bilevel, one-level,
the quick setting: first-order at 5 cells, C=8, batch 32; DOTS topology stage) and, with
``--options``, genospec's first-order bilevel step with each speed option. Every row runs the two
codes alternately ``--repeat`` times (default 3: reference, genospec, reference, ...) and keeps
the median of each side; the table marks each ratio against its target (TARGETS). Ratios are
genospec / reference (below 1: genospec is faster or smaller); option rows divide by the plain
reference row, and by genospec's plain row (``vs_plain_*``). Without a reference checkout the
genospec rows run alone.
"""

from __future__ import annotations

import argparse

import common
import eval_step
import startup
import supernet_step
from reference import ReferenceNotFound, find_reference

# genospec-only variants of the first-order step: `supernet checkpoint ops`, `supernet checkpoint
# cells`, and plain autograd (what the blocks of genospec/nn/recompute.py and pool_bn.py save)
OPTIONS = {"checkpoint-ops": ["--keep", "input"], "checkpoint": ["--checkpoint"],
           "keep-all": ["--keep", "all"]}


# the targets of the speed issue: time and peak-memory ratio genospec / reference, per row
TARGETS = {"eval DARTS_V2 C16 8 cells": (0.5, 0.8), "supernet DARTS 1st order": (0.33, 0.5),
           "supernet one-level": (0.33, 0.5), "supernet quick (5 cells, C=8, batch 32)": (0.4, None)}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _pair(rows: list[dict], name: str) -> dict:
    """One table entry from the results of one benchmark (reference first when present)."""
    by_impl = {r["impl"]: r for r in rows}
    ref, gen = by_impl.get("reference"), by_impl["genospec"]
    return {"name": name, "reference": ref, "genospec": gen,
            "time_ratio": _ratio(gen["wall_s"], ref and ref["wall_s"]),
            "cpu_ratio": _ratio(gen["cpu_s"], ref and ref["cpu_s"]),
            "memory_ratio": _ratio(gen["peak_rss_gib"], ref and ref["peak_rss_gib"]),
            "saved_ratio": _ratio(gen["saved_activations_mib"],
                                  ref and ref["saved_activations_mib"])}


def _step_args(module, common_args: list[str], extra: list[str]) -> list[dict]:
    return module.configs(module.build_parser().parse_args(common_args + extra))


def run(args: argparse.Namespace) -> dict:
    """Every benchmark; the JSON document `main` writes."""
    have_ref = True
    try:
        find_reference(args.reference)
    except ReferenceNotFound as e:
        have_ref = False
        print(f"note: {e}; running genospec alone")
    shared = ["--batch", str(args.batch), "--warmup", str(args.warmup),
              "--steps", str(args.steps)]
    if args.reference:
        shared += ["--reference", args.reference]
    if args.threads:
        shared += ["--threads", str(args.threads)]
    if not have_ref:
        shared.append("--genospec-only")

    def bench(module, name: str, extra: list[str], reference: dict | None = None) -> dict:
        rows = common.run_alternating(module.__file__, _step_args(module, shared, extra),
                                      args.repeat)
        for r in rows:
            print("  " + common.describe(r))
        return _pair(rows + ([reference] if reference else []), name)

    doc: dict = {"environment": common.environment(), "settings": vars(args)}
    print("start-up")
    doc["startup"] = startup.measure(args.startup_runs)
    print(f"  --help {doc['startup']['help_s'] * 1000:.0f} ms, compile darts.gs "
          f"{doc['startup']['compile_cold_s'] * 1000:.0f} ms cold / "
          f"{doc['startup']['compile_warm_s'] * 1000:.1f} ms warm")
    entries = []
    print("training steps")
    # a step of the evaluation network takes about a second: more timed steps per run
    entries.append(bench(eval_step, "eval DARTS_V2 C16 8 cells",
                         ["--steps", str(max(args.steps, 5))]))
    entries.append(bench(supernet_step, "supernet DARTS 1st order", ["--setting", "darts"]))
    entries.append(bench(supernet_step, "supernet one-level", ["--setting", "onelevel"]))
    entries.append(bench(supernet_step, "supernet quick (5 cells, C=8, batch 32)",
                         ["--setting", "darts", "--cells", "5", "--channels", "8",
                          "--batch", "32"]))
    entries.append(bench(supernet_step, "supernet DOTS topology (17 cells)",
                         ["--setting", "dots_topology"]))
    if args.options:  # genospec alone, compared with the plain rows of both
        plain, plain_ref = entries[1]["genospec"], entries[1]["reference"]
        for option, flags in OPTIONS.items():
            entry = bench(supernet_step, f"supernet DARTS 1st order +{option}",
                          ["--setting", "darts", *flags, "--genospec-only"], plain_ref)
            entry["vs_plain_time"] = _ratio(entry["genospec"]["wall_s"], plain["wall_s"])
            entry["vs_plain_memory"] = _ratio(entry["genospec"]["peak_rss_gib"],
                                              plain["peak_rss_gib"])
            entries.append(entry)
    doc["results"] = entries
    return doc


def table(doc: dict) -> str:
    """The short summary table."""
    def num(v: float | None, fmt: str) -> str:
        return format(v, fmt) if v is not None else "-".rjust(int(fmt.split(".")[0]))

    def mark(ratio: float | None, target: float | None) -> str:
        if ratio is None or target is None:
            return "      "
        return f" {'<=' if ratio <= target else '> '}{target:<4.2f}"[:7]

    lines = [f"{'benchmark':<40} {'ref s':>7} {'gen s':>7} {'ratio':>6} {'target':<7}"
             f"{'ref GiB':>8} {'gen GiB':>8} {'ratio':>6} {'target':<7}"]
    for e in doc["results"]:
        ref, gen = e["reference"] or {}, e["genospec"]
        t_time, t_mem = TARGETS.get(e["name"], (None, None))
        lines.append(f"{e['name']:<40} {num(ref.get('wall_s'), '7.2f')} {gen['wall_s']:7.2f} "
                     f"{num(e['time_ratio'], '6.2f')}{mark(e['time_ratio'], t_time):<8}"
                     f"{num(ref.get('peak_rss_gib'), '8.2f')} "
                     f"{gen['peak_rss_gib']:8.2f} {num(e['memory_ratio'], '6.2f')}"
                     f"{mark(e['memory_ratio'], t_mem)}")
    s = doc["startup"]
    lines.append(f"genospec --help {s['help_s'] * 1000:.0f} ms; compile darts.gs "
                 f"{s['compile_cold_s'] * 1000:.0f} ms in a fresh process, "
                 f"{s['compile_warm_s'] * 1000:.1f} ms warm")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", help="DARTS checkout (default: $GENOSPEC_DARTS_REF)")
    parser.add_argument("--out", default=str(common.REPO / "benchmarks" / "results.json"))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=1,
                        help="timed steps per run (median); each run also makes --warmup steps")
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternating runs of each side (median of them; default 3)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--startup-runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true",
                        help="batch 16, one alternating pair, 3 start-up runs")
    parser.add_argument("--options", action="store_true",
                        help=f"also run the first-order step with each of {', '.join(OPTIONS)}")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.warmup, args.steps, args.startup_runs, args.repeat = 16, 1, 1, 3, 1
    doc = run(args)
    print(table(doc))
    print(f"wrote {common.write_json(doc, args.out)}")


if __name__ == "__main__":
    main()
