"""One training step of the DARTS_V2 evaluation network: the authors' code against genospec.

Setting: CIFAR layout, C=16, 8 cells, 10 classes, no auxiliary head, no drop path, batch 64,
32x32; SGD lr 0.025 momentum 0.9 decay 3e-4, gradient clipping 5 (the authors' ``train.py``
step). Reference: their ``model.NetworkCIFAR`` with ``genotypes.DARTS_V2``; genospec:
``build_network`` on genotype DARTS_V2 of ``specs/genotypes/darts.gs``. Each in its own
subprocess (peak RSS per process).

    python benchmarks/eval_step.py --reference /path/to/darts --steps 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common

GENOTYPE_FILE = common.REPO / "specs" / "genotypes" / "darts.gs"
GENOTYPE = "DARTS_V2"
LR, MOMENTUM, DECAY, CLIP = 0.025, 0.9, 3e-4, 5.0


def _reference_model(cfg: dict):
    from reference import load_reference

    ref = load_reference(cfg["reference"])
    model = ref.model.NetworkCIFAR(cfg["channels"], cfg["classes"], cfg["cells"], False,
                                   ref.genotypes.DARTS_V2)
    model.drop_path_prob = 0.0  # read by their forward; train.py sets it every epoch
    return model, lambda x: model(x)[0]


def _genospec_model(cfg: dict):
    from genospec.lang.loader import load
    from genospec.nn.network import build_network
    from genospec.runtime.precision import prepare_model

    space = load(GENOTYPE_FILE).get(GENOTYPE)
    model = build_network(space, layout="cifar", cells=cfg["cells"], channels=cfg["channels"],
                          classes=cfg["classes"], auxiliary=False, drop_path=0.0)
    prepare_model(model, "cpu")  # as `genospec train` runs on a CPU: channels-last, and
    # glibc keeping freed memory (in this worker process only)
    return model, model


def measure(cfg: dict) -> dict:
    """Worker: build one evaluation network and time its training steps."""
    import torch
    from torch import nn

    threads = common.set_threads(cfg.get("threads"))
    torch.manual_seed(0)
    ((x, y),) = common.synthetic_batches(cfg["batch"], 32, cfg["classes"], 1,
                                         channels_last=cfg["channels_last"])
    build = _reference_model if cfg["impl"] == "reference" else _genospec_model
    model, logits_of = build(cfg)
    if cfg["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    if cfg["impl"] == "reference":  # train.py's update
        opt = torch.optim.SGD(model.parameters(), LR, momentum=MOMENTUM, weight_decay=DECAY)
        clip = nn.utils.clip_grad_norm_
    else:  # `genospec train`'s (genospec/train/loop.py)
        from genospec.runtime import optimisers
        opt = optimisers.sgd(model.parameters(), LR, MOMENTUM, DECAY)
        clip = optimisers.clip_gradients
    model.train()

    def loss() -> torch.Tensor:
        return nn.functional.cross_entropy(logits_of(x), y)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["bf16"]):
            opt.zero_grad()
            loss().backward()
            clip(model.parameters(), CLIP)
            opt.step()

    rss_built = common.current_rss_gib()
    if cfg.get("profile"):
        step()
        common.profile_step(step, cfg["profile"])
    result = common.time_steps(step, cfg["warmup"], cfg["steps"])
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["bf16"]):
        saved = common.saved_activations_mib(loss)
        by_node = common.saved_by_node(loss()) if cfg.get("breakdown") else None
    return {**cfg, **result, "threads": threads,
            "weights": sum(p.numel() for p in model.parameters()),
            "rss_after_build_gib": rss_built, "saved_activations_mib": saved,
            "saved_by_node_mib": by_node}


def configs(args: argparse.Namespace) -> list[dict]:
    """One worker config per implementation."""
    base = {"setting": "eval", "batch": args.batch, "channels": args.channels, "cells": 8,
            "classes": 10, "warmup": args.warmup, "steps": args.steps, "threads": args.threads,
            "channels_last": args.channels_last, "bf16": args.bf16,
            "reference": args.reference, "breakdown": args.breakdown}
    impls = ["genospec"] if args.genospec_only else ["reference", "genospec"]
    return [{**base, "impl": impl,
             "profile": args.profile and str(Path(args.profile).with_suffix(f".{impl}.txt"))}
            for impl in impls]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", help="DARTS checkout (default: $GENOSPEC_DARTS_REF)")
    parser.add_argument("--genospec-only", action="store_true", help="skip the reference")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the implementations alternately this many times (load noise)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own default)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--bf16", action="store_true",
                        help="run the step under torch.autocast('cpu', dtype=torch.bfloat16)")
    parser.add_argument("--profile", help="write torch.profiler tables to PATH.<impl>.txt")
    parser.add_argument("--breakdown", action="store_true",
                        help="list saved activations by autograd node (where the memory goes)")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    for r in common.run_alternating(__file__, configs(args), args.repeat):
        print(common.describe(r))


if __name__ == "__main__":
    if not common.worker_main(measure):
        main()
