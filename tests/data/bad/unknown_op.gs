# A misspelt op on an edge list.
space tiny {
  ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  cell normal {
    nodes 2
    edges all: skip_conect | sep_conv_3x3
    topology pick 2
  }
}
