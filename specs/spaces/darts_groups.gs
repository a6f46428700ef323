# DOTS operation groups over the DARTS space: softmax within each group, one winner per group
# survives the operation search.
# Source: Y.-C. Gu, L.-J. Wang, Y. Liu, Y. Yang, Y.-H. Wu, S.-P. Lu, M.-M. Cheng, "DOTS: Decoupling
# Operation and Topology in Differentiable Architecture Search", CVPR 2021, supplementary
# material section 2 (Group-V1 from StacNAS, Group-V2 from DropNAS; Group-V2 is the DOTS default).
import "darts.gs"

# Group-V1: four groups of similar operations. It has no group for the zero op, so zero is
# left off every edge (four ops survive per edge, DOTS Table 4b).
space darts_group_v1 extends darts {
  groups {
    skip = skip_connect
    pool = max_pool_3x3, avg_pool_3x3
    sep  = sep_conv_3x3, sep_conv_5x5
    dil  = dil_conv_3x3, dil_conv_5x5
  }
  cell normal {
    edges all: max_pool_3x3 | avg_pool_3x3 | skip_connect | sep_conv_3x3 | sep_conv_5x5 | dil_conv_3x3 | dil_conv_5x5
  }
  cell reduce {
    edges all: max_pool_3x3 | avg_pool_3x3 | skip_connect | sep_conv_3x3 | sep_conv_5x5 | dil_conv_3x3 | dil_conv_5x5
  }
}

# Group-V2: topology-related ops (no parameters) against ops with learnable parameters.
space darts_group_v2 extends darts {
  groups {
    free  = none, max_pool_3x3, avg_pool_3x3, skip_connect
    param = sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5
  }
}
