# sep_conv_5x5 is used on the edges but belongs to no group.
space tiny {
  ops { none = zero  skip_connect = identity  sep_conv_3x3 = sep_conv(3)  sep_conv_5x5 = sep_conv(5) }
  groups {
    free  = none, skip_connect
    param = sep_conv_3x3
  }
  cell normal { nodes 2  edges all  topology pick 2 }
}
