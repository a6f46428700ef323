# PC-DARTS: Y. Xu, L. Xie, X. Zhang, X. Chen, G.-J. Qi, Q. Tian, H. Xiong, "PC-DARTS: Partial
# Channel Connections for Memory-Efficient Architecture Search", ICLR 2020 (§3.2 partial channel
# connections, §3.3 edge normalization, §4.2 CIFAR-10 settings), and its released code
# (yuhuixu1993/PC-DARTS, train_search.py, model_search.py, architect.py).
#
# Partial channels with K = 4 (`supernet pc 4`: 1/4 of each edge's channels go through its ops,
# the rest bypass, then a channel shuffle), edge normalisation (`relax edges normalisation`: a
# softmax over each node's incoming edges' beta multiplies each edge's output), DARTS' magnitude
# selection on op weights times edge weights (the code's genotype()). 50 epochs, the first 15
# weights only (`warmup 15`: the code updates the architecture from epoch 15 on), 8 cells, C = 16,
# batch 256, SGD lr 0.1 annealed by cosine to 0 (code: learning_rate_min 0.0), momentum 0.9,
# decay 3e-4, clip 5; Adam lr 6e-4, betas 0.5/0.999, decay 1e-3; first order; half of the
# training set drives the architecture; seed 2.
#
# Paper and code agree on these numbers. Departure: the code initialises beta as 1e-3 * N(0, 1);
# genospec starts every beta at 0 (all edges of a node equally weighted), as it does for every
# edge relaxation.
#
# The paper searches CIFAR-10 (`--data cifar10 --data-root DIR`); this recipe defaults to
# Fashion-MNIST. `--quick`: a 5-cell, 8-channel supernet, 4 epochs (1 of warm-up) on 256 + 256
# images, batch 64, larger architecture learning rate: for trying the tool, not for results.

import "../spaces/darts.gs"

search pc_darts of darts {
  data fashion_mnist
  split 0.5
  batch 256
  seed 2
  quick {
    subset 256, 256
    batch 64
  }
  stage search {
    epochs 50
    warmup 15
    supernet cells 8 channels 16 pc 4
    weights sgd lr 0.1 -> 0 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 6e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    relax edges normalisation
    select magnitude
    quick {
      epochs 4
      warmup 1
      supernet cells 5 channels 8 pc 4
      arch adam lr 6e-3
    }
  }
}
