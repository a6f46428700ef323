"""What an op kind declares its modules can do, and what the cell compiler asks of a build.

An op kind registers `OpCapabilities` with its builder (`genospec.nn.ops.register_op`). The
cell compiler (`genospec.nn.cell`, `genospec.nn.mixed`, `genospec.nn.partial`) reads them when it
builds an edge, picks each op's implementation with an `OpBuild` and fixes how the edge calls it;
nothing is changed on a module once built. A kind that declares nothing (`PLAIN`, every
user kind by default) is built with ``builder(op, chs, stride, affine)`` and called as
``op(x)``: it is correct, and takes part in none of the savings below.

- ``leading_relu``: the op computes ``f(relu(x))`` and, built with ``OpBuild(relu=False)``,
  ``f`` alone. A cell then computes the ReLU once per source node, however many edges leave it
  (a supernet edge keeps its input, not the ReLU's output, for backward: `relu_keeping_input`).
- ``keeps_pre_relu`` (with ``leading_relu``): built without its ReLU, ``forward(r, pre=x)``
  takes the tensor before the ReLU as well (``r = relu(x)``) and keeps ``x``, which the graph
  holds anyway, for backward instead of ``r`` (`genospec.nn.recompute`).
- ``scale_inside``: ``forward(..., scale=w)`` (``w`` a 0-d mixing weight) returns
  ``w * op(x)``, applying ``w`` itself (inside its BatchNorm where it can); a supernet edge adds
  the output as it is.
- ``shared_per_source``: built affine-free (search), ``forward(x, shared=d)`` computes what is
  the same function of ``x`` on every edge leaving a node (pooling with its affine-free
  BatchNorm) once per ``d``, one dict per source node and cell forward, keyed by the op.
- ``keep``: the builder honours ``OpBuild.keep``, what the op keeps for backward on the CPU
  (`genospec.nn.recompute.KEEP_MODES`; `supernet checkpoint ops` asks for ``"input"``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpCapabilities:
    """The declarations of one op kind (module docstring); all off by default."""

    leading_relu: bool = False
    keeps_pre_relu: bool = False
    scale_inside: bool = False
    shared_per_source: bool = False
    keep: bool = False

    def __post_init__(self) -> None:
        if self.keeps_pre_relu and not self.leading_relu:
            raise ValueError("keeps_pre_relu needs leading_relu: only an op built without its "
                             "ReLU can take the tensor before it")


PLAIN = OpCapabilities()


@dataclass(frozen=True)
class OpBuild:
    """How the compiler asks for one op to be built: ``relu=False`` leaves out its leading ReLU
    (kinds declaring ``leading_relu`` only); ``keep`` is what recomputing ops keep for backward
    (``"output"``, ``"input"`` or ``"all"``, plain autograd), for kinds declaring ``keep``."""

    relu: bool = True
    keep: str = "output"
