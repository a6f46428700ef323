"""render stage of the genospec pipeline: graphviz pictures of cells, spaces and supernets."""

from .cells import render_genotype, render_space, render_weights
from .draw import draw_to_files
from .files import write

__all__ = ["render_genotype", "render_space", "render_weights", "write", "draw_to_files"]
