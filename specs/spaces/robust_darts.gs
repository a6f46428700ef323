# The RobustDARTS spaces S1-S4 as DARTS-PT defines them: the DARTS cell with fewer (and other)
# operations per edge.
# Sources: A. Zela, T. Elsken, T. Saikia, Y. Marrakchi, T. Brox, F. Hutter, "Understanding and
# Robustifying Differentiable Architecture Search", ICLR 2020; the per-edge lists as used by
# R. Wang et al., "Rethinking Architecture Selection in Differentiable NAS", ICLR 2021, appendix A.2
# (ruocwang/darts-pt sota/cnn/spaces.py).
import "darts.gs"

# S1: a different pair of operations on each edge (the top-2 ops of a DARTS search), given per
# edge for the normal and the reduction cell.
space robust_darts_s1 extends darts {
  cell normal {
    edge 0->2: skip_connect | dil_conv_3x3
    edge 1->2: skip_connect | dil_conv_5x5
    edge 0->3: skip_connect | dil_conv_5x5
    edge 1->3: skip_connect | sep_conv_3x3
    edge 2->3: skip_connect | dil_conv_3x3
    edge 0->4: max_pool_3x3 | skip_connect
    edge 1->4: skip_connect | sep_conv_3x3
    edge 2->4: skip_connect | sep_conv_3x3
    edge 3->4: skip_connect | dil_conv_3x3
    edge 0->5: skip_connect | sep_conv_3x3
    edge 1->5: max_pool_3x3 | skip_connect
    edge 2->5: skip_connect | dil_conv_3x3
    edge 3->5: dil_conv_3x3 | dil_conv_5x5
    edge 4->5: dil_conv_3x3 | dil_conv_5x5
  }
  cell reduce {
    edge 0->2: max_pool_3x3 | avg_pool_3x3
    edge 1->2: max_pool_3x3 | dil_conv_3x3
    edge 0->3: max_pool_3x3 | avg_pool_3x3
    edge 1->3: max_pool_3x3 | avg_pool_3x3
    edge 2->3: skip_connect | dil_conv_5x5
    edge 0->4: max_pool_3x3 | avg_pool_3x3
    edge 1->4: max_pool_3x3 | sep_conv_3x3
    edge 2->4: skip_connect | dil_conv_3x3
    edge 3->4: skip_connect | dil_conv_5x5
    edge 0->5: max_pool_3x3 | avg_pool_3x3
    edge 1->5: max_pool_3x3 | avg_pool_3x3
    edge 2->5: skip_connect | dil_conv_5x5
    edge 3->5: skip_connect | dil_conv_5x5
    edge 4->5: skip_connect | dil_conv_5x5
  }
}

# S2: skip_connect and sep_conv_3x3 on every edge.
space robust_darts_s2 extends darts {
  cell normal {
    edges all: skip_connect | sep_conv_3x3
  }
  cell reduce {
    edges all: skip_connect | sep_conv_3x3
  }
}

# S3: S2 plus the zero op (which, as in DARTS, only takes part in the search).
space robust_darts_s3 extends darts {
  cell normal {
    edges all: none | skip_connect | sep_conv_3x3
  }
  cell reduce {
    edges all: none | skip_connect | sep_conv_3x3
  }
}

# S4: sep_conv_3x3 against an op that outputs N(0,1) noise shaped like its (strided) input.
space robust_darts_s4 extends darts {
  ops {
    noise = noise
  }
  cell normal {
    edges all: noise | sep_conv_3x3
  }
  cell reduce {
    edges all: noise | sep_conv_3x3
  }
}
