"""What every `genospec` command shares: error reporting, --nproc relaunching, bounded numbers and
names checked against the registries (so a --plugin's dataset or layout is a valid choice).

The command modules import from here, never from `genospec.cli.main` (which imports them).
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from typing import Any, Callable

import click


def upto(limit: int) -> click.IntRange:
    """A whole number from 1 to ``limit`` (genospec/limits.py): refused before anything is built."""
    return click.IntRange(1, limit)


class RegisteredName(click.ParamType):
    """A name registered in the registry of ``kind`` (`genospec.registry`), looked up when the
    command runs, after the --plugin modules have registered their parts."""

    name = "name"

    def __init__(self, kind: str):
        self.kind = kind

    def get_metavar(self, param: click.Parameter, *args: Any, **kwargs: Any) -> str:
        return "NAME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from genospec.registry import registry
        reg = registry(self.kind)
        if value in reg:
            return value
        error = reg.unknown(str(value))
        self.fail(error.message + (f"; {error.hint}" if error.hint else ""), param, ctx)


def reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn genospec errors into a message on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from genospec.errors import GenospecError, GenospecWarning

        def show(message: Warning | str, category: type[Warning], *rest: Any, **kw: Any) -> None:
            if issubclass(category, GenospecWarning):
                click.echo(f"warning: {message}", err=True)
            else:
                shown(message, category, *rest, **kw)

        try:
            with warnings.catch_warnings():  # genospec's own warnings as one line on stderr
                warnings.simplefilter("always", GenospecWarning)
                shown, warnings.showwarning = warnings.showwarning, show
                return fn(*args, **kwargs)
        except GenospecError as e:
            click.echo(str(e), err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
    return wrapper


def relaunch_in_processes(nproc: int, command: str) -> None:
    """``--nproc N``: run this command line again in N processes (DistributedDataParallel) and
    exit with their exit code. Returns at once for one process or inside a launched one."""
    from genospec import distributed
    if nproc <= 1 or distributed.launched():
        return
    argv = distributed.command_line(command)
    if argv is None:
        raise click.UsageError(f"--nproc runs the command line again: call `genospec {command}`")
    sys.exit(distributed.launch(nproc, argv))


# ---- threads ----------------------------------------------------------------------------------
def default_threads() -> int:
    """The CPUs this process may use (its affinity mask; all CPUs where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def threads_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--threads N``: torch's CPU threads for this command."""
    return click.option(
        "--threads", type=click.IntRange(min=1),
        help=f"CPU threads torch uses [default: the CPUs this process may use, here {default_threads()}].")(fn)


def busy_warning(load: float, cores: int) -> str | None:
    """One line when the machine's load average ``load`` exceeds its ``cores`` (else None)."""
    if load <= cores:
        return None
    return (f"warning: the machine is busy (load average {load:.1f} on {cores} cores): this run "
            f"shares the CPUs with other processes and will be slower; --threads N sets its threads")


def use_threads(threads: int | None, quiet: bool = False) -> int:
    """Set torch's CPU threads to ``threads`` (None: `default_threads`, shared among the
    processes of a --nproc run) and warn on stderr when the machine is busier than its cores."""
    import torch
    from genospec import distributed
    n = threads or max(1, default_threads() // max(1, distributed.local_world_size()))
    torch.set_num_threads(n)
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    line = busy_warning(load, os.cpu_count() or 1)
    if line and not quiet and distributed.is_main():
        click.echo(line, err=True)
    return n


# ---- declarations -----------------------------------------------------------------------------
def declaration_lines(module: Any) -> list[str]:
    """``KIND NAME`` for each declaration of a loaded file, in order."""
    kinds = [("search", module.recipes), ("genotype", module.genotypes), ("space", module.spaces)]
    lines = []
    for name in module.order:
        kind = next((k for k, found in kinds if name in found), "?")
        lines.append(f"{kind:<8} {name}")
    return lines


def pick_declaration(path: str, name: str | None, command: str, kind: str | None = None) -> Any:
    """Declaration ``name`` of the file at ``path``. Without a name: the file's only declaration
    of the ``kind`` the command takes (``"search"``: recipes, ``"genotype"``: genotypes, None:
    any), and with several of them their list on stderr and exit 2 (usage)."""
    from genospec.lang.loader import load
    module = load(path)
    if name is None:
        pool = {"search": module.recipes, "genotype": module.genotypes}.get(kind)
        candidates = [n for n in module.order if pool is None or n in pool]
        if len(candidates) == 1:
            return module.get(candidates[0])
        if len(module.order) > 1:
            what = f"{len(candidates)} {kind} declarations" if pool is not None and candidates \
                else f"{len(module.order)} things"
            click.echo(f"{path} declares {what}; name one:", err=True)
            for line in declaration_lines(module):
                click.echo(f"  {line}", err=True)
            example = candidates[0] if candidates else module.order[0]
            click.echo(f"for example: genospec {command} {path} {example}", err=True)
            sys.exit(2)
    return module.get(name)


def tensorboard_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--tensorboard [DIR]``: TensorBoard event files (default DIR: RUN/tensorboard)."""
    return click.option(
        "--tensorboard", is_flag=False, flag_value="", default=None, metavar="[DIR]",
        help="Also write TensorBoard event files to DIR (default: RUN/tensorboard); needs "
             "pip install 'genospec[tensorboard]'.")(fn)
