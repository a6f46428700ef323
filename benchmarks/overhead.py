"""Per-step time of the supernet against batch size and channels: where the fixed cost is.

    python benchmarks/overhead.py                                  # genospec alone
    python benchmarks/overhead.py --reference /path/to/darts       # the authors' code as well

A step's time is roughly ``fixed + per_image * batch``: the fixed part is what each operation
costs whatever its size (Python, autograd bookkeeping, oneDNN's per-call set-up, thread
start-up and synchronisation), the rest is arithmetic and memory traffic. The script times a
first-order bilevel step (`supernet_step.py --setting darts`) of the quick setting's supernet
(5 cells; the DARTS space's 8 ops on 14 edges) for each batch size and channel count, fits the
line per channel count by least squares and prints its intercept (the fixed cost) and slope.
Each configuration runs in its own subprocess, the implementations alternating.
"""

from __future__ import annotations

import argparse

import common
import supernet_step


def _fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares intercept and slope of ``y = a + b x``."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - b * mx, b


def run(args: argparse.Namespace) -> dict:
    rows = []
    for chs in args.channels:
        for batch in args.batches:
            argv = ["--setting", "darts", "--cells", str(args.cells), "--channels", str(chs),
                    "--batch", str(batch), "--warmup", str(args.warmup), "--steps",
                    str(args.steps)]
            if args.threads:
                argv += ["--threads", str(args.threads)]
            if args.reference:
                argv += ["--reference", args.reference]
            else:
                argv.append("--genospec-only")
            cfgs = supernet_step.configs(supernet_step.build_parser().parse_args(argv))
            found = common.run_alternating(supernet_step.__file__, cfgs, args.repeat)
            row = {"channels": chs, "batch": batch}
            for r in found:
                row[r["impl"]] = {"wall_s": r["wall_s"], "cpu_s": r["cpu_s"],
                                  "peak_rss_gib": r["peak_rss_gib"]}
            rows.append(row)
            ref = row.get("reference", {}).get("wall_s")
            gen = row["genospec"]["wall_s"]
            print(f"C={chs:<3} batch {batch:<4} genospec {gen:7.3f} s"
                  + (f"   reference {ref:7.3f} s   ratio {gen / ref:5.2f}" if ref else ""),
                  flush=True)
    fits = []
    for chs in args.channels:
        for impl in ("genospec", "reference"):
            points = [(r["batch"], r[impl]["wall_s"]) for r in rows
                      if r["channels"] == chs and impl in r]
            if len(points) >= 2:
                fixed, per_image = _fit(points)
                largest = max(points)
                fits.append({"impl": impl, "channels": chs, "fixed_s": fixed,
                             "per_image_s": per_image,
                             "fixed_share_at_largest_batch": fixed / largest[1]})
    return {"environment": common.environment(), "settings": vars(args), "rows": rows,
            "fits": fits}


def table(doc: dict) -> str:
    lines = [f"{'impl':<10} {'C':>3} {'fixed s/step':>13} {'ms per image':>13} "
             f"{'fixed share at largest batch':>29}"]
    for f in doc["fits"]:
        lines.append(f"{f['impl']:<10} {f['channels']:>3} {f['fixed_s']:13.3f} "
                     f"{f['per_image_s'] * 1000:13.2f} {f['fixed_share_at_largest_batch']:29.0%}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", help="DARTS checkout (default: genospec alone)")
    parser.add_argument("--cells", type=int, default=5)
    parser.add_argument("--channels", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=str(common.REPO / "benchmarks" / "overhead.json"))
    args = parser.parse_args()
    doc = run(args)
    print(table(doc))
    print(f"wrote {common.write_json(doc, args.out)}")


if __name__ == "__main__":
    main()
