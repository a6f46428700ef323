# DOTS topology search on top of a DARTS operation search: Y.-C. Gu et al., "DOTS: Decoupling
# Operation and Topology in Differentiable Architecture Search", CVPR 2021 (paper 002), §4.2.1
# and Table 2 ("Improving existing gradient-based NAS methods by the topology search"); paper
# 000 §4.3 and Table 5 (EATS on DARTS' operations).
#
# Stage `operations` is the DARTS search (first order, as darts.gs: 50 epochs, 8 cells, C = 16,
# SGD lr 0.025 -> 0.001 cosine, momentum 0.9, decay 3e-4, clip 5, Adam 3e-4 with betas
# 0.5/0.999 and decay 1e-3), but instead of DARTS' edge pruning it keeps the strongest non-zero op
# on every edge (`select best per edge`, DOTS' "DARTS-Top1", paper 002 eq. 14 and Table 4b): a
# reduced space with one op per edge and every edge still there. Stage `topology` is the DOTS
# topology stage as in dots.gs (paper 000 appendix A.2: 35 epochs, the first 15 weights only,
# 17 cells, one-level updates, Adam 1e-4 with the released code's betas 0.9/0.999, edge
# temperature 10 decaying by 0.72 to 0.02) choosing each node's pair of inputs. This recipe follows
# the earlier version (paper 000); `dots_on_darts_cvpr` below the CVPR one. With one op per
# edge there is no op mixture left to anneal, so that stage relaxes the edges only.
#
# For DARTS' second order (Table 2, "DARTS (2nd)"), write `update bilevel second_order` in the
# operations stage. The paper searches CIFAR-10 (`--data cifar10 --data-root DIR`); this recipe
# defaults to Fashion-MNIST so it runs out of the box.
#
# `--quick`: 5-cell, 8-channel supernets on 320 + 320 images, 4 DARTS epochs then 3 topology
# epochs (1 of warm-up) with a temperature range over the two annealing epochs, larger
# architecture learning rates: minutes on two CPU cores, for trying the tool, not for results.

import "../spaces/darts.gs"

search dots_on_darts of darts {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
  quick {
    subset 320, 320
    batch 32
  }
  stage operations {
    epochs 50
    supernet cells 8 channels 16
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    select best per edge
    quick {
      epochs 4
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
  stage topology {
    epochs 35
    warmup 15
    supernet cells 17 channels 16
    arch adam lr 1e-4 betas 0.9, 0.999 decay 1e-3
    update onelevel
    relax edges combination temperature 10 decay 0.72 min 0.02
    select best combination
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      arch adam lr 3e-3
      relax edges combination temperature 10 -> 0.02
    }
  }
}

# DOTS on DARTS as the CVPR paper runs it (paper 002 §4.2.1 and §5.1, Table 2; supplement 003
# §1): the DARTS operation search, then eq. 14, "the operation with the maximum weight is
# retained on each edge (i, j): o(i,j) = arg max_{o in O} alpha_o(i,j)", over all of O, so the
# zero op may be the op an edge keeps (`best per edge with_zero`; the topology stage can then
# keep that edge only as a zero op, an input the node does not use). The topology stage: "40
# for the topology search", "the first half epochs" of it weights only (20), "20 cells for the
# topology search", one-level on all the training data (`split 1`), edge temperature from 10
# decaying by 0.72 to 0.02 (003 §1).
search dots_on_darts_cvpr of darts {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
  quick {
    subset 320, 320
    batch 32
  }
  stage operations {
    epochs 50
    supernet cells 8 channels 16
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    select best per edge with_zero
    quick {
      epochs 4
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
  stage topology {
    epochs 40
    warmup 20
    split 1
    supernet cells 20 channels 16
    arch adam lr 1e-4 betas 0.9, 0.999 decay 1e-3
    update onelevel
    relax edges combination temperature 10 decay 0.72 min 0.02
    select best combination
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      arch adam lr 3e-3
      relax edges combination temperature 10 -> 0.02
    }
  }
}
