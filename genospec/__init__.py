"""genospec: a declarative architecture-spec compiler for differentiable architecture search."""

__version__ = "0.1.0"
