"""Plugins: Python modules that register parts (ops, relaxations, selection rules, regularisers,
datasets, ...) when imported.

Three ways in, all ending in `load_plugin`: ``genospec --plugin MODULE`` (repeatable, any
command), a recipe's ``plugins "MODULE"`` setting (so ``--resume`` reloads them), and installed
packages that declare an entry point in the group ``genospec.plugins`` (loaded by
`load_entry_points`, which the CLI calls once). A module may also be a path to a ``.py`` file.
A module is imported once per process; its import registers its parts.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import GenospecError, SpecError

GROUP = "genospec.plugins"
_loaded: dict[str, Any] = {}


class PluginError(GenospecError):
    """A plugin could not be imported (exit code 1, like a spec error)."""

    exit_code = 1


def load_plugin(name: str, span: Any = None) -> Any:
    """Import the plugin module ``name`` (dotted name or path to a ``.py`` file), once."""
    if name in _loaded:
        return _loaded[name]
    try:
        if name.endswith(".py"):
            path = Path(name)
            if not path.is_file():
                raise SpecError(f"plugin file {name} does not exist", span)
            spec = importlib.util.spec_from_file_location(f"genospec_plugin_{path.stem}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and name.startswith(e.name):
            raise SpecError(f"plugin {name!r} cannot be imported: no module named {e.name!r}",
                            span, "install it, or put its folder on PYTHONPATH") from None
        raise PluginError(f"plugin {name!r} failed to import: {e}") from e
    except GenospecError:
        raise
    except Exception as e:  # the plugin's own code failed
        raise PluginError(f"plugin {name!r} failed to import: {type(e).__name__}: {e}") from e
    _loaded[name] = module
    if name.endswith(".py"):  # a recipe's `plugins "stem"` finds the file given on the command line
        _loaded.setdefault(Path(name).stem, module)
    return module


def load_entry_points() -> list[str]:
    """Import every installed plugin of the ``genospec.plugins`` entry-point group; returns
    their names."""
    names = []
    for ep in metadata.entry_points(group=GROUP):
        if ep.value not in _loaded:
            try:
                _loaded[ep.value] = ep.load()
            except Exception as e:
                raise PluginError(f"installed plugin {ep.name!r} ({ep.value}) failed to load: "
                                  f"{type(e).__name__}: {e}") from e
        names.append(ep.name)
    return names


def loaded() -> list[str]:
    """The plugins imported so far, in order."""
    return list(_loaded)
