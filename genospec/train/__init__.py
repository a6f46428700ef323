"""Training evaluation networks: settings and presets, the loop, exact resume after a stop.

    config = preset("quick", device="cpu")
    report = train(model, load_dataset("fashion_mnist"), config, "runs/eval-1", reporter)
"""

from .config import PRESETS, TrainConfig, TrainConfigError, learning_rate, preset
from .interrupt import TrainingInterrupted
from .loop import CHECKPOINT, METRICS, REPORT, TrainError, evaluate, train

__all__ = [
    "CHECKPOINT", "METRICS", "PRESETS", "REPORT", "TrainConfig", "TrainConfigError", "TrainError",
    "TrainingInterrupted", "evaluate", "learning_rate", "preset", "train",
]
