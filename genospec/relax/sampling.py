"""Sampling op relaxations: GDAS, SNAS and DrNAS draw the op weights w[E, O] at every forward.

- ``gdas`` (Dong & Yang, "Searching for A Robust Neural Architecture in Four GPU Hours",
  CVPR 2019, §3.2 eq. 5-7): Gumbel-max sampling with a straight-through Gumbel-softmax gradient.
  h = one_hot(argmax_o (log p_o + G_o)) with p = softmax(alpha) and G_o = -log(-log U_o); the
  gradient is that of the soft weights softmax((log p + G) / T) (eq. 7). The forward value is
  exactly one-hot, so the supernet computes only the sampled op of each edge; with ``carry`` on
  (the default, as the released NAS-Bench-201 cell, AutoDL-Projects search_cells.py
  ``forward_gdas``) the weights of the ops not sampled (value 0) are added to the edge output
  as scalars, so alpha takes the gradient of every weight; ``sampled_only`` (the released
  NASNet/DARTS-space cell) keeps only the sampled op's weight.
- ``snas`` (Xie et al., "SNAS: Stochastic Neural Architecture Search", ICLR 2019, §2.2 eq. 3):
  the concrete (soft Gumbel-softmax) relaxation w = softmax((log p + G) / T) with p ∝ exp(alpha),
  every op computed.
- ``drnas`` (Chen et al., "DrNAS: Dirichlet Neural Architecture Search", ICLR 2021, §2.2):
  w ~ Dir(beta) with concentration beta = elu(alpha) + 1, drawn by the reparameterised (pathwise)
  sampler of torch.distributions.Dirichlet (``rsample``); no temperature. Its KL term towards a
  Dirichlet prior is `dirichlet_kl` (the ``dirichlet_kl`` regulariser,
  `genospec.search.dirichlet`).

``group_gdas`` and ``group_snas`` (recipe: ``relax groups gdas ...``) sample within each op
group of the space (DOTS groups): one draw per group on each edge, the group mixtures summed as
in DOTS' group softmax.

Candidates only: every relaxation is exactly 0 where ``layout.mask`` is False (DrNAS samples the
candidates' Dirichlet, as the released code zeroes pruned ops and renormalises). Selection and
pictures read `OpRelaxation.selection_weights`: softmax(alpha) for all three, as the released
codes derive their genotypes (GDAS/SNAS/DrNAS ``genotype()``).

Randomness: every draw comes from torch's global generator, which the search engine seeds from
the run's seed stream before a stage builds its supernet and saves in every checkpoint, so a
seeded search repeats and a resumed one continues with the very same draws (and every process
of a distributed run draws the same architecture).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import SpecError
from .layout import CellLayout, on
from .ops import OpRelaxation, _check, masked_softmax


def _gumbel(like: Tensor) -> Tensor:
    """Standard Gumbel noise G = -log(E), E ~ Exp(1) (= -log(-log U)), finite everywhere."""
    e = torch.empty_like(like).exponential_()
    return -e.clamp_min(torch.finfo(like.dtype).tiny).log()


def _log_probs(alpha: Tensor, mask: Tensor) -> Tensor:
    """log softmax(alpha) over the candidates (-inf elsewhere; all-masked rows stay finite)."""
    keep = mask | ~mask.any(dim=-1, keepdim=True)
    return torch.log_softmax(alpha.masked_fill(~keep, float("-inf")), dim=-1)


def _groups(layout: CellLayout, alpha: Tensor, grouped: bool) -> list[Tensor]:
    """The candidate masks to sample within: one per op group, or the whole edge."""
    mask = on(layout.mask, alpha)
    if not grouped:
        return [mask]
    if layout.group_of is None:
        raise SpecError(f"a group relaxation on cell {layout.cell_name!r} needs a space with "
                        "`groups`")
    group_of = on(layout.group_of, alpha)
    return [mask & (group_of == g) for g in range(len(layout.group_names or ()))]


class _Gumbel(OpRelaxation):
    """Gumbel-softmax over each edge's candidates (or each group's); ``anneal`` is read by the
    temperature schedule (`genospec.search.config.temperature`), not here."""

    grouped = False

    def __init__(self, anneal: str = "linear"):
        self.anneal = anneal

    def soft(self, alpha: Tensor, mask: Tensor, temperature: float) -> Tensor:
        """softmax((log p + G) / T) over ``mask`` (SNAS eq. 3, GDAS eq. 7), exactly 0 off it."""
        z = (_log_probs(alpha, mask) + _gumbel(alpha)) / temperature
        return masked_softmax(z, mask)

    def selection_weights(self, alpha: Tensor, layout: CellLayout,
                          temperature: float = 1.0) -> Tensor:
        """softmax(alpha) per edge (per group), as the released codes' ``genotype()``."""
        w = torch.zeros_like(alpha)
        for m in _groups(layout, alpha, self.grouped):
            w = w + masked_softmax(alpha, m)
        return w


class GDAS(_Gumbel):
    """GDAS: hard one-hot forward, straight-through Gumbel-softmax gradient (eq. 5-7)."""

    straight_through = True

    def __init__(self, anneal: str = "linear", carry: bool = True):
        super().__init__(anneal)
        self.straight_through = carry

    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        _check(alpha, layout, temperature)
        w = torch.zeros_like(alpha)
        for m in _groups(layout, alpha, self.grouped):
            soft = self.soft(alpha, m, temperature)
            # eq. 5: the sampled op is the argmax of log p + G, which dividing by T keeps
            index = soft.masked_fill(~m, -1.0).argmax(dim=-1, keepdim=True)
            hard = torch.zeros_like(soft).scatter_(-1, index, 1.0) * m.any(-1, keepdim=True)
            # value exactly `hard`, gradient exactly that of `soft` (straight-through, eq. 7)
            w = w + (hard + (soft - soft.detach()))
        return w


class SNAS(_Gumbel):
    """SNAS: the soft concrete relaxation (eq. 3); every op takes part."""

    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        _check(alpha, layout, temperature)
        w = torch.zeros_like(alpha)
        for m in _groups(layout, alpha, self.grouped):
            w = w + self.soft(alpha, m, temperature)
        return w


class GroupGDAS(GDAS):
    """GDAS within each op group (DOTS groups): one sampled op per group on every edge."""

    grouped = True


class GroupSNAS(SNAS):
    """SNAS within each op group (DOTS groups)."""

    grouped = True


def concentration(alpha: Tensor) -> Tensor:
    """DrNAS concentration beta = elu(alpha) + 1 > 0 (paper §2.2; released model_search.py)."""
    return torch.nn.functional.elu(alpha) + 1


class DrNAS(OpRelaxation):
    """DrNAS: w ~ Dir(elu(alpha) + 1) over each edge's candidates, reparameterised."""

    def weights(self, alpha: Tensor, layout: CellLayout, temperature: float = 1.0) -> Tensor:
        _check(alpha, layout, temperature)
        if temperature != 1.0:
            raise SpecError("the drnas relaxation takes no temperature",
                            hint="remove 'temperature' from 'relax ops drnas'")
        mask = on(layout.mask, alpha)
        # the non-candidates' concentrations only keep the draw defined: by the Dirichlet's
        # aggregation property the renormalised candidates are Dir(beta of the candidates)
        beta = torch.where(mask, concentration(alpha), torch.ones_like(alpha))
        x = torch.distributions.Dirichlet(beta).rsample() * mask
        return x / x.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)

    def selection_weights(self, alpha: Tensor, layout: CellLayout,
                          temperature: float = 1.0) -> Tensor:
        """softmax(alpha) over the candidates, as the released DARTS-space ``genotype()``."""
        return masked_softmax(alpha, on(layout.mask, alpha))


def dirichlet_kl(beta: Tensor, prior: float | Tensor, mask: Tensor) -> Tensor:
    """KL(Dir(beta_e) || Dir(prior)) of every row e over its candidates (``mask``), closed form:
    log Γ(a0) - Σ log Γ(a_i) - log Γ(b0) + Σ log Γ(b_i) + Σ (a_i - b_i)(ψ(a_i) - ψ(a0)),
    a = beta, b = prior, a0/b0 their sums over the candidates (DrNAS §2.2, the regulariser
    d(beta, beta_hat) towards the anchor beta_hat; the released code's ``_get_kl_reg``)."""
    m = mask.to(beta.dtype)
    b = torch.as_tensor(prior, dtype=beta.dtype, device=beta.device).expand_as(beta)
    a = torch.where(mask, beta, torch.ones_like(beta))
    b = torch.where(mask, b, torch.ones_like(b))
    has = mask.any(-1)
    one = torch.ones_like(has, dtype=beta.dtype)
    a0 = torch.where(has, (a * m).sum(-1), one)  # rows without candidates: 0 below
    b0 = torch.where(has, (b * m).sum(-1), one)
    kl = (torch.lgamma(a0) - (torch.lgamma(a) * m).sum(-1) - torch.lgamma(b0)
          + (torch.lgamma(b) * m).sum(-1)
          + ((a - b) * (torch.digamma(a) - torch.digamma(a0).unsqueeze(-1)) * m).sum(-1))
    return kl * has
