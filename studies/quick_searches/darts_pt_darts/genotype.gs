import "space.gs"

genotype darts_pt_darts_search of darts_pt {
  cell normal {
    2 <- avg_pool_3x3(0), dil_conv_5x5(1)
    3 <- avg_pool_3x3(0), sep_conv_3x3(2)
    4 <- skip_connect(1), sep_conv_5x5(3)
    5 <- sep_conv_3x3(2), max_pool_3x3(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- max_pool_3x3(0), avg_pool_3x3(1)
    3 <- dil_conv_3x3(0), max_pool_3x3(2)
    4 <- max_pool_3x3(2), max_pool_3x3(3)
    5 <- skip_connect(3), skip_connect(4)
    output concat 2, 3, 4, 5
  }
}
