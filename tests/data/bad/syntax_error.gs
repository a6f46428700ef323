# A cell statement with a missing value: `topology pick` needs a count or `any`.
space tiny {
  ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  cell normal {
    nodes 2
    edges all
    topology pick
  }
}
