# eDARTS search recipe: S. Siddiqui, C. Kyrkou, T. Theocharides, "Operation and Topology Aware
# Fast Differentiable Architecture Search", ICPR 2020 (paper 001), §III-B/C and §IV-B/C/E.
#
# What eDARTS changes in the DARTS search, and nothing else ("other than reducing the dataset
# for search and reducing architectural parameter updates, all of the search settings are
# exactly that of the search scenario from DARTS", §IV-B):
# - a pre-specified path: only the ops along 8 fixed edges are searched, every edge is kept
#   (§III-B, §IV-D; the path is the one of specs/spaces/edarts.gs, see the note there);
# - operation attention: after every architecture update the constants +0.0006 sep_conv_3x3,
#   +0.0004 sep_conv_5x5, -0.0006 dil_conv_5x5, -0.0004 dil_conv_3x3 are added to alpha
#   (§IV-C; see genospec/relax/bias.py for how genospec reads that sentence);
# - sparse update: one architecture step per epoch, after the weights have seen the whole epoch,
#   and no warm-up (§III-C, Table II "Epoch Update");
# - a data subset: 2,500 images train the weights and 2,500 drive the architecture (§IV-B);
# - a shallow 5-cell supernet with 16 initial channels (§IV-E).
# The DARTS settings it keeps: 50 epochs ("for full 50 epochs", §III-C), batch 64, SGD lr
# 0.025 -> 0.001 cosine, momentum 0.9, decay 3e-4, clip 5, Adam 3e-4 with betas 0.5/0.999 and
# decay 1e-3, and DARTS' second-order architecture gradient (§IV-B: "the exact same settings as
# the original DARTS (2nd order...)"); with one architecture step per epoch its cost is small.
#
# Selection: the argmax op on every edge, never the zero op (DARTS' rule; eDARTS "only
# discretizes operations"). specs/spaces/edarts.gs declares its path `topology keep all`, under
# which genospec lets the zero op be chosen (an edge may be removed, as in NAS-Bench-201); the
# space below keeps the same path with `topology pick 2`: every node has exactly 2 path edges,
# so both are kept, and the zero op is searched but never selected.
#
# The paper searches CIFAR-10/100 (`--data cifar10 --data-root DIR`); this recipe defaults to
# Fashion-MNIST so it runs out of the box.
#
# `--quick`: an 8-channel supernet for 4 epochs on 320 + 320 images with a larger architecture
# learning rate: minutes on two CPU cores, for trying the tool, not for results.

import "../spaces/edarts.gs"

space edarts_path extends edarts {
  cell normal {
    topology pick 2
  }
  cell reduce {
    topology pick 2
  }
}

search edarts_search of edarts_path {
  data fashion_mnist
  split 0.5
  subset 2500, 2500
  batch 64
  seed 2
  quick {
    subset 320, 320
    batch 32
  }
  stage operations {
    epochs 50
    supernet cells 5 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel second_order every epoch
    bias sep_conv_3x3=0.0006 sep_conv_5x5=0.0004 dil_conv_5x5=-0.0006 dil_conv_3x3=-0.0004
    select magnitude
    quick {
      epochs 4
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
}
