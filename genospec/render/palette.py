"""One colour per op name, the same in every plot, heatmap and cell picture, and one order
of ops for every legend and heatmap.

The ops of the papers' spaces have fixed colours; any other name gets one from a second palette
picked by a checksum of the name, so it too is the same in every figure and every run. Two
unknown names may share a colour; known names never do.
"""

from __future__ import annotations

import zlib
from typing import Iterable

OP_COLOURS = {  # in DARTS' order of its primitives (figures list ops in this order)
    "none": "#7f7f7f",
    "max_pool_3x3": "#1f77b4",
    "avg_pool_3x3": "#17becf",
    "skip_connect": "#d62728",
    "sep_conv_3x3": "#2ca02c",
    "sep_conv_5x5": "#bcbd22",
    "dil_conv_3x3": "#9467bd",
    "dil_conv_5x5": "#e377c2",
    "nor_conv_3x3": "#ff7f0e",
    "nor_conv_1x1": "#8c564b",
    "noise": "#393b79",
}
# saturated tones none of the known ops uses (tab20's dark halves are taken above)
_OTHERS = ("#005f73", "#9b2226", "#bb3e03", "#ca6702", "#0a9396", "#6a4c93", "#1b4332",
           "#b5179e", "#3a0ca3", "#588157", "#7f4f24", "#e63946")


def op_colour(name: str) -> str:
    """The colour of op ``name`` (a ``#rrggbb`` string)."""
    known = OP_COLOURS.get(name)
    if known is not None:
        return known
    return _OTHERS[zlib.crc32(name.encode("utf-8")) % len(_OTHERS)]


def op_order(names: Iterable[str]) -> list[str]:
    """Op names in one order for every figure: the papers' ops as listed in the palette, then
    the others alphabetically."""
    known = list(OP_COLOURS)
    return sorted(set(names), key=lambda o: (known.index(o), "") if o in known else (len(known), o))
