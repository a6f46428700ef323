# An edge that runs from a later node to an earlier one.
space tiny {
  ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  cell normal {
    nodes 2
    edges 0->2, 1->2, 0->3, 3->2
  }
}
