# Several independent mistakes; all of them are reported together.
space tiny {
  ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  cell normal {
    nodes 2
    edges all: skip_connect | sep_conv_5x5
    topology pick 2
    output concat 2, 4
  }
  cell reduce extends normal { stride 2 }
}

genotype g {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- skip_connect(0), sep_conv_3x3(5)
  }
}

search s of tinny {
  stage ops { epochs -3  select magnitude }
}
