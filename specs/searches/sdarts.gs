# SDARTS recipes: X. Chen, C.-J. Hsieh, "Stabilizing Differentiable Architecture Search via
# Perturbation-based Regularization", ICML 2020, and its released code
# (chenxiangning/SmoothDARTS, sota/cnn/train_search.py and attacker/perturb.py; read through
# public forks, as the repository itself could not be fetched here).
#
# A DARTS search (first order; 50 epochs, 8 cells, C = 16, batch 64, SGD lr 0.025 -> 0.001
# cosine, momentum 0.9, decay 3e-4, clip 5; Adam 3e-4, betas 0.5/0.999, decay 1e-3; seed 2;
# the code's defaults, which are DARTS') whose weight step runs at perturbed architecture
# weights, DARTS' own architecture step untouched:
#   sdarts_rs   SDARTS-RS: a uniform draw in [-eps, eps] per op weight (`regularise sdarts_random`)
#   sdarts_adv  SDARTS-ADV: a 7-step L-inf PGD attack on the op weights, step 2 eps / 7, from a
#               random start (`regularise sdarts_adv`)
# eps grows linearly from 0.03 to 0.3 over the epochs (code: epsilon_alpha 0.3,
# eps = 0.03 + (0.3 - 0.03) * epoch / epochs); the weights are the softmax of alpha, projected
# back to [0, 1] and renormalised after each change (the code's `clip`).
#
# Paper and code: the paper's text was not available here, so every number above is the
# released code's; the code perturbs the softmaxed weights rather than the logits alpha (write
# `space alpha` to perturb the logits). genospec attacks with batch-statistics BN (the code:
# eval mode, running statistics) and leaves the running statistics alone (see
# genospec/search/regularisers.py). Selection: DARTS' magnitude rule, as the code's genotype().
#
# The paper searches CIFAR-10 (`--data cifar10 --data-root DIR`); these recipes default to
# Fashion-MNIST so they run out of the box.
#
# `--quick`: a 5-cell, 8-channel supernet for 3 epochs on 192 + 192 images (ADV: 64 + 64 and 2
# PGD steps, as each step costs steps + 2 extra forwards), a larger architecture learning rate;
# minutes on two CPU cores, for trying the tool, not for results.

import "../spaces/darts.gs"

search sdarts_rs of darts {
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
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    regularise sdarts_random epsilon 0.3 start 0.03
    select magnitude
    quick {
      epochs 3
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
}

search sdarts_adv of darts {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 64, 64
    batch 32
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    regularise sdarts_adv epsilon 0.3 start 0.03 steps 7
    select magnitude
    quick {
      epochs 3
      supernet cells 5 channels 8
      arch adam lr 3e-3
      regularise sdarts_adv epsilon 0.3 start 0.03 steps 2
    }
  }
}
