"""Writing a graphviz picture to a file, the format picked from the file's suffix."""

from __future__ import annotations

import subprocess
from pathlib import Path

import graphviz

from ..errors import RenderError

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
SOURCE_SUFFIXES = (".gv", ".dot")


def write(graph: graphviz.Digraph, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` as SVG, PNG or PDF (or DOT source for .gv / .dot).

    Images need graphviz's ``dot`` program; its absence is a ``RenderError`` saying how to
    install it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in SOURCE_SUFFIXES:
        data = graph.source.encode("utf-8")
    elif suffix in FORMATS:
        try:
            data = graph.pipe(format=FORMATS[suffix])
        except graphviz.ExecutableNotFound as e:
            raise RenderError(
                "graphviz's `dot` program was not found, so no picture can be drawn",
                hint="install graphviz: apt-get install graphviz (Debian/Ubuntu), "
                     "brew install graphviz (macOS), conda install graphviz; "
                     "or write DOT source with a .gv suffix") from e
        except subprocess.CalledProcessError as e:
            detail = (e.stderr or b"").decode("utf-8", "replace").strip()
            raise RenderError(f"graphviz failed to draw {path.name}: {detail}") from e
    else:
        known = ", ".join([*FORMATS, *SOURCE_SUFFIXES])
        raise RenderError(f"cannot tell the picture format of {path.name!r}",
                          hint=f"use one of the suffixes {known}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
