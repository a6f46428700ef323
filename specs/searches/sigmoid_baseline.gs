# The edge-level sigmoid baseline of DOTS: Y.-C. Gu et al., "DOTS: Decoupling Operation and
# Topology in Differentiable Architecture Search", CVPR 2021 (paper 002), §5.3 and Table 4a
# ("Edge-Level Sigmoid", arbitrary edge numbers): "replace the softmax activation with sigmoid
# activation on the edge weights and binarize the choice with a threshold".
#
# The operation stage is DOTS' (dots.gs, paper 000 appendix A.2: Group-V2 group annealing,
# 25 epochs, the first 15 weights only). The topology stage is DOTS' with its combination
# softmax replaced: one logit per edge, edge weight gamma = sigmoid(beta) (`relax edges
# sigmoid`, beta starting at 0, i.e. gamma = 0.5), and each node keeps the edges whose gamma
# exceeds 0.5 (`select threshold 0.5`; at least one edge per node, as the `pick any` topology
# requires). The paper gives no threshold and no temperature for this baseline: 0.5 is the
# sigmoid's midpoint and the sigmoid is not annealed. The ops on each edge are annealed as in
# DOTS (T_alpha from 0.01 decaying by 0.72 to 0.00002), so that only the topology
# parameterisation differs from dots_flexible.
#
# The paper searches CIFAR-10/100 (`--data cifar10 --data-root DIR`); this recipe defaults to
# Fashion-MNIST so it runs out of the box.
#
# `--quick`: 5-cell, 8-channel supernets for 3 epochs per stage (1 of warm-up) on 320 + 320
# images with a larger architecture learning rate: minutes on two CPU cores, for trying the
# tool, not for results.

import "dots.gs"

search sigmoid_baseline of darts_group_v2_pick_any {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
  arch adam lr 1e-4 betas 0.9, 0.999 decay 1e-3
  quick {
    subset 320, 320
    batch 32
    arch adam lr 3e-3
  }
  stage operations {
    epochs 25
    warmup 15
    supernet cells 8 channels 16
    update bilevel first_order
    relax groups temperature 10 decay 0.65 min 0.2
    select best per group
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      relax groups temperature 10 -> 0.2
    }
  }
  stage topology {
    epochs 35
    warmup 15
    supernet cells 17 channels 16
    update onelevel
    relax edges sigmoid
    relax ops temperature 0.01 decay 0.72 min 0.00002
    select threshold 0.5
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      relax ops temperature 0.01 -> 0.00002
    }
  }
}
