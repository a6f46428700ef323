# DARTS-PT genotypes from the RobustDARTS space S3, searched on CIFAR-10 (no suffix),
# CIFAR-100 (_c100) and SVHN (_svhn).
# Source: R. Wang, M. Cheng, X. Chen, X. Tang, C.-J. Hsieh, "Rethinking Architecture Selection in
# Differentiable NAS", ICLR 2021; the released sota/cnn/genotypes.py (ruocwang/darts-pt).
# darts_pt_*: DARTS supernet with perturbation-based selection (DARTS+PT); blank_pt_*: the same
# selection on a supernet trained with alpha fixed at zero (DARTS+PT, fix alpha).
import "../spaces/robust_darts.gs"

genotype darts_pt_s3_1 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), skip_connect(1)
    4 <- skip_connect(0), skip_connect(2)
    5 <- sep_conv_3x3(0), sep_conv_3x3(1)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), skip_connect(1)
    3 <- sep_conv_3x3(0), skip_connect(2)
    4 <- sep_conv_3x3(0), skip_connect(3)
    5 <- skip_connect(3), sep_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
}

genotype darts_pt_s3_2 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- skip_connect(0), sep_conv_3x3(1)
    4 <- skip_connect(0), sep_conv_3x3(3)
    5 <- sep_conv_3x3(1), skip_connect(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), skip_connect(1)
    4 <- sep_conv_3x3(0), sep_conv_3x3(1)
    5 <- sep_conv_3x3(2), skip_connect(3)
    output concat 2, 3, 4, 5
  }
}

genotype blank_pt_s3_1 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), skip_connect(1)
    3 <- skip_connect(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(0), skip_connect(2)
    5 <- skip_connect(3), skip_connect(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(2)
    4 <- sep_conv_3x3(0), sep_conv_3x3(1)
    5 <- sep_conv_3x3(1), sep_conv_3x3(3)
    output concat 2, 3, 4, 5
  }
}

genotype blank_pt_s3_2 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), skip_connect(1)
    4 <- sep_conv_3x3(0), sep_conv_3x3(1)
    5 <- skip_connect(0), sep_conv_3x3(2)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(0), skip_connect(3)
    5 <- skip_connect(2), skip_connect(3)
    output concat 2, 3, 4, 5
  }
}

genotype darts_pt_s3_c100_1 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- skip_connect(0), skip_connect(1)
    5 <- sep_conv_3x3(0), sep_conv_3x3(1)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), skip_connect(1)
    3 <- sep_conv_3x3(0), skip_connect(2)
    4 <- skip_connect(2), sep_conv_3x3(3)
    5 <- sep_conv_3x3(1), skip_connect(3)
    output concat 2, 3, 4, 5
  }
}

genotype darts_pt_s3_c100_2 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), skip_connect(1)
    3 <- sep_conv_3x3(0), skip_connect(1)
    4 <- sep_conv_3x3(0), sep_conv_3x3(3)
    5 <- sep_conv_3x3(1), skip_connect(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), skip_connect(1)
    3 <- sep_conv_3x3(0), skip_connect(2)
    4 <- skip_connect(1), skip_connect(3)
    5 <- sep_conv_3x3(2), skip_connect(4)
    output concat 2, 3, 4, 5
  }
}

genotype blank_pt_s3_c100_1 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- skip_connect(0), skip_connect(2)
    4 <- sep_conv_3x3(0), sep_conv_3x3(1)
    5 <- sep_conv_3x3(0), sep_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), skip_connect(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- skip_connect(2), sep_conv_3x3(3)
    5 <- sep_conv_3x3(1), skip_connect(3)
    output concat 2, 3, 4, 5
  }
}

genotype blank_pt_s3_c100_2 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- skip_connect(0), sep_conv_3x3(1)
    4 <- skip_connect(0), sep_conv_3x3(3)
    5 <- sep_conv_3x3(0), sep_conv_3x3(1)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(2), skip_connect(3)
    5 <- skip_connect(0), sep_conv_3x3(1)
    output concat 2, 3, 4, 5
  }
}

genotype darts_pt_s3_svhn_1 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), skip_connect(1)
    3 <- sep_conv_3x3(1), sep_conv_3x3(2)
    4 <- skip_connect(2), skip_connect(3)
    5 <- sep_conv_3x3(3), sep_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), skip_connect(1)
    3 <- skip_connect(1), sep_conv_3x3(2)
    4 <- skip_connect(2), sep_conv_3x3(3)
    5 <- sep_conv_3x3(3), sep_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
}

genotype darts_pt_s3_svhn_2 of robust_darts_s3 {
  cell normal {
    2 <- skip_connect(0), skip_connect(1)
    3 <- skip_connect(0), skip_connect(1)
    4 <- sep_conv_3x3(1), sep_conv_3x3(3)
    5 <- sep_conv_3x3(0), skip_connect(4)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- skip_connect(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(1), sep_conv_3x3(2)
    4 <- sep_conv_3x3(2), sep_conv_3x3(3)
    5 <- skip_connect(2), sep_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
}

genotype blank_pt_s3_svhn_1 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(1), skip_connect(2)
    4 <- sep_conv_3x3(0), skip_connect(3)
    5 <- sep_conv_3x3(1), sep_conv_3x3(3)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- skip_connect(1), sep_conv_3x3(2)
    4 <- sep_conv_3x3(2), sep_conv_3x3(3)
    5 <- skip_connect(2), sep_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
}

genotype blank_pt_s3_svhn_2 of robust_darts_s3 {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(1), sep_conv_3x3(2)
    5 <- sep_conv_3x3(0), sep_conv_3x3(1)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- skip_connect(1), sep_conv_3x3(2)
    4 <- skip_connect(0), sep_conv_3x3(3)
    5 <- sep_conv_3x3(2), sep_conv_3x3(4)
    output concat 2, 3, 4, 5
  }
}
