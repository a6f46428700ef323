"""Speed settings that search and training share: numeric precision, torch.compile and the
choices made per device (cuDNN autotuning, memory format).

Precision (``precision fp32|bf16|fp16`` in a recipe, ``--precision`` on ``genospec search`` and
``genospec train``): the forward and the loss run under ``torch.autocast`` with the given dtype;
parameters stay float32, so the architecture parameters and their Adam state are float32 and so
is every optimiser step. fp16 needs CUDA (its range needs a gradient scaler, and the CPU has no
fast float16 kernels): each phase that steps an optimiser scales its loss with its own
``torch.amp.GradScaler`` (`Precision.scaler`), which skips a step whose gradients overflowed.
bf16 has float32's range and runs without a scaler, on the CPU or on a GPU that supports it.

Per device (`prepare_model`): channels-last memory format where it was measured faster (the CPU:
1.6x on the supernet step, 1.2x on the evaluation step, benchmarks/README.md); contiguous
elsewhere until ``benchmarks/gpu_step.py --channels-last`` measures otherwise on a GPU. On CUDA
cuDNN autotunes its convolution algorithms (``torch.backends.cudnn.benchmark``): the shapes of a
run repeat every step. On the CPU glibc's allocator keeps freed memory for the next step
instead of handing it back to the system (`genospec.runtime.allocator`). genospec's CPU
kernels (``genospec/nn``: depthwise backward, recomputing blocks, pooling with BatchNorm, dense
concatenation) check the tensor's device and stay off on any other device
(tests/test_gpu_readiness.py).

torch.compile (``supernet compile on`` / ``--compile``): `compile_module` compiles the module in
place (``nn.Module.compile``: its state dict keeps its keys, so checkpoints do not change) and
runs one probe forward and backward so that a missing compiler or an unsupported torch fails at
once as a `CompileError` with the reason, not as a traceback in the middle of the first epoch.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn

from ..errors import GenospecError
from .allocator import retain_freed_memory

PRECISIONS = ("fp32", "bf16", "fp16")
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16,
                                  "fp16": torch.float16}


class PrecisionError(GenospecError):
    """A precision the device cannot run."""

    exit_code = 2


class CompileError(GenospecError):
    """torch.compile is unavailable here or failed on the model."""

    exit_code = 2


def check_precision(name: str, device: str | torch.device) -> None:
    """Refuse a precision ``device`` cannot run, with what to use instead."""
    if name not in PRECISIONS:
        raise PrecisionError(f"unknown precision {name!r} (known: {', '.join(PRECISIONS)})")
    dev = torch.device(device)
    if name == "fp16" and dev.type != "cuda":
        raise PrecisionError(f"precision fp16 needs a CUDA device, not {dev.type}",
                             hint="use bf16 on the CPU (same speed-up, float32's range, no "
                                  "gradient scaler), or fp32")
    if name == "bf16" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise PrecisionError("this GPU does not support bf16", hint="use fp16 or fp32")


@dataclass
class Precision:
    """Autocast and gradient scalers of one run (``name``: fp32, bf16 or fp16)."""

    name: str = "fp32"
    device_type: str = "cpu"
    scalers: dict[str, torch.amp.GradScaler] = field(default_factory=dict, repr=False)

    @classmethod
    def for_device(cls, name: str, device: str | torch.device) -> "Precision":
        check_precision(name, device)
        return cls(name, torch.device(device).type)

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.name]

    @property
    def mixed(self) -> bool:
        return self.name != "fp32"

    def autocast(self) -> contextlib.AbstractContextManager:
        """Around a forward and its loss: autocast to the dtype (nothing in fp32)."""
        if not self.mixed:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def scaler(self, phase: str) -> torch.amp.GradScaler | None:
        """The gradient scaler of ``phase`` ("arch", "weights"; fp16 only, else None). Each
        phase keeps its own scale: their losses and gradients differ in size."""
        if self.name != "fp16":
            return None
        if phase not in self.scalers:
            self.scalers[phase] = torch.amp.GradScaler(self.device_type)
        return self.scalers[phase]

    def backward(self, loss: Tensor, phase: str, run: Callable[[Tensor], None]) -> None:
        """``run(loss)`` (a backward), with the loss scaled under fp16."""
        scaler = self.scaler(phase)
        run(scaler.scale(loss) if scaler is not None else loss)

    def unscale(self, optimizer: torch.optim.Optimizer, phase: str) -> None:
        """Bring the gradients of ``optimizer`` back to their true size (before clipping)."""
        scaler = self.scaler(phase)
        if scaler is not None:
            scaler.unscale_(optimizer)

    def step(self, phase: str, *optimizers: torch.optim.Optimizer) -> None:
        """Step ``optimizers`` (under fp16 through the phase's scaler, which skips a step whose
        gradients hold inf or NaN, then adapts its scale)."""
        scaler = self.scaler(phase)
        for opt in optimizers:
            if scaler is not None:
                scaler.step(opt)
            else:
                opt.step()
        if scaler is not None:
            scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {phase: s.state_dict() for phase, s in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        for phase, s in (state or {}).items():
            scaler = self.scaler(phase)
            if scaler is not None:
                scaler.load_state_dict(s)


FP32 = Precision()


# ---- per device ---------------------------------------------------------------------------------
def channels_last_on(device: str | torch.device) -> bool:
    """Whether models on ``device`` run in channels-last memory format: measured faster on the
    CPU; other devices stay contiguous until measured (benchmarks/gpu_step.py)."""
    return torch.device(device).type == "cpu"


def prepare_device(device: str | torch.device) -> None:
    """Process-wide settings for ``device``: cuDNN autotuning on CUDA; on the CPU the C
    allocator keeps freed memory for the next step (`allocator.retain_freed_memory`) and
    genospec's C kernels are built now (`genospec.nn.native`, 3.4-3.8 s the first time on
    a machine) rather than inside the first timed step."""
    kind = torch.device(device).type
    if kind == "cuda":
        torch.backends.cudnn.benchmark = True
    elif kind == "cpu":
        retain_freed_memory()
        from ..nn import native
        native.library()


def prepare_model(model: nn.Module, device: str | torch.device) -> nn.Module:
    """``model`` in the memory format chosen for ``device`` (its ``channels_last`` method, which
    also converts its inputs), after `prepare_device`."""
    prepare_device(device)
    if channels_last_on(device) and hasattr(model, "channels_last"):
        model.channels_last()
    return model


# ---- torch.compile ------------------------------------------------------------------------------
def compile_unavailable() -> str | None:
    """Why torch.compile cannot run in this process (None: it may)."""
    if not hasattr(torch, "compile"):
        return f"this torch ({torch.__version__}) has no torch.compile"
    try:
        import torch._dynamo as dynamo
    except Exception as e:  # noqa: BLE001 - any import failure means no compile
        return f"torch._dynamo does not import ({type(e).__name__}: {e})"
    if not dynamo.is_dynamo_supported():
        import sys
        return f"torch.compile does not support Python {sys.version.split()[0]} with torch " \
               f"{torch.__version__}"
    return None


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    first = next((line for line in text if line.strip()), "")
    for line in text:  # inductor wraps the compiler's own message deep inside
        if "error:" in line.lower() or "not found" in line.lower():
            first = line.strip()
            break
    return f"{type(e).__name__}: {first[:300]}"


@contextlib.contextmanager
def _state_kept(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Run a probe without a trace: buffers (BN statistics), mode, gradients and the random
    generators are as before afterwards."""
    buffers = dict(model.named_buffers())
    saved = {n: b.clone() for n, b in buffers.items()}
    grads = {id(p): p.grad for p in model.parameters()}
    was_training = model.training
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        model.train(was_training)
        with torch.no_grad():
            for n, value in saved.items():
                buffers[n].copy_(value)
        for p in model.parameters():
            p.grad = grads.get(id(p))


def compile_module(model: nn.Module, sample: Tensor, what: str = "the network", *,
                   precision: Precision = FP32, mode: str | None = None,
                   backend: str = "inductor") -> nn.Module:
    """Compile ``model`` in place and check it with one training-mode forward and backward of
    ``sample`` (a small batch on the model's device); a `CompileError` with the reason and a
    hint when torch.compile is unavailable or fails. Returns ``model``."""
    why = compile_unavailable()
    if why is not None:
        raise CompileError(f"cannot compile {what}: {why}",
                           hint="run without --compile (or with supernet compile off)")
    model.compile(backend=backend, **({"mode": mode} if mode else {}))
    try:
        with _state_kept(model, sample.device), torch.enable_grad():
            model.train()
            with precision.autocast():
                out = model(sample)
                logits = out[0] if isinstance(out, (tuple, list)) else out
            logits.float().sum().backward()
    except Exception as e:  # noqa: BLE001 - dynamo/inductor raise many kinds; all mean "failed"
        model._compiled_call_impl = None  # back to eager, as before the call
        raise CompileError(f"torch.compile failed on {what}: {_reason(e)}",
                           hint="the inductor backend needs a C compiler (gcc or clang) on the "
                                "CPU and Triton on CUDA; run without --compile (or with "
                                "supernet compile off)") from None
    return model


def is_compile_error(e: BaseException) -> bool:
    """Whether ``e`` came from torch.compile's machinery (dynamo, AOT autograd, inductor)."""
    module = type(e).__module__ or ""
    return module.startswith(("torch._dynamo", "torch._inductor", "torch._functorch"))


def compile_failure(e: BaseException, what: str) -> CompileError:
    """A compile failure after the probe (a recompilation for a new shape or mode)."""
    return CompileError(f"torch.compile failed on {what} during the run: {_reason(e)}",
                        hint="run without --compile (or with supernet compile off)")
