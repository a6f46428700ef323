# The FairDARTS space: the seven DARTS operations without `none` (PRIMITIVES of the released code,
# xiaomi-automl/FairDARTS fairdarts/genotypes.py), every node keeping one or two inputs: the code's
# "threshold_sparse" selection keeps an edge only when its best sigmoid reaches 0.85, at most two
# per node ("|edge| <= 2 per node", its README). The code may leave a node with no input;
# genospec's genotypes need at least one, so a node keeps 1 or 2 (`pick 1..2`).
# Source: X. Chu, T. Zhou, B. Zhang, J. Li, "Fair DARTS: Eliminating Unfair Advantages in
# Differentiable Architecture Search", ECCV 2020.
import "darts_pt.gs"

space darts_fair extends darts_pt {
  cell normal {
    topology pick 1..2
  }
  cell reduce {
    topology pick 1..2
  }
}
