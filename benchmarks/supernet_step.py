"""One supernet training step: the DARTS authors' code against genospec, side by side.

Settings (DARTS search setting unless overridden: 8 ops, C=16, 8 cells, batch 64, 32x32, 10
classes; SGD lr 0.025 momentum 0.9 decay 3e-4 clip 5 on the weights, Adam 3e-4 on alpha):

- ``darts``: first-order bilevel step: architecture step on a validation batch, then the weight
  step on a training batch (the authors' ``architect.step(..., unrolled=False)`` followed by the
  weight update of their ``train_search.train``; genospec's ``search.update.step``).
- ``onelevel``: one batch, one loss, weights and alpha step together. The authors' code has no
  one-level mode; its side drives their supernet and optimisers with that step.
- ``dots_topology``: genospec only. The DOTS topology stage (paper 000 §3.2): 17 cells, two ops
  per edge (a reduced space as the operation stage emits it), edge-combination relaxation
  (eq. 6-8) at T_beta = 10 and op softmax at T_alpha = 0.01, one-level step.

Each implementation runs in its own subprocess; the result holds the median wall and CPU time of
``--steps`` steps after ``--warmup`` untimed ones and the process's peak RSS.

    python benchmarks/supernet_step.py --reference /path/to/darts --steps 3
    python benchmarks/supernet_step.py --setting onelevel --batch 16 --channels-last
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, NamedTuple

import common

SETTINGS = ("darts", "onelevel", "dots_topology")
GENOSPEC_ONLY = ("dots_topology",)
DARTS_SPACE = common.REPO / "specs" / "spaces" / "darts.gs"
# A reduced space as DOTS's operation stage emits it (Group-V2: one op from the parameter-free
# group, one from the parametric group on every edge); compiled at DOTS's topology-stage size.
DOTS_TOPOLOGY_SPACE = """\
import "../specs/spaces/darts.gs"
space dots_topology extends darts {
  cell normal { edges all: skip_connect | sep_conv_3x3 }
  cell reduce { edges all: max_pool_3x3 | sep_conv_3x3 }
}
"""
DEFAULT_CELLS = {"darts": 8, "onelevel": 8, "dots_topology": 17}
W_LR, MOMENTUM, W_DECAY, CLIP = 0.025, 0.9, 3e-4, 5.0
A_LR, A_DECAY = 3e-4, 1e-3


class Built(NamedTuple):
    """A supernet ready to time: its cells (for checkpointing), one training step, and one
    forward to the training loss (for counting saved activations)."""

    model: Any
    cells: Any
    step: Callable[[], None]
    loss: Callable[[], Any]
    weights: list
    archs: list


def _reference_step(cfg: dict, batches: list) -> Built:
    """The authors' supernet and a step closure driving it."""
    import torch
    from torch import nn

    from reference import load_reference

    ref = load_reference(cfg["reference"])
    criterion = nn.CrossEntropyLoss()
    model = ref.model_search.Network(cfg["channels"], cfg["classes"], cfg["cells"], criterion)
    if cfg["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    w_opt = torch.optim.SGD(model.parameters(), W_LR, momentum=MOMENTUM, weight_decay=W_DECAY)
    architect = ref.architect.Architect(model, SimpleNamespace(
        momentum=MOMENTUM, weight_decay=W_DECAY, arch_learning_rate=A_LR,
        arch_weight_decay=A_DECAY))
    (x, y), (xv, yv) = batches
    weights, archs = list(model.parameters()), model.arch_parameters()
    freeze = common.frozen if cfg["freeze"] else common.unfrozen
    model.train()

    def bilevel() -> None:
        with freeze(weights):
            architect.step(x, y, xv, yv, W_LR, w_opt, unrolled=False)
        w_opt.zero_grad()
        with freeze(archs):
            loss = criterion(model(x), y)
            loss.backward()
        nn.utils.clip_grad_norm_(weights, CLIP)
        w_opt.step()

    def onelevel() -> None:
        w_opt.zero_grad()
        architect.optimizer.zero_grad()
        loss = model._loss(x, y)
        loss.backward()
        nn.utils.clip_grad_norm_(weights, CLIP)
        w_opt.step()
        architect.optimizer.step()

    return Built(model, model.cells, bilevel if cfg["setting"] == "darts" else onelevel,
                 lambda: criterion(model(x), y), weights, archs)


def _genospec_space(setting: str):
    from genospec.lang.loader import load, loads

    if setting == "dots_topology":
        return loads(DOTS_TOPOLOGY_SPACE, str(common.REPO / "benchmarks" / "dots_topology.gs")).get()
    return load(DARTS_SPACE).get("darts")


def _genospec_step(cfg: dict, batches: list) -> Built:
    """genospec's supernet and a step closure driving it through ``search.update.step``."""
    import torch
    from torch import nn

    from genospec.nn.supernet import Supernet
    from genospec.runtime.precision import prepare_model
    from genospec.search import update

    space = _genospec_space(cfg["setting"])
    dots = cfg["setting"] == "dots_topology"
    # `supernet checkpoint ops` keeps "input"; "all" is plain autograd, for comparisons
    model = Supernet(space, cells=cfg["cells"], channels=cfg["channels"], classes=cfg["classes"],
                     edge_relax="combination" if dots else None, keep=cfg.get("keep", "output"))
    if dots:
        model.set_temperature(op=0.01, edge=10.0)
    # as `genospec search` runs on a CPU: channels-last, and glibc keeping freed memory (in
    # this worker process only)
    prepare_model(model.net, "cpu")
    if cfg["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    w_opt = update.weight_optimizer(model, W_LR, MOMENTUM, W_DECAY)
    a_opt = update.arch_optimizer(model, A_LR, decay=A_DECAY)
    batch, val = batches
    mode = "bilevel" if cfg["setting"] == "darts" else "onelevel"
    weights, archs = list(model.weight_parameters()), model.arch_parameters()
    model.train()

    def one_step() -> None:
        update.step(model, batch, val if mode == "bilevel" else None, mode=mode, w_opt=w_opt,
                    a_opt=a_opt, clip=CLIP)

    def frozen_step() -> None:
        # update.step's bilevel first-order phases, each tracking only the gradients it uses
        with common.frozen(weights):
            a_opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(val[0]), val[1]).backward(inputs=archs)
            a_opt.step()
        with common.frozen(archs):
            update.step(model, batch, mode=mode, w_opt=w_opt, a_opt=a_opt, clip=CLIP,
                        update_arch=False)

    return Built(model, model.net.cells, frozen_step if cfg["freeze"] else one_step,
                 lambda: nn.functional.cross_entropy(model(batch[0]), batch[1]), weights, archs)


def measure(cfg: dict) -> dict:
    """Worker: build one supernet, time its steps (see `common.time_steps`)."""
    import torch

    threads = common.set_threads(cfg.get("threads"))
    torch.manual_seed(0)
    batches = common.synthetic_batches(cfg["batch"], 32, cfg["classes"], 2,
                                       channels_last=cfg["channels_last"])
    build = _reference_step if cfg["impl"] == "reference" else _genospec_step
    built = build(cfg, batches)
    wrapped = common.checkpoint_modules(built.cells) if cfg["checkpoint"] else 0
    params = sum(p.numel() for p in built.weights)
    step = built.step
    if cfg["bf16"]:
        def step() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                built.step()
    rss_built = common.current_rss_gib()
    if cfg.get("profile"):
        step()
        common.profile_step(step, cfg["profile"])
    result = common.time_steps(step, cfg["warmup"], cfg["steps"])
    return {**cfg, **result, "threads": threads, "weights": params,
            "checkpointed_cells": wrapped, "rss_after_build_gib": rss_built,
            **_saved_activations(cfg, built)}


def _saved_activations(cfg: dict, built: Built) -> dict:
    """Activation MiB saved by the forward of each phase of the step, as the step runs it
    (``--freeze`` freezes the other phase's parameters). None under checkpointing, which saves
    through its own hooks, out of the count's sight."""
    import torch

    if cfg["checkpoint"]:
        return {"saved_activations_mib": None, "saved_activations_arch_mib": None}
    # genospec's update.step freezes the other phase's parameters itself; the reference's
    # code does not (--freeze makes its side do it too)
    freeze = common.frozen if cfg["freeze"] or cfg["impl"] == "genospec" else common.unfrozen
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["bf16"]):
        with freeze(built.archs):
            weight_phase = common.saved_activations_mib(built.loss)
        with freeze(built.weights):
            arch_phase = common.saved_activations_mib(built.loss)
        by_node = common.saved_by_node(built.loss()) if cfg.get("breakdown") else None
    if cfg["setting"] != "darts":  # one-level: a single phase with both parameter sets
        arch_phase = None
    return {"saved_activations_mib": weight_phase, "saved_activations_arch_mib": arch_phase,
            "saved_by_node_mib": by_node}


def configs(args: argparse.Namespace) -> list[dict]:
    """One worker config per implementation the arguments ask for."""
    impls = ["genospec"] if args.setting in GENOSPEC_ONLY or args.genospec_only else \
        ["reference", "genospec"]
    base = {"setting": args.setting, "batch": args.batch, "channels": args.channels,
            "cells": args.cells or DEFAULT_CELLS[args.setting], "classes": 10,
            "warmup": args.warmup, "steps": args.steps, "threads": args.threads,
            "channels_last": args.channels_last, "checkpoint": args.checkpoint,
            "freeze": args.freeze, "bf16": args.bf16, "reference": args.reference,
            "keep": args.keep,
            "profile": None, "breakdown": args.breakdown}
    found = []
    for impl in impls:
        cfg = {**base, "impl": impl}
        if args.profile:
            cfg["profile"] = str(Path(args.profile).with_suffix(f".{impl}.txt"))
        found.append(cfg)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", help="DARTS checkout (default: $GENOSPEC_DARTS_REF)")
    parser.add_argument("--genospec-only", action="store_true", help="skip the reference")
    parser.add_argument("--setting", choices=SETTINGS, default="darts")
    parser.add_argument("--cells", type=int, default=None,
                        help="cells (default: 8; 17 for dots_topology)")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the implementations alternately this many times (load noise)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own default)")
    parser.add_argument("--channels-last", action="store_true",
                        help="model and inputs in channels_last memory format")
    parser.add_argument("--checkpoint", action="store_true",
                        help="activation checkpointing per cell (wrapped by the benchmark)")
    parser.add_argument("--keep", choices=("output", "input", "all"), default="output",
                        help="genospec only: what separable/dilated convolutions keep for "
                             "backward (genospec/nn/recompute.py): output (default), input "
                             "(`supernet checkpoint ops`), all (plain autograd, pooling too)")
    parser.add_argument("--bf16", action="store_true",
                        help="run the step under torch.autocast('cpu', dtype=torch.bfloat16)")
    parser.add_argument("--freeze", action="store_true",
                        help="bilevel only: each phase tracks gradients only for the parameters "
                             "it updates (weights frozen in the architecture step, alpha in the "
                             "weight step)")
    parser.add_argument("--profile", help="write torch.profiler tables to PATH.<impl>.txt")
    parser.add_argument("--breakdown", action="store_true",
                        help="list saved activations by autograd node (where the memory goes)")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.freeze and args.setting != "darts":
        parser.error("--freeze applies to the bilevel 'darts' setting only")
    for r in common.run_alternating(__file__, configs(args), args.repeat):
        print(common.describe(r))
        for name, mib in (r.get("saved_by_node_mib") or {}).items():
            if mib >= 0.5:
                print(f"    {name:<45} {mib:9.1f} MiB")


if __name__ == "__main__":
    if not common.worker_main(measure):
        main()
