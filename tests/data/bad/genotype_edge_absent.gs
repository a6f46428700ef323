# The space fixes a path; the genotype uses edge 0->3, which is not on it.
space path {
  ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  cell normal {
    nodes 2
    edges 0->2, 1->2, 1->3, 2->3
    topology keep all
  }
}

genotype g of path {
  cell normal {
    2 <- sep_conv_3x3(0), skip_connect(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(2)
  }
}
