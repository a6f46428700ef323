# The genotypes published with DARTS: DARTS_V1 (first-order search) and DARTS_V2 (second order).
# Source: H. Liu, K. Simonyan, Y. Yang, "DARTS: Differentiable Architecture Search", ICLR 2019;
# the released code's cnn/genotypes.py (quark0/darts).
import "../spaces/darts.gs"

genotype DARTS_V1 of darts {
  cell normal {
    2 <- sep_conv_3x3(1), sep_conv_3x3(0)
    3 <- skip_connect(0), sep_conv_3x3(1)
    4 <- skip_connect(0), sep_conv_3x3(1)
    5 <- sep_conv_3x3(0), skip_connect(2)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- max_pool_3x3(0), max_pool_3x3(1)
    3 <- skip_connect(2), max_pool_3x3(0)
    4 <- max_pool_3x3(0), skip_connect(2)
    5 <- skip_connect(2), avg_pool_3x3(0)
    output concat 2, 3, 4, 5
  }
}

genotype DARTS_V2 of darts {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(1), skip_connect(0)
    5 <- skip_connect(0), dil_conv_3x3(2)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- max_pool_3x3(0), max_pool_3x3(1)
    3 <- skip_connect(2), max_pool_3x3(1)
    4 <- max_pool_3x3(0), skip_connect(2)
    5 <- skip_connect(2), max_pool_3x3(1)
    output concat 2, 3, 4, 5
  }
}
