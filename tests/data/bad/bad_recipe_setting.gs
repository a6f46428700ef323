# A misspelt word inside a recipe setting.
space tiny {
  ops { skip_connect = identity  sep_conv_3x3 = sep_conv(3) }
  cell normal { nodes 2  edges all  topology pick 2 }
}

search s of tiny {
  stage ops {
    epochs 2
    relax ops temprature 10 -> 0.2
    select magnitude
  }
}
