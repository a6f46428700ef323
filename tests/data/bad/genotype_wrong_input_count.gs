# The space keeps two edges per node; node 3 of the genotype takes three.
space s {
  ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  cell normal { nodes 2  edges all  topology pick 2 }
}

genotype g of s {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1), skip_connect(2)
  }
}
