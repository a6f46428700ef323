"""Built-in regularisers and perturbations (registry kind ``regulariser``, recipe
``regularise NAME OPTIONS``; the hooks are `genospec.search.hooks.Regulariser`'s).

- ``sdarts_random`` (SDARTS-RS) and ``sdarts_adv`` (SDARTS-ADV): X. Chen, C.-J. Hsieh,
  "Stabilizing Differentiable Architecture Search via Perturbation-based Regularization", ICML
  2020. The weight step is taken at perturbed architecture weights A + delta, ||delta||_inf <=
  eps: a uniform draw for RS (the paper's random-smoothing objective
  E_{delta ~ U[-eps, eps]} L_train(w, A + delta)), a PGD attack maximising the training loss for
  ADV (its adversarial objective max_{||delta|| <= eps} L_train(w, A + delta)); the architecture
  step is the plain DARTS one. As in the released code (chenxiangning/SmoothDARTS,
  ``sota/cnn/train_search.py`` and ``attacker/perturb.py``; read through forks, the repository
  itself could not be fetched here):

  * A are the architecture *weights* (the relaxation's output, softmax(alpha)), not the logits:
    the code swaps its alphas for their softmax before perturbing (``softmax_arch_parameters``)
    and restores them after the weight step. ``space alpha`` perturbs the logits instead (the
    relaxation then applies to alpha + delta);
  * after every change the weights are projected back (``clip``): clamped to [0, 1], a row that
    became all zero gets 1 at its largest entry, and the row is rescaled to its sum before the
    perturbation (1 for softmax; genospec keeps the row sum so that group softmax, whose rows
    sum to their group count, and masked entries, which stay 0, are kept);
  * eps grows linearly over the search: eps(epoch) = start + (epsilon - start) * epoch / epochs
    with start 0.03 and epsilon 0.3 (``epsilon_alpha``), epoch counted from 0;
  * PGD: ``steps`` 7 sign-gradient ascent steps of size 2 eps / steps from a uniform random
    start, each followed by the projection onto the eps-ball around A and the clip; the attack
    is dropped (A used as is) when it ends with a lower loss than A had.

  Departures: the code attacks with the supernet in eval mode (BN on its running statistics);
  genospec attacks with batch statistics and leaves the running statistics untouched, as its
  evaluation does (`genospec.search.engine.evaluate`), since a supernet's running statistics
  trail its weights. alpha itself is never modified: the perturbed weights enter through the
  relaxation for the weight step only, so "restored after" holds bit for bit. Random numbers
  come from torch's global CPU generator, which each stage seeds from the run's seed and every
  checkpoint saves: a seeded search is reproducible and resumes identically.

- ``zero_one`` (FairDARTS): X. Chu et al., "Fair DARTS: Eliminating Unfair Advantages in
  Differentiable Architecture Search", ECCV 2020, §4.2: L_{0-1} = -1/N sum_i (sigma(alpha_i) -
  0.5)^2 added to the architecture loss with weight w_{0-1} (10 in the paper and in the code's
  ``--aux_loss_weight``), pushing each independent sigmoid towards 0 or 1. The code
  (``separate_loss.py``: ``-F.mse_loss(sigmoid(alphas), 0.5)`` over both cell types' alphas
  concatenated) takes the mean over every entry; genospec over every candidate entry of every
  cell type (the same set without per-edge op lists), of the op weights the stage's relaxation
  gives (sigma(alpha) under ``relax ops sigmoid``).

- ``cost``: lambda * sum over cell types, edges e and ops o of w_eo * cost_eo, where w_eo is the
  op's mixing weight as the supernet uses it (op weight times edge weight gamma), and cost_eo the
  op's multiply-adds (``measure macs``, one image of the stage's size, summed over every cell of
  the type) or parameters (``measure params``), in millions, from the compiler's own counters
  (`genospec.nn.count`). A differentiable resource penalty in the manner of FBNet / ProxylessNAS
  latency terms, not taken from one paper; lambda has no published default.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..nn.count import count_macs, count_parameters
from ..relax.layout import CellLayout
from ..relax.ops import OpRelaxation
from .hooks import Regulariser

# (alpha, layout, temperature, relaxation's own weights) -> the weights the forward uses
Override = Callable[[Tensor, CellLayout, float, Tensor], Tensor]


class _Overridden(OpRelaxation):
    """The supernet's op relaxation with its output replaced per cell type (while installed)."""

    def __init__(self, base: OpRelaxation, override: Override):
        self.base = base
        self.override = override
        self.learnable = base.learnable
        self.straight_through = getattr(base, "straight_through", False)

    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        return self.override(alpha, layout, temperature, self.base.weights(alpha, layout,
                                                                           temperature))

    def selection_weights(self, alpha: Tensor, layout: CellLayout,
                          temperature: float = 1.0) -> Tensor:
        """What selection reads: the relaxation's own, never the perturbed weights."""
        return _deterministic(self.base)(alpha, layout, temperature)

    def __getattr__(self, name: str):  # anything else a relaxation offers (a sampler's state)
        return getattr(self.__dict__["base"], name)


def _install(model: nn.Module, override: Override) -> None:
    model.op_relax = _Overridden(_base(model), override)


def _uninstall(model: nn.Module) -> None:
    if isinstance(model.op_relax, _Overridden):
        model.op_relax = model.op_relax.base


def _base(model: nn.Module) -> OpRelaxation:
    relax = model.op_relax
    return relax.base if isinstance(relax, _Overridden) else relax


def clip_rows(w: Tensor, mask: Tensor, total: Tensor, reference: Tensor | None = None) -> Tensor:
    """SDARTS' projection (``clip``) of perturbed weights ``w`` [E, O]: clamp to [0, 1] on the
    candidates (``mask``; 0 elsewhere), put 1 at the largest entry of ``reference`` (default:
    ``w`` before clamping) of a row that became all zero, and rescale each row to sum to
    ``total`` [E, 1] (rows with total 0 stay 0)."""
    m = mask.to(w.dtype)
    ref = (w if reference is None else reference).masked_fill(~mask, float("-inf"))
    out = w.clamp(0.0, 1.0) * m
    sums = out.sum(dim=-1, keepdim=True)
    dead = (sums == 0) & mask.any(dim=-1, keepdim=True)
    if bool(dead.any()):
        top = nn.functional.one_hot(ref.argmax(dim=-1), w.shape[-1]).to(w.dtype)
        out = torch.where(dead, top, out)
        sums = out.sum(dim=-1, keepdim=True)
    return torch.where(sums > 0, out * (total / sums.clamp(min=1e-30)), out)


def ramp(start: float, end: float, epoch: int, epochs: int) -> float:
    """SDARTS' eps schedule: start + (end - start) * epoch / epochs, epoch 0-based, held at
    ``end`` from ``epochs`` on (fine-tuning epochs after the stage)."""
    return start + (end - start) * min(max(epoch, 0), epochs) / max(epochs, 1)


def _uniform(shape: torch.Size, eps: float, like: Tensor) -> Tensor:
    """U[-eps, eps] from torch's global CPU generator (seeded per stage, saved in checkpoints),
    moved to ``like``'s device: the same numbers on every device."""
    return torch.empty(shape, dtype=like.dtype).uniform_(-eps, eps).to(like.device)


def _deterministic(relax: OpRelaxation) -> Callable:
    """A relaxation's deterministic weights (a sampler's selection weights, else its weights)."""
    return getattr(relax, "selection_weights", relax.weights)


def _relaxed(model: nn.Module) -> dict[str, Tensor]:
    """The relaxation's own op weights per cell type (no perturbation, no DARTS-PT masks),
    detached."""
    base = _base(model)
    with torch.no_grad():
        return {name: _deterministic(base)(arch.alpha, model.layout(name),
                                           model.op_temperature).detach()
                for name, arch in model.arch.items()}


class _Perturbation(Regulariser):
    """What SDARTS-RS and -ADV share: the eps schedule and the weight-step override."""

    def __init__(self, epsilon: float = 0.3, start: float = 0.03, space: str = "weights"):
        self.epsilon, self.start, self.space = epsilon, start, space
        self.eps = start
        self.applied = 0

    def epoch_start(self, model: nn.Module, epoch: int, epochs: int) -> None:
        self.eps = ramp(self.start, self.epsilon, epoch, epochs)

    def after_weight_step(self, model: nn.Module) -> None:
        _uninstall(model)

    def epoch_end(self, model: nn.Module, epoch: int) -> dict[str, float]:
        return {f"{self.name}_eps": self.eps}

    name = "sdarts"

    def _use(self, model: nn.Module, perturbed: dict[str, Tensor]) -> None:
        """Install the weights ``perturbed`` [cell type] for the weight step: their value, and
        (straight through) the relaxation's gradient."""
        def override(alpha, layout, temperature, w):
            target = perturbed.get(layout.cell_name)
            return w if target is None else w + (target.to(w.dtype) - w).detach()
        _install(model, override)
        self.applied += 1


class SDARTSRandom(_Perturbation):
    """SDARTS-RS: the weight step at A + delta, delta ~ U[-eps, eps] per entry, then clipped."""

    name = "sdarts_random"

    def before_weight_step(self, model: nn.Module, batch: tuple | None = None) -> None:
        if self.space == "alpha":
            deltas = {name: _uniform(arch.alpha.shape, self.eps, arch.alpha)
                      for name, arch in model.arch.items()}

            def override(alpha, layout, temperature, w):
                return _base(model).weights(alpha + deltas[layout.cell_name], layout, temperature)
            _install(model, override)
            return
        perturbed = {}
        for name, w in _relaxed(model).items():
            mask = model.layout(name).mask
            delta = _uniform(w.shape, self.eps, w)
            perturbed[name] = clip_rows(w + delta * mask, mask, w.sum(dim=-1, keepdim=True))
        self._use(model, perturbed)


class SDARTSAdversarial(_Perturbation):
    """SDARTS-ADV: the weight step at the A + delta found by an L-inf PGD attack on the weight
    step's batch (see the module docstring)."""

    name = "sdarts_adv"

    def __init__(self, epsilon: float = 0.3, start: float = 0.03, space: str = "weights",
                 steps: int = 7, step_size: float | None = None, random_start: bool = True):
        super().__init__(epsilon, start, space)
        self.steps, self.step_size, self.random_start = steps, step_size, random_start
        self.kept = 0  # attacks that raised the loss (the others are dropped)

    def before_weight_step(self, model: nn.Module, batch: tuple | None = None) -> None:
        if batch is None:
            raise ValueError("sdarts_adv attacks the weight step's batch; none was given")
        x, y = batch
        eps = self.eps
        size = self.step_size if self.step_size is not None else 2 * eps / self.steps
        alpha_space = self.space == "alpha"
        start = ({n: a.alpha.detach().clone() for n, a in model.arch.items()} if alpha_space
                 else _relaxed(model))
        masks = {n: model.layout(n).mask for n in start}
        totals = {n: w.sum(dim=-1, keepdim=True) for n, w in start.items()}

        def project(p: dict[str, Tensor]) -> dict[str, Tensor]:
            out = {}
            for n, v in p.items():
                v = start[n] + (v - start[n]).clamp(-eps, eps)
                out[n] = v * masks[n] if alpha_space else clip_rows(v, masks[n], totals[n])
            return out

        def loss_at(p: dict[str, Tensor]) -> Tensor:
            if alpha_space:
                def override(alpha, layout, temperature, w):
                    return _base(model).weights(p[layout.cell_name], layout, temperature)
            else:
                def override(alpha, layout, temperature, w):
                    return p[layout.cell_name].to(w.dtype)
            _install(model, override)
            try:
                return nn.functional.cross_entropy(model(x), y)
            finally:
                _uninstall(model)

        with _batch_statistics(model):
            with torch.no_grad():
                before = float(loss_at(start))
            p = dict(start)
            if self.random_start:
                p = project({n: v + _uniform(v.shape, eps, v) * masks[n] for n, v in p.items()})
            for _ in range(self.steps):
                leaves = {n: v.detach().requires_grad_() for n, v in p.items()}
                names = list(leaves)
                grads = torch.autograd.grad(loss_at(leaves), [leaves[n] for n in names],
                                            allow_unused=True)
                p = {n: leaves[n].detach() + (size * g.sign() if g is not None else 0.0)
                     for n, g in zip(names, grads)}
                p = project(p)
            with torch.no_grad():
                after = float(loss_at(p))
        if before > after:  # the attack did not raise the loss: weights as they were
            p = start
        else:
            self.kept += 1
        if alpha_space:
            def override(alpha, layout, temperature, w):
                return _base(model).weights(alpha + (p[layout.cell_name] - alpha).detach(),
                                            layout, temperature)
            _install(model, override)
            self.applied += 1
        else:
            self._use(model, p)

    def epoch_end(self, model: nn.Module, epoch: int) -> dict[str, float]:
        out = {**super().epoch_end(model, epoch), "sdarts_adv_kept": self.kept}
        self.kept = 0
        return out


class _batch_statistics:
    """BN on batch statistics, running statistics untouched, training flag kept (the attack's
    forwards must not move the running statistics the weight step and evaluation use)."""

    def __init__(self, model: nn.Module):
        self.norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def __enter__(self) -> None:
        self.tracked = [m.track_running_stats for m in self.norms]
        self.training = [m.training for m in self.norms]
        # fused BN paths (genospec.nn.recompute) may update the buffers regardless: keep copies
        self.saved = [{k: b.clone() for k, b in m.named_buffers(recurse=False) if b is not None}
                      for m in self.norms]
        for m in self.norms:
            m.track_running_stats = False
            m.train()

    def __exit__(self, *exc: object) -> None:
        for m, t, tr, saved in zip(self.norms, self.tracked, self.training, self.saved):
            m.track_running_stats = t
            m.train(tr)
            with torch.no_grad():
                for k, b in saved.items():
                    getattr(m, k).copy_(b)


class ZeroOne(Regulariser):
    """FairDARTS' zero-one loss: weight * (-mean over candidates of (w - 0.5)^2) on the
    architecture loss (paper §4.2, L_{0-1})."""

    def __init__(self, weight: float = 10.0):
        self.weight = weight
        self.last = 0.0

    def loss(self, model: nn.Module, phase: str) -> Tensor | None:
        if phase != "arch":
            return None
        base = _base(model)
        squares, count = [], 0
        for name, arch in model.arch.items():
            lay = model.layout(name)
            w = _deterministic(base)(arch.alpha, lay, model.op_temperature)
            squares.append(((w - 0.5) ** 2)[lay.mask].sum())
            count += int(lay.mask.sum())
        term = -torch.stack(squares).sum() / max(count, 1)
        self.last = float(term.detach())
        return self.weight * term

    def epoch_end(self, model: nn.Module, epoch: int) -> dict[str, float]:
        return {"zero_one": self.last}


def op_costs(model: nn.Module, image_shape: tuple[int, int, int],
             measure: str = "macs") -> dict[str, Tensor]:
    """Per cell type, cost[E, O] of every candidate op on every edge (millions of multiply-adds
    for one image of ``image_shape``, or of parameters), summed over the cells of the type;
    counted with `genospec.nn.count` on the supernet's own modules. Ops that never run (zero)
    cost 0."""
    shapes: dict[int, tuple] = {}

    def seen(module: nn.Module, args: tuple) -> None:  # returns None: the args stay as they are
        shapes.setdefault(id(module), tuple(args[0].shape[1:]))

    hooks = [op.register_forward_pre_hook(seen) for cell in model.net.cells
             for edge in getattr(cell, "edges", ()) for op in getattr(edge, "ops", ())]
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros(1, *image_shape, device=param.device, dtype=param.dtype))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    costs = {name: torch.zeros(model.layout(name).alpha_shape, dtype=torch.float64)
             for name in model.arch}
    for cell in model.net.cells:
        name = getattr(cell, "cell_type", None)
        if name not in costs:
            continue
        columns = {o: i for i, o in enumerate(model.layout(name).ops)}
        for e, edge in enumerate(cell.edges):
            for op_name, op in zip(edge.op_names, edge.ops):
                if measure == "params":
                    value = count_parameters(op)
                elif id(op) in shapes:
                    value = count_macs(op, shapes[id(op)])
                else:
                    value = 0
                costs[name][e, columns[op_name]] += value / 1e6
    return costs


class Cost(Regulariser):
    """weight * sum of mixing weight times op cost (module docstring); on the architecture
    loss."""

    def __init__(self, weight: float = 0.01, measure: str = "macs"):
        self.weight, self.measure = weight, measure
        self.costs: dict[str, Tensor] | None = None
        self.image_shape: tuple[int, ...] | None = None  # of the supernet's inputs
        self._hook = None
        self.last = 0.0

    def epoch_start(self, model: nn.Module, epoch: int, epochs: int) -> None:
        """Watch the supernet's inputs: the multiply-adds are counted at their image size."""
        if self._hook is None and self.image_shape is None:
            def seen(module: nn.Module, args: tuple) -> None:
                self.image_shape = tuple(args[0].shape[1:])
                self._hook.remove()
            self._hook = model.register_forward_pre_hook(seen)

    def _costs(self, model: nn.Module) -> dict[str, Tensor]:
        if self.costs is None:
            if self.image_shape is None:
                raise ValueError("the cost regulariser has not seen an input of the supernet "
                                 "yet (set image_shape, or call epoch_start before the steps)")
            self.costs = op_costs(model, self.image_shape, self.measure)
        return self.costs

    def expected(self, model: nn.Module) -> Tensor:
        """sum over cell types, edges, ops of w_eo * gamma_e * cost_eo (differentiable)."""
        total = None
        for name, cost in self._costs(model).items():
            w, gamma = model.arch_weights(name)
            if gamma is not None:
                w = w * gamma.unsqueeze(1)
            term = (w * cost.to(w.device, w.dtype)).sum()
            total = term if total is None else total + term
        return total

    def loss(self, model: nn.Module, phase: str) -> Tensor | None:
        if phase != "arch":
            return None
        expected = self.expected(model)
        self.last = float(expected.detach())
        return self.weight * expected

    def epoch_end(self, model: nn.Module, epoch: int) -> dict[str, float]:
        return {f"cost_{self.measure}": self.last}
