import "space.gs"

genotype darts_first_order_search of darts {
  cell normal {
    2 <- max_pool_3x3(0), max_pool_3x3(1)
    3 <- max_pool_3x3(0), max_pool_3x3(2)
    4 <- dil_conv_5x5(1), avg_pool_3x3(0)
    5 <- max_pool_3x3(0), avg_pool_3x3(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- dil_conv_3x3(1), avg_pool_3x3(0)
    3 <- sep_conv_5x5(1), dil_conv_3x3(2)
    4 <- dil_conv_5x5(2), avg_pool_3x3(0)
    5 <- sep_conv_5x5(3), skip_connect(0)
    output concat 2, 3, 4, 5
  }
}
