# The NAS-Bench-201 cell space and the three reduced variants DARTS-PT searches on it.
# Sources: X. Dong, Y. Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural
# Architecture Search", ICLR 2020; variants from R. Wang et al., "Rethinking Architecture
# Selection in Differentiable NAS", ICLR 2021.
#
# One cell input (node 0), nodes 1-3, every edge j->i (j < i) kept, each node the sum of its
# incoming edges, the cell's output node 3: 5^6 = 15,625 architectures (zero is how an edge is
# removed, so it counts as a choice). The network (TinyNetwork): a 3x3 conv stem to C = 16, then
# 5 cells per stage in three stages joined by residual reduction blocks at 1/3 and 2/3 of the
# 15 cells.
space nas_bench_201 {
  ops {
    none         = zero
    skip_connect = identity
    nor_conv_1x1 = nor_conv(1)
    nor_conv_3x3 = nor_conv(3)
    avg_pool_3x3 = avg_pool(3)
  }
  cell normal {
    inputs 1
    nodes 3
    edges all
    topology keep all
    output 3
  }
  network {
    layout nb201
    stem conv(3, channels=C)
    cells 15
    reduce at 1/3, 2/3
    channels 16
  }
}

# Like RobustDARTS S2: skip_connect or nor_conv_3x3 on every edge.
space nas_bench_201_s2 extends nas_bench_201 {
  cell normal {
    edges all: skip_connect | nor_conv_3x3
  }
}

# Like RobustDARTS S4: noise or nor_conv_3x3 on every edge.
space nas_bench_201_s4 extends nas_bench_201 {
  ops {
    noise = noise
  }
  cell normal {
    edges all: noise | nor_conv_3x3
  }
}

# Zero or nor_conv_3x3 on every edge.
space nas_bench_201_none_conv extends nas_bench_201 {
  cell normal {
    edges all: none | nor_conv_3x3
  }
}
