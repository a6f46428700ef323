import "space.gs"

genotype dots_on_darts_topology of darts {
  cell normal {
    2 <- max_pool_3x3(0), skip_connect(1)
    3 <- max_pool_3x3(1), max_pool_3x3(2)
    4 <- dil_conv_3x3(0), sep_conv_3x3(3)
    5 <- avg_pool_3x3(2), avg_pool_3x3(3)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- avg_pool_3x3(0), sep_conv_3x3(1)
    3 <- dil_conv_5x5(1), dil_conv_3x3(2)
    4 <- sep_conv_5x5(0), avg_pool_3x3(3)
    5 <- sep_conv_5x5(2), sep_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
}
