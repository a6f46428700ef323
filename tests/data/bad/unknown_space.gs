# A genotype of a space that is not declared (nor imported).
genotype g of dartz {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
  }
}
