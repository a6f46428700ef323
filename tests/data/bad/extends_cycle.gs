# Two spaces that extend each other.
space a extends b {
  cell normal { nodes 2 }
}
space b extends a {
  cell normal { nodes 3 }
}
