"""`genospec fmt`: rewrite `.gs` text in the canonical layout, proving that nothing changed.

Like black's AST check, every result is verified before it is returned: the new text must parse
to the same syntax tree (positions aside), keep every comment, print to itself again, and resolve
to the same IR as the original (the file's own declarations; imports are read relative to the
file). A failed check is a bug in genospec and raises `InternalError`. A syntax error in the input
raises its `SpecSyntaxError` unchanged; a file with semantic errors is still formatted (its
formatted text must fail to resolve too).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..checkpoint import atomic_write_text
from ..errors import GenospecError, InternalError, SpecSyntaxError
from ..irjson import space_to_json
from . import ast
from .loader import Module, loads, read_text
from .parser import parse
from .printer import print_file


def format_text(text: str, path: str = "<input>") -> str:
    """The canonical text of ``text`` (read from ``path``), checked to mean the same."""
    tree = parse(text, path)
    out = print_file(tree, text)
    _check(tree, text, out, path)
    return out


def format_file(path: str | Path, write: bool = True) -> bool:
    """Format the file at ``path``; True when it was not canonical (rewritten, atomically, if
    ``write``)."""
    p = Path(path)
    text = read_text(p)  # a regular UTF-8 file under MAX_FILE_BYTES, or a SpecError saying why
    out = format_text(text, str(p))
    if out == text:
        return False
    if write:
        atomic_write_text(p, out)
    return True


def syntax_shape(node: object) -> object:
    """A position-free image of an AST node: equal shapes mean equal syntax.

    Spans are dropped, and so is whether an op call wrote empty parentheses (``zero()`` is
    ``zero``); comments are compared separately.
    """
    if isinstance(node, ast.File):
        return syntax_shape(node.decls)
    if isinstance(node, (tuple, list)):
        return tuple(syntax_shape(n) for n in node)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple(
            syntax_shape(getattr(node, f.name)) for f in dataclasses.fields(node)
            if f.name not in ("span", "parens"))
    return node


def module_meaning(module: Module) -> dict[str, object]:
    """The IR of a module's own declarations as comparable plain data."""
    out: dict[str, object] = {}
    for name, space in {**module.spaces, **module.genotypes}.items():
        out[name] = space_to_json(space)
    for name, r in module.recipes.items():
        out[name] = {"space": space_to_json(r.space), "settings": r.settings, "quick": r.quick,
                     "stages": [(s.name, s.settings, s.quick) for s in r.stages]}
    out["<order>"] = list(module.order)
    return out


def _meaning(text: str, path: str) -> dict[str, object] | None:
    try:
        return module_meaning(loads(text, path))
    except GenospecError:
        return None


def _check(tree: ast.File, text: str, out: str, path: str) -> None:
    def fail(what: str) -> InternalError:
        return InternalError(f"formatting {path} {what}; please report this bug (the file was left unchanged)")

    try:
        again = parse(out, path)
    except SpecSyntaxError as e:
        raise fail(f"produced text that does not parse ({e.message})") from None
    if syntax_shape(again) != syntax_shape(tree):
        raise fail("changed its syntax tree")
    if sorted(c.text.rstrip() for c in again.comments) != sorted(c.text.rstrip() for c in tree.comments):
        raise fail("lost or changed a comment")
    if print_file(again, out) != out:
        raise fail("is not stable (formatting the result changes it again)")
    before, after = _meaning(text, path), _meaning(out, path)
    if before != after:
        raise fail("changed what the file means (its IR differs)")
