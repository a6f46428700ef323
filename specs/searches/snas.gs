# SNAS: S. Xie, H. Zheng, C. Liu, L. Lin, "SNAS: Stochastic Neural Architecture Search",
# ICLR 2019: §2.2 (eq. 3: the concrete relaxation, softmax((log alpha + G) / lambda) with
# Gumbel noise G), §2.3 (one loss for weights and architecture) and §3.1 (search protocol).
# Hyper-parameters from the released code, SNAS-Series/SNAS-Series (SNAS/train_search.py and its
# README's command): 150 epochs, 8 cells with 16 channels, batch 64, SGD lr 0.025 -> 0.001 cosine,
# momentum 0.9, weight decay 3e-4, clipping 5; Adam for alpha, lr 3e-4, betas 0.5, 0.999, weight
# decay 1e-3; temperature 1 -> 0.03 annealed linearly (utils.Temp_Scheduler); weights and alpha
# step together on each training batch (`update onelevel`). Followed: the code.
#
# Departures: the code's temperature schedule already takes its first step before epoch 1
# (epoch 1 at 0.9935) and hard-codes 150 epochs; here T runs 1 -> 0.03 over the stage's epochs.
# The code initialises alpha ~ N(1, 0.01) (the mean is irrelevant to softmax), genospec 1e-3 *
# N(0, 1). Not here: the resource constraint (--resource_efficient, lambda 1.5e-3 in the README)
# and drop path 0.3 during search. The code trains on the whole training set; one-level updates
# here use the training part of `split 0.5` (the other half reports validation accuracy).
# Selection is DARTS' magnitude rule without `none`; the code's genotype() ranks with `none`.
#
# `--quick`: a 5-cell, 8-channel supernet, 4 epochs on 192 + 192 images: minutes on two cores.

import "../spaces/darts.gs"

search snas of darts {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 192, 192
    batch 32
  }
  stage search {
    epochs 150
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update onelevel
    relax ops snas temperature 1 -> 0.03 per epoch
    select magnitude
    quick {
      epochs 4
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
}
