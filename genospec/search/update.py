"""One training step of a supernet under each update rule (DESIGN §2).

- bilevel, first order: the architecture steps on a validation batch with the loss at the
  current weights (DARTS eq. 7 with xi = 0), then the weights step on a training batch.
- bilevel, second order: the architecture gradient of DARTS eq. 7,
  grad_a L_val(w', a) - xi * grad^2_{a,w} L_train(w, a) grad_w' L_val(w', a),
  at the unrolled weights w' = w - xi * grad_w L_train(w, a) (eq. 6; taken as the weight
  optimiser's next SGD step, momentum and weight decay included, as the DARTS code does), the
  Hessian-vector product by central finite differences at w +- eps * grad_w' L_val(w', a) with
  eps = 0.01 / ||grad_w' L_val(w', a)|| (eq. 8).
- one-level: one batch, one loss; weights and architecture step together (DOTS topology stage).

Weights train with SGD and gradient-norm clipping, the architecture with Adam (`weight_optimizer`
and `arch_optimizer` build them with the DARTS defaults). The caller decides when the
architecture updates (warm-up, every n steps, once per epoch) by passing ``update_arch``; after
each architecture update the supernet's eDARTS op bias, if any, is added to alpha. Call `step`
with the model in training mode.

The forwards at unrolled and perturbed weights (second order) run on copies of the BN buffers,
so only forwards at the current weights update the running statistics.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Literal, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .. import distributed
from ..nn.supernet import Supernet
from ..runtime import optimisers
from ..runtime.precision import FP32, Precision

Batch = tuple[Tensor, Tensor]
Criterion = Callable[[Tensor, Tensor], Tensor]
Mode = Literal["bilevel", "onelevel"]
# A regulariser's term for a phase ("arch": the architecture step's loss, "weights": the weight
# step's loss; a one-level step asks for both), or None (genospec.search.hooks.Regulariser).
Penalty = Callable[[nn.Module, str], "Tensor | None"]


def weight_optimizer(model: Supernet, lr: float = 0.025, momentum: float = 0.9,
                     decay: float = 3e-4) -> torch.optim.SGD:
    """SGD over the supernet's weights (DARTS defaults)."""
    return optimisers.sgd(model.weight_parameters(), lr, momentum, decay)


def arch_optimizer(model: Supernet, lr: float = 3e-4, betas: tuple[float, float] = (0.5, 0.999),
                   decay: float = 1e-3) -> torch.optim.Adam | None:
    """Adam over the architecture parameters (DARTS defaults); None when nothing is trainable
    (the ``fixed`` op relaxation without an edge relaxation)."""
    params = model.arch_parameters()
    if not params:
        return None
    return torch.optim.Adam(params, lr, betas=betas, weight_decay=decay)


def _unwrap(model: nn.Module) -> Supernet:
    """The supernet inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _backward(model: nn.Module, loss: Tensor, params: Sequence[Tensor]) -> None:
    """Backpropagate into ``params`` only; into everything under DDP, whose gradient
    all-reduce waits for every parameter."""
    if isinstance(model, nn.parallel.DistributedDataParallel):
        loss.backward()
    else:
        loss.backward(inputs=list(params))


@contextmanager
def _frozen(model: nn.Module, params: Sequence[nn.Parameter]) -> Iterator[None]:
    """Inside the block ``params`` do not require gradients, so autograd neither computes their
    gradients nor saves what only those need: the architecture step skips every conv's weight
    gradient, and the weight step stops saving each op's output for its alpha (measured on the
    DARTS supernet at batch 16: 22% less peak memory and, with channels-last, 15% less time
    per step; benchmarks/README.md). The update
    stays the same: the skipped gradients are the ones the phase discards. Under
    DistributedDataParallel, which expects every parameter in every backward, nothing is frozen.
    """
    if isinstance(model, nn.parallel.DistributedDataParallel):
        yield
        return
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, before):
            p.requires_grad_(flag)


def _accuracy(logits: Tensor, target: Tensor) -> float:
    return logits.argmax(dim=1).eq(target).float().mean().item()


def _sgd_hyper(w_opt: torch.optim.Optimizer) -> dict[int, tuple[float, float]]:
    """(momentum, weight decay) of every parameter of an SGD optimiser, by id."""
    return {id(p): (g.get("momentum", 0.0), g.get("weight_decay", 0.0))
            for g in w_opt.param_groups for p in g["params"]}


def unrolled_arch_gradients(model: Supernet, batch: Batch, val_batch: Batch,
                            w_opt: torch.optim.Optimizer, xi: float,
                            criterion: Criterion = nn.functional.cross_entropy
                            ) -> tuple[list[Tensor], Tensor]:
    """DARTS second-order architecture gradients (eq. 6-8), one per ``model.arch_parameters()``,
    and the validation loss at the unrolled weights. The model's parameters are not changed."""
    weights = list(model.named_weight_parameters())
    archs = model.named_arch_parameters()
    w_names, w_now = [n for n, _ in weights], [p.detach() for _, p in weights]
    a_names, a_params = [n for n, _ in archs], [p for _, p in archs]

    def loss_at(w: Sequence[Tensor], data: Batch) -> Tensor:
        state = {n: b.clone() for n, b in model.named_buffers()}
        state.update(zip(w_names, w))
        state.update(zip(a_names, a_params))
        return criterion(functional_call(model, state, (data[0],)), data[1])

    def grads(loss: Tensor, inputs: Sequence[Tensor]) -> list[Tensor]:
        found = torch.autograd.grad(loss, list(inputs), allow_unused=True)
        return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, found)]

    # eq. 6: w' is the weight optimiser's next step (momentum and weight decay as in SGD)
    w_leaf = [w.clone().requires_grad_() for w in w_now]
    g_train = grads(loss_at(w_leaf, batch), w_leaf)
    hyper = _sgd_hyper(w_opt)
    w_next = []
    for (_, p), w, g in zip(weights, w_now, g_train):
        momentum, decay = hyper.get(id(p), (0.0, 0.0))
        step = g + decay * w
        buf = w_opt.state.get(p, {}).get("momentum_buffer")
        if buf is not None:
            step = step + momentum * buf
        w_next.append((w - xi * step).requires_grad_())

    # eq. 7: gradient at the unrolled weights
    val_loss = loss_at(w_next, val_batch)
    found = grads(val_loss, a_params + w_next)
    d_arch, d_w = found[:len(a_params)], found[len(a_params):]

    # eq. 8: Hessian-vector product by central differences around the current weights
    norm = torch.cat([d.reshape(-1) for d in d_w]).norm()
    if norm == 0:
        return d_arch, val_loss.detach()
    eps = 0.01 / norm
    plus = grads(loss_at([w + eps * d for w, d in zip(w_now, d_w)], batch), a_params)
    minus = grads(loss_at([w - eps * d for w, d in zip(w_now, d_w)], batch), a_params)
    return ([g - xi * (p - m) / (2 * eps) for g, p, m in zip(d_arch, plus, minus)],
            val_loss.detach())


def _plus(loss: Tensor, penalty: Penalty | None, net: nn.Module, phase: str) -> Tensor:
    """``loss`` plus the penalty's term for ``phase`` (``loss`` itself without one)."""
    term = penalty(net, phase) if penalty is not None else None
    return loss if term is None else loss + term


def bilevel_step(model: nn.Module, batch: Batch, val_batch: Batch | None, **options) -> dict:
    """The ``bilevel`` update rule (`step` with ``mode="bilevel"``)."""
    return step(model, batch, val_batch, mode="bilevel", **options)


def onelevel_step(model: nn.Module, batch: Batch, val_batch: Batch | None, **options) -> dict:
    """The ``onelevel`` update rule (`step` with ``mode="onelevel"``; no validation batch)."""
    return step(model, batch, None, mode="onelevel", **options)


def step(model: nn.Module, batch: Batch, val_batch: Batch | None = None, *,
         mode: Mode = "bilevel", order: Literal[1, 2] = 1, w_opt: torch.optim.Optimizer,
         a_opt: torch.optim.Optimizer | None = None, clip: float | None = 5.0,
         update_arch: bool = True, xi: float | None = None,
         criterion: Criterion = nn.functional.cross_entropy,
         penalty: Penalty | None = None, hooks: object | None = None,
         precision: Precision = FP32) -> dict[str, float | None]:
    """One supernet training step; returns ``loss``/``acc`` of the weight step's batch and
    ``val_loss``/``val_acc`` of the architecture step's validation batch (None when no
    bilevel architecture step ran; second order: ``val_loss`` at the unrolled weights and no
    ``val_acc``).

    ``model`` is a `Supernet` or a DistributedDataParallel around one; when several processes
    run, a Supernet is stepped through its `genospec.distributed.ddp` wrapper. ``mode`` is
    ``"bilevel"`` (``val_batch`` drives the architecture, ``batch`` the weights; ``order`` 1 or
    2) or ``"onelevel"`` (``batch`` drives both). ``xi`` is the unrolling step size of the
    second order (default: the weight optimiser's current learning rate, as DARTS). ``clip``
    bounds the weights' gradient norm (None: no clipping). ``penalty(model, phase)`` adds a
    term to the architecture step's loss (phase ``"arch"``, both orders: it is added to every
    validation loss of the unrolled gradient too) and to the weight step's (``"weights"``); the
    reported losses stay the data losses. ``hooks`` (`genospec.search.hooks.Regularisers`) has
    ``before_weight_step(net, batch)`` called after the architecture step, right before the
    weight step's forward, and ``after_weight_step(net)`` after its optimiser step (also when
    the step fails), so that an SDARTS perturbation of alpha acts on the weight step only.
    ``precision`` (`genospec.runtime.precision`): the forwards and losses run under its
    autocast (the regularisers' terms and every optimiser step in float32); under fp16 each
    phase's loss is scaled by its gradient scaler, unscaled before clipping.
    """
    model = distributed.ddp(model)
    net = _unwrap(model)
    if mode not in ("bilevel", "onelevel"):
        raise ValueError(f"update mode must be 'bilevel' or 'onelevel', got {mode!r}")
    if order not in (1, 2) or (mode == "onelevel" and order != 1):
        raise ValueError(f"order must be 1 or 2 (bilevel only), got {order!r} with {mode}")
    if update_arch and a_opt is None:
        raise ValueError("update_arch needs an architecture optimiser")
    if update_arch and mode == "bilevel" and val_batch is None:
        raise ValueError("a bilevel architecture update needs a validation batch")
    weights = list(net.weight_parameters())
    archs = net.arch_parameters()
    out: dict[str, float | None] = {"val_loss": None, "val_acc": None}

    if update_arch and mode == "bilevel":
        a_opt.zero_grad(set_to_none=True)
        if order == 1:
            with _frozen(model, weights):
                with precision.autocast():
                    logits = model(val_batch[0])
                    val_loss = criterion(logits, val_batch[1])
                precision.backward(_plus(val_loss.float(), penalty, net, "arch"), "arch",
                                   lambda loss: _backward(model, loss, archs))
            out["val_acc"] = _accuracy(logits.detach(), val_batch[1])
            # Drop the graph before the weight step: kept alive through it, it held 0.6 GiB of
            # resident memory at batch 16 on the DARTS supernet and raised the step's peak from
            # 7.5 to 9.8 GiB at batch 64 (benchmarks/supernet_step.py).
            val_loss = val_loss.detach()
            del logits
        else:
            lr = w_opt.param_groups[0]["lr"] if xi is None else xi
            crit = criterion if penalty is None else \
                (lambda out, y: _plus(criterion(out, y), penalty, net, "arch"))
            with precision.autocast():  # bf16 only: fp16 is refused with the second order
                d_arch, val_loss = unrolled_arch_gradients(net, batch, val_batch, w_opt, lr, crit)
            if isinstance(model, nn.parallel.DistributedDataParallel):
                distributed.average_(d_arch)  # one architecture across ranks
            for p, g in zip(archs, d_arch):
                p.grad = g
        out["val_loss"] = val_loss.item()
        precision.step("arch", a_opt)
        net.apply_op_bias()

    joint = update_arch and mode == "onelevel"
    if hooks is not None:
        hooks.before_weight_step(net, batch)
    try:
        w_opt.zero_grad(set_to_none=True)
        if joint:
            a_opt.zero_grad(set_to_none=True)
        with _frozen(model, [] if joint else archs):
            with precision.autocast():
                logits = model(batch[0])
                loss = criterion(logits, batch[1])
            total = _plus(loss.float(), penalty, net, "weights")
            if joint:
                total = _plus(total, penalty, net, "arch")
            precision.backward(total, "weights", lambda loss_: _backward(
                model, loss_, weights + archs if joint else weights))
        loss, logits = loss.detach(), logits.detach()  # the graph goes (see the arch step)
        if clip is not None:
            precision.unscale(w_opt, "weights")
            optimisers.clip_gradients(weights, clip)
        precision.step("weights", w_opt, *((a_opt,) if joint else ()))
    finally:
        if hooks is not None:
            hooks.after_weight_step(net)
    if joint:
        net.apply_op_bias()
    out["loss"] = loss.item()
    out["acc"] = _accuracy(logits, batch[1])
    return out
