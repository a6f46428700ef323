# Compositions of the sampling relaxations with other methods' parts that no NAS library offers
# as one configuration (automl/ConfigurableOptimizer, NASLib and NNI ship GDAS, SNAS and DrNAS
# samplers, but not over DOTS' op groups, nor with DOTS' topology stage or DARTS-PT's selection).
# Each stage's settings are its parent methods' (gdas.gs, drnas.gs, dots.gs, darts_pt.gs); they
# are experiments, not published protocols.
#
#   dots_group_gdas  DOTS (paper 002) with GDAS sampling inside each op group: the operation
#                    stage draws one op per group on every edge (Gumbel-max, straight-through;
#                    `relax groups gdas`), keeps each group's winner, then DOTS' topology stage.
#   dots_group_snas  the same with SNAS' soft Gumbel relaxation inside each group.
#   drnas_pt_s2      DrNAS' Dirichlet relaxation on RobustDARTS S2 (skip_connect | sep_conv_3x3
#                    on every edge), selected by DARTS-PT's perturbation rule (paper 004) with
#                    fine-tuning between decisions instead of alpha's magnitude.
#
# `--quick`: 5-cell, 8-channel supernets, a few epochs on a few hundred images.

import "../spaces/darts_groups.gs"
import "../spaces/robust_darts.gs"

search dots_group_gdas of darts_group_v2 {
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
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    relax groups gdas temperature 10 -> 0.1 per epoch
    select best per group
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
    }
  }
  stage topology {
    epochs 35
    warmup 15
    supernet cells 17 channels 16
    update onelevel
    relax edges combination temperature 10 decay 0.72 min 0.02
    relax ops temperature 0.01 decay 0.72 min 0.00002
    select best combination
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      relax edges combination temperature 10 -> 0.02
      relax ops temperature 0.01 -> 0.00002
    }
  }
}

search dots_group_snas of darts_group_v2 {
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
    relax groups snas temperature 1 -> 0.03 per epoch
    select best per group
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
    }
  }
  stage topology {
    epochs 35
    warmup 15
    supernet cells 17 channels 16
    update onelevel
    relax edges combination temperature 10 decay 0.72 min 0.02
    relax ops temperature 0.01 decay 0.72 min 0.00002
    select best combination
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      relax edges combination temperature 10 -> 0.02
      relax ops temperature 0.01 -> 0.00002
    }
  }
}

search drnas_pt_s2 of robust_darts_s2 {
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
    arch adam lr 6e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    relax ops drnas
    finetune 5
    select perturbation
    quick {
      epochs 2
      supernet cells 5 channels 8
      arch adam lr 6e-3
      finetune 1
    }
  }
}
