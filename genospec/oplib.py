"""Op kinds and the standard op names of the DARTS world, without importing torch.

An op *kind* is a builder (``sep_conv``) with parameters; an op *name* is an entry of a space's
op library (``sep_conv_3x3 = sep_conv(3)``). Genotypes without a space (NASNet, AmoebaNet) and
imported DARTS/NAS-Bench-201 strings resolve names through ``STANDARD_OPS``. The torch builders
live in ``genospec.nn.ops`` and register under the same kind names; user kinds registered from
Python (``genospec.register_op``) join at registration. The kinds live in the op-kind registry
(`genospec.registry`); ``KINDS`` is its mapping view (kind -> `KindSignature`).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Iterator

from .ir import OpDef
from .registry import OP_KIND, registry


@dataclass(frozen=True)
class KindSignature:
    """Parameters a kind accepts: positional names, then keyword names with defaults."""

    positional: tuple[str, ...] = ()
    keywords: tuple[tuple[str, object], ...] = ()
    doc: str = ""


_BUILTIN: dict[str, KindSignature] = {
    "zero": KindSignature(doc="outputs zeros (stride-aware); only helps the search"),
    "identity": KindSignature(doc="skip connection; FactorizedReduce where the stride is 2"),
    "max_pool": KindSignature(("kernel",), doc="max pooling, padding k//2"),
    "avg_pool": KindSignature(("kernel",), doc="average pooling, padding k//2, no padded cells counted"),
    "sep_conv": KindSignature(("kernel",), doc="two (ReLU, depthwise, pointwise, BN) blocks"),
    "dil_conv": KindSignature(("kernel",), (("dilation", 2),), doc="ReLU, dilated depthwise, pointwise, BN"),
    "conv": KindSignature(("kernel",), doc="ReLU, conv, BN"),
    "conv_7x1_1x7": KindSignature(doc="ReLU, 1x7 conv, 7x1 conv, BN"),
    "nor_conv": KindSignature(("kernel",), doc="NAS-Bench-201 ReLU, conv, BN"),
    "noise": KindSignature(doc="N(0,1) noise shaped like the (strided) input (RobustDARTS S4)"),
}


class _Kinds(MutableMapping):
    """The op-kind registry as a mapping; setting an item registers a kind."""

    def __getitem__(self, kind: str) -> KindSignature:
        if kind not in registry(OP_KIND):
            raise KeyError(kind)
        return registry(OP_KIND).get(kind)

    def __setitem__(self, kind: str, signature: KindSignature) -> None:
        registry(OP_KIND).register(kind, signature, doc=signature.doc)

    def __delitem__(self, kind: str) -> None:
        registry(OP_KIND).unregister(kind)

    def __iter__(self) -> Iterator[str]:
        return iter([p.name for p in registry(OP_KIND).parts()])

    def __len__(self) -> int:
        return len(registry(OP_KIND).names())


KINDS: MutableMapping[str, KindSignature] = _Kinds()
for _kind, _signature in _BUILTIN.items():
    if _kind not in KINDS:
        KINDS[_kind] = _signature


def register_kind(kind: str, signature: KindSignature) -> None:
    """Make a user op kind known to the checker (called by ``genospec.register_op``)."""
    if kind in KINDS:
        raise ValueError(f"op kind {kind!r} is already registered")
    KINDS[kind] = signature


def _std() -> dict[str, OpDef]:
    ops = [
        OpDef("none", "zero"),
        OpDef("max_pool_3x3", "max_pool", (3,)),
        OpDef("avg_pool_3x3", "avg_pool", (3,)),
        OpDef("skip_connect", "identity"),
        OpDef("sep_conv_3x3", "sep_conv", (3,)),
        OpDef("sep_conv_5x5", "sep_conv", (5,)),
        OpDef("sep_conv_7x7", "sep_conv", (7,)),
        OpDef("dil_conv_3x3", "dil_conv", (3,), (("dilation", 2),)),
        OpDef("dil_conv_5x5", "dil_conv", (5,), (("dilation", 2),)),
        OpDef("conv_7x1_1x7", "conv_7x1_1x7"),
        OpDef("conv_1x1", "conv", (1,)),
        OpDef("conv_3x3", "conv", (3,)),
        OpDef("nor_conv_1x1", "nor_conv", (1,)),
        OpDef("nor_conv_3x3", "nor_conv", (3,)),
        OpDef("noise", "noise"),
    ]
    return {o.name: o for o in ops}


STANDARD_OPS: dict[str, OpDef] = _std()
