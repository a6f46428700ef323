# `extends` names a cell the space does not have.
space tiny {
  ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  cell normal { nodes 2  edges all  topology pick 2 }
  cell reduce extends normla { stride 2 }
}
