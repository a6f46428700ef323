# Two declarations share a name.
space tiny {
  ops { skip_connect = identity }
  cell normal { nodes 1  edges all }
}

genotype tiny {
  cell normal { 2 <- skip_connect(0) }
}
