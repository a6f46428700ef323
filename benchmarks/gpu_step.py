"""The supernet and evaluation steps on CUDA: the DARTS authors' code against genospec, in fp32,
bf16 and fp16 (autocast) and with torch.compile.

Rows (DARTS search setting unless overridden: 8 ops, C=16, 8 cells, batch 64, 32x32, 10
classes; the same optimisers as ``supernet_step.py`` and ``eval_step.py``):

- ``supernet``: the first-order bilevel step (``--setting onelevel``: the one-level step);
  reference: ``architect.step(..., unrolled=False)`` and the weight update of their
  ``train_search.py``; genospec: ``search.update.step`` with ``runtime.precision``.
- ``eval``: one training step of the DARTS_V2 evaluation network (C=16, 8 cells, no auxiliary
  head, no drop path); reference: their ``NetworkCIFAR``; genospec: ``build_network``.

Variants (``--variants``, default all): ``fp32``; ``bf16`` and ``fp16`` (genospec through
`genospec.runtime.precision`: autocast around forward and loss, a gradient scaler per phase for
fp16, float32 parameters; the reference with the same autocast around its forward and loss
(its own code has none), fp16 with a scaler); ``compile`` (fp32, ``torch.compile`` of the
model, default inductor backend; the first steps compile and are not timed: ``--warmup``).
``--channels-last`` runs every row in channels-last memory format, to measure whether CUDA gains
from it as the CPU does (genospec stays contiguous on CUDA until this script shows otherwise).

Each row runs in its own subprocess and reports images/s (batch / median step time, the
device synchronised around every step) and peak GPU memory (``torch.cuda.max_memory_allocated``,
GiB). cuDNN autotuning is on, as genospec turns it on for CUDA runs.

    python benchmarks/gpu_step.py --reference /path/to/darts
    python benchmarks/gpu_step.py --rows eval --variants fp32 bf16 --steps 20

Without CUDA it exits with status 2 and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import common

ROWS = ("supernet", "eval")
VARIANTS = ("fp32", "bf16", "fp16", "compile")
W_LR, MOMENTUM, W_DECAY, CLIP = 0.025, 0.9, 3e-4, 5.0
A_LR, A_DECAY = 3e-4, 1e-3


def _precision(cfg: dict):
    from genospec.runtime.precision import Precision
    name = cfg["variant"] if cfg["variant"] in ("bf16", "fp16") else "fp32"
    return Precision.for_device(name, "cuda")


# ---- the reference ------------------------------------------------------------------------------
def _reference(cfg: dict, batches: list, amp) -> tuple:
    """The authors' model and one step closure; autocast (and fp16's scaler) added around their
    forward and loss by this script."""
    import torch
    from torch import nn

    from reference import load_reference

    ref = load_reference(cfg["reference"], cuda=True)
    criterion = nn.CrossEntropyLoss().cuda()
    (x, y), (xv, yv) = batches
    if cfg["row"] == "eval":
        model = ref.model.NetworkCIFAR(cfg["channels"], cfg["classes"], cfg["cells"], False,
                                       ref.genotypes.DARTS_V2).cuda()
        model.drop_path_prob = 0.0
        opt = torch.optim.SGD(model.parameters(), W_LR, momentum=MOMENTUM, weight_decay=W_DECAY)

        def eval_step() -> None:
            opt.zero_grad()
            with amp.autocast():
                loss = criterion(model(x)[0], y)
            amp.backward(loss, "weights", torch.Tensor.backward)
            amp.unscale(opt, "weights")
            nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            amp.step("weights", opt)
        return model, eval_step

    model = ref.model_search.Network(cfg["channels"], cfg["classes"], cfg["cells"],
                                     criterion).cuda()
    w_opt = torch.optim.SGD(model.parameters(), W_LR, momentum=MOMENTUM, weight_decay=W_DECAY)
    a_opt = torch.optim.Adam(model.arch_parameters(), A_LR, betas=(0.5, 0.999),
                             weight_decay=A_DECAY)
    weights = list(model.parameters())

    def supernet_step() -> None:
        # architect.step(..., unrolled=False) is _backward_step: the validation loss into alpha
        if cfg["setting"] == "darts":
            a_opt.zero_grad()
            with amp.autocast():
                loss = model._loss(xv, yv)
            amp.backward(loss, "arch", torch.Tensor.backward)
            amp.step("arch", a_opt)
        w_opt.zero_grad()
        joint = cfg["setting"] == "onelevel"
        if joint:
            a_opt.zero_grad()
        with amp.autocast():
            loss = criterion(model(x), y)
        amp.backward(loss, "weights", torch.Tensor.backward)
        amp.unscale(w_opt, "weights")
        nn.utils.clip_grad_norm_(weights, CLIP)
        amp.step("weights", w_opt, *((a_opt,) if joint else ()))
    return model, supernet_step


# ---- genospec -----------------------------------------------------------------------------------
def _genospec(cfg: dict, batches: list, amp) -> tuple:
    import torch
    from torch import nn

    from genospec.lang.loader import load
    from genospec.nn.network import build_network
    from genospec.nn.supernet import Supernet
    from genospec.runtime import optimisers
    from genospec.runtime.precision import prepare_model
    from genospec.search import update

    (x, y), val = batches
    if cfg["row"] == "eval":
        space = load(common.REPO / "specs" / "genotypes" / "darts.gs").get("DARTS_V2")
        model = build_network(space, layout="cifar", cells=cfg["cells"], channels=cfg["channels"],
                              classes=cfg["classes"], auxiliary=False, drop_path=0.0).cuda()
        prepare_model(model, "cuda")  # contiguous on CUDA, cuDNN autotuning
        if cfg["channels_last"]:
            model.channels_last()
        opt = optimisers.sgd(model.parameters(), W_LR, MOMENTUM, W_DECAY)  # `genospec train`'s

        def eval_step() -> None:
            opt.zero_grad(set_to_none=True)
            with amp.autocast():
                loss = nn.functional.cross_entropy(model(x), y)
            amp.backward(loss, "weights", torch.Tensor.backward)
            amp.unscale(opt, "weights")
            optimisers.clip_gradients(model.parameters(), CLIP)
            amp.step("weights", opt)
        return model, eval_step

    space = load(common.REPO / "specs" / "spaces" / "darts.gs").get("darts")
    model = Supernet(space, cells=cfg["cells"], channels=cfg["channels"],
                     classes=cfg["classes"]).cuda()
    prepare_model(model.net, "cuda")
    if cfg["channels_last"]:
        model.net.channels_last()
    w_opt = update.weight_optimizer(model, W_LR, MOMENTUM, W_DECAY)
    a_opt = update.arch_optimizer(model, A_LR, decay=A_DECAY)
    mode = "bilevel" if cfg["setting"] == "darts" else "onelevel"

    def supernet_step() -> None:
        update.step(model, (x, y), val if mode == "bilevel" else None, mode=mode, w_opt=w_opt,
                    a_opt=a_opt, clip=CLIP, precision=amp)
    return model, supernet_step


# ---- one row ------------------------------------------------------------------------------------
def measure(cfg: dict) -> dict:
    """Worker: one implementation, row and variant on the GPU."""
    import torch

    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    amp = _precision(cfg)
    batches = [(x.cuda(), y.cuda()) for x, y in common.synthetic_batches(
        cfg["batch"], 32, cfg["classes"], 2, channels_last=cfg["channels_last"])]
    build = _reference if cfg["impl"] == "reference" else _genospec
    model, step = build(cfg, batches, amp)
    model.train()
    if cfg["variant"] == "compile":
        model.compile()
    torch.cuda.synchronize()
    for _ in range(cfg["warmup"]):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(cfg["steps"]):
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    return {**cfg, "step_s": median, "steps_s": times, "images_per_s": cfg["batch"] / median,
            "peak_gib": torch.cuda.max_memory_allocated() / 1024 ** 3,
            "device_name": torch.cuda.get_device_name(), "torch": torch.__version__,
            "weights": sum(p.numel() for p in model.parameters())}


def configs(args: argparse.Namespace, with_reference: bool) -> list[dict]:
    impls = (["reference"] if with_reference else []) + ["genospec"]
    cells = {"supernet": 8, "eval": 8}
    return [{"impl": impl, "row": row, "variant": variant, "setting": args.setting,
             "batch": args.batch, "channels": args.channels,
             "cells": args.cells or cells[row], "classes": 10, "warmup": args.warmup,
             "steps": args.steps, "channels_last": args.channels_last,
             "reference": args.reference}
            for row in args.rows for variant in args.variants for impl in impls]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", help="DARTS checkout (or $GENOSPEC_DARTS_REF)")
    p.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS))
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--setting", choices=("darts", "onelevel"), default="darts",
                   help="the supernet row's update (first-order bilevel or one-level)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells", type=int, help="[8]")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps (compilation included)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    p.add_argument("--timeout", type=float, default=900, help="seconds per row")
    return p


def cuda_missing() -> str | None:
    """Why this script cannot run here (None: it can)."""
    import torch
    if not torch.cuda.is_available():
        return ("benchmarks/gpu_step.py needs a CUDA GPU and torch with CUDA; "
                f"torch {torch.__version__} sees none here (the CPU rows are "
                "benchmarks/supernet_step.py and eval_step.py)")
    return None


def main() -> None:
    args = build_parser().parse_args()
    why = cuda_missing()
    if why is not None:
        print(why, file=sys.stderr)
        sys.exit(2)
    from reference import ReferenceNotFound, find_reference
    try:
        find_reference(args.reference)
        with_reference = True
    except ReferenceNotFound as e:
        print(f"no reference ({e}); genospec rows only", file=sys.stderr)
        with_reference = False
    results = []
    for cfg in configs(args, with_reference):
        try:
            r = common.run_worker(__file__, cfg, timeout=args.timeout)
        except Exception as e:  # noqa: BLE001 - one failing row (e.g. compile) must not stop the rest
            r = {**cfg, "error": str(e).strip().splitlines()[-1][:300] if str(e).strip() else repr(e)}
        results.append(r)
        if "error" in r:
            print(f"{cfg['row']:<9} {cfg['variant']:<8} {cfg['impl']:<10} failed: {r['error']}")
        else:
            print(f"{cfg['row']:<9} {cfg['variant']:<8} {cfg['impl']:<10} "
                  f"{r['images_per_s']:9.1f} img/s  {r['step_s'] * 1000:8.1f} ms/step  "
                  f"peak {r['peak_gib']:.2f} GiB  ({r['device_name']})", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"environment": common.environment(), "results": results},
                                       indent=2) + "\n")


if __name__ == "__main__":
    if not common.worker_main(measure):
        main()
