# skip_connect is put in two groups.
space tiny {
  ops { none = zero  skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  groups {
    free  = none, skip_connect
    param = sep_conv_3x3, skip_connect
  }
  cell normal { nodes 2  edges all  topology pick 2 }
}
