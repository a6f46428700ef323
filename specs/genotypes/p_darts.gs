# The genotype published with P-DARTS (searched on CIFAR-10 in the DARTS space).
# Source: X. Chen, L. Xie, J. Wu, Q. Tian, "Progressive Differentiable Architecture Search:
# Bridging the Depth Gap between Search and Evaluation", ICCV 2019; the released genotypes.py
# (chenxin061/pdarts).
import "../spaces/darts.gs"

genotype PDARTS of darts {
  cell normal {
    2 <- skip_connect(0), dil_conv_3x3(1)
    3 <- skip_connect(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(1), sep_conv_3x3(3)
    5 <- sep_conv_3x3(0), dil_conv_5x5(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- avg_pool_3x3(0), sep_conv_5x5(1)
    3 <- sep_conv_3x3(0), dil_conv_5x5(2)
    4 <- max_pool_3x3(0), dil_conv_3x3(1)
    5 <- dil_conv_3x3(1), dil_conv_5x5(3)
    output concat 2, 3, 4, 5
  }
}
