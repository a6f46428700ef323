import "space.gs"

genotype dots_topology of darts_group_v2 {
  cell normal {
    2 <- dil_conv_3x3(0), sep_conv_5x5(1)
    3 <- dil_conv_3x3(0), max_pool_3x3(1)
    4 <- sep_conv_3x3(2), dil_conv_5x5(3)
    5 <- sep_conv_5x5(0), dil_conv_5x5(1)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- skip_connect(0), sep_conv_5x5(1)
    3 <- skip_connect(0), sep_conv_5x5(2)
    4 <- avg_pool_3x3(0), sep_conv_5x5(1)
    5 <- dil_conv_3x3(0), skip_connect(1)
    output concat 2, 3, 4, 5
  }
}
