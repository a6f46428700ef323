"""The training loop (learning, metrics, resume bit for bit, Ctrl-C), its settings and reporters."""

from __future__ import annotations

import io
import json
import math
import os
import signal

import pytest
import torch
from torch import nn

from genospec.checkpoint import load, read_jsonl
from genospec.data import load_dataset
from genospec.errors import GenospecError
from genospec.progress import BarReporter, JsonReporter, Reporter, make_reporter
from genospec.train import (PRESETS, TrainConfig, TrainConfigError, TrainError, TrainingInterrupted,
                            learning_rate, preset, train)


class Tiny(nn.Module):
    """Two convolutions and a linear head: enough for the synthetic task."""

    def __init__(self, in_chans: int, classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        return self.head(self.features(x))


class WithAux(Tiny):
    """Tiny plus an auxiliary head (training mode only) and scheduled, random dropout."""

    def __init__(self, in_chans: int, classes: int):
        super().__init__(in_chans, classes)
        self.auxiliary_head = nn.Linear(16, classes)
        self.drop = nn.Dropout(0.0)
        self.ramps: list[float] = []

    def schedule_drop_path(self, progress: float) -> None:
        self.ramps.append(progress)
        self.drop.p = 0.3 * progress

    def forward(self, x):
        h = self.drop(self.features(x))
        return (self.head(h), self.auxiliary_head(h)) if self.training else self.head(h)


def _synthetic():
    return load_dataset("synthetic", n_train=256, n_test=128, num_classes=4, in_chans=3, size=16)


FAST = TrainConfig(epochs=3, batch_size=32, lr=0.1, crop_padding=0, cutout=0, drop_path=0.3,
                   seed=1)


def _aux_model() -> WithAux:
    torch.manual_seed(0)
    return WithAux(3, 4)


def test_tiny_network_learns_the_synthetic_task(tmp_path):
    ds = load_dataset("synthetic", n_train=512, n_test=256, num_classes=4, in_chans=3, size=16)
    torch.manual_seed(0)
    model = Tiny(3, 4)
    config = TrainConfig(epochs=4, batch_size=32, lr=0.1, crop_padding=0, cutout=0, seed=0)
    report = train(model, ds, config, tmp_path)
    assert report["status"] == "complete" and report["top1"] >= 0.9
    assert report["params"] == sum(p.numel() for p in model.parameters())
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert [r["lr"] for r in records] == pytest.approx([0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2,
                                                       0.05, 0.1 * (1 + math.cos(3 * math.pi / 4)) / 2])
    assert set(records[0]) == {"epoch", "lr", "drop_path", "train_loss", "train_top1", "test_loss",
                               "test_top1", "test_top5", "seconds"}
    assert records[-1]["test_top5"] == 1.0  # 4 classes: the top 5 always holds the label
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["top1"] == report["top1"] and on_disk["epochs_done"] == 4
    assert load(tmp_path / "checkpoint.pt")["epoch"] == 4


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference: FAST trained in one go."""
    model = _aux_model()
    run = tmp_path_factory.mktemp("straight")
    report = train(model, _synthetic(), FAST, run)
    return model, read_jsonl(run / "metrics.jsonl"), report


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _without_seconds(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_drop_path_is_ramped_and_aux_head_trained(uninterrupted):
    model, records, _ = uninterrupted
    assert model.ramps == [0.0, 1 / 3, 2 / 3]
    assert [r["drop_path"] for r in records] == pytest.approx([0.0, 0.1, 0.2])
    assert model.auxiliary_head.weight.grad is not None


def test_stop_after_then_resume_is_bit_identical(uninterrupted, tmp_path):
    reference, ref_records, ref_report = uninterrupted
    first = _aux_model()
    stopped = train(first, _synthetic(), FAST.with_options(stop_after=1), tmp_path)
    assert stopped["status"] == "stopped" and stopped["epochs_done"] == 1
    resumed = _aux_model()  # a fresh process would rebuild the model from scratch
    report = train(resumed, _synthetic(), FAST, tmp_path, resume=True)
    assert report["status"] == "complete"
    assert report["params_with_auxiliary"] - report["params"] == 16 * 4 + 4  # the aux head
    assert _same_weights(resumed, reference)
    assert _without_seconds(read_jsonl(tmp_path / "metrics.jsonl")) == _without_seconds(ref_records)
    assert report["top1"] == ref_report["top1"]


class _CtrlCAt(Reporter):
    """Presses Ctrl-C (a real SIGINT) once the loop has done ``at`` steps in total."""

    def __init__(self, at: int):
        self.at, self.done = at, 0

    def update(self, n: int = 1, **values: float) -> None:
        self.done += n
        if self.done == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_mid_epoch_saves_and_resumes_bit_identical(uninterrupted, tmp_path):
    reference, ref_records, _ = uninterrupted
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as err:
        train(_aux_model(), _synthetic(), FAST, tmp_path, reporter=_CtrlCAt(8 + 3))
    assert signal.getsignal(signal.SIGINT) is handler  # the loop's handler is gone again
    assert "epoch 2, after batch 3" in str(err.value) and "--resume" in str(err.value)
    assert err.value.exit_code == 130
    saved = load(tmp_path / "checkpoint.pt")
    assert (saved["epoch"], saved["step"]) == (1, 3)
    resumed = _aux_model()
    train(resumed, _synthetic(), FAST, tmp_path, resume=True)
    assert _same_weights(resumed, reference)
    assert _without_seconds(read_jsonl(tmp_path / "metrics.jsonl")) == _without_seconds(ref_records)


class _RaiseAt(Reporter):
    def update(self, n: int = 1, **values: float) -> None:
        if values:
            raise KeyboardInterrupt


def test_keyboard_interrupt_outside_the_handler_keeps_last_checkpoint(tmp_path):
    train(_aux_model(), _synthetic(), FAST.with_options(stop_after=1), tmp_path)
    with pytest.raises(TrainingInterrupted, match="last checkpoint .* is kept"):
        train(_aux_model(), _synthetic(), FAST, tmp_path, reporter=_RaiseAt(), resume=True)
    assert load(tmp_path / "checkpoint.pt")["epoch"] == 1


def test_run_directory_guards(tmp_path):
    ds = _synthetic()
    train(_aux_model(), ds, FAST.with_options(stop_after=1), tmp_path)
    with pytest.raises(TrainError, match="already holds a run"):
        train(_aux_model(), ds, FAST, tmp_path)
    with pytest.raises(TrainError, match="different settings") as err:
        train(_aux_model(), ds, FAST.with_options(lr=0.2), tmp_path, resume=True)
    assert "lr: 0.1 then, 0.2 now" in str(err.value)
    with pytest.raises(TrainError, match="does not fit this model"):
        train(Tiny(3, 4), ds, FAST, tmp_path, resume=True)
    with pytest.raises(TrainError, match="cannot resume"):
        train(_aux_model(), ds, FAST, tmp_path / "empty", resume=True)


# -- settings ------------------------------------------------------------------------------------


def test_darts_presets_hold_the_published_numbers():
    cifar, imagenet = PRESETS["darts_cifar"], PRESETS["darts_imagenet"]
    assert (cifar.epochs, cifar.batch_size, cifar.lr, cifar.lr_min, cifar.momentum) == \
        (600, 96, 0.025, 0.0, 0.9)
    assert (cifar.weight_decay, cifar.grad_clip, cifar.cutout, cifar.drop_path,
            cifar.auxiliary_weight) == (3e-4, 5.0, 16, 0.2, 0.4)
    assert (imagenet.epochs, imagenet.batch_size, imagenet.lr, imagenet.weight_decay,
            imagenet.label_smoothing) == (250, 128, 0.1, 3e-5, 0.1)
    assert learning_rate(cifar, 0) == 0.025
    assert learning_rate(cifar, 300) == pytest.approx(0.0125)
    assert learning_rate(cifar, 599) == pytest.approx(0.025 * (1 + math.cos(math.pi * 599 / 600)) / 2)
    assert learning_rate(imagenet, 10) == pytest.approx(0.1 * 0.97 ** 10)
    warm = TrainConfig(epochs=15, lr=0.5, warmup_epochs=5)
    assert [learning_rate(warm, e) for e in (0, 4, 5)] == pytest.approx([0.1, 0.5, 0.5])
    assert learning_rate(warm, 10) == pytest.approx(0.25)


def test_config_errors():
    with pytest.raises(TrainConfigError, match="epochs must be at least 1"):
        TrainConfig(epochs=0)
    with pytest.raises(TrainConfigError, match="unknown learning-rate schedule"):
        TrainConfig(schedule="linear")
    with pytest.raises(TrainConfigError) as err:
        preset("quick", epoch=2)
    assert "did you mean 'epochs'" in str(err.value)
    with pytest.raises(TrainConfigError, match="unknown training preset"):
        preset("darts_cifar10")
    assert preset("quick", epochs=2).epochs == 2


# -- progress reporters --------------------------------------------------------------------------


def test_reporters():
    out = io.StringIO()
    json_reporter = make_reporter("json", out)
    assert isinstance(json_reporter, JsonReporter)
    json_reporter.start("epoch 1/2", 10)
    json_reporter.update(3, loss=0.5)
    json_reporter.event("epoch", {"epoch": 1, "test_top1": 0.5})
    assert [json.loads(line) for line in out.getvalue().splitlines()] == \
        [{"event": "epoch", "epoch": 1, "test_top1": 0.5}]
    err = io.StringIO()
    bar = make_reporter("bar", err)
    assert isinstance(bar, BarReporter)
    bar.start("epoch 1/2", 4)
    bar.update(4, loss=0.25)
    bar.close()
    bar.event("epoch", {"epoch": 1, "test_top1": 0.5})
    assert "epoch 1/2" in err.getvalue() and "epoch: epoch=1 test_top1=0.5" in err.getvalue()
    assert type(make_reporter("quiet")) is Reporter
    with pytest.raises(GenospecError, match="unknown progress mode"):
        make_reporter("verbose")


def test_training_reports_epochs_to_the_reporter(tmp_path):
    out = io.StringIO()
    train(_aux_model(), _synthetic(), FAST.with_options(epochs=1), tmp_path,
          reporter=JsonReporter(out))
    header, event = [json.loads(line) for line in out.getvalue().splitlines()]
    assert header["event"] == "header" and header["run"] == str(tmp_path)
    assert header["parameters"] > 0 and header["memory"].endswith("GiB")
    assert event["event"] == "epoch" and event["epoch"] == 1 and "eta" not in event
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0].startswith("epoch,lr,")
