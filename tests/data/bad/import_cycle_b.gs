# The second half of the import cycle of import_cycle_a.gs.
import "import_cycle_a.gs"

space b {
  ops { skip_connect = identity }
  cell normal { nodes 1  edges all }
}
