"""genospec: a declarative architecture-spec compiler for differentiable architecture search.

``genospec.register_op(kind)`` registers a user op builder (see ``genospec.nn.ops``); it is
imported on first use so that importing genospec stays free of torch.
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "register_op":
        from .nn.ops import register_op
        return register_op
    raise AttributeError(f"module 'genospec' has no attribute {name!r}")
