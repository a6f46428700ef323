"""The options of a search recipe's built-in settings: types, ranges and defaults, in one place.

`genospec.lang.settings` reads every number through these declarations, so a value torch would
reject or that makes no sense (a negative learning rate, momentum 1.5, ``lr 1e999``, a seed
beyond what the seed streams hold) is a SpecError at the number, with file:line:col. The
stage settings' defaults (`genospec.lang.settings.stage_settings`) are built from the same tables.
Registered parts declare their own options the same way (`genospec.registry.Option`).
"""

from __future__ import annotations

from ..registry import Option

MAX_EPOCHS = 100_000
MAX_BATCH = 1_000_000
# the batch-order streams are seed * 1000 + stage * 10 + part and must fit torch's 64-bit seeds
MAX_SEED = 2**53

LR = Option("lr", float, 0.025, lo=0.0, lo_open=True, hi=10.0, doc="learning rate")

WEIGHTS: tuple[Option, ...] = (
    Option("optimizer", str, "sgd", choices=("sgd",)),
    LR,
    Option("lr_min", float, 0.001, lo=0.0, hi=10.0, doc="final learning rate of the cosine"),
    Option("schedule", str, "cosine", choices=("cosine", "constant")),
    Option("span", str, "each_stage", choices=("each_stage", "run"),
           doc="what the cosine spans: each stage's epochs (restarting in every stage) or the "
               "epochs of all the run's stages, one schedule (`cosine over run`, DOTS)"),
    Option("momentum", float, 0.9, lo=0.0, hi=1.0, hi_open=True),
    Option("decay", float, 3e-4, lo=0.0, hi=1.0, hi_open=True, doc="weight decay"),
    Option("clip", float, 5.0, lo=0.0, lo_open=True, hi=1e6, doc="gradient-norm bound"),
)

BETA = Option("betas", float, None, lo=0.0, hi=1.0, hi_open=True, doc="Adam's beta1, beta2")

ARCH: tuple[Option, ...] = (
    Option("optimizer", str, "adam", choices=("adam",)),
    Option("lr", float, 3e-4, lo=0.0, lo_open=True, hi=10.0),
    Option("betas", list, [0.5, 0.999]),
    Option("decay", float, 1e-3, lo=0.0, hi=1.0, hi_open=True),
)

SUPERNET: tuple[Option, ...] = (
    Option("cells", int, None, lo=1, hi=1000),
    Option("channels", int, None, lo=1, hi=100_000),
    Option("pc", int, 1, lo=1, hi=1024, doc="PC-DARTS: mix 1/K of each edge's channels"),
    Option("layout", str, None),
    Option("checkpoint", str, False, choices=("cells", "ops", "none")),
    Option("compile", bool, False, doc="torch.compile the supernet (genospec.runtime.precision)"),
)

UPDATE: tuple[Option, ...] = (
    Option("mode", str, "bilevel"),
    Option("order", str, "first_order", choices=("first_order", "second_order")),
    Option("every", int, 1, lo=1, hi=MAX_EPOCHS * 1000),
    Option("per", str, "step", choices=("step", "epoch")),
)

# settings given as one value: ``batch 64``, ``seed 2``, ...
SCALARS: dict[str, Option] = {o.name: o for o in (
    Option("split", float, 0.5, lo=0.0, hi=1.0, lo_open=True,
           doc="fraction of the training set used for the weights (1: all of it, for one-level "
               "stages; the test split then serves for validation)"),
    Option("batch", int, 64, lo=1, hi=MAX_BATCH),
    Option("seed", int, 2, lo=0, hi=MAX_SEED),
    Option("workers", int, None, lo=0, hi=1024),
    Option("epochs", int, 50, lo=0, hi=MAX_EPOCHS),
    Option("warmup", int, 0, lo=0, hi=MAX_EPOCHS),
    Option("finetune", int, 0, lo=0, hi=MAX_EPOCHS),
    Option("precision", str, "fp32", choices=("fp32", "bf16", "fp16"),
           doc="autocast dtype of forwards and losses; parameters stay float32 "
               "(genospec.runtime.precision)"),
)}

SUBSET = Option("subset", int, None, lo=1, hi=10**9)

TEMPERATURE = Option("temperature", float, 1.0, lo=0.0, lo_open=True, hi=1e6)
THETA = Option("decay", float, None, lo=0.0, lo_open=True, hi=1e3, doc="temperature factor θ")
T_MIN = Option("min", float, None, lo=0.0, lo_open=True, hi=1e6, doc="minimum temperature")
BIAS = Option("bias", float, 0.0, lo=-1e3, hi=1e3, doc="eDARTS op bias")
BIAS_MODE = Option("mode", str, "accumulate", choices=("accumulate", "offset"),
                   doc="eDARTS op bias: added to alpha after every architecture update "
                       "(accumulate) or a constant inside the softmax, softmax(alpha + b) "
                       "(offset); genospec.relax.bias")


def defaults(options: tuple[Option, ...], skip: tuple[str, ...] = ()) -> dict:
    """``{name: default}`` of ``options`` (a fresh copy of mutable defaults)."""
    return {o.name: list(o.default) if isinstance(o.default, list) else o.default
            for o in options if o.name not in skip}


# settings given as a word or a part: their defaults (the parts' own options: their registrations)
DATASET = Option("data", str, "fashion_mnist", doc="the dataset of every stage")
SELECT = Option("select", str, "magnitude", doc="the selection rule")
OP_RELAX = Option("method", str, "softmax", doc="the op relaxation without a relax ops line")
PER = Option("per", str, "epoch", choices=("step", "epoch"), doc="temperature schedule unit")
