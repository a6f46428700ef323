# A genotype node that takes an input from a later node.
genotype g {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(3)
    3 <- sep_conv_3x3(0), skip_connect(1)
  }
}
