"""The training loop: SGD over a dataset, one atomic checkpoint per epoch, exact resume.

Run directory:
    checkpoint.pt (+ checkpoint.prev.pt)   model, optimizer, RNG, epoch/step, metric history
    metrics.jsonl                          one record per finished epoch
    report.json                            the final (or stopped) run's summary

The model's forward returns logits, or ``(logits, aux_logits)`` in training mode when it has an
auxiliary head; a model with ``schedule_drop_path(progress)`` is told ``epoch / epochs`` at the
start of every epoch. With the same seed on CPU, a run stopped or interrupted and resumed ends
with the same weights, bit for bit, as one that never stopped.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import distributed
from ..checkpoint import (CheckpointError, append_jsonl, atomic_write_text, capture_rng,
                          previous_path, restore_rng)
from ..data import Augment, Dataset, Split, TensorSplit, num_batches, subset
from ..errors import GenospecError
from ..nn import native
from ..nn.count import count_parameters
from ..progress import Reporter, eta
from ..runtime import checkpoints, optimisers, tables
from ..runtime.evaluation import evaluate
from ..runtime.interrupt import SigintGuard
from ..runtime.precision import (DTYPES, FP32, Precision, compile_failure, compile_module,
                                 is_compile_error, prepare_model)
from .config import TrainConfig, learning_rate
from .interrupt import TrainingInterrupted

CHECKPOINT, METRICS, REPORT = "checkpoint.pt", "metrics.jsonl", "report.json"
METRICS_CSV = "metrics.csv"
# What a training checkpoint holds (beyond its format and kind, `genospec.runtime.checkpoints`).
CHECKPOINT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "config": dict, "data": dict, "model": dict, "optimizer": dict, "rng": dict, "epoch": int,
    "step": int, "history": list}
# Settings that may change between a run and its resumption without changing its results.
RESUMABLE_CHANGES = ("stop_after", "device", "compile")
# Settings added since the first runs, with the value runs written before them had.
ADDED_SETTINGS = {"precision": "fp32", "compile": False}


class TrainError(GenospecError):
    """A run directory that does not fit the requested run."""

    exit_code = 3


@dataclass
class _Progress:
    """Where a run stands: finished epochs, batches into the current one, running sums."""

    epoch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)


def _logits(out: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor | None]:
    """``(logits, aux_logits or None)`` from whatever the model's forward returned."""
    if isinstance(out, (tuple, list)):
        return out[0], (out[1] if len(out) > 1 else None)
    return out, None


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor,
          config: TrainConfig, precision: Precision = FP32) -> tuple[float, int]:
    """One SGD step (forward and loss under ``precision``'s autocast, the loss scaled under
    fp16); returns the batch's summed loss and its number of correct predictions."""
    with precision.autocast():
        logits, aux = _logits(model(x))
        loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
        if aux is not None and config.auxiliary_weight > 0:
            loss = loss + config.auxiliary_weight * F.cross_entropy(
                aux, y, label_smoothing=config.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    precision.backward(loss, "weights", Tensor.backward)
    if config.grad_clip > 0:
        precision.unscale(optimizer, "weights")
        optimisers.clip_gradients(model.parameters(), config.grad_clip)
    precision.step("weights", optimizer)
    return loss.item() * len(y), int((logits.argmax(1) == y).sum())


def _splits(dataset: Dataset, config: TrainConfig, device: torch.device) -> tuple[Split, Split]:
    train, test = dataset.train, dataset.test
    if config.train_subset is not None:
        train = subset(train, config.train_subset, seed=config.seed)
    if config.test_subset is not None:
        test = subset(test, config.test_subset, seed=config.seed)
    if isinstance(train, TensorSplit):
        train = train.to(device)
    if isinstance(test, TensorSplit):
        test = test.to(device)
    return train, test


def _data_facts(dataset: Dataset, train: Split, test: Split) -> dict[str, Any]:
    return {"name": dataset.name, "train": len(train), "test": len(test)}


def _save(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, config: TrainConfig,
          data: dict[str, Any], progress: _Progress, precision: Precision = FP32) -> None:
    checkpoints.save(path, "train", {
        "config": config.to_dict(), "data": data,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": capture_rng(),
        "epoch": progress.epoch, "step": progress.step, "loss_sum": progress.loss_sum,
        "correct": progress.correct, "seen": progress.seen, "seconds": progress.seconds,
        "history": progress.history,
        **({"scalers": precision.state_dict()} if precision.scalers else {}),  # fp16
    })


def _restore(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
             config: TrainConfig, data: dict[str, Any], device: torch.device,
             precision: Precision = FP32) -> _Progress:
    try:
        state = checkpoints.load(run_dir / CHECKPOINT, "train", CHECKPOINT_FIELDS,
                                 map_location=device)
    except CheckpointError as e:
        raise TrainError(f"cannot resume: {e.message}", hint=e.hint) from None
    saved = state["config"]
    changed = [k for k, v in config.to_dict().items()
               if k not in RESUMABLE_CHANGES and saved.get(k, ADDED_SETTINGS.get(k)) != v]
    if changed:
        raise TrainError(f"cannot resume {run_dir}: it was started with different settings",
                         hint=", ".join(f"{k}: {saved.get(k)!r} then, {getattr(config, k)!r} now"
                                        for k in changed))
    if state["data"] != data:
        raise TrainError(f"cannot resume {run_dir}: it was trained on {state['data']}, "
                         f"not {data}")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise TrainError(f"the checkpoint in {run_dir} does not fit this model",
                         hint=str(e).splitlines()[0]) from None
    optimizer.load_state_dict(state["optimizer"])
    restore_rng(state["rng"])
    precision.load_state_dict(state.get("scalers"))
    progress = _Progress(state["epoch"], state["step"], state["loss_sum"], state["correct"],
                         state["seen"], state["seconds"], list(state["history"]))
    # Records written after the checkpoint (a crash in between) are dropped; lost ones restored.
    atomic_write_text(run_dir / METRICS, "".join(_jsonl(r) for r in progress.history))
    tables.write_csv(run_dir / METRICS_CSV, progress.history)
    return progress


def _fresh(run_dir: Path, config: TrainConfig) -> _Progress:
    """Prepare an empty run directory and seed the global generators (dropout, drop path)."""
    ckpt = run_dir / CHECKPOINT
    if ckpt.exists() or previous_path(ckpt).exists():
        raise TrainError(f"{run_dir} already holds a run",
                         hint="resume it, or choose another run directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / METRICS, "")
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    return _Progress()


def _jsonl(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True) + "\n"


def train(model: nn.Module, dataset: Dataset, config: TrainConfig, run_dir: str | Path,
          reporter: Reporter | None = None, resume: bool = False) -> dict[str, Any]:
    """Train ``model`` on ``dataset.train``, testing on ``dataset.test`` after every epoch.

    Writes a checkpoint, a ``metrics.jsonl`` record and a reporter event per epoch. With
    ``resume`` the run continues from ``run_dir``'s checkpoint (same settings required, except
    ``stop_after`` and ``device``). Ctrl-C finishes the current batch, saves a checkpoint there
    and raises `TrainingInterrupted`. Returns the report also written to ``report.json``.
    """
    run_dir, reporter = Path(run_dir), reporter or Reporter()
    device = torch.device(distributed.rank_device(config.device))
    precision = Precision.for_device(config.precision, device)
    model.to(device)
    # memory format per device (channels-last on the CPU), cuDNN autotuning on CUDA
    prepare_model(model, device)
    optimizer = optimisers.sgd(model.parameters(), config.lr, config.momentum, config.weight_decay)
    train_split, test_split = _splits(dataset, config, device)
    data = _data_facts(dataset, train_split, test_split)
    ckpt = run_dir / CHECKPOINT
    progress = (_restore(run_dir, model, optimizer, config, data, device, precision) if resume
                else _fresh(run_dir, config))

    _announce(model, dataset, config, run_dir, device, train_split, test_split, reporter)
    if config.compile:
        per_rank = -(-config.batch_size // distributed.world_size())  # the run's shape
        compile_module(model, torch.zeros(per_rank, *train_split.image_shape, device=device),
                       "the network", precision=precision)
    augment = Augment(config.crop_padding, config.flip and dataset.hflip, config.cutout)
    steps = num_batches(train_split, config.batch_size)
    last = config.epochs if config.stop_after is None else min(config.epochs, config.stop_after)
    with SigintGuard() as stop:
        try:
            for epoch in range(progress.epoch, last):
                lr = learning_rate(config, epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                ramp = epoch / config.epochs
                if hasattr(model, "schedule_drop_path"):
                    model.schedule_drop_path(ramp)
                model.train()
                reporter.start(f"epoch {epoch + 1}/{config.epochs}", steps)
                reporter.update(progress.step)
                started = time.perf_counter() - progress.seconds
                # several processes: each steps on its shard of every batch (genospec.distributed)
                for x, y in distributed.iterate_shard(
                        train_split, config.batch_size, shuffle=True, seed=config.seed,
                        epoch=epoch, augment=augment, device=device, start=progress.step):
                    try:
                        loss_sum, correct = _step(distributed.ddp(model), optimizer, x, y,
                                                  config, precision)
                    except Exception as e:
                        if config.compile and is_compile_error(e):
                            raise compile_failure(e, "the network") from None
                        raise
                    progress.step += 1
                    progress.loss_sum += loss_sum
                    progress.correct += correct
                    progress.seen += len(y)
                    reporter.update(1, loss=progress.loss_sum / progress.seen)
                    if stop.requested:
                        progress.seconds = time.perf_counter() - started
                        _save(ckpt, model, optimizer, config, data, progress, precision)
                        raise TrainingInterrupted(run_dir, epoch, progress.step)
                reporter.close()
                result = evaluate(model, test_split, config.batch_size, device)
                record = {
                    "epoch": epoch + 1, "lr": lr,
                    "drop_path": config.drop_path * ramp if hasattr(model, "schedule_drop_path")
                    else 0.0,
                    "train_loss": progress.loss_sum / progress.seen,
                    "train_top1": progress.correct / progress.seen,
                    "test_loss": result.loss, "test_top1": result.top1,
                    "test_top5": result.top5,
                    "seconds": time.perf_counter() - started,
                }
                progress = _Progress(epoch=epoch + 1, history=[*progress.history, record])
                _save(ckpt, model, optimizer, config, data, progress, precision)
                append_jsonl(run_dir / METRICS, record)
                tables.write_csv(run_dir / METRICS_CSV, progress.history)
                left = last - epoch - 1
                reporter.event("epoch", {**record, **({"eta": eta(record["seconds"] * left)}
                                                      if left > 0 else {})})
                if stop.requested:
                    raise TrainingInterrupted(run_dir, epoch + 1, 0)
        except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread
            raise TrainingInterrupted(run_dir, progress.epoch, 0, saved=False) from None
        finally:
            reporter.close()
    return _report(model, config, data, progress, run_dir)


def _announce(model: nn.Module, dataset: Dataset, config: TrainConfig, run_dir: Path,
              device: torch.device, train: Split, test: Split, reporter: Reporter) -> None:
    """The run's start header (a ``header`` event): run directory, device, threads, data and
    split sizes, parameters and the memory estimate."""
    from ..nn.memory import estimate_training_memory, gib
    try:
        dtype = DTYPES[config.precision] if config.precision != "fp32" else None
        memory = gib(estimate_training_memory(model, train.image_shape, config.batch_size,
                                              autocast=dtype).peak)
    except (RuntimeError, AttributeError, TypeError, ValueError):  # a model it cannot trace
        memory = None
    reporter.event("header", {
        "run": str(run_dir), "device": str(device), "threads": torch.get_num_threads(),
        "data": dataset.name, "train_images": len(train), "test_images": len(test),
        "epochs": config.epochs, "steps_per_epoch": num_batches(train, config.batch_size),
        "parameters": count_parameters(model, exclude_auxiliary=True), "memory": memory,
        "kernels": native.status() if device.type == "cpu" else None})


def _report(model: nn.Module, config: TrainConfig, data: dict[str, Any], progress: _Progress,
            run_dir: Path) -> dict[str, Any]:
    last = progress.history[-1] if progress.history else {}
    report = {
        "status": "complete" if progress.epoch >= config.epochs else "stopped",
        "epochs_done": progress.epoch, "epochs": config.epochs,
        "top1": last.get("test_top1"), "top5": last.get("test_top5"),
        "test_loss": last.get("test_loss"),
        "params": count_parameters(model, exclude_auxiliary=True),
        "params_with_auxiliary": count_parameters(model),
        "seconds": sum(r["seconds"] for r in progress.history),
        "data": data, "config": config.to_dict(),
    }
    atomic_write_text(run_dir / REPORT, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report
