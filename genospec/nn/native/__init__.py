"""genospec's C kernels: compiled once per machine with the system's C compiler, loaded with ctypes.

Four kernels where PyTorch's are slow: for ``genospec.nn.depthwise``, the depthwise
convolution's weight gradient (``depthwise_weight_grad.c``) and its forward correlation on small
tensors (``depthwise_forward.c``, which also serves the stride-1 input gradient); for
``genospec.nn.recompute``, BatchNorm's training forward (``batch_norm_forward.c``) and its
backward from its output fused with the gradients of the 1x1 convolution before it
(``batch_norm_pointwise_backward.c``). The sources ship with the package; the first call
compiles them (``cc -O3``, 5.2-6.3 s for three of them on the earlier benchmark machine, 3.8-4.3 s
for the four on an AMD EPYC, importing torch included) into one library in the cache folder,
under a name that hashes the sources, the compiler and the flags, written atomically so that
processes building at once do not see each other's half-written files. The binary carries a
generic and an x86-64-v3 (AVX2, FMA) version of its loops and picks one at load time, so a cache
folder shared by different machines stays valid.

Where no C compiler is found, the build fails, or ``GENOSPEC_NATIVE=0`` is set, `library` returns
None and every caller keeps its PyTorch path: the kernels make training faster, never possible.
``GENOSPEC_CACHE_DIR`` chooses the cache folder (default ``$XDG_CACHE_HOME/genospec``, else
``~/.cache/genospec``).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch import Tensor
from torch.autograd.graph import increment_version

SOURCES = tuple(Path(__file__).with_name(name)
                for name in ("depthwise_weight_grad.c", "depthwise_forward.c",
                             "batch_norm_pointwise_backward.c", "batch_norm_forward.c"))
HEADERS = (Path(__file__).with_name("vectors.h"),)  # included by the sources
# -fno-math-errno: sqrt is the instruction, no libm call that could set errno
FLAGS = ("-O3", "-shared", "-fPIC", "-fopenmp", "-fno-math-errno", "-Wno-psabi")
BUILD_TIMEOUT_S = 120
KERNELS = (3, 5, 7)  # the kernel sizes the C loops are written for
# The batch is summed in at most this many fixed slices (the C source explains why): enough for
# as many threads, few enough that adding the slices costs nothing.
BATCH_SLICES = 16

_failure: str | None = None


def cache_dir() -> Path:
    """Where compiled kernels are kept (see the module docstring)."""
    if os.environ.get("GENOSPEC_CACHE_DIR"):
        return Path(os.environ["GENOSPEC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genospec"


def _compiler() -> list[str] | None:
    """The C compiler's command: ``$CC`` (split like a shell word list), else cc or gcc."""
    if os.environ.get("CC", "").strip():
        return shlex.split(os.environ["CC"])
    found = shutil.which("cc") or shutil.which("gcc")
    return [found] if found else None


def _build(compiler: list[str]) -> Path:
    """The compiled library's path, compiling it first where the cache lacks it."""
    sources = [source.read_bytes() for source in (*SOURCES, *HEADERS)]
    version = subprocess.run([*compiler, "--version"], capture_output=True, text=True,
                             timeout=BUILD_TIMEOUT_S).stdout
    key = hashlib.sha256(b"\0".join([*sources, " ".join(compiler).encode(), version.encode(),
                                     " ".join(FLAGS).encode(), sys.platform.encode(),
                                     os.uname().machine.encode()])).hexdigest()[:16]
    folder = cache_dir()
    target = folder / f"kernels-{key}.so"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kernels-", suffix=".so", dir=folder)
    os.close(fd)
    try:
        done = subprocess.run([*compiler, *FLAGS, *map(str, SOURCES), "-o", tmp],
                              capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if done.returncode != 0:
            raise OSError(f"{' '.join(compiler)} failed: {done.stderr.strip()[-400:]}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


@functools.cache
def library() -> ctypes.CDLL | None:
    """The loaded kernels, or None where they are unavailable (`failure` says why)."""
    global _failure
    if os.environ.get("GENOSPEC_NATIVE", "1") == "0":
        _failure = "turned off by GENOSPEC_NATIVE=0"
        return None
    compiler = _compiler()
    if compiler is None:
        _failure = "no C compiler (cc or gcc, or $CC) found"
        return None
    try:
        lib = ctypes.CDLL(str(_build(compiler)))
    except (OSError, subprocess.SubprocessError) as exc:
        _failure = f"building the C kernels failed: {exc}"
        return None
    # pointers pass as addresses (Tensor.data_ptr()), the C side reads them as float or double
    for name, pointers, sizes in (("weight_grad", 4, 11), ("forward", 3, 11)):
        for real in ("f32", "f64"):
            fn = getattr(lib, f"genospec_depthwise_{name}_{real}")
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_void_p] * pointers + [ctypes.c_long] * sizes + [ctypes.c_int]
    for real in ("f32", "f64"):
        fn = getattr(lib, f"genospec_bn_pointwise_backward_{real}")
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p] * 12 + [ctypes.c_long] * 8 + [ctypes.c_int]
        fn = getattr(lib, f"genospec_bn_forward_{real}")
        fn.restype = ctypes.c_int
        fn.argtypes = ([ctypes.c_void_p] * 9 + [ctypes.c_long] * 2 + [ctypes.c_double] * 2
                       + [ctypes.c_long, ctypes.c_int])
    return lib


def failure() -> str | None:
    """Why `library` returned None, if it did."""
    library()
    return _failure


def status() -> str:
    """For a run's header: which C kernels run, or why none does."""
    if library() is not None:
        return ("C depthwise forward (small tensors) and weight gradient, BatchNorm forward, "
                "fused BatchNorm-1x1 backward")
    reason = (_failure or "unknown").splitlines()[0]
    return f"PyTorch only ({reason[:117] + '...' if len(reason) > 120 else reason})"


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """A correlation's output length along one axis of ``size`` (below 1: no output)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def depthwise_weight_grad(grad: Tensor, x: Tensor, kernel: int, stride: int, padding: int,
                          dilation: int, threads: int | None = None) -> Tensor | None:
    """The weight gradient ``[C, 1, kernel, kernel]`` of ``F.conv2d(x, w, stride, padding,
    dilation, groups=C)`` given its output gradient, from the C kernel; None where the kernel
    does not apply (no library; not float32/float64 on the CPU; a kernel size outside
    `KERNELS`) and the caller keeps its own path. ``threads`` defaults to PyTorch's intra-op
    thread count; the result is the same bits for any count."""
    lib = library()
    if (lib is None or kernel not in KERNELS or x.dtype not in (torch.float32, torch.float64)
            or grad.dtype != x.dtype or x.device.type != "cpu" or grad.device.type != "cpu"
            or x.dim() != 4 or grad.dim() != 4):
        return None
    n, chs, height, width = x.shape
    expected = [output_size(size, kernel, stride, padding, dilation) for size in (height, width)]
    if (grad.shape[:2] != x.shape[:2] or list(grad.shape[2:]) != expected or min(expected) < 1
            or stride < 1 or dilation < 1 or not 0 <= padding <= dilation * (kernel - 1)
            or n == 0 or chs == 0):
        raise ValueError(f"depthwise weight gradient: gradient {tuple(grad.shape)} does not fit "
                         f"input {tuple(x.shape)} at kernel {kernel}, stride {stride}, padding "
                         f"{padding}, dilation {dilation}")
    # The C loops read [N, H, W, C] memory: a channels-last tensor's own, else a copy.
    x_nhwc = x.detach().permute(0, 2, 3, 1).contiguous()
    g_nhwc = grad.detach().permute(0, 2, 3, 1).contiguous()
    slices = min(n, BATCH_SLICES)
    taps = kernel * kernel * chs
    part = x.new_empty(slices * taps)
    out = x.new_empty(taps)
    fn = (lib.genospec_depthwise_weight_grad_f32 if x.dtype == torch.float32 else
          lib.genospec_depthwise_weight_grad_f64)
    code = fn(x_nhwc.data_ptr(), g_nhwc.data_ptr(), part.data_ptr(), out.data_ptr(), n, chs,
              height, width, expected[0], expected[1], kernel, stride, padding, dilation, slices,
              threads or torch.get_num_threads())
    if code != 0:  # the C side checks the sizes again and refused them: a bug here
        raise RuntimeError("depthwise weight gradient kernel refused its arguments")
    return out.view(kernel, kernel, chs).permute(2, 0, 1).unsqueeze(1).contiguous()


def depthwise_forward(x: Tensor, weight: Tensor, stride: int, padding: int, dilation: int,
                      flip: bool = False, threads: int | None = None) -> Tensor | None:
    """``F.conv2d(x, weight, stride, padding, dilation, groups=C)`` for a channels-last ``x``
    and a ``[C, 1, k, k]`` filter (``flip``: the filter rotated by half a turn,
    ``weight.flip(2, 3)``, as a stride-1 input gradient wants, read in place), from the C
    kernel, as a channels-last tensor; None where the kernel does not apply (no library; ``x``
    not channels-last; not float32/float64 on the CPU; a kernel size outside `KERNELS`; padding
    beyond the filter's reach; an empty batch or no channels) and the caller keeps its own
    path. No autograd: callers differentiate it themselves. ``threads`` defaults to
    PyTorch's intra-op thread count; the result is the same bits for any count."""
    lib = library()
    if lib is None or x.dim() != 4 or weight.dim() != 4:
        return None
    n, chs, height, width = x.shape
    kernel = weight.shape[-1]
    if (kernel not in KERNELS or x.dtype not in (torch.float32, torch.float64)
            or weight.dtype != x.dtype or x.device.type != "cpu" or weight.device.type != "cpu"
            or not x.is_contiguous(memory_format=torch.channels_last)
            or not 0 <= padding <= dilation * (kernel - 1) or stride < 1 or dilation < 1
            or n == 0 or chs == 0):
        return None
    out_h, out_w = (output_size(size, kernel, stride, padding, dilation)
                    for size in (height, width))
    if tuple(weight.shape) != (chs, 1, kernel, kernel) or min(out_h, out_w) < 1:
        raise ValueError(f"depthwise forward: filter {tuple(weight.shape)} does not fit input "
                         f"{tuple(x.shape)} at stride {stride}, padding {padding}, dilation "
                         f"{dilation}")
    # the C side reads the filter as it is (and flipped in place), laying it out in its own
    # scratch: no transposed or flipped copy made here per call (6 us at [8, 1, 3, 3])
    weight = weight.detach().contiguous()
    out = x.new_empty((n, out_h, out_w, chs))
    fn = (lib.genospec_depthwise_forward_f32 if x.dtype == torch.float32 else
          lib.genospec_depthwise_forward_f64)
    code = fn(x.data_ptr(), weight.data_ptr(), out.data_ptr(), n, chs, height, width, out_h,
              out_w, kernel, stride, padding, dilation, int(flip),
              threads or torch.get_num_threads())
    if code == -2:
        raise MemoryError("depthwise forward kernel: no memory for its scratch rows")
    if code != 0:  # the C side checks the sizes again and refused them: a bug here
        raise RuntimeError("depthwise forward kernel refused its arguments")
    return out.permute(0, 3, 1, 2)


def _address(t: Tensor | None, offset: int = 0) -> int | None:
    """The address of ``t``'s element ``offset`` (None for None: a NULL pointer)."""
    return None if t is None else t.data_ptr() + offset * t.element_size()


# The fused BatchNorm and 1x1 convolution backward keeps a few rows' worth of channels on the
# stack (the C source's MAX_CHANS) and cuts the rows into fixed slices of at least
# `FUSED_SLICE_ROWS` rows, at most `FUSED_SLICES` of them (enough for as many threads).
FUSED_MAX_CHANNELS = 1024
FUSED_SLICE_ROWS = 256
FUSED_SLICES = 64


def batch_norm_pointwise_backward(
        grad: Tensor, y: Tensor, d: Tensor | None, weight: Tensor, invstd: Tensor,
        gamma: Tensor | None = None, shift: Tensor | None = None, scale: Tensor | None = None,
        relu_d: bool = False, mask_d: bool = False, want_d: bool = True,
        want_weight: bool = True, want_affine: bool = False, threads: int | None = None
) -> tuple[Tensor | None, Tensor | None, Tensor | None, Tensor | None] | None:
    """The backward of ``y = gamma * xhat + shift`` after the 1x1 convolution
    ``p = conv2d(d, weight)`` (``relu(d)`` with ``relu_d``), where ``xhat`` is BatchNorm's
    normalised ``p`` (training mode, ``invstd`` its inverse deviation), ``gamma`` a per-channel
    tensor or, where None, the 0-d ``scale`` or 1, and ``shift`` per channel or 0; run from the
    output ``y`` by the C kernel in two passes (``batch_norm_pointwise_backward.c`` gives the
    formulas). Returns ``(grad_d, grad_weight, grad_gamma, grad_shift)``: the gradient of the
    convolution's input (``relu(d)`` with ``relu_d``; of ``d`` itself with ``mask_d`` as well,
    zero where ``d`` is not above 0) unless not ``want_d``; the filter's unless not
    ``want_weight`` (``d`` is read only for it and for ``mask_d``, and may be None without
    them); with ``want_affine`` the per-channel ``sum(grad * xhat)`` (gamma's gradient; summed,
    the scale's) and ``sum(grad)`` (shift's); None for what is not wanted. None where the kernel
    does not apply (no library; a tensor not channels-last, not float32 or float64, or of
    another dtype than ``grad``; more than `FUSED_MAX_CHANNELS` channels; an empty batch) and
    the caller keeps its own path. The same bits for any ``threads`` (default: PyTorch's
    intra-op thread count)."""
    lib = library()
    if (want_weight or mask_d) and d is None:
        raise ValueError("BatchNorm and 1x1 convolution backward: the filter's gradient and the "
                         "ReLU's mask need the convolution's input")
    if mask_d and not relu_d:
        raise ValueError("BatchNorm and 1x1 convolution backward: mask_d needs relu_d")
    maps = (grad, y) if d is None else (grad, y, d)  # channels-last activations
    if lib is None or weight.dim() != 4 or any(t.dim() != 4 for t in maps):
        return None
    n, co, height, width = grad.shape
    ci = weight.shape[1]
    dtype = grad.dtype
    channels = [t for t in (gamma, shift, invstd) if t is not None]
    if (dtype not in (torch.float32, torch.float64) or grad.device.type != "cpu"
            or any(t.dtype != dtype or t.device.type != "cpu"
                   for t in (*maps, weight, *channels, *(() if scale is None else (scale,))))
            or not all(t.is_contiguous(memory_format=torch.channels_last) for t in maps)
            or co > FUSED_MAX_CHANNELS or ci > FUSED_MAX_CHANNELS or grad.numel() == 0
            or ci == 0):
        return None
    if (y.shape != grad.shape or (d is not None and d.shape != (n, ci, height, width))
            or tuple(weight.shape) != (co, ci, 1, 1) or any(t.shape != (co,) for t in channels)
            or (scale is not None and (scale.dim() != 0 or gamma is not None))):
        raise ValueError(f"BatchNorm and 1x1 convolution backward: gradient {tuple(grad.shape)}, "
                         f"output {tuple(y.shape)}, input "
                         f"{None if d is None else tuple(d.shape)}, filter "
                         f"{tuple(weight.shape)} and per-channel "
                         f"{[tuple(t.shape) for t in channels]} do not fit")
    rows = n * height * width
    slices = max(1, min(FUSED_SLICES, rows // FUSED_SLICE_ROWS))
    weight, invstd = weight.contiguous(), invstd.contiguous()
    gamma, shift = (None if t is None else t.contiguous() for t in (gamma, shift))
    grad_d = grad.new_empty((n, height, width, ci)) if want_d else None
    grad_w = weight.new_empty((co, ci, 1, 1)) if want_weight else None
    affine = grad.new_empty(2 * co) if want_affine else None
    ptr = _address
    fn = (lib.genospec_bn_pointwise_backward_f32 if dtype == torch.float32 else
          lib.genospec_bn_pointwise_backward_f64)
    code = fn(ptr(grad), ptr(y), ptr(d), ptr(weight), ptr(gamma), ptr(shift), ptr(scale),
              ptr(invstd), ptr(grad_d), ptr(grad_w), ptr(affine), ptr(affine, co), rows, co, ci,
              int(relu_d), int(mask_d), int(want_d), int(want_weight), slices,
              threads or torch.get_num_threads())
    if code == -2:
        raise MemoryError("BatchNorm and 1x1 convolution backward kernel: no memory for its "
                          "scratch")
    if code != 0:  # the C side checks the sizes again and refused them: a bug here
        raise RuntimeError("BatchNorm and 1x1 convolution backward kernel refused its arguments")
    return (None if grad_d is None else grad_d.permute(0, 3, 1, 2), grad_w,
            None if affine is None else affine[:co], None if affine is None else affine[co:])


# The BatchNorm forward keeps a slice's per-channel sums on the stack (the C source's MAX_CHANS)
# and sums the rows in fixed slices, as the fused backward does.
FORWARD_MAX_CHANNELS = 1024


def batch_norm_forward(x: Tensor, weight: Tensor | None, bias: Tensor | None,
                       running_mean: Tensor | None, running_var: Tensor | None, factor: float,
                       eps: float, scale: Tensor | None = None, threads: int | None = None
                       ) -> tuple[Tensor, Tensor, Tensor] | None:
    """``torch.ops.aten.native_batch_norm(x, weight, bias, running_mean, running_var, True,
    factor, eps)`` for a channels-last ``x``, from the C kernel (``batch_norm_forward.c``):
    ``(output, batch mean, inverse standard deviation)``, the running statistics (where given)
    moved in place with the unbiased variance. ``scale``, a 0-d tensor, stands for a weight
    equal on every channel (``weight`` must then be None). None where the kernel does not apply
    (no library; ``x`` not channels-last, not float32 or float64 on the CPU, or another dtype
    than a per-channel tensor; more than `FORWARD_MAX_CHANNELS` channels; an empty batch;
    ``factor`` outside [0, 1] or ``eps`` not above 0) and the caller keeps PyTorch's. The same
    bits for any ``threads`` (default: PyTorch's intra-op thread count)."""
    lib = library()
    if lib is None or x.dim() != 4:
        return None
    n, chs, height, width = x.shape
    dtype = x.dtype
    channels = [t for t in (weight, bias, running_mean, running_var) if t is not None]
    if (dtype not in (torch.float32, torch.float64) or x.device.type != "cpu"
            or any(t.dtype != dtype or t.device.type != "cpu"
                   for t in (*channels, *(() if scale is None else (scale,))))
            or not x.is_contiguous(memory_format=torch.channels_last) or x.numel() == 0
            or chs > FORWARD_MAX_CHANNELS or not 0.0 <= factor <= 1.0 or not eps > 0.0):
        return None
    if (any(t.shape != (chs,) for t in channels)
            or (scale is not None and (scale.dim() != 0 or weight is not None))):
        raise ValueError(f"BatchNorm forward: input {tuple(x.shape)} and per-channel "
                         f"{[tuple(t.shape) for t in channels]} "
                         f"{'with a scale ' if scale is not None else ''}do not fit")
    if any(not t.is_contiguous() for t in (running_mean, running_var) if t is not None):
        return None  # moved in place: no contiguous copy can stand for them
    rows = n * height * width
    slices = max(1, min(FUSED_SLICES, rows // FUSED_SLICE_ROWS))
    weight, bias = (None if t is None else t.detach().contiguous() for t in (weight, bias))
    scale = None if scale is None else scale.detach()
    out = torch.empty_like(x, memory_format=torch.channels_last)
    mean, invstd = x.new_empty(chs), x.new_empty(chs)
    ptr = _address
    fn = lib.genospec_bn_forward_f32 if dtype == torch.float32 else lib.genospec_bn_forward_f64
    code = fn(ptr(x), ptr(weight), ptr(bias), ptr(scale), ptr(out), ptr(mean), ptr(invstd),
              ptr(running_mean), ptr(running_var), rows, chs, float(eps), float(factor), slices,
              threads or torch.get_num_threads())
    if code == -2:
        raise MemoryError("BatchNorm forward kernel: no memory for its scratch")
    if code != 0:  # the C side checks the sizes again and refused them: a bug here
        raise RuntimeError("BatchNorm forward kernel refused its arguments")
    for moved in (running_mean, running_var):  # written in place behind PyTorch's back: the
        if moved is not None:  # version counter says so, as PyTorch's own in-place update would
            increment_version(moved)
    return out, mean, invstd
