"""Shared pieces of the benchmark scripts: one subprocess per measurement, step timing, peak
memory, synthetic batches and the speed options compared by the step benchmarks.

Every measurement runs in its own Python process (``python SCRIPT --worker JSON``), so the peak
resident set size it reports (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) belongs to that
model alone. The worker prints one JSON object as its last line of output.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

REPO = Path(__file__).resolve().parent.parent
GIB = 2 ** 30


class WorkerFailed(RuntimeError):
    """A benchmark subprocess exited with an error."""


def run_worker(script: str | Path, config: dict, timeout: float | None = None) -> dict:
    """Run ``script --worker CONFIG`` in a fresh interpreter and return its JSON result."""
    cmd = [sys.executable, str(script), "--worker", json.dumps(config)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise WorkerFailed(f"{Path(script).name} {config} failed (exit {done.returncode}):\n"
                           + "\n".join(tail))
    return json.loads(lines[-1])


def worker_main(measure: Callable[[dict], dict]) -> bool:
    """If the process was started as a worker, run ``measure(config)``, print its result as
    JSON and return True; otherwise return False (the caller parses its own arguments)."""
    if len(sys.argv) != 3 or sys.argv[1] != "--worker":
        return False
    result = measure(json.loads(sys.argv[2]))
    print(json.dumps(result))
    return True


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far, GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def current_rss_gib() -> float:
    """Resident set size of this process now, GiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / GIB


def time_steps(step: Callable[[], object], warmup: int, steps: int) -> dict:
    """Run ``step`` ``warmup`` times untimed, then ``steps`` times timed; wall and CPU seconds
    per step (median, min) and the peak RSS before and after the timed steps."""
    for _ in range(warmup):
        step()
    before = peak_rss_gib()
    wall, cpu = [], []
    for _ in range(steps):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {"wall_s": statistics.median(wall), "wall_min_s": min(wall), "walls": wall,
            "cpu_s": statistics.median(cpu), "peak_rss_gib": peak_rss_gib(),
            "peak_rss_before_steps_gib": before}


def set_threads(threads: int | None) -> int:
    """Use ``threads`` intra-op threads (None: torch's default); returns the count in use."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def synthetic_batches(batch: int, size: int, classes: int, count: int, seed: int = 0,
                      channels_last: bool = False) -> list:
    """``count`` (images, labels) pairs of Gaussian images, fixed by ``seed``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    found = []
    for _ in range(count):
        x = torch.randn(batch, 3, size, size, generator=gen)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        found.append((x, torch.randint(0, classes, (batch,), generator=gen)))
    return found


def checkpoint_modules(modules: Iterable) -> int:
    """Recompute each module's activations in backward (torch.utils.checkpoint, non-reentrant)
    by wrapping its forward; returns how many were wrapped. A benchmark option, not a library
    feature: BN running statistics are updated again by the recomputation."""
    from torch.utils.checkpoint import checkpoint

    count = 0
    for module in modules:
        inner = module.forward

        def forward(*args, _inner=inner, **kwargs):
            return checkpoint(_inner, *args, use_reentrant=False, **kwargs)

        module.forward = forward
        count += 1
    return count


def environment() -> dict:
    """Versions and machine facts recorded next to every result."""
    import platform

    import torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "load_avg_1min": os.getloadavg()[0]}
