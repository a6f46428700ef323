import "design.gs"

search darts_like of darts {
  data cifar10 root "/data/cifar" split 0.5 subset 5000, 5000 batch 64 seed 2 workers 0
  quick { epochs 1 batch 8 subset 64 , 64 }
  stage search {
    epochs 50 warmup 0
    supernet cells 8 channels 16 layout cifar
    weights sgd lr 0.025->0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-4 betas 0.5, 0.999 decay 1e-3
    update bilevel second_order every 2 steps
    relax ops softmax temperature 1
    select magnitude
  }
  stage pt { finetune 5 relax ops fixed select perturbation ops bias sep_conv_3x3=0.0006 sep_conv_5x5=+0.0004 dil_conv_5x5=-0.0006 }
  stage sig {
    relax edges sigmoid temperature 10 -> 0.1 per step
    select threshold 0.5
  }
}
