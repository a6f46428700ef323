# This file imports import_cycle_b.gs, which imports this file again.
import "import_cycle_b.gs"

space a {
  ops { skip_connect = identity }
  cell normal { nodes 1  edges all }
}
