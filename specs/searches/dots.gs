# DOTS search recipes: Y.-C. Gu, L.-J. Wang, Y. Liu, Y. Yang, Y.-H. Wu, S.-P. Lu, M.-M. Cheng,
# "DOTS: Decoupling Operation and Topology in Differentiable Architecture Search", CVPR 2021
# (paper 002, its supplement 003 and the earlier version 000), and its released code
# (guyuchao/DOTS, pytorch/train_search.py and model_search.py).
#
# Two stages. `operations`: group annealing operation search (paper 000 §3.1, eq. 4-8; paper 002
# §4.2, eq. 14-16) on the 8-cell DARTS supernet: a softmax with temperature inside each op group,
# bilevel first-order updates after weight-only warm-up epochs, then the best op of each group
# on every edge -> a reduced space (Group-V2: 2 ops per edge). `topology`: edge annealing
# topology search (paper 000 §3.2, eq. 9-12; paper 002 §4.1, eq. 5-10) on a deeper supernet:
# a softmax over each node's edge combinations aggregated into edge weights (eq. 7, with the
# CVPR paper's 1/N(c); add `sum` to the `relax edges` line for the released code's plain sum),
# one-level updates after warm-up, then the best combination of every node -> the genotype.
#
# `dots` takes its numbers from paper 000 appendix A.2 (CIFAR): 25 + 35 epochs, the first 15 of
# each stage weights only, 8 then 17 cells (paper 000 §4.3, Table 6), SGD lr 0.025 -> 0.001
# cosine, momentum 0.9, decay 3e-4, clip 5 (DARTS), Adam lr 1e-4 and decay 1e-3 for alpha and
# beta; op temperature T0 = 10, theta = 0.65 ending at 0.2; edge temperature T0 = 10,
# theta = 0.72 ending at 0.02. `dots_cvpr` takes the CVPR version's (paper 003 §1): 30 + 40
# epochs, the first half of each stage weights only, 8 then 20 cells. Neither paper gives
# Adam's betas; these recipes use the released code's (0.9, 0.999) and its batch of 64.
#
# Op temperature in the topology stage: T_alpha = T_beta / 1000 at every epoch (paper 002
# Fig. 3; the released code divides the op logits by 1e-3 * T), so that the ops on each edge
# settle before the topology does. The recipe states it as a second schedule with the same
# decay and every number divided by 1000 (`relax ops temperature 0.01 decay 0.72 min 0.00002`
# beside `relax edges ... temperature 10 decay 0.72 min 0.02`): the same schedule, epoch by
# epoch. Change both lines together.
#
# Data: the operation stage is bilevel on the two halves of the training set; the one-level
# topology stage trains on all of it (`split 1`): paper 000 eq. 12 writes both of its steps on
# L_train, its ImageNet search settings say "For the one-level optimization, both sets are used
# to update network weights and architecture weights simultaneously", and the released code
# trains the topology stage on the whole training set. Its per-epoch validation accuracy is
# measured on the test split.
#
# One learning-rate schedule over both stages (`cosine over run`): paper 000 A.2, "an initial
# learning rate of 0.025 (cosine decaying to 0.001 in 60 epochs)", paper 003 §1 the same "in 70
# epochs"; the topology stage's rate goes on from where the operation stage's ended.
#
# Difference from the papers, from how genospec stages work: alpha starts at 1e-3 * N(0, 1) in
# both stages (the code: 0).
#
# The papers search CIFAR-10 (`--data cifar10 --data-root DIR`); these recipes default to
# Fashion-MNIST so they run out of the box.
#
# `--quick`: 5-cell, 8-channel supernets for 3 epochs per stage (1 of warm-up) on 320 + 320
# images, a larger architecture learning rate and temperature ranges over the two annealing
# epochs: minutes on two CPU cores, for trying the tool, not for results.

import "../spaces/darts_groups.gs"

# DOTS with flexible edge numbers (paper 002 §4.1.2, Table 4a "arbitrary"): Group-V2 groups and
# every non-empty subset of a node's incoming edges (`pick any`, 2^n - 1 combinations, eq. 11-13).
space darts_group_v2_pick_any extends darts_group_v2 {
  cell normal {
    topology pick any
  }
  cell reduce {
    topology pick any
  }
}

# DOTS, Group-V2 (the default), two inputs per node: paper 000 appendix A.2.
search dots of darts_group_v2 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  weights sgd lr 0.025 -> 0.001 cosine over run momentum 0.9 decay 3e-4 clip 5
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
    relax groups temperature 10 decay 0.65 min 0.2
    select best per group
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      relax groups temperature 10 -> 0.2
    }
  }
  stage topology {
    epochs 35
    warmup 15
    split 1
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

# DOTS with Group-V1 (StacNAS' four groups, no zero op): four ops survive on each edge
# (paper 002 Table 4b); otherwise as `dots`.
search dots_group_v1 of darts_group_v1 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  weights sgd lr 0.025 -> 0.001 cosine over run momentum 0.9 decay 3e-4 clip 5
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
    relax groups temperature 10 decay 0.65 min 0.2
    select best per group
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      relax groups temperature 10 -> 0.2
    }
  }
  stage topology {
    epochs 35
    warmup 15
    split 1
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

# DOTS with flexible edge numbers: a node keeps the edge subset of largest beta, of any size
# (paper 002 §4.1.2 and Table 4a); otherwise as `dots`.
search dots_flexible of darts_group_v2_pick_any {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  weights sgd lr 0.025 -> 0.001 cosine over run momentum 0.9 decay 3e-4 clip 5
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
    relax groups temperature 10 decay 0.65 min 0.2
    select best per group
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      relax groups temperature 10 -> 0.2
    }
  }
  stage topology {
    epochs 35
    warmup 15
    split 1
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

# DOTS as the CVPR version runs it (paper 003 §1, paper 002 §5.1): 30 + 40 epochs, the first
# half of each stage weights only, a 20-cell topology supernet; the edge temperature decays from
# 10 by 0.72 to 0.02. The CVPR text gives no op-stage temperature (the released code keeps
# T = 1 there); paper 000's annealing is kept.
search dots_cvpr of darts_group_v2 {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  weights sgd lr 0.025 -> 0.001 cosine over run momentum 0.9 decay 3e-4 clip 5
  arch adam lr 1e-4 betas 0.9, 0.999 decay 1e-3
  quick {
    subset 320, 320
    batch 32
    arch adam lr 3e-3
  }
  stage operations {
    epochs 30
    warmup 15
    supernet cells 8 channels 16
    update bilevel first_order
    relax groups temperature 10 decay 0.65 min 0.2
    select best per group
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      relax groups temperature 10 -> 0.2
    }
  }
  stage topology {
    epochs 40
    warmup 20
    split 1
    supernet cells 20 channels 16
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
