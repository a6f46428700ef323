"""`genospec convert`: read a genotype in any notation, write it in another."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConversionError
from ..ir import Recipe, Space
from .darts import parse_genotype, parse_genotype_file, to_darts
from .nb201 import parse_nb201, to_nb201


def read_any(source: str, name: str | None = None) -> Space:
    """A genotype from a .gs / .json / DARTS-genotypes file, or a DARTS or NAS-Bench-201 string."""
    from ..lang.loader import load, read_text
    text = source.strip()
    looks_inline = text.startswith(("|", "Genotype(")) or "Genotype(" in text
    path = Path(source)
    if not looks_inline and _exists(path):
        if path.suffix == ".gs":
            obj = load(path).get(name)
            return obj.space if isinstance(obj, Recipe) else obj
        content = read_text(path)  # a regular file of at most MAX_FILE_BYTES, or a clear error
        if path.suffix == ".json":
            from ..irjson import space_from_json
            try:
                return space_from_json(json.loads(content))
            except json.JSONDecodeError as e:
                raise ConversionError(f"{path} is not JSON: {e}") from None
            except RecursionError:
                raise ConversionError(f"{path}: JSON nested too deep for an IR document") from None
        if "Genotype(" in content:
            found = parse_genotype_file(content, str(path)) if "=" in content.split("Genotype(")[0] \
                else {"genotype": parse_genotype(content, name or path.stem, str(path))}
            if name is None:
                if len(found) != 1:
                    raise ConversionError(f"{path} holds {len(found)} genotypes; pick one with --name",
                                          hint="names: " + ", ".join(found))
                return next(iter(found.values()))
            if name not in found:
                from ..errors import did_you_mean
                raise ConversionError(f"{path} has no genotype {name!r}", hint=did_you_mean(name, found))
            return found[name]
        text = content.strip()
    if text.startswith("|"):
        return parse_nb201(text, name or "nb201")
    if "Genotype(" in text:
        return parse_genotype(text, name or DARTS_NAME)
    if not looks_inline and not _exists(path) and source.endswith((".gs", ".json", ".txt")):
        raise ConversionError(f"no such file: {source}")
    raise ConversionError("cannot tell what this is",
                          hint="give a .gs or .json file, a DARTS Genotype(...) string or a "
                               "NAS-Bench-201 |op~0|+|...| string")


DARTS_NAME = "darts_genotype"  # a DARTS string's genotype when --name gives none


def bundled_import(space: str) -> str | None:
    """``genospec:spaces/FILE.gs`` when a bundled space file declares ``space`` (else None)."""
    import re

    from ..lang.loader import BUNDLED, bundled_specs
    pattern = re.compile(rf"^space\s+{re.escape(space)}\b", re.M)
    for path in sorted((bundled_specs() / "spaces").glob("*.gs")):
        if pattern.search(path.read_text(encoding="utf-8")):
            return f"{BUNDLED}spaces/{path.name}"
    return None


def _exists(path: Path) -> bool:
    """Whether something (a file, or a FIFO or device that reading will refuse) is at ``path``;
    False for text that cannot be a path (too long, a NUL byte)."""
    try:
        return path.exists() and not path.is_dir()
    except (OSError, ValueError):
        return False


def convert_to(space: Space, target: str, *, of: str | None = None, imports: list[str] | None = None) -> str:
    """``space`` written as gs, darts, nb201 or json text (ending with a newline)."""
    if target == "darts":
        return to_darts(space) + "\n"
    if target == "nb201":
        return to_nb201(space) + "\n"
    if target == "json":
        from ..irjson import space_to_json
        return json.dumps(space_to_json(space), indent=2) + "\n"
    from ..lang.emit import emit_space
    imports = list(imports or [])
    of = of or space.of
    if of is not None and not imports:  # the result must compile: import the space it is of
        found = bundled_import(of)
        if found is None and space.of is not None and of == space.of:
            of = None  # an unknown space of the source: a standalone genotype still compiles
        elif found is None:
            raise ConversionError(f"--of {of}: no bundled space is called {of!r}",
                                  hint="add --import FILE.gs naming the file that declares it")
        else:
            imports = [found]
    space = Space(space.name, space.kind, space.ops, space.cells, space.network, space.groups, of=of)
    return emit_space(space, imports=imports)
