"""The C allocator's settings for training on the CPU.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc's defaults suit programs whose
memory use shrinks: it hands a freed block at the top of its heap back to the system once more
than twice its current mmap threshold is free there, and serves blocks above that threshold
(which starts at 128 KiB and grows with the blocks freed) with fresh ``mmap`` calls. A training
step frees most of what its forward allocated and allocates as much again in the next step, so
the system keeps zeroing pages for it: 8,400-46,500 page faults and 23-154 ms of system time
per step on the quick, one-level and evaluation steps of benchmarks/ (two cores, 2026-12-07,
benchmarks/README.md). `retain_freed_memory` keeps what was freed for the next step instead
(0-1,400 faults per step there, once 11,600): the resident set stays near the step's peak,
which the next step reaches again anyway.
"""

from __future__ import annotations

import ctypes
import sys

# glibc's mallopt parameters (<malloc.h>)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# blocks above this still come from mmap and go back when freed: a DARTS supernet's largest
# activation at batch 64 is 16 MiB ([64, 64, 32, 32] float32)
MMAP_THRESHOLD = 32 * 2 ** 20

_retained = False


def retain_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse: no trimming of its heap, and mmap only for
    blocks above `MMAP_THRESHOLD`. Process-wide and for the rest of the process; the search and
    train commands call it (through `genospec.runtime.precision.prepare_device`) for CPU runs.
    Returns whether the settings are in force (False where the C library is not glibc)."""
    global _retained
    if _retained:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the symbols the process has loaded, the C library's among them
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _retained = (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                 and mallopt(M_TRIM_THRESHOLD, -1) == 1)
    return _retained
