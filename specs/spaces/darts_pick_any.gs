# DOTS flexible edges: each intermediate node keeps any non-empty subset of its incoming edges,
# 2^n - 1 combinations for a node with n candidate edges (DOTS eq. 11-13, section 4.1.2).
# Source: Y.-C. Gu et al., "DOTS: Decoupling Operation and Topology in Differentiable
# Architecture Search", CVPR 2021.
import "darts.gs"

space darts_pick_any extends darts {
  cell normal {
    topology pick any
  }
  cell reduce {
    topology pick any
  }
}
