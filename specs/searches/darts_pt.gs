# DARTS-PT recipes: R. Wang, M. Cheng, X. Chen, X. Tang, C.-J. Hsieh, "Rethinking Architecture
# Selection in Differentiable NAS", ICLR 2021 (paper 004), and its released code
# (ruocwang/darts-pt). A supernet is trained exactly as DARTS trains it (first order, 50 epochs,
# 8 cells, C = 16, batch 64, SGD lr 0.025 -> 0.001 cosine, momentum 0.9, decay 3e-4, clip 5;
# Adam 3e-4, betas 0.5/0.999, decay 1e-3; half of the training set drives the architecture;
# seed 2), then the architecture is selected by perturbation (Algorithm 1 and §4.2): edges in
# random order, each discretised to the op whose masking hurts validation accuracy most, then
# each node's inputs by removing the edge whose removal hurts least, with 5 epochs of
# fine-tuning between decisions (§5 and the appendix ablation on fine-tuning epochs, Fig. 9).
#
#   darts_pt_*  DARTS+PT: the supernet trains its alpha (Tables 2-4)
#   blank_pt_*  DARTS+PT (fix alpha): alpha held at 0 (`relax ops fixed`, §6, Tables 3-4)
#
# Spaces: the DARTS space without `none` (*_darts), RobustDARTS S1-S4 (*_s1 .. *_s4, §6.1) and
# NAS-Bench-201 (*_201, §5 and Fig. 4; 100 epochs and 5 cells per stage as the released code;
# operation selection only, since every edge is kept). The paper searches CIFAR-10 (`--data cifar10 --data-root DIR`); these
# recipes default to Fashion-MNIST so they run out of the box.
#
# `--quick`: a 5-cell, 8-channel supernet trained 2 epochs on 128 training and 64 validation
# images (a measurement is then one forward pass; the DARTS space takes 240 of them), one epoch
# of fine-tuning between decisions; for trying the tool on a CPU, not for results.

import "../spaces/darts_pt.gs"
import "../spaces/robust_darts.gs"
import "../spaces/nas_bench_201.gs"

# DARTS+PT on the DARTS space (7 ops, no `none`; Table 2).
search darts_pt_darts of darts_pt {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      arch adam lr 3e-3
      finetune 1
    }
  }
}

# The same selection on a supernet trained with alpha = 0 (Table 4).
search blank_pt_darts of darts_pt {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    update bilevel first_order
    relax ops fixed
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      finetune 1
    }
  }
}

# DARTS+PT on RobustDARTS S1: a different pair of ops on each edge (Table 3).
search darts_pt_s1 of robust_darts_s1 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      arch adam lr 3e-3
      finetune 1
    }
  }
}

# DARTS+PT (fix alpha) on RobustDARTS S1 (Table 4).
search blank_pt_s1 of robust_darts_s1 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    update bilevel first_order
    relax ops fixed
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      finetune 1
    }
  }
}

# DARTS+PT on RobustDARTS S2: skip_connect | sep_conv_3x3 (Table 3).
search darts_pt_s2 of robust_darts_s2 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      arch adam lr 3e-3
      finetune 1
    }
  }
}

# DARTS+PT (fix alpha) on RobustDARTS S2 (Table 4).
search blank_pt_s2 of robust_darts_s2 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    update bilevel first_order
    relax ops fixed
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      finetune 1
    }
  }
}

# DARTS+PT on RobustDARTS S3: none | skip_connect | sep_conv_3x3 (`none` is never selected) (Table 3).
search darts_pt_s3 of robust_darts_s3 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      arch adam lr 3e-3
      finetune 1
    }
  }
}

# DARTS+PT (fix alpha) on RobustDARTS S3 (Table 4).
search blank_pt_s3 of robust_darts_s3 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    update bilevel first_order
    relax ops fixed
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      finetune 1
    }
  }
}

# DARTS+PT on RobustDARTS S4: noise | sep_conv_3x3 (Table 3).
search darts_pt_s4 of robust_darts_s4 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      arch adam lr 3e-3
      finetune 1
    }
  }
}

# DARTS+PT (fix alpha) on RobustDARTS S4 (Table 4).
search blank_pt_s4 of robust_darts_s4 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 50
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    update bilevel first_order
    relax ops fixed
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      finetune 1
    }
  }
}

# DARTS+PT on NAS-Bench-201: 5 ops on each of the 6 edges, all edges kept (Fig. 4).
search darts_pt_201 of nas_bench_201 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 100
    supernet cells 15 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    finetune 5
    select perturbation ops
    quick {
      epochs 2
      supernet cells 5 channels 8
      arch adam lr 3e-3
      finetune 1
    }
  }
}

# DARTS+PT (fix alpha) on NAS-Bench-201 (Table 4).
search blank_pt_201 of nas_bench_201 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  quick {
    subset 128, 64
  }
  stage search {
    epochs 100
    supernet cells 15 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    update bilevel first_order
    relax ops fixed
    finetune 5
    select perturbation ops
    quick {
      epochs 2
      supernet cells 5 channels 8
      finetune 1
    }
  }
}
