# FairDARTS: X. Chu, T. Zhou, B. Zhang, J. Li, "Fair DARTS: Eliminating Unfair Advantages in
# Differentiable Architecture Search", ECCV 2020, and its released code (xiaomi-automl/FairDARTS,
# fairdarts/train_search.py, separate_loss.py, utils.parse, README).
#
# Independent sigmoids instead of softmax (`relax ops sigmoid`, §4), the zero-one loss
# w_{0-1} * (-mean (sigma - 0.5)^2) with w_{0-1} = 10 on the architecture loss (§4.2;
# `--aux_loss_weight 10`), and the threshold selection: each node's two strongest edges, each
# kept when its best sigmoid reaches 0.85 (`--parse_method threshold_sparse --op_threshold
# 0.85`), on the DARTS ops without `none` with 1 or 2 inputs per node
# (specs/spaces/fair_darts.gs). Training as the code's defaults and README command: 50 epochs,
# 8 cells, C = 16, batch 128, SGD lr 0.005 -> 0.001 cosine, momentum 0.9, decay 3e-4, clip 5;
# Adam lr 3e-3, betas 0.9/0.999 (`arch_lr_gamma 0.9`), decay 1e-3; first-order bilevel, seed 2.
#
# Paper and code: the code's README runs lr 0.005 and batch 128 (the DARTS defaults would be
# 0.025 and 64) and an architecture lr of 3e-3, ten times DARTS'; we follow the code. The code
# lets a node keep no input; genospec keeps at least one (topped up with the strongest edge).
#
# The paper searches CIFAR-10 (`--data cifar10 --data-root DIR`); this recipe defaults to
# Fashion-MNIST. `--quick`: a 5-cell, 8-channel supernet, 3 epochs on 192 + 192 images, a
# threshold of 0.6 (the sigmoids cannot reach 0.85 in so few steps); for trying the tool.

import "../spaces/fair_darts.gs"

search fair_darts of darts_fair {
  data fashion_mnist
  split 0.5
  batch 128
  seed 2
  quick {
    subset 192, 192
    batch 32
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.005 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-3 betas 0.9, 0.999 decay 1e-3
    update bilevel first_order
    relax ops sigmoid
    regularise zero_one 10
    select fair threshold 0.85
    quick {
      epochs 3
      supernet cells 5 channels 8
      select fair threshold 0.6
    }
  }
}
