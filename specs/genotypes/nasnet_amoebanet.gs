# NASNet-A and AmoebaNet-A cells as the DARTS code transcribes them (quark0/darts cnn/genotypes.py).
# They come from outside the DARTS space (5 nodes, sep_conv_7x7, conv_7x1_1x7, a node taking the
# same input twice), so they stand alone: no `of`, ops resolved by name from the standard library,
# and the reduction cell says `stride 2` itself.

# B. Zoph, V. Vasudevan, J. Shlens, Q. V. Le, "Learning Transferable Architectures for Scalable
# Image Recognition", CVPR 2018.
genotype NASNet {
  cell normal {
    2 <- sep_conv_5x5(1), sep_conv_3x3(0)
    3 <- sep_conv_5x5(0), sep_conv_3x3(0)
    4 <- avg_pool_3x3(1), skip_connect(0)
    5 <- avg_pool_3x3(0), avg_pool_3x3(0)
    6 <- sep_conv_3x3(1), skip_connect(1)
    output concat 2, 3, 4, 5, 6
  }
  cell reduce {
    stride 2
    2 <- sep_conv_5x5(1), sep_conv_7x7(0)
    3 <- max_pool_3x3(1), sep_conv_7x7(0)
    4 <- avg_pool_3x3(1), sep_conv_5x5(0)
    5 <- skip_connect(3), avg_pool_3x3(2)
    6 <- sep_conv_3x3(2), max_pool_3x3(1)
    output concat 4, 5, 6
  }
}

# E. Real, A. Aggarwal, Y. Huang, Q. V. Le, "Regularized Evolution for Image Classifier
# Architecture Search", AAAI 2019.
genotype AmoebaNet {
  cell normal {
    2 <- avg_pool_3x3(0), max_pool_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_5x5(2)
    4 <- sep_conv_3x3(0), avg_pool_3x3(3)
    5 <- sep_conv_3x3(1), skip_connect(1)
    6 <- skip_connect(0), avg_pool_3x3(1)
    output concat 4, 5, 6
  }
  cell reduce {
    stride 2
    2 <- avg_pool_3x3(0), sep_conv_3x3(1)
    3 <- max_pool_3x3(0), sep_conv_7x7(2)
    4 <- sep_conv_7x7(0), avg_pool_3x3(1)
    5 <- max_pool_3x3(0), max_pool_3x3(1)
    6 <- conv_7x1_1x7(0), sep_conv_3x3(5)
    output concat 3, 4, 6
  }
}
