# DOTS topology search on top of GDAS and SNAS operation searches: Y.-C. Gu et al., "DOTS:
# Decoupling Operation and Topology in Differentiable Architecture Search", CVPR 2021 (paper
# 002), §4.2.1 and Table 2 ("Improving existing gradient-based NAS methods by the topology
# search"), as dots_on_darts.gs does for DARTS.
#
# Stage `operations` is the GDAS search of gdas.gs (CVPR 2019; AutoDL-Projects: tau 10 -> 0.1
# linear, SGD weight decay 5e-4, Adam 3e-4 with betas 0.5, 0.999 and decay 1e-3, batch 256, the
# DARTS-space cell computing the sampled op only) or the SNAS search of snas.gs (ICLR 2019;
# SNAS-Series: one-level updates, temperature 1 -> 0.03 linear, batch 64), each at its own epoch
# count (250 and 150); instead of the method's edge pruning it keeps the strongest non-zero op on
# every edge (`select best per edge`, DOTS' "Top1" of paper 002 eq. 14), judged by softmax(alpha)
# as the methods' own genotype() does. Stage `topology` is the DOTS topology stage of
# dots_on_darts.gs (paper 000 appendix A.2: 35 epochs, 15 of warm-up, 17 cells, one-level, Adam
# 1e-4 with betas 0.9, 0.999, edge temperature 10 decaying by 0.72 to 0.02), choosing each node's
# pair of inputs. The DOTS paper does not give the operation stages' settings for Table 2; these
# are the methods' own. Departures from gdas.gs and snas.gs apply here too.
#
# `--quick`: 5-cell, 8-channel supernets on 320 + 320 images, 4 operation epochs then 3
# topology epochs (1 of warm-up), larger architecture learning rates.

import "../spaces/darts.gs"

search dots_on_gdas of darts {
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
    epochs 250
    batch 256
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 5e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    relax ops gdas temperature 10 -> 0.1 per epoch sampled_only
    select best per edge
    quick {
      epochs 4
      batch 32
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

search dots_on_snas of darts {
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
    epochs 150
    supernet cells 8 channels 16
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update onelevel
    relax ops snas temperature 1 -> 0.03 per epoch
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
