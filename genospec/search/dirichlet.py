"""DrNAS' KL regulariser (recipe: ``regularise dirichlet_kl weight 1e-3 prior 1``).

Chen et al., "DrNAS: Dirichlet Neural Architecture Search", ICLR 2021, §2.2: the architecture
objective is E_{q(w|beta)}[L_val] + lambda * d(beta, beta_hat), d the KL divergence of the
Dirichlet Dir(beta), beta = elu(alpha) + 1, from an anchor (prior) Dir(beta_hat). The released
code (xiangning-chen/DrNAS, DARTS-space/model_search.py ``_get_kl_reg``) sums the KL over every
edge of both cell types with beta_hat = 1 and scales it by ``reg_scale``; it is added to the
loss of the architecture step only (``phase == "arch"``; one-level updates add it to the one
loss). Its default regulariser is the alternative l2 (``--reg_type l2``): Adam's weight decay of
``reg_scale`` on alpha, written ``arch adam ... decay 1e-3`` in a recipe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..relax.sampling import concentration, dirichlet_kl
from .hooks import Regulariser

if TYPE_CHECKING:
    from torch import Tensor, nn


class DirichletKL(Regulariser):
    """weight * Σ_cell types Σ_edges KL(Dir(elu(alpha_e) + 1) || Dir(prior)) over each edge's
    candidates, on the architecture step's loss."""

    def __init__(self, weight: float = 1e-3, prior: float = 1.0):
        self.weight = weight
        self.prior = prior

    def loss(self, model: "nn.Module", phase: str) -> "Tensor | None":
        if phase != "arch" or self.weight == 0:
            return None
        total = None
        for name, arch in model.arch.items():
            if not arch.alpha.requires_grad:
                continue
            kl = dirichlet_kl(concentration(arch.alpha), self.prior,
                              model.layout(name).mask).sum()
            total = kl if total is None else total + kl
        return None if total is None else self.weight * total

    def epoch_end(self, model: "nn.Module", epoch: int) -> dict[str, float]:
        """The unscaled KL at the epoch's end (metrics.jsonl ``dirichlet_kl``)."""
        import torch

        with torch.no_grad():
            kl = sum(float(dirichlet_kl(concentration(a.alpha), self.prior,
                                        model.layout(n).mask).sum())
                     for n, a in model.arch.items())
        return {"dirichlet_kl": kl}
