"""Per-call timings behind genospec's CPU size rules: each rule's alternatives side by side.

The rules in `genospec/nn` choose between ways of computing the same thing by tensor size: the
1x1 convolution as a matrix product or through oneDNN (`recompute.MATMUL_MAX_ROWS`), an affine-
free BatchNorm's input gradient from two per-channel sums or PyTorch's kernel
(`recompute.NARROW_CHANNELS`), BatchNorm's training forward from genospec's C kernel, pixel
groups or PyTorch's kernel (`recompute._native_batch_norm`, `recompute.NARROW_MIN_ELEMENTS`),
the depthwise weight gradient from genospec's C kernel, decomposed or oneDNN's
(`depthwise._native_weight_grad`, `depthwise._weight_grad_plan`), the depthwise forward
correlation from the C kernel or oneDNN's (`depthwise._native_forward`), BatchNorm's and the 1x1
convolution's backward fused in the C kernel or as PyTorch's three calls (`recompute._fuses`).
This script times the ways of each at the shapes the DARTS settings produce, interleaved (A B A
B ...), and prints the best of the per-round medians in microseconds, with the way the rule
picks. On a shared machine the numbers move by tens of per cent from minute to minute; the
interleaving keeps each comparison fair. Since 2026-12-07 (seventh session) the script asks
glibc to keep freed memory, as `genospec search` and `train` do on the CPU
(`genospec.runtime.allocator`): without it every call's fresh multi-MiB tensors were pages
faulted in anew, which charged a way by the temporaries it allocates (4.5 against 1.2 ms for the
fused backward at [64, 16, 32, 32], where training sees far less).

    python benchmarks/kernels.py                 # every table
    python benchmarks/kernels.py --only pointwise --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import common

POINTWISE = [  # (batch, in channels, out channels, size)
    (64, 16, 16, 32), (32, 8, 8, 32), (64, 32, 64, 32), (64, 16, 48, 32), (64, 48, 16, 32),
    (64, 32, 32, 16), (32, 16, 16, 16), (64, 64, 64, 8), (8, 8, 8, 32)]
BATCHNORM = [(32, 8, 32, 32), (8, 8, 32, 32), (32, 16, 16, 16), (64, 16, 32, 32), (32, 32, 8, 8)]
DEPTHWISE = [  # (input shape, stride); kernels (3, 1), (5, 1), (3, 2), (5, 2) each
    ((64, 16, 32, 32), 1), ((64, 32, 32, 32), 2), ((64, 32, 16, 16), 1), ((64, 64, 8, 8), 1),
    ((32, 8, 32, 32), 1)]
FUSED = [  # (batch, in channels, out channels, size, ReLU read in place): the DARTS setting's
    # separable-convolution blocks and cell preprocessing, the quick setting's blocks
    (64, 16, 16, 32, False), (64, 32, 32, 16, False), (64, 64, 64, 8, False),
    (64, 48, 16, 32, True), (64, 64, 32, 32, True), (64, 128, 32, 16, True),
    (64, 256, 64, 8, True), (32, 8, 8, 32, False), (32, 16, 16, 16, False),
    (32, 32, 32, 8, False)]
FORWARD = [  # input shapes of the quick (batch 32, C=8) and DARTS (batch 64, C=16) settings
    (1, 8, 32, 32), (8, 8, 32, 32), (32, 8, 32, 32), (32, 16, 16, 16), (32, 32, 8, 8),
    (64, 16, 32, 32), (64, 32, 16, 16), (64, 64, 8, 8)]


def _median_us(fn: Callable[[], object], calls: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def _race(ways: dict[str, Callable[[], object]], rounds: int, calls: int) -> dict[str, float]:
    """Best of ``rounds`` medians of ``calls`` calls per way, the ways interleaved."""
    found: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, fn in ways.items():
            found[name].append(_median_us(fn, calls))
    return {name: min(times) for name, times in found.items()}


def pointwise(rounds: int, calls: int) -> list[dict]:
    import torch
    from torch.nn import functional as F

    from genospec.nn import recompute

    rows = []
    for n, c_in, c_out, size in POINTWISE:
        x = torch.randn(n, c_in, size, size).contiguous(memory_format=torch.channels_last)
        g = torch.randn(n, c_out, size, size).contiguous(memory_format=torch.channels_last)
        w = torch.randn(c_out, c_in, 1, 1)
        x2, g2, w2 = recompute._rows(x), recompute._rows(g), w.view(c_out, c_in)
        times = _race({
            "forward matmul": lambda: x2 @ w2.t(),
            "forward oneDNN": lambda: F.conv2d(x, w),
            "input grad matmul": lambda: g2 @ w2,
            "input grad oneDNN": lambda: F.conv2d(g, w.transpose(0, 1)),
            "weight grad matmul": lambda: g2.t() @ x2,
            "weight grad oneDNN": lambda: torch.ops.aten.convolution_backward(
                g, x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, [False, True, False]),
        }, rounds, calls)
        rule = "matmul" if recompute._as_matmul(x) else "oneDNN"
        rows.append({"shape": [n, c_in, c_out, size], "rule": rule, "us": times})
    return rows


def batchnorm(rounds: int, calls: int) -> list[dict]:
    import torch

    from genospec.nn import recompute

    rows = []
    for shape in BATCHNORM:
        chs = shape[1]
        x = torch.randn(shape).contiguous(memory_format=torch.channels_last)
        g = torch.randn(shape).contiguous(memory_format=torch.channels_last)
        y, _, invstd = torch.ops.aten.native_batch_norm(x, None, None, None, None, True, 0.1,
                                                        1e-5)
        zeros, ones = torch.zeros(chs), torch.ones(chs)
        times = _race({
            "PyTorch": lambda: torch.ops.aten.native_batch_norm_backward(
                g, y, invstd, None, None, zeros, ones, True, 0.0, [True, False, False]),
            "per-channel sums": lambda: recompute._narrow_batch_norm_backward(
                g, y, invstd, None, False),
        }, rounds, calls)
        rule = "per-channel sums" if chs < recompute.NARROW_CHANNELS else "PyTorch"
        rows.append({"shape": list(shape), "rule": rule, "us": times})
    return rows


def batchnorm_forward(rounds: int, calls: int) -> list[dict]:
    import torch

    from genospec.nn import native, recompute

    rows = []
    for shape in BATCHNORM + [(1, 8, 32, 32), (64, 32, 16, 16), (64, 64, 8, 8), (1, 16, 16, 16),
                              (1, 32, 8, 8), (64, 48, 32, 32), (64, 256, 8, 8)]:
        chs = shape[1]
        x = torch.randn(shape).contiguous(memory_format=torch.channels_last)
        ways = {"PyTorch": lambda: torch.ops.aten.native_batch_norm(
            x, None, None, torch.zeros(chs), torch.ones(chs), True, 0.1, 1e-5)}
        if chs < recompute.NARROW_CHANNELS:
            ways["pixel groups"] = lambda: recompute._narrow_batch_norm(
                x, None, None, torch.zeros(chs), torch.ones(chs), 0.1, 1e-5)
        if native.library() is not None:
            ways["C kernel"] = lambda: native.batch_norm_forward(
                x, None, None, torch.zeros(chs), torch.ones(chs), 0.1, 1e-5)
        times = _race(ways, rounds, calls)
        if native.library() is not None and recompute._native_batch_norm(x):
            rule = "C kernel"
        else:
            rule = "pixel groups" if recompute._pixel_groups(x) else "PyTorch"
        rows.append({"shape": list(shape), "rule": rule, "us": times})
    return rows


def depthwise_weight_grad(rounds: int, calls: int) -> list[dict]:
    import torch
    from torch.nn import functional as F

    from genospec.nn import depthwise, native

    plan_of, native_of = depthwise._weight_grad_plan, depthwise._native_weight_grad
    rows = []
    for shape, stride in DEPTHWISE:
        for kernel, dilation in ((3, 1), (5, 1), (3, 2), (5, 2)):
            chs = shape[1]
            pad = dilation * (kernel - 1) // 2
            x = torch.randn(shape).contiguous(memory_format=torch.channels_last)
            w = torch.randn(chs, 1, kernel, kernel)
            g = torch.randn_like(F.conv2d(x, w, stride=stride, padding=pad, dilation=dilation,
                                          groups=chs))

            def run(use_native, plan, g=g, x=x, w=w, stride=stride, pad=pad, dilation=dilation):
                def fn():
                    depthwise._native_weight_grad = lambda *a: use_native
                    depthwise._weight_grad_plan = plan
                    try:
                        return depthwise._weight_grad(g, x, w, stride, pad, dilation)
                    finally:
                        depthwise._weight_grad_plan, depthwise._native_weight_grad = \
                            plan_of, native_of
                return fn

            ways = {"oneDNN": run(False, lambda *a: None), "decomposed": run(False, lambda *a: 3)}
            if native.library() is not None:
                ways["C kernel"] = run(True, lambda *a: None)
            times = _race(ways, rounds, max(3, calls // 4))
            if native.library() is not None and native_of(kernel, stride, dilation, g.numel()):
                rule = "C kernel"
            else:
                rule = ("oneDNN" if plan_of(kernel, stride, dilation, g.numel()) is None
                        else "decomposed")
            rows.append({"shape": list(shape), "stride": stride, "kernel": kernel,
                         "dilation": dilation, "rule": rule, "us": times})
    return rows


def depthwise_forward(rounds: int, calls: int) -> list[dict]:
    import torch
    from torch.nn import functional as F

    from genospec.nn import depthwise, native

    rows = []
    for shape in FORWARD:
        for kernel, dilation, stride in ((3, 1, 1), (5, 1, 1), (3, 2, 1), (5, 2, 1), (3, 1, 2),
                                         (5, 2, 2)):
            chs = shape[1]
            pad = dilation * (kernel - 1) // 2
            x = torch.randn(shape).contiguous(memory_format=torch.channels_last)
            w = torch.randn(chs, 1, kernel, kernel)
            ways = {"oneDNN": lambda x=x, w=w, s=stride, p=pad, d=dilation: F.conv2d(
                x, w, stride=s, padding=p, dilation=d, groups=chs)}
            if native.library() is not None:
                ways["C kernel"] = lambda x=x, w=w, s=stride, p=pad, d=dilation: \
                    native.depthwise_forward(x, w, s, p, d)
            times = _race(ways, rounds, calls)
            numel = depthwise._output_numel(x, kernel, stride, pad, dilation)
            rule = ("C kernel" if native.library() is not None
                    and depthwise._native_forward(kernel, dilation, numel) else "oneDNN")
            rows.append({"shape": list(shape), "stride": stride, "kernel": kernel,
                         "dilation": dilation, "rule": rule, "us": times})
    return rows


def fused_backward(rounds: int, calls: int) -> list[dict]:
    import torch

    from genospec.nn import native, recompute

    rows = []
    for n, c_in, c_out, size, relu in FUSED:
        cl = torch.channels_last
        d = torch.randn(n, c_in, size, size).contiguous(memory_format=cl)
        w = torch.randn(c_out, c_in, 1, 1)
        g, y = (torch.randn(n, c_out, size, size).contiguous(memory_format=cl) for _ in range(2))
        gamma, beta, invstd = torch.rand(c_out) + 0.5, torch.randn(c_out), torch.rand(c_out) + 0.5

        def pytorch(d=d, w=w, g=g, y=y, gamma=gamma, beta=beta, invstd=invstd, relu=relu):
            src = torch.relu(d) if relu else d
            g_p, _, _ = recompute._affine_batch_norm_backward_from_output(g, y, gamma, beta,
                                                                          invstd, True)
            return recompute._pointwise_grads(g_p, src, w, True, True)

        ways = {"PyTorch": pytorch}
        if native.library() is not None:
            ways["C kernel"] = lambda d=d, w=w, g=g, y=y, gamma=gamma, beta=beta, invstd=invstd, \
                relu=relu: native.batch_norm_pointwise_backward(g, y, d, w, invstd, gamma, beta,
                                                                relu_d=relu, want_affine=True)
        times = _race(ways, rounds, calls)
        rule = ("C kernel" if native.library() is not None and recompute._fuses(w, relu)
                else "PyTorch")
        rows.append({"shape": [n, c_in, c_out, size], "relu": relu, "rule": rule, "us": times})
    return rows


TABLES = {"pointwise": pointwise, "batchnorm": batchnorm, "batchnorm-forward": batchnorm_forward,
          "depthwise": depthwise_weight_grad, "forward": depthwise_forward,
          "fused": fused_backward}


def _print(name: str, rows: list[dict]) -> None:
    print(f"== {name} (us per call, best of the rounds' medians; * = the rule's choice)")
    for row in rows:
        where = {k: v for k, v in row.items() if k not in ("us", "rule")}
        cells = []
        for way, us in row["us"].items():
            mark = "*" if way.endswith(row["rule"]) or way == row["rule"] else " "
            cells.append(f"{way} {us:8.0f}{mark}")
        print(f"  {where}: " + "  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(TABLES), action="append",
                        help="one table (repeatable; default: all)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--calls", type=int, default=20, help="calls per median (default 20)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", help="also write the numbers as JSON")
    args = parser.parse_args()
    common.set_threads(args.threads)
    from genospec.runtime.allocator import retain_freed_memory

    retain_freed_memory()  # as training on the CPU runs (module docstring)
    found = {}
    for name in args.only or list(TABLES):
        found[name] = TABLES[name](args.rounds, args.calls)
        _print(name, found[name])
    if args.out:
        common.write_json({"environment": common.environment(), "tables": found}, args.out)


if __name__ == "__main__":
    main()
