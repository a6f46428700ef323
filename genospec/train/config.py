"""Training hyper-parameters, the published presets, and the learning-rate schedule.

Defaults are the DARTS CIFAR-10 evaluation protocol (Liu et al., 2019, §A.2 and cnn/train.py):
600 epochs, batch 96, SGD lr 0.025 cosine-annealed to 0, momentum 0.9, weight decay 3e-4,
gradient clipping at norm 5, cutout 16, drop path 0.2 ramped linearly from 0, auxiliary weight 0.4.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..errors import GenospecError, did_you_mean
from ..runtime import schedules
from ..runtime.precision import PRECISIONS

SCHEDULES = ("cosine", "step")  # of genospec.runtime.schedules, the ones a training run offers


class TrainConfigError(GenospecError):
    """A training setting that cannot work (negative epochs, unknown schedule, ...)."""

    exit_code = 2


@dataclass(frozen=True)
class TrainConfig:
    """How to train an evaluation network. ``drop_path`` is the rate the network is built with
    (it owns its drop path; the trainer only ramps it through ``schedule_drop_path``)."""

    epochs: int = 600
    batch_size: int = 96
    lr: float = 0.025
    lr_min: float = 0.0
    schedule: str = "cosine"          # "cosine" to lr_min, or "step": lr * gamma^(e // decay_period)
    gamma: float = 0.97
    decay_period: int = 1
    warmup_epochs: int = 0            # linear warm-up to lr, then the schedule over the rest
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0            # max gradient norm; 0 turns clipping off
    label_smoothing: float = 0.0
    auxiliary_weight: float = 0.4
    drop_path: float = 0.2
    crop_padding: int = 4
    flip: bool = True
    cutout: int = 16
    train_subset: int | None = None   # train on this many (seeded) training images
    test_subset: int | None = None    # evaluate on this many (seeded) test images
    seed: int = 0
    device: str = "cpu"
    stop_after: int | None = None     # stop cleanly once this many epochs are done (resumable)
    precision: str = "fp32"           # autocast dtype: fp32, bf16 or fp16 (runtime.precision)
    compile: bool = False             # torch.compile the network (runtime.precision)

    def __post_init__(self) -> None:
        problems = []
        if self.epochs < 1:
            problems.append(f"epochs must be at least 1, not {self.epochs}")
        if self.batch_size < 1:
            problems.append(f"batch size must be at least 1, not {self.batch_size}")
        if self.schedule not in SCHEDULES:
            problems.append(f"unknown learning-rate schedule {self.schedule!r} "
                            f"(known: {', '.join(SCHEDULES)})")
        if not 0 <= self.warmup_epochs < self.epochs:
            problems.append(f"warm-up must be shorter than training ({self.warmup_epochs} >= "
                            f"{self.epochs} epochs)")
        if self.decay_period < 1:
            problems.append(f"decay period must be at least 1 epoch, not {self.decay_period}")
        if not 0.0 <= self.label_smoothing < 1.0:
            problems.append(f"label smoothing must lie in [0, 1), not {self.label_smoothing}")
        if not 0.0 <= self.drop_path < 1.0:
            problems.append(f"drop path must lie in [0, 1), not {self.drop_path}")
        for name in ("lr", "lr_min", "momentum", "weight_decay", "grad_clip", "auxiliary_weight",
                     "crop_padding", "cutout"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        for name in ("train_subset", "test_subset", "stop_after"):
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"{name} must be at least 1, not {value}")
        if self.precision not in PRECISIONS:
            problems.append(f"unknown precision {self.precision!r} (known: "
                            f"{', '.join(PRECISIONS)})")
        elif self.precision == "fp16" and not str(self.device).startswith("cuda"):
            problems.append(f"precision fp16 needs a CUDA device, not {self.device!r} (use bf16 "
                            "on the CPU)")
        if problems:
            raise TrainConfigError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_options(self, **options: Any) -> "TrainConfig":
        """A copy with some settings changed; an unknown setting is a `TrainConfigError`."""
        known = {f.name for f in fields(self)}
        for name in options:
            if name not in known:
                raise TrainConfigError(f"unknown training setting {name!r}",
                                       hint=did_you_mean(name, known))
        return replace(self, **options)


PRESETS: dict[str, TrainConfig] = {
    "darts_cifar": TrainConfig(),
    # DARTS ImageNet (paper §A.2 and cnn/train_imagenet.py): 250 epochs, batch 128, SGD lr 0.1
    # decayed by 0.97 after every epoch, weight decay 3e-5, label smoothing 0.1, auxiliary 0.4,
    # no drop path, clipping at 5. RandomResizedCrop and colour jitter are not reproduced: the
    # batched crop/flip pipeline stands in for them.
    "darts_imagenet": TrainConfig(epochs=250, batch_size=128, lr=0.1, schedule="step",
                                  gamma=0.97, decay_period=1, weight_decay=3e-5,
                                  label_smoothing=0.1, drop_path=0.0, cutout=0),
    # The ImageNet protocol of the issue (as P-DARTS / PC-DARTS train DARTS-space cells):
    # lr 0.5 with 5 linear warm-up epochs then cosine, batch 1024, weight decay 3e-5, label
    # smoothing 0.1, 250 epochs.
    "imagenet": TrainConfig(epochs=250, batch_size=1024, lr=0.5, warmup_epochs=5, weight_decay=3e-5,
                            label_smoothing=0.1, drop_path=0.0, cutout=0),
    # A smoke-scale run for two CPU cores: 3 epochs over 2,000 training images, tested on 1,000.
    "quick": TrainConfig(epochs=3, batch_size=64, train_subset=2000, test_subset=1000,
                         drop_path=0.0, cutout=0),
}


def preset(name: str, **options: Any) -> TrainConfig:
    """A named preset (``darts_cifar``, ``darts_imagenet``, ``quick``) with optional changes."""
    if name not in PRESETS:
        raise TrainConfigError(f"unknown training preset {name!r}", hint=did_you_mean(name, PRESETS))
    return PRESETS[name].with_options(**options)


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """The learning rate of (0-based) ``epoch``; constant within an epoch, as in DARTS
    (`genospec.runtime.schedules`, the schedules searches use too)."""
    return schedules.learning_rate(config.schedule, config.lr, epoch, config.epochs,
                                   lr_min=config.lr_min, warmup=config.warmup_epochs,
                                   gamma=config.gamma, period=config.decay_period)
