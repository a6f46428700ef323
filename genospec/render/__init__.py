"""render stage of the genospec pipeline: graphviz pictures of cells, spaces and supernets."""

from .cells import render_genotype, render_space, render_weights
from .files import write

__all__ = ["render_genotype", "render_space", "render_weights", "write"]
