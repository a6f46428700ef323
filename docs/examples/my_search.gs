# A search that uses the parts of my_parts.py (docs/extending.md):
#   genospec --plugin docs/examples/my_parts.py search docs/examples/my_search.gs --quick
space gated {
  ops {
    none  = zero
    skip  = identity
    gated = gated_conv(3)
    pool  = avg_pool(3)
  }
  cell normal {
    inputs 2
    nodes 2
    edges all
    topology pick 2
    output concat
  }
  cell reduce extends normal { stride 2 }
  network { cells 3  channels 8 }
}

search my_search of gated {
  plugins "my_parts"
  data synthetic
  batch 32
  seed 1
  stage operations {
    epochs 4
    weights sgd lr 0.05 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-3 betas 0.5, 0.999 decay 1e-3
    relax ops sharpened temperature 5 -> 1 per epoch strength 0.3
    regularise alpha_l2 weight 0.01
    select strongest
    quick { epochs 1  subset 64, 64 }
  }
  stage edges {
    epochs 2
    select magnitude
    quick { epochs 1  subset 64, 64 }
  }
}
