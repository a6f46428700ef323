# Edge 1->2 allows skip_connect or sep_conv_3x3 only (an S1-style per-edge list).
space s {
  ops { none = zero  skip_connect = identity  sep_conv_3x3 = sep_conv(3)  dil_conv_3x3 = dil_conv(3) }
  cell normal {
    nodes 2
    edges all
    edge 1->2: skip_connect | sep_conv_3x3
    topology pick 2
  }
}

genotype g of s {
  cell normal {
    2 <- sep_conv_3x3(0), dil_conv_3x3(1)
    3 <- skip_connect(0), none(2)
  }
}
