"""nn stage of the genospec pipeline: op registry, cell compiler, networks, counting, export."""

from .capabilities import OpBuild, OpCapabilities
from .cell import CompiledCell, DropPath, EdgeBuilder, SingleOpEdge, compile_cell, single_op_edges
from .count import count_macs, count_parameters
from .export import export_network
from .network import LAYOUTS, Network, build_network
from .ops import build_op, known_kinds, op_arguments, register_op

__all__ = [
    "CompiledCell", "DropPath", "EdgeBuilder", "SingleOpEdge", "compile_cell", "single_op_edges",
    "count_macs", "count_parameters", "export_network", "LAYOUTS", "Network", "build_network",
    "build_op", "known_kinds", "op_arguments", "register_op", "OpBuild", "OpCapabilities",
]
