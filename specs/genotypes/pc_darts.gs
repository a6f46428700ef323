# The genotypes published with PC-DARTS, searched on CIFAR-10 and on ImageNet in the DARTS space.
# Source: Y. Xu, L. Xie, X. Zhang, X. Chen, G.-J. Qi, Q. Tian, H. Xiong, "PC-DARTS: Partial Channel
# Connections for Memory-Efficient Architecture Search", ICLR 2020; the released genotypes.py
# (yuhuixu1993/PC-DARTS).
import "../spaces/darts.gs"

genotype PC_DARTS_cifar of darts {
  cell normal {
    2 <- sep_conv_3x3(1), skip_connect(0)
    3 <- sep_conv_3x3(0), dil_conv_3x3(1)
    4 <- sep_conv_5x5(0), sep_conv_3x3(1)
    5 <- avg_pool_3x3(0), dil_conv_3x3(1)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_5x5(1), max_pool_3x3(0)
    3 <- sep_conv_5x5(1), sep_conv_5x5(2)
    4 <- sep_conv_3x3(0), sep_conv_3x3(3)
    5 <- sep_conv_3x3(1), sep_conv_3x3(2)
    output concat 2, 3, 4, 5
  }
}

genotype PC_DARTS_image of darts {
  cell normal {
    2 <- skip_connect(1), sep_conv_3x3(0)
    3 <- sep_conv_3x3(0), skip_connect(1)
    4 <- sep_conv_3x3(1), sep_conv_3x3(3)
    5 <- sep_conv_3x3(1), dil_conv_5x5(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), skip_connect(1)
    3 <- dil_conv_5x5(2), max_pool_3x3(1)
    4 <- sep_conv_3x3(2), sep_conv_3x3(1)
    5 <- sep_conv_5x5(0), sep_conv_3x3(3)
    output concat 2, 3, 4, 5
  }
}
