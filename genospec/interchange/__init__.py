"""interchange stage of the genospec pipeline: DARTS ``Genotype`` and NAS-Bench-201 strings."""

from .convert import convert_to, read_any
from .darts import (DartsGenotype, darts_genotype, from_darts, load_genotype_file,
                    parse_genotype, parse_genotype_file, to_darts)
from .nb201 import nb201_network, parse_nb201, to_nb201

__all__ = ["DartsGenotype", "darts_genotype", "from_darts", "load_genotype_file",
           "parse_genotype", "parse_genotype_file", "to_darts", "nb201_network", "parse_nb201",
           "to_nb201", "convert_to", "read_any"]
