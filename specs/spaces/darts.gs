# The DARTS CNN search space.
# Source: H. Liu, K. Simonyan, Y. Yang, "DARTS: Differentiable Architecture Search", ICLR 2019
# (the operations and cell layout of the released code, quark0/darts cnn/genotypes.py).
space darts {
  ops {
    none         = zero
    max_pool_3x3 = max_pool(3)
    avg_pool_3x3 = avg_pool(3)
    skip_connect = identity  # FactorizedReduce where the stride is 2
    sep_conv_3x3 = sep_conv(3)
    sep_conv_5x5 = sep_conv(5)
    dil_conv_3x3 = dil_conv(3, dilation=2)
    dil_conv_5x5 = dil_conv(5, dilation=2)
  }
  cell normal {
    inputs 2
    nodes 4
    edges all        # every earlier node feeds every later one: 14 edges
    topology pick 2  # each node keeps 2 incoming edges: C(n,2) combinations
    output concat
  }
  cell reduce extends normal {
    stride 2
  }
  network {
    stem conv(3, channels=3C)
    cells 8
    reduce at 1/3, 2/3
    channels 16
  }
}
