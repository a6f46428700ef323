# GDAS: X. Dong, Y. Yang, "Searching for A Robust Neural Architecture in Four GPU Hours",
# CVPR 2019: §3.2 (eq. 5-7: Gumbel-max sampling of one op per edge, the straight-through
# Gumbel-softmax gradient), §3.3 and §4.1 (search protocol). Hyper-parameters from the released
# code, D-X-Y/AutoDL-Projects: scripts-search/NASNet-space-search-by-GDAS.sh and
# NAS-Bench-201-algos/GDAS.sh (tau_max 10, tau_min 0.1, arch Adam lr 3e-4 and weight decay 1e-3),
# exps/NAS-Bench-201-algos/GDAS.py (tau linear per epoch, tau_max - (tau_max - tau_min) *
# epoch / (epochs - 1); Adam betas 0.5, 0.999; gradient clipping 5),
# configs/search-opts/GDAS-NASNet-CIFAR.config (250 epochs, batch 256, SGD lr 0.025 -> 0.001
# cosine, momentum 0.9, weight decay 5e-4) and configs/search-archs/GDAS-NASNet-CIFAR.config
# (C = 16, N = 2 cells per stage: 8 cells). Followed: the code's numbers (the paper's text was
# not re-read for this recipe; where it differs, this recipe says the code).
#
# Departures: SGD without Nesterov momentum (the code sets nesterov; genospec's weight optimiser
# is plain SGD with momentum). Selection is DARTS' magnitude rule: the code instead keeps each
# node's two strongest (op, input) pairs over softmax(alpha) without `none`, which may take one
# input twice. The code's DARTS-space cell computes only the sampled op's term (`sampled_only`);
# its NAS-Bench-201 cell also adds the other ops' weights, value 0, so alpha takes their
# gradient (the default, gdas_201 below). GDAS (FRC) with the hand-designed reduction cell is
# not here. The paper searches CIFAR-10 (`--data cifar10 --data-root DIR`); these recipes
# default to Fashion-MNIST so they run out of the box.
#
# `--quick`: a 5-cell, 8-channel supernet, 4 epochs on 192 + 192 images, tau 10 -> 0.1 over
# them, a larger architecture learning rate: minutes on two CPU cores, for trying the tool.

import "../spaces/darts.gs"
import "../spaces/nas_bench_201.gs"

search gdas of darts {
  data fashion_mnist
  split 0.5
  batch 256
  seed 2
  quick {
    subset 192, 192
    batch 32
  }
  stage search {
    epochs 250
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 5e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    relax ops gdas temperature 10 -> 0.1 per epoch sampled_only
    select magnitude
    quick {
      epochs 4
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
}

# GDAS on NAS-Bench-201 (configs/nas-benchmark/algos/GDAS.config: batch 64, 250 epochs; 5 cells
# per stage): the edge output adds the unsampled ops' weights (value 0), as search_cells.py
# forward_gdas; the argmax op on every edge.
search gdas_201 of nas_bench_201 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 192, 192
    batch 32
  }
  stage search {
    epochs 250
    supernet cells 15 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 5e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    relax ops gdas temperature 10 -> 0.1 per epoch
    select best per edge
    quick {
      epochs 4
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
}
