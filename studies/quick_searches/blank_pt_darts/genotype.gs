import "space.gs"

genotype blank_pt_darts_search of darts_pt {
  cell normal {
    2 <- sep_conv_3x3(0), max_pool_3x3(1)
    3 <- avg_pool_3x3(0), skip_connect(1)
    4 <- max_pool_3x3(0), max_pool_3x3(2)
    5 <- sep_conv_5x5(0), max_pool_3x3(1)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_5x5(0), skip_connect(1)
    3 <- skip_connect(0), dil_conv_3x3(2)
    4 <- dil_conv_3x3(0), sep_conv_3x3(2)
    5 <- dil_conv_5x5(0), max_pool_3x3(1)
    output concat 2, 3, 4, 5
  }
}
