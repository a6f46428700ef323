# DARTS search recipes: H. Liu, K. Simonyan, Y. Yang, "DARTS: Differentiable Architecture
# Search", ICLR 2019, §3.1 and §A.1.1 (CNN search), and its released code (quark0/darts,
# cnn/train_search.py): 50 epochs on half of the training set (the other half drives the
# architecture), an 8-cell supernet with 16 initial channels, batch 64, SGD lr 0.025 annealed
# to 0.001 by cosine, momentum 0.9, weight decay 3e-4, gradient clipping 5; Adam for the
# architecture with lr 3e-4, betas (0.5, 0.999) and weight decay 1e-3; seed 2. The genotype
# keeps the two strongest non-zero inputs of every node (DARTS magnitude selection).
#
# The paper searches CIFAR-10 (`--data cifar10 --data-root DIR`); these recipes default to
# Fashion-MNIST so they run out of the box.
#
# `--quick` runs a 5-cell, 8-channel supernet for 4 epochs on 192 + 192 images, with a
# larger architecture learning rate so the weights move in so few steps: minutes on two CPU
# cores, for trying the tool, not for results.

import "../spaces/darts.gs"

search darts_first_order of darts {
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
    select magnitude
    quick {
      epochs 4
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
}

# Second order: the unrolled architecture gradient (DARTS eq. 7-8), xi = the weights' lr.
# A step costs about three first-order steps, so --quick uses a third of the images.
search darts_second_order of darts {
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
    update bilevel second_order
    select magnitude
    quick {
      epochs 4
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
}
