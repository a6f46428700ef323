"""Files -> checked IR: reads a `.gs` file and its imports, then resolves every declaration."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .. import ir
from ..errors import GenospecError, Source, Span, SpecError, did_you_mean, raise_all
from ..limits import MAX_FILE_BYTES
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


BUNDLED = "genospec:"  # import "genospec:spaces/darts.gs": the spaces and genotypes shipped


def bundled_specs() -> Path:
    """The directory of the bundled specs (spaces/, genotypes/, searches/): inside the installed
    package, or the source checkout's specs/."""
    package = Path(__file__).resolve().parents[1]
    inside = package / "specs"
    return inside if inside.is_dir() else package.parent / "specs"


def import_target(base: Path, path: str) -> Path:
    """The file an ``import "PATH"`` names: relative to the importing file's directory
    ``base``, or with the ``genospec:`` prefix relative to the bundled specs."""
    if path.startswith(BUNDLED):
        return (bundled_specs() / path[len(BUNDLED):].lstrip("/")).resolve()
    return (base / path).resolve()


def _import_hint(base: Path, path: str) -> str:
    """Where an import that found nothing looked, and the bundled form."""
    if path.startswith(BUNDLED):
        found = [str(p.relative_to(bundled_specs())) for kind in ("spaces", "genotypes")
                 for p in sorted((bundled_specs() / kind).glob("*.gs"))]
        return (f"{BUNDLED} paths are relative to {bundled_specs()}; bundled: "
                + ", ".join(found[:12]) + (", ..." if len(found) > 12 else ""))
    return (f"paths are relative to {base}; the bundled spaces import as "
            f'"{BUNDLED}spaces/darts.gs" (see `genospec list`)')


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
                target = import_target(path.parent, d.path)
            except (OSError, ValueError, RuntimeError) as e:  # a name too long, a NUL byte, a symlink loop
                errors.append(SpecError(f"cannot import '{d.path}': {_reason(e)}", d.span))
                continue
            if target in stack:
                errors.append(SpecError(f"import cycle: {' -> '.join(p.name for p in [*stack, target])}",
                                        d.span, "remove one of the imports"))
                continue
            if target in seen:
                continue
            if target.suffix != ".gs":  # never read (and quote in an error) a file of another kind
                errors.append(SpecError(f"cannot import '{d.path}': only .gs files can be imported", d.span))
                continue
            try:
                imported = decode(read_bytes(target), _display(target))
            except Unreadable as e:
                errors.append(SpecError(f"cannot import '{d.path}': {e}", d.span,
                                        _import_hint(path.parent, d.path) if str(e) == "no such file" else None))
                continue
            except SpecError as e:  # not UTF-8: points into the imported file
                errors.append(e)
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
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)


class Unreadable(Exception):
    """Why a file cannot be read (see read_text)."""


def bundle_text(path: str | Path) -> str:
    """The text of a `.gs` file with every file it imports (and they import) inlined before it,
    each under a comment naming it, and its import statements commented out: one file that
    compiles anywhere (a run directory keeps its recipe this way)."""
    root = Path(path).resolve()
    done: set[Path] = set()
    parts: list[str] = []

    def visit(p: Path) -> None:
        done.add(p)
        text = read_text(p)
        source = Source(str(p), text)
        tree = parse(text, str(p))
        out, at = [], 0
        for d in tree.decls:
            if isinstance(d, ast.Import):
                target = import_target(p.parent, d.path)
                if target not in done:
                    visit(target)
                start = source.offset(d.span.line, d.span.column)
                end = source.offset(d.span.end_line, d.span.end_column)
                out += [text[at:start], f"# inlined: {text[start:end]}"]
                at = end
        body = "".join(out) + text[at:]
        parts.append(body if p == root else f"# ---- inlined from {_display(p)} ----\n{body.rstrip()}\n\n")

    visit(root)
    return "".join(parts)


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES bytes, or Unreadable saying why.

    Directories, FIFOs, devices and sockets are refused without reading (``/dev/zero`` would never
    end, a FIFO would block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise Unreadable("no such file") from None
    except (OSError, ValueError) as e:
        raise Unreadable(_reason(e)) from None
    mode = os.fstat(fd)
    if not stat.S_ISREG(mode.st_mode) or mode.st_size > MAX_FILE_BYTES:
        os.close(fd)
        raise Unreadable(f"it is {_kind(mode.st_mode)}, not a regular file" if not stat.S_ISREG(mode.st_mode)
                         else _too_big(mode.st_size))
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(MAX_FILE_BYTES + 1)
        except OSError as e:
            raise Unreadable(_reason(e)) from None
    if len(data) > MAX_FILE_BYTES:  # a file that grew, or a /proc file of size 0
        raise Unreadable(_too_big(len(data)))
    return data


def decode(data: bytes, shown: str) -> str:
    """UTF-8 text, or a SpecError at the line and column of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        source = Source(shown, data.decode("utf-8", errors="replace"))
        line, col = source.position(len(data[:e.start].decode("utf-8", errors="replace")))
        raise SpecError(f"{shown} is not UTF-8 text: byte 0x{data[e.start]:02x} cannot start or continue "
                        "a character", Span(source, line, col, line, col + 1), "save the file as UTF-8") from None


def read_text(path: str | Path, shown: str | None = None) -> str:
    """The UTF-8 text of a regular file (see read_bytes and decode); problems are SpecErrors
    naming the file as ``shown`` (default: ``path``)."""
    shown = shown or str(path)
    try:
        data = read_bytes(path)
    except Unreadable as e:
        raise SpecError(f"no such file: {shown}" if str(e) == "no such file" else f"cannot read {shown}: {e}",
                        None) from None
    return decode(data, shown)


def _kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _too_big(size: int) -> str:
    return f"it has {size:,} bytes or more, more than the limit of {MAX_FILE_BYTES:,}"


def load(path: str | Path) -> Module:
    """Read and check a `.gs` file."""
    return loads(read_text(path), str(path))
