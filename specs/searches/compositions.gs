# Compositions of parts that no NAS library offers as one method (issue 15), each a recipe:
#
#   pc_darts_pt     PC-DARTS' supernet (partial channels K = 4, edge normalisation; pc_darts.gs)
#                   selected by DARTS-PT's perturbation with fine-tuning (darts_pt.gs), instead of
#                   magnitude: both papers' settings, DARTS-PT's 5 fine-tuning epochs.
#   dots_on_sdarts  DOTS' topology stage (dots_on_darts.gs) on an SDARTS-RS operation search
#                   (sdarts.gs): the DOTS Table 2 protocol applied to a perturbation-regularised
#                   search.
#   sdarts_pt_mag   SDARTS-RS supernet, then DARTS+PT-Mag (DARTS-PT's progressive tuning with
#                   magnitude decisions, paper 004 §6.2): does smoothing make alpha a better
#                   selector when the supernet is re-tuned between decisions?
#
# The data default to Fashion-MNIST; `--quick` scales as the recipes they come from.

import "../spaces/darts.gs"

search pc_darts_pt of darts {
  data fashion_mnist
  split 0.5
  batch 256
  seed 2
  quick {
    subset 128, 64
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
    finetune 5
    select perturbation
    quick {
      epochs 2
      warmup 1
      supernet cells 5 channels 8 pc 4
      arch adam lr 6e-3
      finetune 1
    }
  }
}

search dots_on_sdarts of darts {
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
  quick {
    subset 192, 192
    batch 32
  }
  stage operations {
    epochs 50
    supernet cells 8 channels 16
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    regularise sdarts_random epsilon 0.3 start 0.03
    select best per edge
    quick {
      epochs 3
      supernet cells 5 channels 8
      arch adam lr 3e-3
    }
  }
  stage topology {
    epochs 35
    warmup 15
    supernet cells 17 channels 16
    arch adam lr 1e-4 betas 0.9, 0.999 decay 1e-3
    update onelevel
    relax edges combination temperature 10 decay 0.72 min 0.02
    select best combination
    quick {
      epochs 3
      warmup 1
      supernet cells 5 channels 8
      arch adam lr 3e-3
      relax edges combination temperature 10 -> 0.02
    }
  }
}

search sdarts_pt_mag of darts {
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
    regularise sdarts_random epsilon 0.3 start 0.03
    finetune 5
    select progressive magnitude
    quick {
      epochs 2
      supernet cells 5 channels 8
      arch adam lr 3e-3
      finetune 1
    }
  }
}
