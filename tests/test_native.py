"""genospec's C kernels (genospec/nn/native): built once into the cache, the same bits for any
thread count, exact against PyTorch's convolution in float64, never reading or writing outside
their tensors (guard pages), and a clean fallback where no compiler or a broken one is found."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch.nn import functional as F

from genospec.nn import native

needs_kernels = pytest.mark.skipif(native.library() is None,
                                   reason=f"no C kernels here: {native.failure()}")


def _reference_weight_grad(grad, x, kernel, stride, padding, dilation):
    w = torch.zeros(x.shape[1], 1, kernel, kernel, dtype=x.dtype)
    return torch.ops.aten.convolution_backward(
        grad, x, w, None, [stride] * 2, [padding] * 2, [dilation] * 2, False, [0, 0], x.shape[1],
        [False, True, False])[1]


def _case(n, c, h, w, kernel, stride, padding, dilation, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=gen, dtype=dtype)
    out_h = (h + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    out_w = (w + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    grad = torch.randn(n, c, out_h, out_w, generator=gen, dtype=dtype)
    return grad, x


@needs_kernels
@pytest.mark.parametrize("kernel,stride,dilation", [(3, 1, 1), (3, 2, 1), (3, 1, 2), (3, 3, 2),
                                                    (5, 1, 1), (5, 2, 2), (7, 1, 1), (7, 2, 3)])
@pytest.mark.parametrize("chans", [1, 8, 13])  # the tail only, one full lane, lanes and a tail
def test_matches_convolution_backward_in_float64(kernel, stride, dilation, chans):
    for padding in sorted({0, dilation * (kernel - 1) // 2, dilation * (kernel - 1)}):
        for h, w in [(9, 6), (1, 40), (dilation * (kernel - 1) + 1, 3)]:
            if min(h, w) + 2 * padding < dilation * (kernel - 1) + 1:
                continue
            grad, x = _case(3, chans, h, w, kernel, stride, padding, dilation, torch.float64)
            got = native.depthwise_weight_grad(grad, x, kernel, stride, padding, dilation)
            want = _reference_weight_grad(grad, x, kernel, stride, padding, dilation)
            torch.testing.assert_close(got, want, rtol=0, atol=1e-11)


def _every_other_channel(t):
    """A view of t's values that is dense in no layout."""
    view = torch.stack([t, torch.full_like(t, float("nan"))], 2).flatten(1, 2)[:, ::2]
    assert torch.equal(view, t) and not view.is_contiguous()
    return view


@needs_kernels
def test_float32_channels_last_and_views():
    """Channels-last input is read in place; other layouts and views are copied first."""
    grad, x = _case(6, 20, 17, 11, 5, 2, 4, 2, torch.float32, seed=3)
    want = _reference_weight_grad(grad.double(), x.double(), 5, 2, 4, 2)
    for xx, gg in [(x, grad),
                   (x.contiguous(memory_format=torch.channels_last),
                    grad.contiguous(memory_format=torch.channels_last)),
                   (_every_other_channel(x), _every_other_channel(grad))]:
        got = native.depthwise_weight_grad(gg, xx, 5, 2, 4, 2)
        assert got.dtype == torch.float32 and got.shape == (20, 1, 5, 5)
        torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-4)


@needs_kernels
def test_same_bits_for_any_thread_count():
    grad, x = _case(37, 24, 16, 16, 5, 1, 4, 2, torch.float32, seed=4)
    results = [native.depthwise_weight_grad(grad, x, 5, 1, 4, 2, threads=t) for t in (1, 2, 3, 8)]
    for r in results[1:]:
        assert torch.equal(r, results[0])


@needs_kernels
def test_refuses_mismatched_sizes_and_passes_on_what_it_does_not_handle():
    grad, x = _case(2, 4, 8, 8, 3, 1, 1, 1, torch.float32)
    with pytest.raises(ValueError, match="does not fit"):
        native.depthwise_weight_grad(grad[:, :, :-1], x, 3, 1, 1, 1)
    with pytest.raises(ValueError, match="does not fit"):
        native.depthwise_weight_grad(grad[:, :3], x, 3, 1, 1, 1)
    with pytest.raises(ValueError, match="does not fit"):
        native.depthwise_weight_grad(grad, x, 3, 1, 3, 1)  # padding beyond the filter's reach
    assert native.depthwise_weight_grad(grad, x, 4, 1, 1, 1) is None  # no loop for 4x4
    assert native.depthwise_weight_grad(grad.half(), x.half(), 3, 1, 1, 1) is None
    assert native.depthwise_weight_grad(grad, x.double(), 3, 1, 1, 1) is None


def _forward_case(n, c, h, w, kernel, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=gen, dtype=dtype).contiguous(
        memory_format=torch.channels_last)
    return x, torch.randn(c, 1, kernel, kernel, generator=gen, dtype=dtype)


@needs_kernels
@pytest.mark.parametrize("kernel,stride,dilation", [(3, 1, 1), (3, 2, 1), (3, 1, 2), (3, 3, 2),
                                                    (5, 1, 1), (5, 2, 2), (7, 1, 1), (7, 2, 3)])
@pytest.mark.parametrize("chans", [1, 8, 13])  # the tail only, one full lane, lanes and a tail
def test_forward_matches_convolution_in_float64(kernel, stride, dilation, chans):
    """Border columns and rows (some taps in the padding), the four-column inner loop and its
    remainder, maps narrower than the filter's reach, a single row."""
    for padding in sorted({0, dilation * (kernel - 1) // 2, dilation * (kernel - 1)}):
        for h, w in [(9, 6), (1, 40), (dilation * (kernel - 1) + 1, 3), (11, 17)]:
            if min(h, w) + 2 * padding < dilation * (kernel - 1) + 1:
                continue
            x, wt = _forward_case(3, chans, h, w, kernel, torch.float64)
            for flip in (False, True):  # flip: the filter rotated, read in place
                got = native.depthwise_forward(x, wt, stride, padding, dilation, flip)
                want = F.conv2d(x, wt.flip(2, 3) if flip else wt, stride=stride,
                                padding=padding, dilation=dilation, groups=chans)
                assert got.is_contiguous(memory_format=torch.channels_last)
                torch.testing.assert_close(got, want, rtol=0, atol=1e-11)


@needs_kernels
def test_forward_float32_channels_last_only():
    """Channels-last input is read in place; any other layout is passed on (None) to oneDNN,
    whose copy would cost more than the kernel saves."""
    x, wt = _forward_case(5, 20, 13, 10, 5, torch.float32, seed=3)
    want = F.conv2d(x.double(), wt.double(), stride=2, padding=4, dilation=2, groups=20)
    got = native.depthwise_forward(x, wt, 2, 4, 2)
    assert got.dtype == torch.float32 and got.shape == want.shape
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-4)
    assert native.depthwise_forward(x.contiguous(), wt, 2, 4, 2) is None
    assert native.depthwise_forward(x[:, ::2], wt[::2], 2, 4, 2) is None


@needs_kernels
def test_forward_same_bits_for_any_thread_count():
    x, wt = _forward_case(37, 24, 16, 16, 5, torch.float32, seed=4)  # work enough for threads
    results = [native.depthwise_forward(x, wt, 1, 4, 2, threads=t) for t in (1, 2, 3, 8)]
    assert results[0] is not None
    for r in results[1:]:
        assert torch.equal(r, results[0])


@needs_kernels
def test_forward_refuses_mismatched_sizes_and_passes_on_what_it_does_not_handle():
    x, wt = _forward_case(2, 4, 8, 8, 3, torch.float32)
    with pytest.raises(ValueError, match="does not fit"):
        native.depthwise_forward(x, wt[:3], 1, 1, 1)
    with pytest.raises(ValueError, match="does not fit"):
        native.depthwise_forward(x, wt.view(4, 1, 9, 1).expand(4, 1, 9, 3).contiguous(), 1, 1, 1)
    with pytest.raises(ValueError, match="does not fit"):  # a 3x3 reaching 9 pixels on a 2x2 map
        native.depthwise_forward(x[:, :, :2, :2].contiguous(memory_format=torch.channels_last),
                                 wt, 1, 0, 4)
    assert native.depthwise_forward(x, torch.ones(4, 1, 4, 4), 1, 1, 1) is None  # no 4x4 loop
    assert native.depthwise_forward(x, wt, 1, 3, 1) is None  # padding beyond the reach
    assert native.depthwise_forward(x.half(), wt.half(), 1, 1, 1) is None
    assert native.depthwise_forward(x, wt.double(), 1, 1, 1) is None
    assert native.depthwise_forward(x[:0], wt, 1, 1, 1) is None  # an empty batch: PyTorch's


GUARDED = textwrap.dedent("""
    import ctypes, itertools, mmap, sys
    import torch
    from genospec.nn import native

    PAGE = mmap.PAGESIZE
    libc = ctypes.CDLL(None)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    keep = []
    lib = native.library()

    def guarded(t):
        # a copy of t whose memory ends exactly at a page that may not be read (and starts right
        # after another): a read outside it is a segmentation fault
        nbytes = t.numel() * t.element_size()
        body = -(-nbytes // PAGE) * PAGE
        m = mmap.mmap(-1, body + 2 * PAGE)
        keep.append(m)
        base = ctypes.addressof(ctypes.c_char.from_buffer(m))
        for start in (base, base + PAGE + body):
            assert libc.mprotect(start, PAGE, 0) == 0  # PROT_NONE
        out = torch.frombuffer(m, dtype=t.dtype, count=t.numel(),
                               offset=PAGE + body - nbytes).view(t.shape)
        out.copy_(t)
        return out

    count = 0
    for kernel, stride, dilation in itertools.product((3, 5, 7), (1, 2, 3), (1, 2)):
        for pad in sorted({0, dilation * (kernel - 1) // 2, dilation * (kernel - 1)}):
            for h, w, c in [(5, 7, 3), (1, 1, 8), (12, 9, 9)]:
                if min(h, w) + 2 * pad < dilation * (kernel - 1) + 1:
                    continue
                for dtype in (torch.float32, torch.float64):
                    x = torch.randn(2, h, w, c, dtype=dtype)
                    oh = (h + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
                    ow = (w + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
                    g = torch.randn(2, oh, ow, c, dtype=dtype)
                    xg, gg = guarded(x), guarded(g)  # [N, H, W, C] memory, read in place
                    got = native.depthwise_weight_grad(gg.permute(0, 3, 1, 2),
                                                       xg.permute(0, 3, 1, 2), kernel, stride,
                                                       pad, dilation, threads=2)
                    assert torch.isfinite(got).all()
                    # the forward through its C entry, so that the output is guarded as well
                    wt = guarded(torch.randn(c, 1, kernel, kernel, dtype=dtype))
                    fn = (lib.genospec_depthwise_forward_f32 if dtype == torch.float32 else
                          lib.genospec_depthwise_forward_f64)
                    for flip in (0, 1):
                        y = guarded(torch.full((2, oh, ow, c), float("nan"), dtype=dtype))
                        assert fn(xg.data_ptr(), wt.data_ptr(), y.data_ptr(), 2, c, h, w, oh, ow,
                                  kernel, stride, pad, dilation, flip, 2) == 0
                        want = torch.nn.functional.conv2d(
                            x.permute(0, 3, 1, 2), wt.flip(2, 3) if flip else wt, stride=stride,
                            padding=pad, dilation=dilation, groups=c)
                        assert torch.allclose(y.permute(0, 3, 1, 2), want, atol=1e-4)
                    count += 1
    # the fused BatchNorm and 1x1 convolution backward through its C entry: every tensor it
    # reads or writes guarded (and NaN where it should only write)
    for (n, h, w), (co, ci), (relu, mask), want_d, want_w, kind in itertools.product(
            [(1, 1, 1), (2, 3, 5), (3, 16, 11)], [(1, 1), (8, 8), (9, 13), (16, 24)],
            [(0, 0), (1, 0), (1, 1)], (0, 1), (0, 1), ("affine", "scale", "plain")):
        for dtype in (torch.float32, torch.float64):
            rows = n * h * w
            blocks = max(1, min(native.FUSED_SLICES, rows // native.FUSED_SLICE_ROWS))
            rand = lambda *size: guarded(torch.randn(*size, dtype=dtype))
            g, y, d, wt = rand(rows, co), rand(rows, co), rand(rows, ci), rand(co, ci)
            inv = guarded(torch.rand(co, dtype=dtype) + 0.5)
            gamma, shift = (rand(co), rand(co)) if kind == "affine" else (None, None)
            scale = guarded(torch.tensor([0.7], dtype=dtype)) if kind == "scale" else None
            nan = lambda size: guarded(torch.full((size,), float("nan"), dtype=dtype))
            gd, gw, ga, gb = nan(rows * ci), nan(co * ci), nan(co), nan(co)
            fn = (lib.genospec_bn_pointwise_backward_f32 if dtype == torch.float32 else
                  lib.genospec_bn_pointwise_backward_f64)
            ptr = lambda t: None if t is None else t.data_ptr()
            assert fn(ptr(g), ptr(y), ptr(d), ptr(wt), ptr(gamma), ptr(shift), ptr(scale),
                      ptr(inv), ptr(gd), ptr(gw), ptr(ga), ptr(gb), rows, co, ci, relu, mask,
                      want_d, want_w, blocks, 2) == 0
            assert torch.isfinite(ga).all() and torch.isfinite(gb).all()
            assert torch.isfinite(gd).all() == bool(want_d)
            assert torch.isfinite(gw).all() == bool(want_w)
            count += 1
    # BatchNorm's forward through its C entry: input, output, statistics and running
    # statistics all guarded
    for (n, h, w), chans, kind, running in itertools.product(
            [(1, 1, 1), (2, 3, 5), (3, 16, 11)], (1, 5, 8, 13, 16, 24),
            ("affine", "scale", "plain"), (0, 1)):
        for dtype in (torch.float32, torch.float64):
            rows = n * h * w
            blocks = max(1, min(native.FUSED_SLICES, rows // native.FUSED_SLICE_ROWS))
            x = guarded(torch.randn(rows, chans, dtype=dtype))
            gamma, shift = ((guarded(torch.rand(chans, dtype=dtype) + 0.5),
                             guarded(torch.randn(chans, dtype=dtype)))
                            if kind == "affine" else (None, None))
            scale = guarded(torch.tensor([0.7], dtype=dtype)) if kind == "scale" else None
            nan = lambda size: guarded(torch.full((size,), float("nan"), dtype=dtype))
            y, mean, inv = nan(rows * chans), nan(chans), nan(chans)
            rm, rv = ((guarded(torch.zeros(chans, dtype=dtype)),
                       guarded(torch.ones(chans, dtype=dtype))) if running else (None, None))
            fn = (lib.genospec_bn_forward_f32 if dtype == torch.float32 else
                  lib.genospec_bn_forward_f64)
            ptr = lambda t: None if t is None else t.data_ptr()
            assert fn(ptr(x), ptr(gamma), ptr(shift), ptr(scale), ptr(y), ptr(mean), ptr(inv),
                      ptr(rm), ptr(rv), rows, chans, 1e-5, 0.1, blocks, 2) == 0
            assert torch.isfinite(y).all() and torch.isfinite(mean).all()
            assert torch.isfinite(inv).all()
            assert rm is None or torch.isfinite(rm).all()
            count += 1
    print("guarded calls", count)
""")


@needs_kernels
def test_reads_nothing_outside_its_tensors():
    """Every configuration of the kernels, tensors (the outputs included) placed against
    inaccessible pages on both sides: any read or write outside them kills the child
    process."""
    done = subprocess.run([sys.executable, "-c", GUARDED], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 100


@pytest.mark.skipif(native._compiler() is None, reason="no C compiler")
def test_sources_build_without_the_x86_clones(tmp_path):
    """The sources compile as clang, non-x86 machines and other compilers see them (no
    target_clones): a helper placed on the wrong side of vectors.h's #if broke only that build,
    which would leave those machines on PyTorch's path without a word."""
    done = subprocess.run([*native._compiler(), *native.FLAGS, "-DGENOSPEC_NO_CLONES", "-Werror",
                           *map(str, native.SOURCES), "-o", str(tmp_path / "generic.so")],
                          capture_output=True, text=True, timeout=native.BUILD_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]


def test_cache_reuse_and_fallbacks(tmp_path, monkeypatch):
    """Built once per cache folder, atomically (no temporary file left); GENOSPEC_NATIVE=0 and a
    compiler that fails both leave the kernels off with the reason, and PyTorch's path runs."""
    monkeypatch.setenv("GENOSPEC_CACHE_DIR", str(tmp_path))
    try:
        if native._compiler() is not None:
            native.library.cache_clear()
            first = native.library()
            assert first is not None, native.failure()
            built = sorted(p.name for p in tmp_path.iterdir())
            assert len(built) == 1 and built[0].endswith(".so")
            mtime = (tmp_path / built[0]).stat().st_mtime_ns
            native.library.cache_clear()
            assert native.library() is not None
            assert (tmp_path / built[0]).stat().st_mtime_ns == mtime  # not built again
            assert sorted(p.name for p in tmp_path.iterdir()) == built

        monkeypatch.setenv("GENOSPEC_NATIVE", "0")
        native.library.cache_clear()
        assert native.library() is None and "GENOSPEC_NATIVE=0" in native.failure()
        assert native.status() == "PyTorch only (turned off by GENOSPEC_NATIVE=0)"
        monkeypatch.delenv("GENOSPEC_NATIVE")

        monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
        monkeypatch.setenv("GENOSPEC_CACHE_DIR", str(tmp_path / "other"))
        native.library.cache_clear()
        assert native.library() is None and "failed" in native.failure()
        assert native.status().startswith("PyTorch only (building the C kernels failed")
        assert "\n" not in native.status() and len(native.status()) <= 135
        assert list((tmp_path / "other").iterdir()) == []
        grad, x = _case(2, 3, 6, 6, 5, 1, 2, 1, torch.float64)
        assert native.depthwise_weight_grad(grad, x, 5, 1, 2, 1) is None
        xl = x.contiguous(memory_format=torch.channels_last)
        assert native.depthwise_forward(xl, torch.ones(3, 1, 5, 5, dtype=x.dtype), 1, 2, 1) is None
        from genospec.nn.depthwise import depthwise_conv
        xr = x.clone().requires_grad_(True)
        w = torch.randn(3, 1, 5, 5, dtype=torch.float64, requires_grad=True)
        gw = torch.autograd.grad(depthwise_conv(xr, w, 1, 2, 1), w, grad)[0]
        want = torch.autograd.grad(F.conv2d(xr, w, padding=2, groups=3), w, grad)[0]
        torch.testing.assert_close(gw, want, rtol=0, atol=1e-11)
    finally:
        monkeypatch.undo()
        native.library.cache_clear()


@needs_kernels
@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads Linux's /proc")
def test_shares_pytorchs_openmp_runtime():
    """Loaded after PyTorch, the kernel uses PyTorch's OpenMP library (one set of threads)."""
    native.library()
    with open("/proc/self/maps") as maps:
        gomp = {line.split()[-1] for line in maps if "libgomp" in line}
    assert len(gomp) <= 1, gomp


def _fused_case(n, co, ci, h, w, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(n, ci, h, w, generator=gen, dtype=dtype)
    weight = torch.randn(co, ci, 1, 1, generator=gen, dtype=dtype)
    gamma = torch.rand(co, generator=gen, dtype=dtype) + 0.5
    beta = torch.randn(co, generator=gen, dtype=dtype)
    grad = torch.randn(n, co, h, w, generator=gen, dtype=dtype)
    return d, weight, gamma, beta, grad


def _fused_reference(d, weight, gamma, beta, grad, relu):
    """Autograd through relu (optional), the 1x1 convolution and an affine training BatchNorm:
    the output, the inverse deviation and the gradients of the pointwise input (after the
    ReLU), the filter, gamma and beta."""
    src = (torch.relu(d) if relu else d).detach().requires_grad_(True)
    w, g, b = (t.detach().requires_grad_(True) for t in (weight, gamma, beta))
    p = F.conv2d(src, w)
    y = F.batch_norm(p, None, None, g, b, training=True, eps=1e-5)
    invstd = (p.var((0, 2, 3), unbiased=False) + 1e-5).rsqrt().detach()
    grads = torch.autograd.grad(y, (src, w, g, b), grad)
    return y.detach(), invstd, grads


def _layout(*tensors):
    return [t.contiguous(memory_format=torch.channels_last) for t in tensors]


@needs_kernels
@pytest.mark.parametrize("co,ci", [(8, 8), (24, 16), (7, 5), (9, 13), (1, 3), (64, 64)])
@pytest.mark.parametrize("relu", [False, True])
def test_fused_batch_norm_pointwise_backward_matches_autograd_in_float64(co, ci, relu):
    """BatchNorm's backward from its output and the 1x1 convolution's two gradients in one
    kernel: to 1e-10 of autograd in float64 (channel counts off the vector width included), the
    ReLU before the convolution read in place; gamma's and beta's gradients from its sums."""
    for n, h, w in [(2, 5, 3), (3, 4, 4), (64, 8, 8)]:
        d, weight, gamma, beta, grad = _fused_case(n, co, ci, h, w, torch.float64)
        y, invstd, (g_src, g_w, g_gamma, g_beta) = _fused_reference(d, weight, gamma, beta, grad,
                                                                     relu)
        grad, y, d = _layout(grad, y, d)
        got_d, got_w, got_gamma, got_beta = native.batch_norm_pointwise_backward(
            grad, y, d, weight, invstd, gamma, beta, relu_d=relu, want_affine=True)
        for got, want in [(got_d, g_src), (got_w, g_w), (got_gamma, g_gamma),
                          (got_beta, g_beta)]:
            torch.testing.assert_close(got, want, rtol=0, atol=1e-10 * want.abs().max())
        assert got_d.is_contiguous(memory_format=torch.channels_last)


@needs_kernels
def test_fused_backward_with_a_scale_or_neither_and_the_relus_mask():
    """An affine-free BatchNorm scaled by a 0-d tensor (a supernet op's mixing weight) or not
    scaled, against autograd in float64: the per-channel ``sum(grad * xhat)`` sums to the
    scale's gradient; ``mask_d`` gives ``d``'s own gradient through the ReLU."""
    d, weight, _, _, grad = _fused_case(3, 12, 10, 5, 4, torch.float64, seed=4)
    for scale in (torch.tensor(0.3, dtype=torch.float64), None):
        src = d.detach().requires_grad_(True)
        w = weight.detach().requires_grad_(True)
        s = None if scale is None else scale.detach().requires_grad_(True)
        p = F.conv2d(torch.relu(src), w)
        y = F.batch_norm(p, None, None, training=True, eps=1e-5)
        invstd = (p.var((0, 2, 3), unbiased=False) + 1e-5).rsqrt().detach()
        out = y if s is None else s * y
        wanted = (src, w) if s is None else (src, w, s)
        grads = torch.autograd.grad(out, wanted, grad)
        cl_grad, cl_out, cl_d = _layout(grad, out.detach(), d)
        got_d, got_w, per_channel, sum_g = native.batch_norm_pointwise_backward(
            cl_grad, cl_out, cl_d, weight, invstd, scale=scale, relu_d=True, mask_d=True,
            want_affine=True)
        tol = lambda t: 1e-10 * t.abs().max()
        torch.testing.assert_close(got_d, grads[0], rtol=0, atol=tol(grads[0]))
        torch.testing.assert_close(got_w, grads[1], rtol=0, atol=tol(grads[1]))
        torch.testing.assert_close(sum_g, grad.sum((0, 2, 3)), rtol=0, atol=1e-10)
        if s is not None:
            torch.testing.assert_close(per_channel.sum(), grads[2], rtol=0, atol=tol(grads[2]))
        assert (got_d[d <= 0] == 0).all()
    with pytest.raises(ValueError, match="mask_d needs relu_d"):
        native.batch_norm_pointwise_backward(cl_grad, cl_out, cl_d, weight, invstd, mask_d=True)


@needs_kernels
def test_fused_backward_computes_only_what_is_wanted():
    """Without the filter's gradient the input ``d`` may be absent; each result is the same
    bits whether or not the others are computed."""
    d, weight, gamma, beta, grad = _fused_case(4, 16, 8, 6, 5, torch.float32)
    y, invstd, _ = _fused_reference(d, weight, gamma, beta, grad, False)
    grad, y, d = _layout(grad, y, d)
    call = native.batch_norm_pointwise_backward
    both = call(grad, y, d, weight, invstd, gamma, beta, want_affine=True)
    only_d = call(grad, y, None, weight, invstd, gamma, beta, want_weight=False)
    only_w = call(grad, y, d, weight, invstd, gamma, beta, want_d=False)
    only_affine = call(grad, y, None, weight, invstd, gamma, beta, want_d=False,
                       want_weight=False, want_affine=True)
    assert only_d[1:] == (None, None, None) and only_w[0] is None and only_w[2:] == (None, None)
    assert only_affine[:2] == (None, None)
    assert torch.equal(both[0], only_d[0]) and torch.equal(both[1], only_w[1])
    assert torch.equal(both[2], only_affine[2]) and torch.equal(both[3], only_affine[3])
    with pytest.raises(ValueError, match="need the convolution's input"):
        call(grad, y, None, weight, invstd, gamma, beta)


@needs_kernels
def test_fused_backward_same_bits_for_any_thread_count():
    d, weight, gamma, beta, grad = _fused_case(16, 24, 16, 16, 12, torch.float32)
    y, invstd, _ = _fused_reference(d, weight, gamma, beta, grad, True)
    grad, y, d = _layout(grad, y, d)
    runs = [native.batch_norm_pointwise_backward(grad, y, d, weight, invstd, gamma, beta,
                                                 relu_d=True, mask_d=True, want_affine=True,
                                                 threads=t) for t in (1, 2, 3, 8)]
    for run in runs[1:]:
        assert all(torch.equal(a, b) for a, b in zip(run, runs[0]))


@needs_kernels
def test_fused_backward_refuses_mismatched_sizes_and_passes_on_what_it_does_not_handle():
    d, weight, gamma, beta, grad = _fused_case(2, 8, 4, 3, 3, torch.float32)
    y, invstd, _ = _fused_reference(d, weight, gamma, beta, grad, False)
    cl_grad, cl_y, cl_d = _layout(grad, y, d)
    call = native.batch_norm_pointwise_backward
    assert call(grad, cl_y, cl_d, weight, invstd, gamma, beta) is None  # gradient in NCHW
    assert call(cl_grad, cl_y, d, weight, invstd, gamma, beta) is None  # input in NCHW
    assert call(cl_grad.half(), cl_y, cl_d, weight, invstd, gamma, beta) is None
    assert call(cl_grad, cl_y.double(), cl_d, weight, invstd, gamma, beta) is None
    wide = native.FUSED_MAX_CHANNELS + 1
    assert call(cl_grad, cl_y, _layout(torch.zeros(2, wide, 3, 3))[0],
                torch.zeros(8, wide, 1, 1), invstd, gamma, beta) is None
    assert call(*_layout(grad[:0], y[:0], d[:0]), weight, invstd, gamma, beta) is None
    with pytest.raises(ValueError, match="do not fit"):
        call(cl_grad, cl_y, cl_d, weight[:, :3], invstd, gamma, beta)
    with pytest.raises(ValueError, match="do not fit"):
        call(cl_grad, cl_y, cl_d, weight, invstd, gamma[:5], beta)
    with pytest.raises(ValueError, match="do not fit"):  # a scale and a gamma at once
        call(cl_grad, cl_y, cl_d, weight, invstd, gamma, beta, scale=torch.tensor(0.5))


def _bn_case(shape, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, dtype=dtype, generator=gen) * 3 + 5).contiguous(
        memory_format=torch.channels_last)
    chans = shape[1]
    gamma = torch.rand(chans, dtype=dtype, generator=gen) + 0.5
    beta = torch.randn(chans, dtype=dtype, generator=gen)
    running = (torch.randn(chans, dtype=dtype, generator=gen),
               torch.rand(chans, dtype=dtype, generator=gen) + 1)
    return x, gamma, beta, running


@needs_kernels
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (4, 16, 9, 9), (3, 13, 4, 6), (2, 1, 3, 3),
                                   (1, 64, 2, 1)])
@pytest.mark.parametrize("kind", ["affine", "scale", "plain"])
def test_batch_norm_forward_matches_pytorch_in_float64(shape, kind):
    """Output, batch mean, inverse deviation and both running statistics (momentum and
    cumulative factors) as PyTorch's training-mode BatchNorm computes them, channel counts off
    and on the vector width, a scale for every channel or neither; the output channels-last."""
    x, gamma, beta, (rm, rv) = _bn_case(shape, torch.float64)
    scale = torch.tensor(0.7, dtype=torch.float64) if kind == "scale" else None
    weight = gamma if kind == "affine" else scale.expand(shape[1]).contiguous() \
        if kind == "scale" else None
    bias = beta if kind == "affine" else None
    for factor in (0.1, 1.0 / 3, 1.0):
        want_rm, want_rv, got_rm, got_rv = rm.clone(), rv.clone(), rm.clone(), rv.clone()
        want = torch.ops.aten.native_batch_norm(x, weight, bias, want_rm, want_rv, True, factor,
                                                1e-5)
        versions = got_rm._version, got_rv._version
        got = native.batch_norm_forward(x, gamma if kind == "affine" else None, bias, got_rm,
                                        got_rv, factor, 1e-5, scale=scale)
        assert got[0].is_contiguous(memory_format=torch.channels_last)
        # moved in place: their version counters say so, as after PyTorch's own update
        assert got_rm._version > versions[0] and got_rv._version > versions[1]
        for a, b in zip((*got, got_rm, got_rv), (*want, want_rm, want_rv)):
            assert torch.allclose(a, b, rtol=1e-11, atol=1e-11)


@needs_kernels
def test_batch_norm_forward_float32_far_from_zero_and_without_running_statistics():
    """In float32, a mean a thousand deviations from zero still gives PyTorch's variance (the
    sums are taken from the first row, not from zero); no running statistics to move is
    fine."""
    x = (torch.randn(8, 16, 12, 12) * 0.01 + 10.0).contiguous(memory_format=torch.channels_last)
    want = torch.ops.aten.native_batch_norm(x.double(), None, None, None, None, True, 0.1, 1e-5)
    got = native.batch_norm_forward(x, None, None, None, None, 0.1, 1e-5)
    assert torch.allclose(got[2].double(), want[2], rtol=1e-4)
    assert torch.allclose(got[0].double(), want[0], atol=2e-3)


@needs_kernels
def test_batch_norm_forward_same_bits_for_any_thread_count():
    x, gamma, beta, (rm, rv) = _bn_case((16, 24, 16, 12), torch.float32)
    runs = []
    for threads in (1, 2, 3, 8):
        m, v = rm.clone(), rv.clone()
        runs.append((*native.batch_norm_forward(x, gamma, beta, m, v, 0.1, 1e-5,
                                                threads=threads), m, v))
    for run in runs[1:]:
        assert all(torch.equal(a, b) for a, b in zip(run, runs[0]))


@needs_kernels
def test_batch_norm_forward_refuses_mismatched_sizes_and_passes_on_what_it_does_not_handle():
    x, gamma, beta, (rm, rv) = _bn_case((2, 8, 3, 3), torch.float32)
    call = native.batch_norm_forward
    assert call(x.contiguous(), gamma, beta, rm, rv, 0.1, 1e-5) is None  # NCHW
    assert call(x.half(), gamma, beta, rm, rv, 0.1, 1e-5) is None
    assert call(x, gamma.double(), beta, rm, rv, 0.1, 1e-5) is None
    assert call(x[:0], gamma, beta, rm, rv, 0.1, 1e-5) is None
    assert call(x, gamma, beta, rm, rv, 1.5, 1e-5) is None
    assert call(x, gamma, beta, rm, rv, 0.1, 0.0) is None
    assert call(x, gamma, beta, torch.zeros(16)[::2], rv, 0.1, 1e-5) is None  # a strided view
    wide = torch.zeros(1, native.FORWARD_MAX_CHANNELS + 1, 1, 2).contiguous(
        memory_format=torch.channels_last)
    assert call(wide, None, None, None, None, 0.1, 1e-5) is None
    with pytest.raises(ValueError, match="do not fit"):
        call(x, gamma[:5], beta, rm, rv, 0.1, 1e-5)
    with pytest.raises(ValueError, match="do not fit"):  # a scale and a gamma at once
        call(x, gamma, beta, rm, rv, 0.1, 1e-5, scale=torch.tensor(0.5))
