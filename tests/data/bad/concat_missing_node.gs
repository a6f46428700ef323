# The output concatenates node 5, which a 2-node cell does not have.
space tiny {
  ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  cell normal {
    nodes 2
    edges all
    topology pick 2
    output concat 2, 3, 5
  }
}
