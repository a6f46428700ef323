# DrNAS: X. Chen, R. Wang, M. Cheng, X. Tang, C.-J. Hsieh, "DrNAS: Dirichlet Neural
# Architecture Search", ICLR 2021: §2.2 (op weights ~ Dir(beta), beta = elu(alpha) + 1, pathwise
# gradients; the regulariser d(beta, beta_hat) towards an anchor Dirichlet), §2.4 (progressive
# learning) and §4 (settings). Hyper-parameters from the released code, xiangning-chen/DrNAS:
# DARTS-space/train_search.py (20 cells, 36 channels, batch 64, SGD lr 0.1 -> 0 cosine,
# momentum 0.9, weight decay 3e-4, clipping 5; Adam for alpha, lr 6e-4, betas 0.5, 0.999;
# regulariser `l2` of scale 1e-3, i.e. Adam's weight decay on alpha; partial channels 1/6;
# architecture updates from epoch 10) and 201-space/train_search.py (100 epochs, SGD lr 0.025 ->
# 0.001, Adam lr 3e-4 with weight decay 1e-3). Followed: the code, whose default regulariser is
# l2; `drnas_kl` uses the paper's KL term (`regularise dirichlet_kl`, anchor beta_hat = 1, scale
# 1e-3: the code notes the scale may need adjusting for KL).
#
# Departures: the code's DARTS-space search is progressive: 25 epochs with partial channels 1/6
# and all 8 ops, then the 4 strongest ops per edge kept and 25 epochs at 1/4, with the network's
# weights carried over (net2wider). That needs a top-k-ops selection rule between the stages;
# here one stage of 50 epochs at 1/6 stands in for it. Selection is DARTS' magnitude rule
# without `none` over softmax(alpha); the code's genotype() also ranks `none`.
#
# `--quick`: a 5-cell, 12-channel supernet (pc 6 needs channels divisible by 6), 4 epochs (the
# first weights only) on 192 + 192 images: minutes on two CPU cores.

import "../spaces/darts.gs"
import "../spaces/nas_bench_201.gs"

search drnas of darts {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 192, 192
    batch 32
  }
  stage search {
    epochs 50
    warmup 10
    supernet cells 20 channels 36 pc 6
    weights sgd lr 0.1 -> 0 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 6e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    relax ops drnas
    select magnitude
    quick {
      epochs 4
      warmup 1
      supernet cells 5 channels 12
      arch adam lr 6e-3
    }
  }
}

# The paper's KL regulariser instead of l2 (no weight decay on alpha).
search drnas_kl of darts {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 192, 192
    batch 32
  }
  stage search {
    epochs 50
    warmup 10
    supernet cells 20 channels 36 pc 6
    weights sgd lr 0.1 -> 0 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 6e-4 betas 0.5, 0.999 decay 0
    update bilevel first_order
    relax ops drnas
    regularise dirichlet_kl weight 1e-3 prior 1
    select magnitude
    quick {
      epochs 4
      warmup 1
      supernet cells 5 channels 12
      arch adam lr 6e-3
    }
  }
}

# DrNAS on NAS-Bench-201 (201-space/train_search.py): the argmax op on every edge.
search drnas_201 of nas_bench_201 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 192, 192
    batch 32
  }
  stage search {
    epochs 100
    supernet cells 15 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    relax ops drnas
    select best per edge
    quick {
      epochs 4
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
}
