"""Equivalence harness: genospec against the authors' code of DARTS, DOTS and DARTS-PT.

Every check runs both codes in float64 from identical weights, architecture parameters and
batches, prints max |difference| and passes at <= 1e-10; where the two differ by design the
row says why. The authors' repositories are the user's clones (nothing of theirs is in this
project); `equiv_common.py` lists the import-time adaptations.

    git clone https://github.com/quark0/darts     /path/darts
    git clone https://github.com/guyuchao/DOTS     /path/DOTS
    git clone https://github.com/ruocwang/darts-pt /path/darts-pt
    OMP_NUM_THREADS=1 python benchmarks/equivalence.py --darts /path/darts \\
        --dots /path/DOTS --darts-pt /path/darts-pt [--markdown]

(or $GENOSPEC_DARTS_REF, $GENOSPEC_DOTS_REF, $GENOSPEC_DARTSPT_REF). A repository not given is
skipped. Networks are tiny (a few channels and cells) so that the whole run takes minutes on
one CPU core. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from equiv_common import Mapping, Report, diff, find_checkout, import_from, randomise_bn  # noqa: E402

from genospec import ir  # noqa: E402
from genospec.lang.loader import load  # noqa: E402
from genospec.nn.network import build_network  # noqa: E402
from genospec.nn.supernet import Supernet  # noqa: E402
from genospec.relax import cell_layout, make_edge_relaxation, make_op_relaxation  # noqa: E402
from genospec.search import perturbation, select, update  # noqa: E402

SPECS = HERE.parent / "specs"
DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
             "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
CE = nn.functional.cross_entropy


def batch(gen: torch.Generator, n: int, size: int, classes: int = 10):
    return (torch.randn(n, 3, size, size, generator=gen),
            torch.randint(0, classes, (n,), generator=gen))


def edge_index(cell: ir.Cell, src: int, dst: int) -> int:
    """Position in ``cell.edges()`` of the edge src -> dst (exactly one)."""
    found = [k for k, e in enumerate(cell.edges()) if e.src == src and e.dst == dst]
    assert len(found) == 1, (src, dst, found)
    return found[0]


def genotype_lists(cell: ir.Cell) -> list[tuple[str, int]]:
    """A genotype cell as DARTS lists it: (op, input) per node, nodes in order, each node's
    inputs in listing order."""
    out = []
    for j in cell.node_ids:
        for e in sorted(cell.in_edges(j), key=lambda e: e.order):
            out.append((e.op, e.src))
    return out


# ==== DARTS ========================================================================================
def map_darts_eval(ref_net, gs_net, space: ir.Space, imagenet: bool) -> Mapping:
    """DARTS evaluation network (model.py NetworkCIFAR / NetworkImageNet) -> genospec Network:
    stems, each cell's two preprocessing blocks, op k of a cell -> the genospec edge from
    ``cell._indices[k]`` to node 2 + k // 2, auxiliary head, classifier."""
    m = Mapping(ref_net, gs_net)
    if imagenet:
        m.add("stem0", "stem.stages.0")
        m.add("stem1", "stem.stages.1")
    else:
        m.add("stem", "stem.stages.0")
    layers = len(ref_net.cells)
    for i, cell in enumerate(ref_net.cells):
        m.add(f"cells.{i}.preprocess0", f"cells.{i}.preprocess.0")
        m.add(f"cells.{i}.preprocess1", f"cells.{i}.preprocess.1")
        ir_cell = space.cell_for(i in (layers // 3, 2 * layers // 3))
        for k, src in enumerate(cell._indices):
            e = edge_index(ir_cell, src, 2 + k // 2)
            m.add(f"cells.{i}._ops.{k}", f"cells.{i}.edges.{e}.op")
    if ref_net._auxiliary:
        m.add("auxiliary_head", "auxiliary_head")
    m.add("classifier", "classifier")
    m.check()
    return m


def map_darts_supernet(ref_net, sn: Supernet, space: ir.Space, *, ops=DARTS_OPS,
                       lastact: bool = False) -> Mapping:
    """DARTS/DOTS/DARTS-PT search network (model_search.py) -> genospec Supernet: stem,
    preprocessing, MixedOp k of a cell (node i's edges from inputs 0..i+1, in order) op o ->
    the genospec edge src -> dst, its op of the same name; classifier (DOTS: ``lastact`` BN
    -> the BN the harness puts into genospec's head). Ref ops without a genospec counterpart
    (a reduced space) must be the ones the reference gives weight 0."""
    m = Mapping(ref_net, sn)
    m.add("stem", "net.stem.stages.0")
    skip = []
    for i, cell in enumerate(ref_net.cells):
        m.add(f"cells.{i}.preprocess0", f"net.cells.{i}.preprocess.0")
        m.add(f"cells.{i}.preprocess1", f"net.cells.{i}.preprocess.1")
        ir_cell = space.cell_for(cell.reduction)
        k = 0
        for node in range(4):
            for src in range(node + 2):
                e = edge_index(ir_cell, src, node + 2)
                gs_edge = sn.net.cells[i].edges[e]
                for o, name in enumerate(ops):
                    if name in gs_edge.op_names:
                        m.add(f"cells.{i}._ops.{k}._ops.{o}",
                              f"net.cells.{i}.edges.{e}.ops.{gs_edge.op_names.index(name)}")
                    else:
                        skip.append(f"cells.{i}._ops.{k}._ops.{o}.")
                k += 1
    if lastact:
        m.add("lastact", "net.head.0")
    m.add("classifier", "net.classifier")
    m.check(ref_skip=tuple(skip), gs_skip=("arch.",))
    return m


def set_supernet_alpha(sn: Supernet, cell_type: str, alpha: torch.Tensor, ops=DARTS_OPS) -> None:
    """genospec alpha [E, O] from a DARTS-ordered alpha [14, len(ops)] (rows: node by node,
    sources in order, as genospec's `edges all`; columns by op name)."""
    lay = sn._layouts[cell_type]
    a = torch.zeros(lay.alpha_shape)
    for k, edge in enumerate(lay.edges):
        row = 0
        for node in range(edge.dst - 2):
            row += node + 2
        row += edge.src
        for o, name in enumerate(ops):
            if name in lay.ops:
                a[k, lay.ops.index(name)] = alpha[row, o]
    with torch.no_grad():
        sn.arch[cell_type].alpha.copy_(a)


def darts_checks(ref_root: Path, rep: Report) -> None:
    sec = "DARTS"
    ref = import_from(ref_root / "cnn", ["operations", "genotypes", "model", "model_search",
                                         "architect"])
    genos = load(SPECS / "genotypes" / "darts.gs")
    gen = torch.Generator().manual_seed(0)

    # -- evaluation networks ----------------------------------------------------------------
    for layout, kwargs, size in (("cifar", dict(C=8, num_classes=10, layers=5), 32),
                                 ("imagenet", dict(C=8, num_classes=10, layers=4), 224)):
        for name in ("DARTS_V2", "DARTS_V1"):
            torch.manual_seed(1)
            cls = ref.model.NetworkCIFAR if layout == "cifar" else ref.model.NetworkImageNet
            ref_net = cls(kwargs["C"], kwargs["num_classes"], kwargs["layers"], True,
                          getattr(ref.genotypes, name))
            ref_net.drop_path_prob = 0.0
            space = genos.get(name)
            gs_net = build_network(space, layout=layout, cells=kwargs["layers"],
                                   channels=kwargs["C"], classes=kwargs["num_classes"],
                                   auxiliary=True, drop_path=0.0)
            randomise_bn(ref_net, gen)
            m = map_darts_eval(ref_net, gs_net, space, layout == "imagenet")
            m.copy_ref_to_gs()
            x, y = batch(gen, 2 if layout == "imagenet" else 4, size)
            ref_net.eval(), gs_net.eval()
            with torch.no_grad():
                d_eval = diff(ref_net(x)[0], gs_net(x))
            rep.diff(sec, f"eval network {layout} {name}: logits, eval mode", d_eval,
                     f"{len(m.pairs)} tensors mapped")
            ref_net.train(), gs_net.train()
            r_logits, r_aux = ref_net(x)
            g_logits, g_aux = gs_net(x)
            (CE(r_logits, y) + 0.4 * CE(r_aux, y)).backward()
            (CE(g_logits, y) + 0.4 * CE(g_aux, y)).backward()
            rep.diff(sec, f"eval network {layout} {name}: logits + aux logits, train mode, "
                          "and weight gradients",
                     max(diff(r_logits, g_logits), diff(r_aux, g_aux), m.grad_diff()))

    # -- supernet ----------------------------------------------------------------------------
    space = load(SPECS / "spaces" / "darts.gs").get("darts")
    args = SimpleNamespace(momentum=0.9, weight_decay=3e-4, arch_learning_rate=3e-4,
                           arch_weight_decay=1e-3)

    def pair(seed: int):
        torch.manual_seed(seed)
        ref_net = ref.model_search.Network(4, 10, 5, nn.CrossEntropyLoss())
        sn = Supernet(space, cells=5, channels=4, classes=10)
        m = map_darts_supernet(ref_net, sn, space)
        m.copy_ref_to_gs()
        for cell_type, a in (("normal", ref_net.alphas_normal), ("reduce", ref_net.alphas_reduce)):
            with torch.no_grad():
                a.copy_(0.3 * torch.randn(a.shape, generator=gen))
            set_supernet_alpha(sn, cell_type, a.detach())
        ref_net.train(), sn.train()
        return ref_net, sn, m

    def arch_diff(ref_net, sn):
        return max(diff(ref_net.alphas_normal, sn.arch["normal"].alpha.detach()[rows(sn)]),
                   diff(ref_net.alphas_reduce, sn.arch["reduce"].alpha.detach()[rows(sn)]))

    def rows(sn):
        """genospec alpha rows in DARTS order (identical for `edges all`: node by node)."""
        lay = sn._layouts["normal"]
        order = sorted(range(len(lay.edges)), key=lambda k: (lay.edges[k].dst, lay.edges[k].src))
        return torch.tensor(order)

    ref_net, sn, m = pair(2)
    x, y = batch(gen, 6, 16)
    loss_r = CE(ref_net(x), y)
    loss_r.backward()
    logits_g = sn(x)
    CE(logits_g, y).backward()
    with torch.no_grad():
        d_logits = diff(ref_net(x), sn(x))
    d_alpha_grad = max(diff(ref_net.alphas_normal.grad, sn.arch["normal"].alpha.grad[rows(sn)]),
                       diff(ref_net.alphas_reduce.grad, sn.arch["reduce"].alpha.grad[rows(sn)]))
    rep.diff(sec, "supernet (C=4, 5 cells, 16x16): logits, train mode", d_logits,
             f"{len(m.pairs)} tensors mapped")
    rep.diff(sec, "supernet: gradients of the loss w.r.t. weights and alpha",
             max(m.grad_diff(), d_alpha_grad))

    def ref_weight_step(ref_net, opt, xt, yt):
        opt.zero_grad()
        loss = CE(ref_net(xt), yt)
        loss.backward()
        nn.utils.clip_grad_norm_(ref_net.parameters(), 5.0)
        opt.step()
        return loss.item()

    # five first-order steps
    ref_net, sn, m = pair(3)
    r_wopt = torch.optim.SGD(ref_net.parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
    arch = ref.architect.Architect(ref_net, args)
    g_wopt, g_aopt = update.weight_optimizer(sn), update.arch_optimizer(sn)
    worst = [0.0, 0.0, 0.0]
    for s in range(5):
        xt, yt = batch(gen, 6, 16)
        xv, yv = batch(gen, 6, 16)
        arch.step(xt, yt, xv, yv, 0.025, r_wopt, unrolled=False)
        lr = ref_weight_step(ref_net, r_wopt, xt, yt)
        out = update.step(sn, (xt, yt), (xv, yv), w_opt=g_wopt, a_opt=g_aopt, clip=5.0)
        worst = [max(worst[0], m.max_diff("params")), max(worst[1], arch_diff(ref_net, sn)),
                 max(worst[2], m.max_diff("stats"), abs(lr - out["loss"]))]
    rep.diff(sec, "five first-order steps: weights after each step", worst[0])
    rep.diff(sec, "five first-order steps: alpha after each step", worst[1])
    rep.diff(sec, "five first-order steps: BN running statistics and losses", worst[2])

    # one second-order step (after one first-order step, so that momentum buffers exist)
    ref_net, sn, m = pair(4)
    r_wopt = torch.optim.SGD(ref_net.parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
    arch = ref.architect.Architect(ref_net, args)
    g_wopt, g_aopt = update.weight_optimizer(sn), update.arch_optimizer(sn)
    for unrolled in (False, True):
        xt, yt = batch(gen, 6, 16)
        xv, yv = batch(gen, 6, 16)
        alpha_before = sn.arch["normal"].alpha.detach().clone()
        arch.step(xt, yt, xv, yv, 0.025, r_wopt, unrolled=unrolled)
        ref_weight_step(ref_net, r_wopt, xt, yt)
        update.step(sn, (xt, yt), (xv, yv), w_opt=g_wopt, a_opt=g_aopt, clip=5.0,
                    order=2 if unrolled else 1)
    moved = diff(alpha_before, sn.arch["normal"].alpha.detach())
    rep.diff(sec, "second-order step (unrolled, eq. 6-8): alpha after the step",
             arch_diff(ref_net, sn), f"alpha moved by {moved:.1e}; architect.py runs unchanged "
             "(torch 2.14 still takes its deprecated sub/add_(number, tensor) calls)")
    rep.diff(sec, "second-order step: weights after the step", m.max_diff("params"))
    rep.design(sec, "second-order step: BN running statistics", m.max_diff("stats"),
               "by design: architect.py updates the real model's running statistics in its "
               "three extra forwards (loss at w for the unrolled step, loss at w +- eps*v); "
               "genospec runs them on copies of the buffers (issue 16 §2.8)")

    # magnitude selection on random alpha with ties
    sel_net = ref.model_search.Network(2, 10, 1, nn.CrossEntropyLoss())
    sel_sn = Supernet(space, cells=1, channels=2, classes=10)
    agree = total = 0
    w_diff = 0.0
    rng = random.Random(5)
    for trial in range(300):
        for a in (sel_net.alphas_normal, sel_net.alphas_reduce):
            with torch.no_grad():
                if trial % 3 == 0:    # continuous
                    a.copy_(torch.randn(a.shape, generator=gen))
                else:                 # ties: few distinct values, repeated rows
                    vals = torch.tensor([0.0, 0.5, 1.0])[torch.randint(0, 3, a.shape,
                                                                       generator=gen)]
                    for r in range(a.shape[0]):
                        if rng.random() < 0.4:
                            vals[r] = vals[rng.randrange(a.shape[0])]
                    a.copy_(vals)
        set_supernet_alpha(sel_sn, "normal", sel_net.alphas_normal.detach())
        set_supernet_alpha(sel_sn, "reduce", sel_net.alphas_reduce.detach())
        geno = sel_net.genotype()
        mixing = sel_sn.mixing()
        for cell_type, ref_gene in (("normal", geno.normal), ("reduce", geno.reduce)):
            mx = mixing[cell_type]
            w_diff = max(w_diff, diff(F.softmax(getattr(sel_net, f"alphas_{cell_type}"), -1),
                                      mx.weights[rows(sel_sn)]))
            cell = select.magnitude(space, cell_type, mx.weights, mx.op_names)
            agree += genotype_lists(cell) == list(ref_gene)
            total += 1
    rep.same(sec, "magnitude selection (model_search.genotype) on 300 random alpha, 2/3 with "
                  "ties", agree, total, f"op weights differ by at most {w_diff:.1e}")


# ==== DOTS =========================================================================================
def dots_checks(ref_root: Path, rep: Report) -> None:
    sec = "DOTS"
    ref = import_from(ref_root / "pytorch", ["operations", "genotypes", "model_search"])
    Net = ref.model_search.Network
    space = load(SPECS / "spaces" / "darts_groups.gs").get("darts_group_v2")
    gen = torch.Generator().manual_seed(10)
    free, param = DARTS_OPS[:4], DARTS_OPS[4:]
    assert tuple(space.groups["free"]) == free and tuple(space.groups["param"]) == param

    def rows(sn):
        lay = sn._layouts["normal"]
        return torch.tensor(sorted(range(len(lay.edges)),
                                   key=lambda k: (lay.edges[k].dst, lay.edges[k].src)))

    def with_lastact(sn: Supernet, chs: int) -> None:
        """The DOTS search network ends with BN + ReLU before the global pooling (`lastact`);
        genospec's DARTS layout does not. The harness gives genospec's supernet that head."""
        sn.net.head = nn.Sequential(nn.BatchNorm2d(chs), nn.ReLU(), nn.AdaptiveAvgPool2d(1))

    # -- operation stage: group softmax -------------------------------------------------------
    torch.manual_seed(11)
    ref_net = Net(4, 10, 5, nn.CrossEntropyLoss())
    sn = Supernet(space, cells=5, channels=4, classes=10, op_relax="group_softmax")
    with_lastact(sn, sn.net.classifier.in_features)
    m = map_darts_supernet(ref_net, sn, space, lastact=True)
    m.copy_ref_to_gs()
    T = 0.7
    ref_net.T = T
    sn.set_temperature(op=T)
    for cell_type in ("normal", "reduce"):
        a_free = getattr(ref_net, f"alphas_{cell_type}_non_params")
        a_param = getattr(ref_net, f"alphas_{cell_type}_params")
        with torch.no_grad():
            a_free.copy_(torch.randn(a_free.shape, generator=gen))
            a_param.copy_(torch.randn(a_param.shape, generator=gen))
        set_supernet_alpha(sn, cell_type, torch.cat([a_free, a_param], 1).detach())
    ref_in, gs_in = {}, {}
    hooks = []
    for i, cell in enumerate(ref_net.cells):
        ir_cell = space.cell_for(cell.reduction)
        k = 0
        for node in range(4):
            for src in range(node + 2):
                e = edge_index(ir_cell, src, node + 2)
                key = (i, k)
                hooks.append(cell._ops[k].register_forward_hook(
                    lambda mod, a, out, key=key: ref_in.__setitem__(key, (a[1], out))))
                hooks.append(sn.net.cells[i].edges[e].register_forward_hook(
                    lambda mod, a, out, key=key: gs_in.__setitem__(key, out)))
                k += 1
    x, y = batch(gen, 6, 16)
    ref_net.train(), sn.train()
    r_logits = ref_net(x)
    g_logits = sn(x)
    for h in hooks:
        h.remove()
    mixing = sn.mixing()
    d_w = d_mix = 0.0
    for (i, k), (w_ref, out_ref) in ref_in.items():
        cell_type = "reduce" if ref_net.cells[i].reduction else "normal"
        w_gs = mixing[cell_type].weights[rows(sn)][k]
        cols = [mixing[cell_type].op_names.index(o) for o in DARTS_OPS]
        d_w = max(d_w, diff(w_ref, w_gs[cols]))
        d_mix = max(d_mix, diff(out_ref, gs_in[(i, k)]))
    rep.diff(sec, f"group softmax weights (2 groups, T={T}) on every edge", d_w)
    rep.diff(sec, "group-softmax mixture: every edge's output in a 5-cell supernet", d_mix)
    CE(r_logits, y).backward()
    CE(g_logits, y).backward()
    d_grad = m.grad_diff()
    for cell_type in ("normal", "reduce"):
        g = torch.cat([getattr(ref_net, f"alphas_{cell_type}_non_params").grad,
                       getattr(ref_net, f"alphas_{cell_type}_params").grad], 1)
        cols = [sn._layouts[cell_type].ops.index(o) for o in DARTS_OPS]
        d_grad = max(d_grad, diff(g, sn.arch[cell_type].alpha.grad[rows(sn)][:, cols]))
    rep.diff(sec, "operation-stage supernet: logits, weight and alpha gradients",
             max(diff(r_logits, g_logits), d_grad),
             "genospec given DOTS's BN+ReLU head (lastact) by the harness")

    # -- operation-stage selection (DOTS prune_model) ----------------------------------------
    op_alpha = {c: torch.cat([getattr(ref_net, f"alphas_{c}_non_params"),
                              getattr(ref_net, f"alphas_{c}_params")], 1).detach().clone()
                for c in ("normal", "reduce")}
    ref_net.prune_model()
    cells = {}
    for cell_type in ("normal", "reduce"):
        lay = sn._layouts[cell_type]
        w = make_op_relaxation("group_softmax").weights(
            sn.arch[cell_type].alpha.detach(), lay, 1.0)
        cells[cell_type] = select.best_per_group(space, cell_type, w, lay.ops)
    agree = 0
    for cell_type in ("normal", "reduce"):
        mask = getattr(ref_net, f"bool_mask_{cell_type}")
        gs_cell = cells[cell_type]
        for k, edge in enumerate(sorted(gs_cell.edges(), key=lambda e: (e.dst, e.src))):
            kept = tuple(DARTS_OPS[o] for o in range(8) if mask[k, o] > 0)
            agree += kept == tuple(edge.ops)
    rep.same(sec, "operation-stage selection: the two ops each edge keeps (prune_model)",
             agree, 28)
    reduced = ir.Space("dots_reduced", "space", dict(space.ops), cells, space.network,
                       space.groups)

    # -- gamma from beta ----------------------------------------------------------------------
    T_tp = 2.0
    ref_net.T = T_tp
    for cell_type in ("normal", "reduce"):
        b = getattr(ref_net, f"betas_{cell_type}")
        bal = getattr(ref_net, f"alphas_{cell_type}_balance")
        with torch.no_grad():
            b.copy_(torch.randn(b.shape, generator=gen))
            bal.copy_(2e-3 * torch.randn(bal.shape, generator=gen))
    captured = {}
    def capture(mod, a):
        captured.setdefault("weights_edge", a[3].detach().clone())

    hook = ref_net.cells[0].register_forward_pre_hook(capture)
    ref_net.phase = "tp_search"
    with torch.no_grad():
        ref_net.forward_tp(x)
    hook.remove()
    cell0 = ref_net.cells[0]
    saved_ops = cell0._ops

    class Marker(nn.Module):   # edge k outputs the unit vector e_k (over 14 channels)
        def __init__(self, k):
            super().__init__()
            self.k = k

        def forward(self, h, w):
            out = torch.zeros(1, 14, 1, 1)
            out[0, self.k] = 1.0
            return out

    cell0._ops = nn.ModuleList(Marker(k) for k in range(14))
    try:
        with torch.no_grad():
            s = torch.randn(1, cell0.preprocess1.op[1].in_channels, 2, 2)
            s_pp = torch.randn(1, cell0.preprocess0.op[1].in_channels, 2, 2)
            out = cell0(s_pp, s, torch.zeros(14, 8), captured["weights_edge"])
    finally:
        cell0._ops = saved_ops
    nodes = out.reshape(4, 14)
    gamma_ref = torch.stack([nodes[node, k] for node in range(4)
                             for k in range(sum(range(2, node + 2)),
                                            sum(range(2, node + 3)))])
    cell_type = "reduce" if cell0.reduction else "normal"
    lay = cell_layout(reduced.cells[cell_type], reduced.groups)
    beta = getattr(ref_net, f"betas_{cell_type}").detach()
    order = torch.tensor(sorted(range(14), key=lambda k: (lay.edges[k].dst, lay.edges[k].src)))
    assert [tuple(c) for c in lay.combinations[2]] == list(itertools.combinations(range(4), 2))
    g_sum = make_edge_relaxation("combination", normalise=False).weights(beta, lay, T_tp)[order]
    g_paper = make_edge_relaxation("combination", normalise=True).weights(beta, lay, T_tp)[order]
    rep.diff(sec, f"gamma from beta, released code's sum (normalise=False, T={T_tp})",
             diff(gamma_ref, g_sum), "gamma read from the released Cell.forward")
    rep.diff(sec, "gamma from beta, paper's 1/N(c) (default) = released sum / 2 for pairs",
             diff(gamma_ref / 2, g_paper))
    rep.design(sec, "gamma: paper's 1/N(c) against the released code's sum",
               diff(gamma_ref, g_paper),
               "by design: the CVPR paper's eq. 7 divides by N(c) (genospec's default); the "
               "released code sums (relax edges combination ... sum)")

    # -- one topology-stage step --------------------------------------------------------------
    sn = Supernet(reduced, cells=5, channels=4, classes=10, op_relax="softmax",
                  edge_relax="combination", normalise=False)
    with_lastact(sn, sn.net.classifier.in_features)
    m = map_darts_supernet(ref_net, sn, reduced, lastact=True)
    m.copy_ref_to_gs()
    sn.set_temperature(op=1e-3 * T_tp, edge=T_tp)
    for cell_type in ("normal", "reduce"):
        mask = getattr(ref_net, f"bool_mask_{cell_type}")
        bal = getattr(ref_net, f"alphas_{cell_type}_balance").detach()
        full = torch.zeros(14, 8)
        for k in range(14):
            for o in range(8):
                if mask[k, o] > 0:
                    full[k, o] = bal[k, 0 if o < 4 else 1]
        set_supernet_alpha(sn, cell_type, full)
        with torch.no_grad():
            sn.arch[cell_type].beta.copy_(getattr(ref_net, f"betas_{cell_type}").detach())
    ref_net.train(), sn.train()
    xt, yt = batch(gen, 6, 16)
    with torch.no_grad():
        d_logits = diff(ref_net.forward_tp(xt), sn(xt))
    rep.diff(sec, "topology-stage supernet (2 ops per edge, pairs): logits", d_logits,
             "op weights softmax(balance / (1e-3 T)), gamma the released sum")
    r_wopt = torch.optim.SGD(ref_net.parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
    r_aopt = torch.optim.Adam(ref_net.arch_parameters(), lr=3e-4, betas=(0.9, 0.999),
                              weight_decay=1e-3)
    g_wopt = update.weight_optimizer(sn)
    g_aopt = update.arch_optimizer(sn, betas=(0.9, 0.999))
    # train_tp (released train_search.py), one iteration
    r_aopt.zero_grad()
    r_wopt.zero_grad()
    loss = CE(ref_net.forward_tp(xt), yt)
    loss.backward()
    nn.utils.clip_grad_norm_(ref_net.parameters(), 5.0)
    r_wopt.step()
    r_aopt.step()
    out = update.step(sn, (xt, yt), None, mode="onelevel", w_opt=g_wopt, a_opt=g_aopt, clip=5.0)
    d_arch = 0.0
    for cell_type in ("normal", "reduce"):
        lay = sn._layouts[cell_type]
        a = sn.arch[cell_type].alpha.detach()[rows(sn)]
        bal = getattr(ref_net, f"alphas_{cell_type}_balance").detach()
        mask = getattr(ref_net, f"bool_mask_{cell_type}")
        for k in range(14):
            for o in range(8):
                if mask[k, o] > 0:
                    d_arch = max(d_arch, abs(a[k, lay.ops.index(DARTS_OPS[o])].item()
                                             - bal[k, 0 if o < 4 else 1].item()))
        d_arch = max(d_arch, diff(getattr(ref_net, f"betas_{cell_type}"),
                                  sn.arch[cell_type].beta))
    rep.diff(sec, "one topology-stage step (one-level): weights, BN statistics, loss",
             max(m.max_diff(), abs(loss.item() - out["loss"])))
    rep.diff(sec, "one topology-stage step: balance alphas and beta after the step", d_arch)

    # -- the genotype the topology selection derives ------------------------------------------
    # kinds of trial: continuous beta and balance; ties in beta; ties in balance (an edge's two
    # ops weighted equally). genospec is run twice: with the weight columns as its engine hands
    # them over (`Supernet.mixing().op_names`: the cell's ops in order of first appearance on
    # its edges) and with the columns in op-library order.
    counts = {kind: [0, 0, 0] for kind in ("continuous", "beta ties", "balance ties")}
    for trial in range(240):
        kind = ("continuous", "beta ties", "balance ties")[trial % 3]
        for cell_type in ("normal", "reduce"):
            b = getattr(ref_net, f"betas_{cell_type}")
            bal = getattr(ref_net, f"alphas_{cell_type}_balance")
            with torch.no_grad():
                b.copy_(torch.randint(0, 2, b.shape, generator=gen).double()
                        if kind == "beta ties" else torch.randn(b.shape, generator=gen))
                bal.copy_(torch.randint(0, 2, bal.shape, generator=gen).double()
                          if kind == "balance ties" else torch.randn(bal.shape, generator=gen))
        geno = ref_net.genotype()[0]
        for cell_type, ref_gene in (("normal", geno.normal), ("reduce", geno.reduce)):
            lay = cell_layout(reduced.cells[cell_type], reduced.groups)
            mask = getattr(ref_net, f"bool_mask_{cell_type}")
            bal = getattr(ref_net, f"alphas_{cell_type}_balance").detach()
            full = torch.zeros(lay.alpha_shape)
            for k, edge in enumerate(lay.edges):
                row = sum(range(2, edge.dst)) + edge.src
                for o in range(8):
                    if mask[row, o] > 0:
                        full[k, lay.ops.index(DARTS_OPS[o])] = bal[row, 0 if o < 4 else 1]
            w = make_op_relaxation("softmax").weights(full, lay, 1.0)
            beta = getattr(ref_net, f"betas_{cell_type}").detach()
            as_engine = select.best_combination(reduced, cell_type, w, lay.ops, beta=beta)
            cols = [lay.ops.index(o) for o in DARTS_OPS if o in lay.ops]
            library = select.best_combination(reduced, cell_type, w[:, cols],
                                              [lay.ops[c] for c in cols], beta=beta)
            c = counts[kind]
            c[0] += genotype_lists(as_engine) == list(ref_gene)
            c[1] += genotype_lists(library) == list(ref_gene)
            c[2] += 1
    for kind in ("continuous", "beta ties"):
        rep.same(sec, f"topology selection (genotype(), tp phase), {kind}", counts[kind][0],
                 counts[kind][2], "random beta and balance, 80 draws x 2 cells")
    a, lib, n = counts["balance ties"]
    rep.same(sec, "topology selection, balance ties, op columns in op-library order",
             lib, n)
    rep.design(sec, "topology selection, balance ties, op columns as the engine passes them",
               f"{a}/{n} equal",
               "tie rule: genospec's 'first column wins' follows Supernet.mixing().op_names, "
               "the reduced cell's ops in order of first appearance on its edges; DOTS breaks an "
               "exact tie between an edge's two ops by PRIMITIVES order (the free op). Only "
               "exactly equal balance logits are affected", status="tie rule")


# ==== DARTS-PT =====================================================================================
def darts_pt_checks(ref_root: Path, rep: Report) -> None:
    sec = "DARTS-PT"
    ref = import_from(ref_root / "sota" / "cnn",
                      ["sota.cnn.spaces", "sota.cnn.model_search_darts_proj",
                       "sota.cnn.projection", "nasbench201.utils"], syspath=ref_root)
    space = load(SPECS / "spaces" / "darts_pt.gs").get("darts_pt")
    ops = DARTS_OPS[1:]  # the DARTS-PT space (spaces.py s5): DARTS without 'none' 
    gen = torch.Generator().manual_seed(20)
    args = SimpleNamespace(learning_rate=0.025, momentum=0.9, weight_decay=3e-4,
                           edge_decision="random", proj_crit_normal="loss",
                           proj_crit_reduce="loss", report_freq=1000, fast=False)
    args.proj_crit = {"normal": "loss", "reduce": "loss"}
    torch.manual_seed(21)
    ref_net = ref.model_search_darts_proj.DartsNetworkProj(
        4, 10, 4, nn.CrossEntropyLoss(), ref.spaces.spaces_dict["s5"], args)
    assert tuple(ref_net.PRIMITIVES["primitives_normal"][0]) == ops
    sn = Supernet(space, cells=4, channels=4, classes=10)
    m = map_darts_supernet(ref_net, sn, space, ops=ops)
    # a trained state: a few SGD steps of the reference supernet on its own loss
    for a in ref_net.arch_parameters():
        with torch.no_grad():
            a.copy_(0.5 * torch.randn(a.shape, generator=gen))
    opt = torch.optim.SGD(ref_net.get_weights(), 0.05, momentum=0.9)
    ref_net.train()
    for _ in range(3):
        xt, yt = batch(gen, 8, 16)
        opt.zero_grad()
        ref_net._loss(xt, yt).backward()
        opt.step()
    m.copy_ref_to_gs()
    set_supernet_alpha(sn, "normal", ref_net.alphas_normal.detach(), ops)
    set_supernet_alpha(sn, "reduce", ref_net.alphas_reduce.detach(), ops)
    valid = [batch(gen, 8, 12)]

    def ref_infer(queue, model, log=False, _eval=True, weights_dict=None):
        """train_search.py's infer (CPU): top-1 accuracy and loss averaged over the queue."""
        model.eval() if _eval else model.train()
        n_all = acc = obj = 0.0
        with torch.no_grad():
            for x, t in queue:
                logits = model(x, weights_dict=weights_dict)
                loss = model._criterion(logits, t)
                # their nasbench201.utils.accuracy calls .view on a non-contiguous tensor,
                # which torch 2 rejects: top-1 (percent) directly
                acc += 100.0 * logits.argmax(1).eq(t).double().mean().item() * x.shape[0]
                obj += loss.item() * x.shape[0]
                n_all += x.shape[0]
        measured.append((acc / n_all, obj / n_all))
        return acc / n_all, obj / n_all

    def gs_evaluate():
        sn.train()
        with torch.no_grad():
            logits = sn(valid[0][0])
        loss = CE(logits, valid[0][1]).item()
        g_measured.append(loss)
        return -loss  # genospec keeps the op whose removal gives the lowest value: loss up

    # op decisions: the same random edge order for both, normal then reduce each round
    measured, g_measured = [], []
    order = list(range(14))
    random.Random(22).shuffle(order)
    agree = total = 0
    d_crit = 0.0
    for e_darts in order:
        for cell_type in ("normal", "reduce"):
            measured.clear(), g_measured.clear()
            eid, opid = ref.projection.project_op(ref_net, valid, args, ref_infer, cell_type,
                                                  selected_eid=e_darts)
            ref_net.project_op(eid, opid, cell_type)
            ir_cell = space.cells[cell_type]
            src, dst = darts_edge(e_darts)
            e = edge_index(ir_cell, src, dst)
            d = perturbation.decide_op(sn, space, ir_cell, e, gs_evaluate)
            perturbation.apply(sn, d)
            ref_losses = {ops[o]: measured[o][1] for o in range(len(ops))}
            d_crit = max(d_crit, max(abs(ref_losses[c] + a) for c, a in zip(d.candidates,
                                                                                d.accuracies)))
            agree += ops[opid] == d.op
            total += 1
    rep.diff(sec, "op decisions: validation loss with each op masked (28 edges x 7 ops)",
             d_crit, "criterion: loss (proj_crit loss)")
    rep.same(sec, "op decisions (project_op / decide_op), 14 edges x 2 cell types",
             agree, total)

    ref_net.train(), sn.train()
    with torch.no_grad():
        rep.diff(sec, "supernet after the op decisions: logits (train mode)",
                 diff(ref_net(valid[0][0]), sn(valid[0][0])))
    # edge decisions: node order drawn by the released code (np.random); genospec decides the
    # same node from the same state, then takes the released code's decision so that the next
    # node again starts from one state on both sides
    np.random.seed(23)
    agree = single = total = 0
    d_first = 0.0
    design = []
    for _ in range(3):
        for cell_type in ("normal", "reduce"):
            measured.clear(), g_measured.clear()
            nid, eids = ref.projection.project_edge(ref_net, valid, args, ref_infer, cell_type)
            ref_net.project_edge(nid, eids, cell_type)
            ir_cell = space.cells[cell_type]
            node, n_in = nid + 3, nid + 3
            d = perturbation.decide_node(sn, ir_cell, node, 2, gs_evaluate)
            first = g_measured[:n_in]
            d_first = max(d_first, diff(torch.tensor([l for _, l in measured[:n_in]]),
                                        torch.tensor(first)))
            span = [edge_index(ir_cell, s_, node) for s_ in range(n_in)]
            ref_kept = sorted(edge_index(ir_cell, *darts_edge(e)) for e in eids)
            # the released rule on genospec's measurements: drop, n - 2 times, the edge whose
            # removal left the lowest loss (ties: the later-listed), each against the full node
            left = list(range(n_in))
            while len(left) > 2:
                left.remove(max(left, key=lambda i: (-first[i], i)))
            single += sorted(span[i] for i in left) == ref_kept
            same = ref_kept == sorted(d.kept)
            agree += same
            total += 1
            if not same:
                design.append(f"{cell_type} node {node} ({n_in} inputs)")
            for e in span:
                if e not in ref_kept:
                    sn.drop_edge(cell_type, e)
    rep.diff(sec, "edge decisions: validation loss with each edge removed (first round of "
                  "each node, 6 nodes)", d_first)
    rep.same(sec, "edge decisions, the released rule (rank single removals) applied to "
                  "genospec's measurements", single, total)
    rep.same(sec, "edge decisions (project_edge / perturbation.decide_node, edge_rule single, "
                  "the default)", agree, total)
    if design:  # decide_node's default follows the released rule since issue 16 §2.4
        print(f"  differ: {', '.join(design)}")


def darts_edge(k: int) -> tuple[int, int]:
    """(src, dst) of DARTS edge k (node by node, sources in order)."""
    for node in range(4):
        if k < node + 2:
            return k, node + 2
        k -= node + 2
    raise ValueError(k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--darts", help="quark0/darts checkout ($GENOSPEC_DARTS_REF)")
    parser.add_argument("--dots", help="guyuchao/DOTS checkout ($GENOSPEC_DOTS_REF)")
    parser.add_argument("--darts-pt", help="ruocwang/darts-pt checkout ($GENOSPEC_DARTSPT_REF)")
    parser.add_argument("--only", choices=("darts", "dots", "darts-pt"), action="append")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    rep = Report()
    repos = (("darts", "DARTS", args.darts, "cnn/model_search.py", "GENOSPEC_DARTS_REF",
              "https://github.com/quark0/darts", darts_checks),
             ("dots", "DOTS", args.dots, "pytorch/model_search.py", "GENOSPEC_DOTS_REF",
              "https://github.com/guyuchao/DOTS", dots_checks),
             ("darts-pt", "DARTS-PT", args.darts_pt, "sota/cnn/projection.py",
              "GENOSPEC_DARTSPT_REF", "https://github.com/ruocwang/darts-pt", darts_pt_checks))
    for key, title, given, marker, env, url, run in repos:
        if args.only and key not in args.only:
            continue
        root = find_checkout(given, marker, env, url)
        if root is None:
            rep.skipped(title, "all checks", f"no checkout given (--{key} or ${env})")
            continue
        print(f"{title} ({root})", flush=True)
        start = time.perf_counter()
        run(root, rep)
        print(f"  {time.perf_counter() - start:.1f} s", flush=True)
    if args.markdown:
        print(rep.markdown())
    sys.exit(1 if rep.failed else 0)


if __name__ == "__main__":
    main()
