# DARTS-PT genotypes from the DARTS space (its 7 ops without `none`; space s5 in the released
# code), CIFAR-10.
# Source: R. Wang, M. Cheng, X. Chen, X. Tang, C.-J. Hsieh, "Rethinking Architecture Selection in
# Differentiable NAS", ICLR 2021; the released sota/cnn/genotypes.py (ruocwang/darts-pt).
# darts_pt_*: DARTS supernet with perturbation-based selection (DARTS+PT); blank_pt_*: the same
# selection on a supernet trained with alpha fixed at zero (DARTS+PT, fix alpha).
import "../spaces/darts_pt.gs"

# Noted in the released file: 2.85 (param size)
genotype darts_pt_s5_0 of darts_pt {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_5x5(0), dil_conv_3x3(1)
    4 <- skip_connect(0), skip_connect(2)
    5 <- skip_connect(0), max_pool_3x3(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), avg_pool_3x3(1)
    3 <- dil_conv_5x5(1), dil_conv_3x3(2)
    4 <- avg_pool_3x3(0), max_pool_3x3(2)
    5 <- sep_conv_3x3(2), skip_connect(4)
    output concat 2, 3, 4, 5
  }
}

genotype darts_pt_s5_1 of darts_pt {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), dil_conv_3x3(1)
    4 <- max_pool_3x3(0), skip_connect(2)
    5 <- skip_connect(0), dil_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- dil_conv_5x5(0), avg_pool_3x3(1)
    3 <- max_pool_3x3(0), sep_conv_5x5(2)
    4 <- max_pool_3x3(1), dil_conv_3x3(3)
    5 <- sep_conv_5x5(0), sep_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
}

genotype darts_pt_s5_2 of darts_pt {
  cell normal {
    2 <- skip_connect(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), dil_conv_3x3(1)
    4 <- skip_connect(2), dil_conv_3x3(3)
    5 <- max_pool_3x3(1), skip_connect(2)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- avg_pool_3x3(0), max_pool_3x3(1)
    3 <- avg_pool_3x3(0), sep_conv_3x3(1)
    4 <- dil_conv_5x5(2), skip_connect(3)
    5 <- sep_conv_3x3(2), sep_conv_5x5(4)
    output concat 2, 3, 4, 5
  }
}

genotype darts_pt_s5_3 of darts_pt {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- skip_connect(0), skip_connect(2)
    5 <- sep_conv_3x3(1), skip_connect(3)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- avg_pool_3x3(0), sep_conv_5x5(1)
    3 <- max_pool_3x3(1), skip_connect(2)
    4 <- dil_conv_5x5(1), max_pool_3x3(3)
    5 <- sep_conv_5x5(2), skip_connect(3)
    output concat 2, 3, 4, 5
  }
}

# Noted in the released file: 3.04 (param size)
genotype blank_pt_s5_0 of darts_pt {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_5x5(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- avg_pool_3x3(1), skip_connect(3)
    5 <- max_pool_3x3(0), avg_pool_3x3(2)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- skip_connect(0), sep_conv_5x5(1)
    3 <- dil_conv_3x3(1), sep_conv_5x5(2)
    4 <- max_pool_3x3(0), skip_connect(3)
    5 <- max_pool_3x3(0), max_pool_3x3(2)
    output concat 2, 3, 4, 5
  }
}

genotype blank_pt_s5_1 of darts_pt {
  cell normal {
    2 <- avg_pool_3x3(0), avg_pool_3x3(1)
    3 <- sep_conv_3x3(0), max_pool_3x3(2)
    4 <- skip_connect(2), sep_conv_3x3(3)
    5 <- sep_conv_5x5(0), sep_conv_5x5(1)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- max_pool_3x3(0), dil_conv_5x5(1)
    3 <- sep_conv_3x3(0), skip_connect(1)
    4 <- avg_pool_3x3(2), max_pool_3x3(3)
    5 <- sep_conv_5x5(3), sep_conv_5x5(4)
    output concat 2, 3, 4, 5
  }
}

genotype blank_pt_s5_2 of darts_pt {
  cell normal {
    2 <- avg_pool_3x3(0), dil_conv_3x3(1)
    3 <- sep_conv_5x5(0), max_pool_3x3(1)
    4 <- max_pool_3x3(0), skip_connect(1)
    5 <- sep_conv_5x5(1), avg_pool_3x3(2)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), avg_pool_3x3(1)
    3 <- avg_pool_3x3(0), sep_conv_5x5(1)
    4 <- max_pool_3x3(0), sep_conv_5x5(3)
    5 <- max_pool_3x3(2), dil_conv_5x5(4)
    output concat 2, 3, 4, 5
  }
}

genotype blank_pt_s5_3 of darts_pt {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), skip_connect(1)
    4 <- max_pool_3x3(2), sep_conv_3x3(3)
    5 <- avg_pool_3x3(0), sep_conv_5x5(1)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- dil_conv_5x5(0), sep_conv_5x5(1)
    3 <- sep_conv_5x5(0), dil_conv_3x3(1)
    4 <- avg_pool_3x3(1), skip_connect(2)
    5 <- max_pool_3x3(0), skip_connect(4)
    output concat 2, 3, 4, 5
  }
}
