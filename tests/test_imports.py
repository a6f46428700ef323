"""The package's structure: no import cycles among module-level imports (cli/ included), and no
module imports another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"genospec": ROOT / "genospec", "genospec.cli": ROOT / "cli"}


def _modules() -> dict[str, Path]:
    out = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _top_level_imports(tree: ast.Module):
    """Imports executed when the module loads (not inside functions or TYPE_CHECKING)."""
    def walk(body):
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node
            elif isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    yield from walk(node.body)
                yield from walk(node.orelse)
            elif isinstance(node, (ast.Try, ast.With)):
                yield from walk(node.body)
                for h in getattr(node, "handlers", []):
                    yield from walk(h.body)
    yield from walk(tree.body)


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    private: list[str] = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _top_level_imports(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
                if base in modules and base != name:
                    private += [f"{name} imports {base}.{a.name}" for a in node.names
                                if a.name.startswith("_") and not a.name.startswith("__")]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph, private


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


@pytest.fixture(scope="module")
def structure():
    return _graph()


def test_the_checker_sees_the_packages(structure):
    graph, _ = structure
    assert "genospec.cli.main" in graph and "genospec.cli.common" in graph["genospec.cli.main"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles(structure):
    graph, _ = structure
    assert _cycle(graph) is None


# genospec/nn and genospec/relax still share private helpers between their own modules (issue 14)
CHECKED_FOR_PRIVATE = ("genospec.search", "genospec.train", "genospec.runtime", "genospec.lang",
                       "genospec.cli", "genospec.study", "genospec.registry", "genospec.builtins")


def test_no_module_imports_private_names_of_another(structure):
    _, private = structure
    assert [p for p in private if p.startswith(CHECKED_FOR_PRIVATE)] == []
