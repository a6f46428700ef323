"""Several processes, one run: torch.distributed setup, sharded batches, one architecture.

``genospec search --nproc N`` (and ``genospec train --nproc N``) re-executes the command in N
processes with `launch` (torch.distributed.run, a standalone rendezvous on this machine); a run
started directly with ``torchrun -m genospec.cli.main search ...`` (any number of machines)
works the same way. Each process joins the process group in `session` (gloo for CPU tensors,
nccl for CUDA ones; each process takes the GPU of its local rank, see `rank_device`) and then:

- reads its shard of every batch (`iterate_shard`): every process walks the same seeded batch
  order and takes every N-th image of each batch from its rank on (DistributedSampler's split,
  padded by wrapping round so that shards have equal sizes), with the augmentation the image
  gets in a single-process run; the global batch is the recipe's batch;
- steps a DistributedDataParallel wrapper of the model (`ddp`, with
  ``find_unused_parameters=True`` since ops of weight 0 are skipped): the gradients of weights
  and of architecture parameters are averaged over the processes, so every process holds the
  same weights and the same alpha/beta; gradients computed outside DDP (the DARTS second-order
  architecture gradient) are averaged with `average_`;
- writes through a run directory of its own: rank 0 the real one, every other rank a private
  temporary directory (`private_dir`, removed when the process ends), so only rank 0 writes
  outputs and checkpoints while every rank runs the same code, which reads back what it wrote.
  On resume the other ranks receive the run directory's files from rank 0 (`shared_copy`), so
  the machines need no shared file system.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn

from .data import Augment, Split, iterate
from .data.augment import Draws, apply
from .data.splits import Batch, generator

_DDP_ATTRIBUTE = "_genospec_ddp"


# ---- where this process stands -------------------------------------------------------------
def launched() -> bool:
    """Whether this process was started by torch.distributed.run (or `launch`) with others."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """Whether a process group of more than one process is set up."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """The number of processes (1 outside a process group)."""
    return dist.get_world_size() if active() else 1


def local_rank() -> int:
    """This process's rank on its machine."""
    return int(os.environ.get("LOCAL_RANK", "0")) if active() else 0


def local_world_size() -> int:
    """The number of processes on this machine (they share its memory)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size()))) if active() else 1


def is_main() -> bool:
    """True in rank 0, the process that writes outputs (and in a single-process run)."""
    return rank() == 0


def rank_device(device: str) -> str:
    """The device this process computes on: a CUDA device becomes ``cuda:<local rank>`` when
    several processes run, so that each takes its own GPU."""
    if active() and torch.device(device).type == "cuda":
        return f"cuda:{local_rank()}"
    return device


# ---- process group -------------------------------------------------------------------------
def setup() -> bool:
    """Join the process group described by the torch.distributed.run environment variables;
    True when this call created it (False: a single process, or already set up)."""
    if not launched() or not dist.is_available() or dist.is_initialized():
        return False
    backend = "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        backend = "cpu:gloo,cuda:nccl"
    dist.init_process_group(backend)
    return True


@contextmanager
def session() -> Iterator[None]:
    """Run the enclosed block inside the process group (a no-op for a single process)."""
    created = setup()
    try:
        yield
    finally:
        if created:
            dist.destroy_process_group()


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run ``genospec ARGV`` in ``nproc`` processes on this machine under torch.distributed.run
    (standalone rendezvous) and wait for them; returns 0, or the exit code of the first process
    that failed (128 + N for one killed by signal N). ``argv`` is the command line after
    ``genospec``; the processes see the launch in their environment and do not launch again.
    The processes report their own errors, so the launcher's log lines are silenced, and the
    signal handlers it installs are undone when it returns.
    """
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    if nproc < 1:
        raise ValueError(f"nproc must be at least 1, got {nproc}")
    threads = os.environ.get("OMP_NUM_THREADS")
    # torchrun would set 1 thread per process with a warning; share the cores out instead
    os.environ["OMP_NUM_THREADS"] = threads or str(max(1, (os.cpu_count() or 1) // nproc))
    args = torchrun.get_args_parser().parse_args(
        ["--standalone", f"--nproc-per-node={nproc}", "--module", "genospec.cli.main"])
    args.training_script_args = list(argv)  # kept away from torchrun's own option parsing
    log = logging.getLogger("torch.distributed.elastic")
    level = log.level
    handlers = {s: signal.getsignal(s)
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    log.setLevel(logging.CRITICAL)
    try:
        torchrun.run(args)
    except ChildFailedError as e:
        code = e.get_first_failure()[1].exitcode
        return code if code > 0 else 128 - code
    except SignalException as e:  # Ctrl-C: passed on to the processes, which save and stop
        return 128 + int(e.sigval)
    finally:
        if threads is None:
            del os.environ["OMP_NUM_THREADS"]
        log.setLevel(level)
        for s, handler in handlers.items():
            if handler is not None:
                signal.signal(s, handler)
    return 0


# ---- one architecture across processes -----------------------------------------------------
def ddp(model: nn.Module) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel when several processes run (the model itself
    otherwise). The wrapper is made once per model (its construction is a collective call that
    copies rank 0's parameters and buffers to every rank) and kept on the model, unregistered,
    so that every caller steps the same wrapper."""
    if not active() or isinstance(model, nn.parallel.DistributedDataParallel):
        return model
    wrapper = model.__dict__.get(_DDP_ATTRIBUTE)
    if wrapper is None:
        wrapper = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
        object.__setattr__(model, _DDP_ATTRIBUTE, wrapper)  # not a submodule: no state_dict entry
    return wrapper


def average_(tensors: Sequence[Tensor]) -> None:
    """Replace each tensor, in place, by its mean over the processes (no-op for one process)."""
    if not active():
        return
    n = world_size()
    for t in tensors:
        dist.all_reduce(t)
        t.div_(n)


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (picklable objects; sent through CPU tensors)."""
    if not active():
        return obj
    box = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0, device=torch.device("cpu"))
    return box[0]


# ---- batches -------------------------------------------------------------------------------
def shard_positions(n: int, rank_: int, world: int) -> Tensor:
    """Positions ``rank_, rank_ + world, ...`` of a batch of ``n``, wrapped round so that every
    rank gets ceil(n / world) of them (DistributedSampler's split and padding)."""
    per_rank = -(-n // world)
    return torch.arange(rank_, rank_ + world * per_rank, world) % n


def _take(draws: Draws, positions: Tensor, device: torch.device) -> Draws:
    def part(t: Tensor | None) -> Tensor | None:
        return None if t is None else t[positions].to(device, non_blocking=True)
    return Draws(part(draws.offsets), part(draws.flips), part(draws.centres))


def iterate_shard(split: Split, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                  epoch: int = 0, augment: Augment | None = None,
                  device: torch.device | str = "cpu", start: int = 0) -> Iterator[Batch]:
    """This rank's shard (`shard_positions`) of every batch `genospec.data.iterate` yields with
    the same arguments; only the shard's images are read. A single process gets whole batches."""
    if not active():
        yield from iterate(split, batch_size, shuffle=shuffle, seed=seed, epoch=epoch,
                           augment=augment, device=device, start=start)
        return
    device = torch.device(device)
    n, r, world = len(split), rank(), world_size()
    gen = generator(seed, "epoch", epoch)  # the draws of `iterate`, in the same order
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    _, h, w = split.image_shape
    draws = augment.draw(n, h, w, gen) if augment is not None else None
    firsts = range(start * batch_size, n, batch_size)
    if not firsts:
        return
    positions = torch.cat([f + shard_positions(min(batch_size, n - f), r, world)
                           for f in firsts])
    # shards of full batches all have this size, so the split hands them out one by one
    shard = -(-batch_size // world)
    done = 0
    for images, labels in split.batches(order[positions], shard, device):
        mine = positions[done:done + len(labels)]
        done += len(labels)
        rows = None if draws is None else _take(draws, mine, device)
        yield apply(images, augment, rows, split.mean, split.std), labels


# ---- run directories -----------------------------------------------------------------------
def private_dir() -> Path:
    """A new temporary directory for this process's own files, removed when it exits."""
    path = Path(tempfile.mkdtemp(prefix=f"genospec-rank{rank()}-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def shared_copy(path: str | Path) -> Path:
    """``path`` on rank 0; on every other rank a `private_dir` holding copies of the files at
    the top of rank 0's ``path`` (what resuming a run reads). A collective call."""
    if not active():
        return Path(path)
    files = None
    if is_main():
        root = Path(path)
        files = {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file()} \
            if root.is_dir() else {}
    files = broadcast_object(files)
    if is_main():
        return Path(path)
    copy = private_dir()
    for name, data in files.items():
        (copy / name).write_bytes(data)
    return copy


def command_line(command: str) -> list[str] | None:
    """This process's ``genospec`` arguments (``sys.argv[1:]``), for `launch` to run again; None
    when they do not hold ``command`` (the CLI was called from Python, not a command line)."""
    argv = sys.argv[1:]
    return argv if command in argv else None
