"""Every size limit genospec enforces on what a user gives it, in one place.

Hostile or mistaken input (a number of 5,000 digits, a 1 GB file, a cell with 100,000 edges, a
network of a million channels) is refused early with an error that names the limit, instead of
hanging, exhausting memory or ending in a traceback. docs/language.md lists these limits.
"""

from __future__ import annotations

# ---- files ----------------------------------------------------------------------------------
MAX_FILE_BYTES = 250_000
"""A `.gs`, DARTS genotype or JSON file is read only when it is a regular file this size or less
(the largest file in specs/ has 8 KB; a file at the limit parses in a few seconds)."""

# ---- numbers in `.gs` files and DARTS / NAS-Bench-201 strings ------------------------------
MAX_NUMBER_CHARS = 100
"""The longest number literal (digits, sign, point and exponent together)."""
MAX_EXPONENT = 400
"""The largest exponent a number may be written with (``1e400``; ``1e-400``)."""

# ---- cells and spaces ----------------------------------------------------------------------
MAX_NODES = 64
"""The most inputs, or intermediate nodes, one cell may declare."""
MAX_CELL_EDGES = 8192
"""The most op edges one cell may have (a cell of 64 inputs and 64 nodes with `edges all` has 6,112)."""
MAX_TOPOLOGY_CHOICES = 65_536
"""The most edge combinations a `topology pick ...` may give one node (`pick any` on 16 edges:
65,535). A search keeps one weight per combination and lists each combination."""

# ---- evaluation networks (network blocks and command-line options) -------------------------
MAX_NETWORK_CELLS = 100
MAX_CHANNELS = 1024
MAX_CLASSES = 100_000
MAX_INPUT_SIZE = 1024
MAX_IN_CHANS = 64
MAX_PARAMETERS = 1_000_000_000
"""The most parameters an evaluation network may have (4 GB of float32 weights); a large network
is counted on PyTorch's meta device, which allocates nothing, before it is built."""
MAX_ACTIVATION_BYTES = 2**30
"""The largest feature map `compile` may compute multiply-adds on (one image, float32): the
first cells' output, channels x height x width x 4 bytes."""

# ---- error reports -------------------------------------------------------------------------
MAX_PRINTED_ERRORS = 50
"""Errors printed for one file; the rest are counted."""
MAX_MESSAGE_CHARS = 1000
"""The longest message or hint printed (a message quoting a name or path of 100,000 characters
shows its start)."""
MAX_SHOWN_LINE = 160
"""The widest source line printed under an error; longer lines are clipped around the caret."""

# ---- DARTS Genotype(...) strings -----------------------------------------------------------
MAX_NESTING = 16
"""The deepest nesting of brackets in a DARTS genotype string."""
MAX_GENOTYPE_ENTRIES = 2 * MAX_NODES
"""The most (op, input) pairs one cell of a DARTS genotype string may list."""

