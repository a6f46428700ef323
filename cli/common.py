"""What every `genospec` command shares: error reporting, --nproc relaunching, bounded numbers and
names checked against the registries (so a --plugin's dataset or layout is a valid choice).

The command modules import from here, never from `genospec.cli.main` (which imports them).
"""

from __future__ import annotations

import functools
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
