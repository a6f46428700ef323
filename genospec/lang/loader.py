"""Files -> checked IR: reads a `.gs` file and its imports, then resolves every declaration."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import ir
from ..errors import GenospecError, SpecError, did_you_mean, raise_all
from . import ast
from .parser import parse
from .resolve import Resolver

Decl = ast.SpaceDecl | ast.GenotypeDecl | ast.SearchDecl


@dataclass
class Module:
    """The checked declarations of one file (imported declarations are reachable by name)."""

    path: str
    file: ast.File
    spaces: dict[str, ir.Space] = field(default_factory=dict)
    genotypes: dict[str, ir.Space] = field(default_factory=dict)
    recipes: dict[str, ir.Recipe] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def get(self, name: str | None = None) -> ir.Space | ir.Recipe:
        """The declaration called ``name``, or the file's last declaration when no name is given."""
        every = {**self.spaces, **self.genotypes, **self.recipes}
        if name is None:
            if not self.order:
                raise SpecError(f"{self.path} declares nothing", None, "add a space, genotype or search")
            return every[self.order[-1]]
        if name not in every:
            raise SpecError(f"{self.path} has no declaration '{name}'", None,
                            did_you_mean(name, every) or "declared: " + ", ".join(self.order))
        return every[name]


def _display(path: Path) -> str:
    """A path as a user would type it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _collect(path: Path, text: str, decls: dict[str, Decl], stack: list[Path],
             errors: list[GenospecError], seen: set[Path], shown: str | None = None) -> ast.File | None:
    try:
        tree = parse(text, shown or _display(path))
    except GenospecError as e:
        errors.append(e)
        return None
    seen.add(path)
    for d in tree.decls:
        if isinstance(d, ast.Import):
            try:
                target = (path.parent / d.path).resolve()
                found = target.is_file()
            except (OSError, ValueError, RuntimeError) as e:  # a name too long, a NUL byte, a symlink loop
                errors.append(SpecError(f"cannot import '{d.path}': {_reason(e)}", d.span))
                continue
            if target in stack:
                errors.append(SpecError(f"import cycle: {' -> '.join(p.name for p in [*stack, target])}",
                                        d.span, "remove one of the imports"))
                continue
            if target in seen:
                continue
            if not found:
                errors.append(SpecError(f"cannot import '{d.path}': no such file", d.span,
                                        f"paths are relative to {path.parent}"))
                continue
            try:
                imported = target.read_text(encoding="utf-8")
            except (OSError, ValueError) as e:
                errors.append(SpecError(f"cannot import '{d.path}': {_reason(e)}", d.span))
                continue
            _collect(target, imported, decls, [*stack, target], errors, seen)
            continue
        name = d.name.value
        if name in decls:
            first = decls[name].name.span
            errors.append(SpecError(f"'{name}' is already declared at {first.file}:{first.line}:{first.column}",
                                    d.name.span, "every space, genotype and search needs its own name"))
            continue
        decls[name] = d
    return tree


def loads(text: str, path: str = "<input>") -> Module:
    """Parse and check ``text``; raise every error found (SpecErrors when several)."""
    try:
        p = Path(path).resolve() if path != "<input>" else Path.cwd() / "<input>"
    except (OSError, ValueError, RuntimeError):  # a path that cannot exist: imports will say so
        p = Path(path).absolute()
    decls: dict[str, Decl] = {}
    errors: list[GenospecError] = []
    tree = _collect(p, text, decls, [p], errors, set(), path)
    if tree is None:
        raise_all(errors)
        raise AssertionError("unreachable")
    module = Module(path, tree)
    resolver = Resolver(decls)
    own = [d for d in tree.decls if not isinstance(d, ast.Import) and decls.get(d.name.value) is d]
    for d in own:
        name = d.name.value
        module.order.append(name)
        if isinstance(d, ast.SpaceDecl):
            sp = resolver.space(d.name)
            if sp is not None:
                module.spaces[name] = sp
        elif isinstance(d, ast.GenotypeDecl):
            g = resolver.genotype(d)
            if g is not None:
                module.genotypes[name] = g
        else:
            r = resolver.recipe(d)
            if r is not None:
                module.recipes[name] = r
    raise_all(_unique(errors + resolver.errors))
    return module


def _unique(errors: list[GenospecError]) -> list[GenospecError]:
    """Each error once: a statement inherited by several cells or spaces is checked in each, so
    errors at the same place that differ only in the cell they name are one error."""
    seen: set[tuple] = set()
    out = []
    for e in errors:
        key = (type(e), re.sub(r"cell '\w+'", "cell", e.message), e.span, e.hint)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _reason(e: Exception) -> str:
    if isinstance(e, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)


def load(path: str | Path) -> Module:
    """Read and check a `.gs` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"no such file: {p}", None) from None
    except (OSError, ValueError) as e:
        raise SpecError(f"cannot read {p}: {_reason(e)}", None) from None
    return loads(text, str(p))
