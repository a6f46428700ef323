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
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

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


def run_alternating(script: str | Path, configs: Sequence[dict], repeat: int = 1) -> list[dict]:
    """Run every config ``repeat`` times, alternating between them (A B A B ...) so that a
    change in machine load hits all of them alike; one merged result per config: median of the
    per-run wall and CPU medians, largest peak RSS, and every run's numbers under ``runs``."""
    runs: list[list[dict]] = [[] for _ in configs]
    for _ in range(repeat):
        for found, cfg in zip(runs, configs):
            found.append(run_worker(script, cfg))
    merged = []
    for found in runs:
        result = dict(found[-1])
        result["wall_s"] = statistics.median(r["wall_s"] for r in found)
        result["cpu_s"] = statistics.median(r["cpu_s"] for r in found)
        result["peak_rss_gib"] = max(r["peak_rss_gib"] for r in found)
        result["runs"] = [{k: r[k] for k in ("wall_s", "cpu_s", "peak_rss_gib", "load_avg_1min")}
                          for r in found]
        merged.append(result)
    return merged


def describe(r: dict) -> str:
    """One line for a step result."""
    flags = [f for f in ("channels_last", "checkpoint", "freeze", "bf16") if r.get(f)]
    if r.get("impl") == "genospec" and r.get("keep", "output") != "output":
        flags.append("keep-" + r["keep"])
    saved = r.get("saved_activations_mib")
    return (f"{r['impl']:>9} {r.get('setting', 'eval')}{' +' + '+'.join(flags) if flags else ''}: "
            f"{r['wall_s']:.2f} s/step wall ({r['cpu_s']:.2f} s CPU, {r['threads']} threads), "
            f"peak RSS {r['peak_rss_gib']:.2f} GiB, saved activations "
            f"{'n/a' if saved is None else f'{saved:.0f} MiB'}, {r['weights']:,} weights")


def worker_main(measure: Callable[[dict], dict]) -> bool:
    """If the process was started as a worker, run ``measure(config)``, print its result as
    JSON and return True; otherwise return False (the caller parses its own arguments)."""
    if len(sys.argv) != 3 or sys.argv[1] != "--worker":
        return False
    result = measure(json.loads(sys.argv[2]))
    result["load_avg_1min"] = os.getloadavg()[0]
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


@contextmanager
def frozen(params: Sequence) -> Iterator[None]:
    """Turn ``requires_grad`` off for ``params`` inside the block, so autograd neither saves
    what only their gradients need nor computes those gradients."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


@contextmanager
def unfrozen(params: Sequence) -> Iterator[None]:
    """`frozen`'s do-nothing counterpart."""
    yield


def saved_activations_mib(forward: Callable[[], object]) -> float:
    """MiB of distinct tensor storages autograd saves for backward during ``forward()``: the
    activation memory of a training step, free of allocator and load noise."""
    import torch

    sizes: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        sizes[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward()
    return sum(sizes.values()) / 2 ** 20


def saved_by_node(loss) -> dict[str, float]:
    """MiB of the tensors saved for backward in the graph of ``loss``, by the autograd node and
    field that hold them (``ConvolutionBackward0.input``); a storage shared by several nodes
    counts once, for the first node met walking back from the loss. Largest first."""
    import torch

    sizes: dict[str, int] = {}
    seen: set[int] = set()
    visited: set = set()
    todo = [loss.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in visited:
            continue
        visited.add(node)
        fields = [a for a in dir(node) if a.startswith("_saved_")]
        if hasattr(node, "saved_tensors"):  # a custom autograd.Function's node
            fields.append("saved_tensors")
        for attr in fields:
            try:
                value = getattr(node, attr)
            except RuntimeError:  # freed or not materialised
                continue
            for t in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in seen:
                    seen.add(t.untyped_storage().data_ptr())
                    key = f"{node.name()}.{attr.removeprefix('_saved_')}"
                    sizes[key] = sizes.get(key, 0) + t.untyped_storage().nbytes()
        todo.extend(next_node for next_node, _ in node.next_functions)
    return {k: v / 2 ** 20 for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])}


def profile_step(step, path: str) -> None:
    """Two profiled steps: one for time (operator tables by self CPU time, overall and per input
    shape), one for memory. They are separate because recording memory slows every op that
    writes fresh memory (one-level step at batch 64: 5.5 s becomes 13.8 s of self CPU, most of
    it in ``fill_``, ``copy_`` and matrix products writing new tensors), so a table of times
    taken with it points at the wrong ops."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        step()
    table = prof.key_averages()
    by_shape = prof.key_averages(group_by_input_shape=True)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as mem:
        step()
    Path(path).write_text(
        "== by self CPU time ==\n"
        + table.table(sort_by="self_cpu_time_total", row_limit=30)
        + "\n== by self CPU memory (a second step, profiled for memory only) ==\n"
        + mem.key_averages().table(sort_by="self_cpu_memory_usage", row_limit=30)
        + "\n== by self CPU time and input shapes ==\n"
        + by_shape.table(sort_by="self_cpu_time_total", row_limit=60, max_name_column_width=40,
                         max_shapes_column_width=120))


def write_json(doc: dict, path: str | Path) -> Path:
    """Write a benchmark's results as indented JSON (folders made as needed); the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    return out


def environment() -> dict:
    """Versions and machine facts recorded next to every result."""
    import platform

    import torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "load_avg_1min": os.getloadavg()[0]}
