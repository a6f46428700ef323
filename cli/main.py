"""The `genospec` command: a few lines per command over library functions.

Exit codes: 0 success; 1 a mistake in a spec file (or `fmt --check` found files to reformat);
2 bad command-line usage; 3 a runtime failure (missing data or graphviz, a crash); 130 when
interrupted with Ctrl-C (a search or training run saves a checkpoint first).

Torch is imported only inside the commands that build networks, so `genospec --help`, `fmt`,
`convert` and `render` start fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from genospec import __version__
from genospec.cli.common import RegisteredName, declaration_lines, pick_declaration, reports_errors, upto
from genospec.cli.search_cmd import search
from genospec.cli.study_cmd import study
from genospec.cli.train_cmd import train
from genospec.limits import MAX_CHANNELS, MAX_CLASSES, MAX_IN_CHANS, MAX_INPUT_SIZE, MAX_NETWORK_CELLS
from genospec.registry import LAYOUT


EXAMPLES = {
    "list": "genospec list specs/searches/darts.gs",
    "compile": "genospec compile specs/spaces/darts.gs darts\n"
               "genospec compile specs/genotypes/darts.gs DARTS_V2 --channels 36 --cells 20 --auxiliary",
    "render": "genospec render specs/genotypes/darts.gs DARTS_V2 -o darts_v2.svg --cell normal\n"
              "genospec render specs/spaces/darts.gs darts --weights runs/quick-darts -o weights.svg",
    "fmt": "genospec fmt specs/spaces/*.gs --check",
    "convert": "genospec convert \"Genotype(normal=[('sep_conv_3x3', 0), ...], ...)\" --to gs\n"
               "genospec convert '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|' --to gs\n"
               "genospec convert specs/genotypes/darts.gs --name DARTS_V2 --to darts",
}


def _epilog(name: str) -> str:
    lines = EXAMPLES[name].splitlines()
    return "\b\nExamples:\n" + "\n".join(f"  {ln}" for ln in lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genospec")
@click.option("--plugin", "plugins", multiple=True, metavar="MODULE",
              help="Import MODULE (dotted name or .py file) first: the ops, relaxations, "
                   "selection rules, regularisers or datasets it registers can be named in "
                   ".gs files. Repeatable; installed `genospec.plugins` entry points load too.")
def main(plugins: tuple[str, ...] = ()) -> None:
    """genospec: write a DARTS-style search space, a search recipe or a genotype as a `.gs`
    file; check and count it, search it, draw it, train it.

    \b
    Quick start:
      genospec list specs/searches/darts.gs                        # what a file declares
      genospec compile specs/spaces/darts.gs darts                  # cells, edges, exact size
      genospec search specs/searches/darts.gs darts_first_order --quick
      genospec render runs/<run>/genotype.gs -o cell.svg
      genospec train runs/<run>/genotype.gs --quick

    Exit codes: 0 ok, 1 error in a spec file, 2 usage error, 3 runtime failure, 130 interrupted.
    """
    _load_plugins(plugins)


@reports_errors
def _load_plugins(plugins: tuple[str, ...]) -> None:
    """Installed entry points, then the --plugin modules (a failure: message, exit 1)."""
    from genospec.plugins import load_entry_points, load_plugin
    load_entry_points()
    for name in plugins:
        load_plugin(name)


def _load(path: str, name: str | None, command: str):
    """NAME of the file (its only declaration when none is named; several: listed, exit 2)."""
    return pick_declaration(path, name, command)


# ---- list -------------------------------------------------------------------------------------
@main.command("list", epilog=_epilog("list"))
@click.argument("file", type=click.Path(dir_okay=False))
@reports_errors
def list_cmd(file: str) -> None:
    """List the declarations of FILE: kind (space, genotype, search) and name, one a line.

    Imported declarations are not listed; the names are what compile, search, render and train
    take after the file.
    """
    from genospec.lang.loader import load
    for line in declaration_lines(load(file)):
        click.echo(line)


# ---- compile ----------------------------------------------------------------------------------
@main.command("compile", epilog=_epilog("compile"))
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("name", required=False)
@click.option("--network", "layout", type=RegisteredName(LAYOUT), help="Network layout (a registered one: cifar, imagenet, nb201, ...).")
@click.option("--cells", type=upto(MAX_NETWORK_CELLS), help="Number of cells (default: the spec's network block).")
@click.option("--channels", type=upto(MAX_CHANNELS), help="Initial channels C.")
@click.option("--classes", type=upto(MAX_CLASSES), help="Number of classes.")
@click.option("--input", "input_size", type=upto(MAX_INPUT_SIZE),
              help="Input resolution for multiply-adds (32 CIFAR, 224 ImageNet).")
@click.option("--in-chans", type=upto(MAX_IN_CHANS), default=3, show_default=True, help="Input image channels.")
@click.option("--auxiliary/--no-auxiliary", default=None, help="Build the auxiliary head.")
@click.option("--json", "as_json", is_flag=True, help="Print the IR as JSON (validated against the schema).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the evaluation network (torch.export .pt2; loads without genospec).")
@reports_errors
def compile_cmd(file: str, name: str | None, layout: str | None, cells: int | None, channels: int | None,
                classes: int | None, input_size: int | None, in_chans: int, auxiliary: bool | None,
                as_json: bool, output: str | None) -> None:
    """Check FILE and describe the space, genotype or recipe NAME in it (needed when FILE
    declares several: `genospec list FILE` shows them).

    For a space: its cells, edges, ops per edge, groups, topologies and the exact number of
    architectures. For a genotype: its cells, whether it fits its space, and the evaluation
    network's parameters (with and without the auxiliary head) and multiply-adds.
    """
    from genospec import ir
    from genospec.describe import describe_recipe, describe_space
    obj = _load(file, name, "compile")
    if as_json:
        from genospec.irjson import space_to_json
        if isinstance(obj, ir.Recipe):
            obj = obj.space
        click.echo(json.dumps(space_to_json(obj), indent=2))
        return
    if isinstance(obj, ir.Recipe):
        click.echo(describe_recipe(obj))
        return
    click.echo(describe_space(obj))
    if obj.is_genotype:
        from genospec.describe import network_summary
        click.echo(network_summary(obj, layout=layout, cells=cells, channels=channels, classes=classes,
                                   input_size=input_size, in_chans=in_chans, auxiliary=auxiliary,
                                   output=output))
    elif output:
        raise click.UsageError("-o writes an evaluation network, which only a genotype has")


# ---- render -----------------------------------------------------------------------------------
@main.command(epilog=_epilog("render"))
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Picture file: .svg, .png, .pdf (or .gv for DOT source). Default: NAME_CELL.svg")
@click.option("--cell", "cell_names", multiple=True, help="Cell to draw (repeatable; default: every cell).")
@click.option("--weights", "run_dir", type=click.Path(file_okay=False, exists=True),
              help="Draw the architecture weights a search run reached on FILE's cells "
                   "(FILE: the space that stage searched).")
@click.option("--stage", help="With --weights: the stage whose last epoch is drawn (default: the last).")
@click.option("--top", type=click.IntRange(min=0), default=2, show_default=True,
              help="With --weights: op weights labelled on each edge, largest first (0: all).")
@reports_errors
def render(file: str, name: str | None, output: str | None, cell_names: tuple[str, ...],
           run_dir: str | None, stage: str | None, top: int) -> None:
    """Draw the cells of a genotype (or a space) with graphviz.

    Genotype cells are drawn the DARTS way: c_{k-2}, c_{k-1}, numbered nodes, c_{k}, the op on
    every edge; only the nodes in the cell's output feed c_{k}. Spaces show the op count per
    edge, groups and the topology rule. With --weights, each edge shows its --top largest op
    weights, pen width by edge weight, the edges and ops the stage selected in red and bold.
    With several cells, one file per cell is written (NAME_CELL.suffix).
    """
    from genospec.render.draw import draw_to_files
    obj = _load(file, name, "render")
    space = getattr(obj, "space", obj)
    if stage is not None and run_dir is None:
        raise click.UsageError("--stage chooses a stage of the run given with --weights")
    for path in draw_to_files(space, output, list(cell_names) or None, run_dir, stage,
                              top=top or None):
        click.echo(str(path))


# ---- fmt --------------------------------------------------------------------------------------
@main.command(epilog=_epilog("fmt"))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file would be reformatted.")
@reports_errors
def fmt(files: tuple[str, ...], check: bool) -> None:
    """Rewrite .gs files in the canonical layout (comments kept).

    The formatter checks that every file means the same before and after (it compares the IR);
    a difference is reported as an internal error and the file is left untouched.
    """
    from genospec.checkpoint import atomic_write_text
    from genospec.lang.fmt import format_text
    changed = []
    from genospec.lang.loader import read_text
    for f in files:
        before = read_text(f)
        after = format_text(before, f)
        if after != before:
            changed.append(f)
            if not check:
                atomic_write_text(f, after)
    verb = "would reformat" if check else "reformatted"
    for f in changed:
        click.echo(f"{verb} {f}", err=True)
    click.echo(f"{len(changed)} file(s) {verb}, {len(files) - len(changed)} unchanged", err=True)
    if check and changed:
        sys.exit(1)


# ---- convert ----------------------------------------------------------------------------------
@main.command(epilog=_epilog("convert"))
@click.argument("source")
@click.option("--to", "target", type=click.Choice(["gs", "darts", "nb201", "json"]), required=True,
              help="Output notation.")
@click.option("--name", help="Declaration to convert (in a .gs or DARTS genotypes file); name of the result.")
@click.option("--of", "of_space", help="With --to gs: declare the genotype `of` this space (imported from the "
                                         "bundled spaces, genospec:spaces/..., unless --import names its file).")
@click.option("--import", "imports", multiple=True, help="With --to gs: add `import \"PATH\"` lines.")
@reports_errors
def convert(source: str, target: str, name: str | None, of_space: str | None, imports: tuple[str, ...]) -> None:
    """Convert a genotype between notations.

    SOURCE is a .gs file, a .json IR file, a text file of DARTS `NAME = Genotype(...)` lines,
    or the string itself: a DARTS `Genotype(...)` or a NAS-Bench-201 `|op~0|+|...|` string.
    DARTS strings are parsed as data, never evaluated.
    """
    from genospec.interchange.convert import convert_to, read_any
    space = read_any(source, name)
    click.echo(convert_to(space, target, of=of_space, imports=list(imports)), nl=False)


main.add_command(search)
main.add_command(train)
main.add_command(study)


if __name__ == "__main__":  # pragma: no cover
    main()
