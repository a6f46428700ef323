"""The CPU allocator setting of search and training runs (genospec/runtime/allocator.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# 16 MiB blocks (an activation's size at batch 64) from malloc, which PyTorch's CPU tensors come
# from, freed newest first so that they reach the top of the heap
PROBE = textwrap.dedent("""
    import ctypes, sys
    from genospec.runtime.precision import prepare_device
    if sys.argv[1] == "prepared":
        prepare_device("cpu")
    libc = ctypes.CDLL(None)
    libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, [ctypes.c_long]
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    start = libc.sbrk(0)  # the heap's end (the program break)
    blocks = [libc.malloc(16 * 2 ** 20) for _ in range(4)]
    on_heap = all(b < libc.sbrk(0) for b in blocks)
    for b in reversed(blocks):
        libc.free(b)
    print(on_heap, (libc.sbrk(0) - start) >> 20)
""")


def _probe(mode: str) -> tuple[bool, int]:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          timeout=120, check=True)
    on_heap, kept = done.stdout.split()[-2:]
    return on_heap == "True", int(kept)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_cpu_runs_keep_freed_memory_for_the_next_step():
    """After `prepare_device("cpu")` (what search and train call) 16 MiB blocks come from
    glibc's heap and stay there when freed, ready for the next step; under glibc's defaults
    each is a fresh mmap whose pages are faulted in anew every time."""
    from genospec.runtime.allocator import retain_freed_memory

    if not retain_freed_memory():
        pytest.skip("the C library is not glibc")
    assert _probe("default") == (False, 0)  # the defaults: mmap, nothing kept
    on_heap, kept = _probe("prepared")
    assert on_heap and kept >= 60  # MiB the heap grew by and kept
