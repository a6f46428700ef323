# Node 3 has only one incoming edge, but every node must keep two.
space tiny {
  ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  cell normal {
    nodes 2
    edges 0->2, 1->2, 2->3
    topology pick 2
  }
}
