# specs/spaces/darts.gs — the DARTS CNN space (Liu et al., 2019)
space darts {
  ops {
    none         = zero
    max_pool_3x3 = max_pool(3)
    avg_pool_3x3 = avg_pool(3)
    skip_connect = identity  # FactorizedReduce where the stride is 2
    sep_conv_3x3 = sep_conv(3)
    sep_conv_5x5 = sep_conv(5)
    dil_conv_3x3 = dil_conv(3, dilation=2)
    dil_conv_5x5 = dil_conv(5, dilation=2)
  }
  cell normal {
    inputs 2
    nodes 4
    edges all        # every earlier node feeds every later one: 14 edges
    topology pick 2  # each node keeps 2 incoming edges: C(n,2) combinations
    output concat
  }
  cell reduce extends normal {
    stride 2
  }
  network {
    stem conv(3, channels=3C)
    cells 8
    reduce at 1/3, 2/3
    channels 16
  }
}

space darts_groups extends darts {
  groups {
    free  = none, max_pool_3x3, avg_pool_3x3, skip_connect  # Group-V2 (default in DOTS)
    param = sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5
  }
}

space edarts extends darts {
  cell normal {
    edges 0->2, 1->2, 0->3, 2->3, 1->4, 3->4, 0->5, 4->5
    topology keep all
  }
}

space s2 extends darts {
  cell normal {
    edges all: skip_connect | sep_conv_3x3
  }
  cell reduce {
    edges all: skip_connect | sep_conv_3x3
  }
}

space s1_fragment extends darts {
  cell normal {
    edge 0->2: skip_connect | dil_conv_3x3
    edge 1->2: skip_connect | dil_conv_5x5
  }
}

space any extends darts {
  cell normal {
    topology pick any
  }
  cell reduce {
    topology pick 1..3
  }
}

genotype darts_v2 of darts {
  cell normal {
    2 <- sep_conv_3x3(0), sep_conv_3x3(1)
    3 <- sep_conv_3x3(0), sep_conv_3x3(1)
    4 <- sep_conv_3x3(1), skip_connect(0)
    5 <- skip_connect(0), dil_conv_3x3(2)
    output concat 2, 3, 4, 5
  }
  cell reduce {
    2 <- max_pool_3x3(0), max_pool_3x3(1)
    3 <- skip_connect(2), max_pool_3x3(1)
    4 <- max_pool_3x3(0), skip_connect(2)
    5 <- skip_connect(2), max_pool_3x3(1)
    output concat 2, 3, 4, 5
  }
}

search dots of darts_groups {  # DOTS, CVPR 2021
  data fashion_mnist
  split 0.5
  batch 64
  seed 2
  stage operations {
    epochs 30
    warmup 15  # warmup: weights only
    supernet cells 8 channels 16
    weights sgd lr 0.025 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 1e-4 decay 1e-3
    update bilevel first_order
    relax groups temperature 10 -> 0.2 per epoch
    select best per group  # emits a reduced space: 2 ops on every edge
    bias sep_conv_3x3=0.0006 dil_conv_5x5=-0.0006
    quick {
      epochs 2
      warmup 1
    }
  }
  stage topology {
    epochs 40
    warmup 15
    supernet cells 17 channels 16
    update onelevel
    relax edges temperature 10 decay 0.72 min 0.02
    relax ops temperature 0.01 decay 0.72  # ops settle first (DOTS Fig. 3)
    select best combination                # emits the genotype
  }
}
