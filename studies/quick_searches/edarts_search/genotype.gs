import "space.gs"

genotype edarts_search_operations of edarts_path {
  cell normal {
    2 <- avg_pool_3x3(0), max_pool_3x3(1)
    3 <- max_pool_3x3(2), avg_pool_3x3(0)
    4 <- max_pool_3x3(1), max_pool_3x3(3)
    5 <- avg_pool_3x3(4), avg_pool_3x3(0)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- avg_pool_3x3(0), sep_conv_3x3(1)
    3 <- avg_pool_3x3(2), max_pool_3x3(0)
    4 <- sep_conv_5x5(1), max_pool_3x3(3)
    5 <- max_pool_3x3(0), sep_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
}
