# eDARTS: search only the operations along a pre-specified path of 8 edges in the DARTS cell.
# Source: S. Siddiqui, C. Kyrkou, T. Theocharides, "Operation and Topology Aware Fast
# Differentiable Architecture Search", ICPR 2020 (paper 001), sections III-B and IV-D.
#
# Which path: the paper trains all 180 two-inputs-per-node paths of the DARTS cell (all
# sep_conv_3x3), re-evaluates the best 20 with the same path in the normal and the reduction
# cell, and searches along "one of the best paths". Its text does not list that path's edges
# (Fig. 1 shows "an example of a pre-specified path"), so the paper does not fix it for a reader.
# The path below is one valid two-inputs-per-node path, standing in for the paper's; edit the
# `edges` lines to search along another. eDARTS discretises only the operations: every edge of
# the path is kept (`topology keep all`).
import "darts.gs"

space edarts extends darts {
  cell normal {
    edges 0->2, 1->2, 0->3, 2->3, 1->4, 3->4, 0->5, 4->5
    topology keep all
  }
  cell reduce {
    edges 0->2, 1->2, 0->3, 2->3, 1->4, 3->4, 0->5, 4->5
    topology keep all
  }
  network {  # the shallow search supernet of section IV-E: 5 cells, 16 channels
    stem conv(3, channels=3C)
    cells 5
    reduce at 1/3, 2/3
    channels 16
  }
}
