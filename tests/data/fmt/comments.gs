# A hand-written file in no particular layout, with comments everywhere.
# Second line of the header.

space tiny {   # header comment
  # before ops
  ops { none = zero()   skip = identity  # skip trailing
        conv3 = sep_conv( 3 )
        # last in ops
  }
  groups { a = none , skip
           b = conv3 }   # after groups
  cell normal { inputs 2 nodes 2
    edges 0 -> 2,   # inside a statement
          1->2, 0->3, 2->3 : skip|conv3
    edge 1->2 : none | conv3
    topology pick 1 .. 2 output sum
    # end of cell
  }
  cell reduce extends normal { stride 2 } # closing comment
  network {
    reduce at 1 / 2 channels 8 drop_path 3e-1   auxiliary weight 0.4E0
  }
}
genotype g of tiny { cell normal { 2 <- skip(0) , conv3(1)   3 <- skip(2)
output concat 2,3 }
  cell reduce {
    2 <- conv3(0)
    3 <- conv3(2), skip(0)   # two inputs
    output 3
  }
}
# A comment between declarations

genotype standalone {
  cell normal { inputs 1 1 <- nor_conv_3x3(0) 2 <- skip_connect(0), nor_conv_1x1(1) 3 <- avg_pool_3x3(0), none(1), skip_connect(2) output 3 }
  network { layout nb201 cells 5 }
}

# A comment at the end of the file
   # and another, indented
