space darts {
  ops {
    none         = zero
    max_pool_3x3 = max_pool(3)
    avg_pool_3x3 = avg_pool(3)
    skip_connect = identity
    sep_conv_3x3 = sep_conv(3)
    sep_conv_5x5 = sep_conv(5)
    dil_conv_3x3 = dil_conv(3, dilation=2)
    dil_conv_5x5 = dil_conv(5, dilation=2)
  }
  cell normal {
    inputs 2
    nodes 4
    edges all
    topology pick 2
    output concat
  }
  cell reduce extends normal {
    stride 2
  }
}
