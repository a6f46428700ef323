# DOTS topology search on top of a PC-DARTS operation search: Y.-C. Gu et al., "DOTS: Decoupling
# Operation and Topology in Differentiable Architecture Search", CVPR 2021 (paper 002), §4.2.1
# and Table 2 ("PC-DARTS" row with DOTS' topology search).
#
# Stage `operations` is the PC-DARTS search as pc_darts.gs (partial channels K = 4, edge
# normalisation, 50 epochs with 15 of warm-up, batch 256, SGD lr 0.1 -> 0, Adam 6e-4; PC-DARTS,
# ICLR 2020, §4.2 and its code), but instead of pruning edges it keeps the strongest non-zero op
# on every edge (`select best per edge`, DOTS' "DARTS-Top1", paper 002 eq. 14), as
# dots_on_darts.gs does for DARTS. Stage `topology` is DOTS' topology stage exactly as in
# dots_on_darts.gs (paper 000 appendix A.2: 35 epochs, 15 of warm-up, 17 cells, one-level, Adam
# 1e-4 betas 0.9/0.999, edge temperature 10 decaying by 0.72 to 0.02) on full channels: paper 002
# does not say whether the topology stage keeps partial channels; with one op per edge there is
# no memory to save, so we use full channels.
#
# The paper searches CIFAR-10; this recipe defaults to Fashion-MNIST. `--quick`: 5-cell, 8-channel
# supernets on 256 + 256 images, 3 PC-DARTS epochs (1 of warm-up), then 3 topology epochs (1 of
# warm-up): for trying the tool, not for results.

import "../spaces/darts.gs"

search dots_on_pc_darts of darts {
  data fashion_mnist
  split 0.5
  seed 2
  quick {
    subset 256, 256
    batch 64
  }
  stage operations {
    epochs 50
    warmup 15
    batch 256
    supernet cells 8 channels 16 pc 4
    weights sgd lr 0.1 -> 0 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 6e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    relax edges normalisation
    select best per edge
    quick {
      epochs 3
      warmup 1
      batch 64
      supernet cells 5 channels 8 pc 4
      arch adam lr 6e-3
    }
  }
  stage topology {
    epochs 35
    warmup 15
    batch 64
    supernet cells 17 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
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
