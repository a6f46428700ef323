"""How much memory training a network will take at its peak, estimated before the run starts.

The estimate adds up, in bytes:

- ``weights``: every parameter (architecture parameters included);
- ``states``: what training keeps per parameter: a gradient and SGD's momentum buffer for the
  weights, a gradient and Adam's two moments for the architecture parameters; the DARTS
  second-order update (eq. 6-8) holds ``SECOND_ORDER_COPIES`` more copies of the weights (the
  unrolled weights, their gradient, the training gradient, the perturbed weights);
- ``activations``: the tensors one training-mode forward saves for its backward pass, counted
  by a forward of a ``PROBE_BATCH``-image batch at the run's resolution through
  ``saved_tensors_hooks`` (each storage once, parameters left out) and scaled linearly to the
  batch size;
- ``workspace``: backward's gradient buffers, the batch and the allocator's slack:
  ``WORKSPACE`` times the activations.

The probe runs the model itself, so ops of weight 0 (skipped), partial channels and the cell
layout are all accounted for; it leaves the model, its BN statistics and the random generators
as they were. Calibration (CPU, peak RSS growth over a training step, see the helper report in
the repository history): the estimate came within 25% of the measurement on DARTS supernets of
5 to 8 cells, 16 channels, batch 32 to 64 at 32x32. With the supernet blocks that keep less for
backward (`genospec.nn.recompute`, `genospec.nn.pool_bn`) the saved activations shrank and
backward's transient buffers (gradients, recomputed activations) became a larger share of the
peak: with ``WORKSPACE`` 0.25 the first-order DARTS step (8 cells, batch 64) was estimated at
2.56 GiB against 3.43 GiB of measured peak RSS growth (-25%; results/cpu2-2026-11-22-d.json),
so ``WORKSPACE`` is 0.4 (2.86 GiB, -17%).

Precision: with ``autocast`` (bf16 or fp16, `genospec.runtime.precision`) the probe runs under
autocast, so the saved activations are counted at the sizes autocast gives them (half for the
convolutions' inputs and outputs, float32 where autocast keeps it). The reduced-precision copies
of the weights that autocast caches for the forward do not grow with the batch: they are counted
once, as ``cast_weights``, not scaled with the activations.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import torch
from torch import Tensor, nn

from ..errors import GenospecError

PROBE_BATCH = 2
WORKSPACE = 0.4
SECOND_ORDER_COPIES = 5
GIB = 1024 ** 3


class InsufficientMemoryError(GenospecError):
    """A run whose estimated peak memory exceeds the memory available to it."""

    exit_code = 3


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak training memory of one process, in bytes (see the module docstring)."""

    weights: int
    states: int
    activations: int
    workspace: int
    cast_weights: int = 0  # autocast's reduced-precision weight copies

    @property
    def peak(self) -> int:
        return self.weights + self.states + self.activations + self.workspace + self.cast_weights

    @property
    def to_allocate(self) -> int:
        """What the run still has to allocate: the weights exist when the estimate is made."""
        return self.peak - self.weights

    def describe(self) -> str:
        return (f"{gib(self.peak)} (weights {gib(self.weights)}, gradients and optimiser state "
                f"{gib(self.states)}, activations {gib(self.activations)}, workspace "
                f"{gib(self.workspace)}" + (f", autocast weight copies {gib(self.cast_weights)}"
                                            if self.cast_weights else "") + ")")


def gib(n: int | float) -> str:
    return f"{n / GIB:.2f} GiB"


def _nbytes(tensors: Iterable[Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def _is_weight_cast(t: Tensor, params: set[int]) -> bool:
    """Whether ``t`` is autocast's copy of a parameter (its cast's only input is the
    parameter's gradient accumulator)."""
    fn = t.grad_fn
    if fn is None or not fn.name().startswith("ToCopyBackward"):
        return False
    nxt = [f for f, _ in fn.next_functions if f is not None]
    return len(nxt) == 1 and id(getattr(nxt[0], "variable", None)) in params


def saved_activation_bytes(model: nn.Module, sample: Tensor, *,
                           autocast: torch.dtype | None = None,
                           weight_casts: dict[int, int] | None = None) -> int:
    """Bytes of the tensors that a training-mode forward of ``sample`` saves for backward (each
    storage counted once, parameters and buffers left out). ``autocast``: the forward runs
    under autocast to that dtype; autocast's copies of the parameters go into ``weight_casts``
    (storage: bytes) instead of the count. The model's state, its mode and the random
    generators are restored afterwards."""
    own = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    params = {id(p) for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in own and t.device.type != "meta":
            if autocast is not None and _is_weight_cast(t, params):
                if weight_casts is not None:
                    weight_casts[ptr] = storage.nbytes()
            else:
                seen[ptr] = storage.nbytes()
        return t

    buffers = dict(model.named_buffers())
    state = {name: b.clone() for name, b in buffers.items()}
    was_training = model.training
    devices = [sample.device] if sample.device.type == "cuda" else []
    cast = torch.autocast(sample.device.type, dtype=autocast) if autocast is not None \
        else contextlib.nullcontext()
    try:
        with torch.random.fork_rng(devices=devices), torch.enable_grad(), cast, \
                torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model.train()
            out = model(sample)
            del out  # the graph (and the saved tensors kept alive for counting) goes with it
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, value in state.items():
                buffers[name].copy_(value)
    return sum(seen.values())


def estimate_training_memory(model: nn.Module, input_shape: tuple[int, int, int], batch: int,
                             *, arch_params: Iterable[nn.Parameter] = (),
                             second_order: bool = False,
                             autocast: torch.dtype | None = None) -> MemoryEstimate:
    """Peak memory of training ``model`` on batches of ``batch`` images of ``input_shape``
    (C, H, W) in one process. ``arch_params`` are trained with Adam, every other parameter
    with SGD and momentum; ``second_order`` adds the DARTS unrolled update's weight copies;
    ``autocast``: forwards run under autocast to that dtype (bf16, fp16)."""
    arch = {id(p) for p in arch_params}
    params = list(model.parameters())
    weights = [p for p in params if id(p) not in arch and p.requires_grad]
    archs = [p for p in params if id(p) in arch and p.requires_grad]
    w_bytes = _nbytes(weights)
    states = 2 * w_bytes + 3 * _nbytes(archs)
    if second_order:
        states += SECOND_ORDER_COPIES * w_bytes
    device = params[0].device if params else torch.device("cpu")
    dtype = params[0].dtype if params else torch.float32
    sample = torch.zeros(PROBE_BATCH, *input_shape, device=device, dtype=dtype)
    net = getattr(model, "net", model)
    checkpointed = bool(getattr(net, "checkpoint_cells", False))
    if checkpointed:  # probe what the cells would keep without recomputation
        net.checkpoint_cells = False
    try:
        casts: dict[int, int] = {}
        per_image = saved_activation_bytes(model, sample, autocast=autocast,
                                           weight_casts=casts) / PROBE_BATCH
    finally:
        if checkpointed:
            net.checkpoint_cells = True
    if checkpointed:
        # checkpointed cells keep their inputs only and recompute one cell at a time in
        # backward: about two cells' worth of the full count (a rough bound, not calibrated)
        per_image *= min(1.0, 2.0 / max(1, len(getattr(net, "cells", [])) or 1))
    activations = int(per_image * batch)
    return MemoryEstimate(_nbytes(params), states, activations, int(WORKSPACE * activations),
                          sum(casts.values()))


def _meminfo_available(meminfo: Path) -> int | None:
    try:
        text = meminfo.read_text()
    except OSError:
        return None
    found = re.search(r"^MemAvailable:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def _cgroup_available(cgroup: Path) -> int | None:
    """Room left under a cgroup v2 memory limit (None without a limit)."""
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        used = int((cgroup / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - used)


def available_memory(device: str | torch.device = "cpu", *,
                     meminfo: Path = Path("/proc/meminfo"),
                     cgroup: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes free for a run on ``device``: the GPU's free memory for CUDA; for the CPU, Linux's
    MemAvailable, lowered to what a cgroup memory limit leaves. None when unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    found = [v for v in (_meminfo_available(meminfo), _cgroup_available(cgroup)) if v is not None]
    return min(found) if found else None


def check_fits(estimate: MemoryEstimate, available: int | None, *, processes: int = 1,
               knobs: str = "batch, channels, cells") -> None:
    """Raise a GenospecError when ``processes`` runs of ``estimate`` (processes sharing one
    memory) need more than ``available`` bytes; nothing when ``available`` is unknown."""
    if available is None:
        return
    needed = estimate.to_allocate * processes
    if needed <= available:
        return
    each = f" in each of {processes} processes" if processes > 1 else ""
    raise InsufficientMemoryError(
        f"not enough memory: training needs about {gib(needed)} more, {gib(available)} is "
        f"available (estimated peak {estimate.describe()}{each})",
        hint=f"lower {knobs}, or pass --force to start anyway")
