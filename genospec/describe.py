"""Human-readable summaries of spaces, genotypes and recipes (what `genospec compile` prints)."""

from __future__ import annotations

from . import ir
from .errors import SpecError
from .limits import MAX_ACTIVATION_BYTES, MAX_PARAMETERS


EXACT_DIGITS = 60  # counts with more digits are shown as ≈ d.dd·10^k only


def _count(n: int) -> str:
    """An exact count with its order of magnitude; a count of more than EXACT_DIGITS digits (a
    64-node space has thousands) only as its order of magnitude, computed on integers past the
    float range (float(n) overflows past 1e308; str(n) refuses ints of more than 4,300 digits)."""
    if n < 10**7:
        return f"{n:,}"
    if n.bit_length() < 1000:
        approx = f"{n:.3g}"
    else:
        digits = int(n.bit_length() * 0.30102999566398120)  # log10(2): at most one too small
        if n >= 10**digits:
            digits += 1
        lead = (n + 5 * 10 ** (digits - 4)) // 10 ** (digits - 3)  # the first three digits, rounded
        if lead == 1000:
            lead, digits = 100, digits + 1
        approx = f"{lead // 100}.{lead % 100:02d}e+{digits - 1:02d}"
    return f"{n:,} (≈{approx})" if n < 10**EXACT_DIGITS else f"≈{approx}"


def _ops_text(ops: tuple[str, ...]) -> str:
    return f"{len(ops)} ops: {', '.join(ops)}" if len(ops) != 1 else ops[0]


def describe_cell(space: ir.Space, cell: ir.Cell) -> list[str]:
    kind = "reduction" if cell.reduction else "normal"
    edges = cell.edges()
    out = cell.output
    head = (f"cell {cell.name} ({kind}, stride {cell.stride}): inputs {cell.inputs}, nodes {cell.nodes}, "
            f"{len(edges)} edges, topology {cell.topology.describe()}, output {out.kind} "
            f"{', '.join(map(str, out.nodes))}")
    lines = [head]
    if cell.is_fixed:
        for j in cell.node_ids:
            ins = ", ".join(f"{e.op}({e.src})" for e in cell.in_edges(j))
            lines.append(f"    {j} <- {ins}")
        return lines
    shared = {e.ops for e in edges}
    if len(shared) == 1:
        lines.append(f"    every edge: {_ops_text(edges[0].ops)}")
    else:
        for e in edges:
            lines.append(f"    {e.src}->{e.dst}: {' | '.join(e.ops)}")
    topologies = 1
    for j in cell.node_ids:
        topologies *= cell.topology.count(len(cell.in_edges(j)))
    lines.append(f"    topologies: {_count(topologies)}")
    lines.append(f"    architectures: {_count(ir.cell_architectures(space, cell))}")
    return lines


def describe_space(space: ir.Space) -> str:
    lines = [f"{space.kind} {space.name}" + (f" of {space.of}" if space.of else "")
             + (f"  ({space.file})" if space.file else "")]
    if not space.is_genotype:
        lines.append(f"  ops ({len(space.ops)}): {', '.join(space.ops)}")
    if space.groups and not space.is_genotype:
        for g, members in space.groups.items():
            lines.append(f"  group {g}: {', '.join(members)}")
    for cell in space.cells.values():
        lines.extend("  " + ln for ln in describe_cell(space, cell))
    net = space.network
    lines.append(f"  network: {net.layout}, {net.cells} cells, C={net.channels}, {net.classes} classes, "
                 f"input {net.input_size}")
    if not space.is_genotype:
        lines.append(f"  architectures in all: {_count(ir.space_architectures(space))}")
    return "\n".join(lines)


def setting_text(value: object) -> str:
    """A recipe setting in the language's words: ``optimizer sgd  lr 0.025``, lists with commas,
    nested settings in braces (never Python's dict or list syntax)."""
    if isinstance(value, dict):
        return "  ".join(_setting_line(k, v) for k, v in value.items() if v is not None)
    if isinstance(value, (list, tuple)):
        return ", ".join(setting_text(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else str(value)


def _setting_line(key: str, value: object) -> str:
    return f"{key} {{ {setting_text(value)} }}" if isinstance(value, dict) \
        else f"{key} {setting_text(value)}"


def describe_recipe(recipe: ir.Recipe) -> str:
    lines = [f"search {recipe.name} of {recipe.space.name}  ({recipe.file})"]
    for key, value in recipe.settings.items():
        lines.append(f"  {_setting_line(key, value)}")
    if getattr(recipe, "quick", None):
        lines.append(f"  {_setting_line('quick', recipe.quick)}")
    for st in recipe.stages:
        lines.append(f"  stage {st.name}:")
        for key, value in st.settings.items():
            lines.append(f"    {_setting_line(key, value)}")
        if st.quick:
            lines.append(f"    {_setting_line('quick', st.quick)}")
    lines.append("")
    lines.append(describe_space(recipe.space))
    return "\n".join(lines)


def network_summary(space: ir.Space, *, layout: str | None = None, cells: int | None = None,
                    channels: int | None = None, classes: int | None = None, input_size: int | None = None,
                    in_chans: int = 3, auxiliary: bool | None = None, output: str | None = None) -> str:
    """Parameters (with and without the auxiliary head) and multiply-adds of the evaluation network."""
    from .nn.count import count_macs, count_parameters
    from .nn.network import build_network

    layout = layout or space.network.layout
    size = input_size or (224 if layout == "imagenet" else space.network.input_size)
    with_aux = layout != "nb201" if auxiliary is None else auxiliary
    options = dict(layout=layout, cells=cells, channels=channels, classes=classes, in_chans=in_chans,
                   auxiliary=with_aux)
    _check_size(space, options, size)
    model = build_network(space, **options)
    total = count_parameters(model)
    body = count_parameters(model, exclude_auxiliary=True)
    macs = count_macs(model, (in_chans, size, size))
    net = space.network
    lines = [f"  evaluation network ({layout}, {cells or net.cells} cells, C={channels or net.channels}, "
             f"{classes or net.classes} classes, {in_chans}x{size}x{size} input):",
             f"    parameters: {total:,}" + (f" with the auxiliary head, {body:,} without" if with_aux else ""),
             f"    multiply-adds: {macs:,} ({macs / 1e6:.1f} M)"]
    if output:
        from .nn.export import export_network
        path = export_network(model, output, (in_chans, size, size))
        lines.append(f"    wrote {path} (load with torch.export.load(path).module(); genospec not needed)")
    return "\n".join(lines)


def _check_size(space: ir.Space, options: dict, size: int) -> None:
    """Refuse, before anything is allocated, a network whose weights (MAX_PARAMETERS) or whose
    feature maps at ``size`` (MAX_ACTIVATION_BYTES) would not fit. Weights are counted on the
    meta device (shapes only) when a quick bound says they might be many."""
    import torch

    from .nn.count import count_parameters
    from .nn.network import build_network

    net = space.network
    cells, chs = options["cells"] or net.cells, options["channels"] or net.channels
    normal = space.cell_for(False)
    width = len(normal.output.nodes) if normal.output.kind == "concat" else 1
    side = size // 4 if options["layout"] == "imagenet" else size  # the ImageNet stem strides by 4
    feature = max(3, width) * chs * side * side * 4
    if feature > MAX_ACTIVATION_BYTES:
        raise SpecError(f"the first cells' feature maps ({max(3, width) * chs:,} channels of {side}x{side}) "
                        f"would take {feature / 2**30:.1f} GiB, more than the limit of "
                        f"{MAX_ACTIVATION_BYTES / 2**30:.0f} GiB", hint="use fewer channels or a smaller --input")
    edges = max(len(c.edges()) for c in space.cells.values())
    if cells * chs * chs * edges <= 20 * 64 * 64 * 16 and (options["classes"] or net.classes) <= 10_000:
        return  # at most ~100 M weights: no need to count first
    with torch.device("meta"):
        n = count_parameters(build_network(space, **options))
    if n > MAX_PARAMETERS:
        raise SpecError(f"the evaluation network would have {n:,} parameters, more than the limit of "
                        f"{MAX_PARAMETERS:,}", hint="use fewer cells, channels or classes")
