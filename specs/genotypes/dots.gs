# The genotypes published with DOTS (CIFAR-10, CIFAR-100, ImageNet), searched with the Group-V2
# operation search and the pairwise (pick 2) topology search.
# Source: Y.-C. Gu, L.-J. Wang, Y. Liu, Y. Yang, Y.-H. Wu, S.-P. Lu, M.-M. Cheng, "DOTS: Decoupling
# Operation and Topology in Differentiable Architecture Search", CVPR 2021; the released
# genotypes.py (guyuchao/DOTS).
import "../spaces/darts_groups.gs"

genotype DOTS_final_C10 of darts_group_v2 {
  cell normal {
    2 <- skip_connect(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(0), sep_conv_3x3(1)
    5 <- skip_connect(1), dil_conv_3x3(3)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- max_pool_3x3(0), max_pool_3x3(1)
    4 <- max_pool_3x3(0), dil_conv_5x5(3)
    5 <- max_pool_3x3(0), dil_conv_5x5(4)
    output concat 2, 3, 4, 5
  }
}

genotype DOTS_final_C100 of darts_group_v2 {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- skip_connect(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(1), sep_conv_3x3(3)
    5 <- sep_conv_3x3(1), dil_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- avg_pool_3x3(0), avg_pool_3x3(1)
    3 <- sep_conv_5x5(0), sep_conv_5x5(1)
    4 <- sep_conv_3x3(0), dil_conv_5x5(3)
    5 <- sep_conv_3x3(3), dil_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
}

genotype DOTS_ImageNet of darts_group_v2 {
  cell normal {
    2 <- dil_conv_5x5(0), skip_connect(1)
    3 <- skip_connect(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(0), sep_conv_3x3(1)
    5 <- sep_conv_3x3(0), sep_conv_5x5(1)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_5x5(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_5x5(1)
    4 <- max_pool_3x3(0), dil_conv_5x5(3)
    5 <- sep_conv_3x3(0), max_pool_3x3(1)
    output concat 2, 3, 4, 5
  }
}
