"""Peak memory estimate of training runs, the free-memory reading and the check before a search."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genospec.nn import memory
from genospec.nn.memory import (InsufficientMemoryError, MemoryEstimate, available_memory,
                                check_fits, estimate_training_memory, saved_activation_bytes)
from genospec.nn.supernet import Supernet
from genospec.search import stage
from genospec.search.engine import SearchOptions, start_search
from nn_fixtures import darts_space
from search_fixtures import TINY_SPACE, recipe_text, tiny_dataset, write_recipe

MIB = 1024 ** 2


def test_saved_activations_are_counted_exactly():
    # conv saves its input (2*1*8*8 floats) and weight (a parameter: left out); ReLU its output
    convrelu = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.ReLU())
    assert saved_activation_bytes(convrelu, torch.zeros(2, 1, 8, 8)) == 4 * (128 + 512)
    # BN adds its input and the per-channel mean and inverse std it saves
    bn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
    assert saved_activation_bytes(bn, torch.zeros(2, 1, 8, 8)) == 4 * (128 + 512 + 8 + 512)


def test_probe_changes_nothing():
    torch.manual_seed(0)
    model = Supernet(darts_space(), cells=2, channels=4, classes=3, in_chans=1)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(7)
    saved_activation_bytes(model, torch.randn(2, 1, 8, 8))
    after_probe = torch.rand(3)
    torch.manual_seed(7)
    torch.randn(2, 1, 8, 8)
    assert torch.equal(after_probe, torch.rand(3))  # the probe drew no random numbers
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_estimate_parts():
    model = Supernet(darts_space(), cells=2, channels=4, classes=3, in_chans=1)
    archs = model.arch_parameters()
    w = 4 * sum(p.numel() for p in model.weight_parameters())
    a = 4 * sum(p.numel() for p in archs)
    one = estimate_training_memory(model, (1, 8, 8), 16, arch_params=archs)
    assert one.weights == w + a
    assert one.states == 2 * w + 3 * a  # gradient + momentum; gradient + two Adam moments
    assert one.workspace == int(memory.WORKSPACE * one.activations)
    assert one.to_allocate == one.peak - one.weights
    two = estimate_training_memory(model, (1, 8, 8), 32, arch_params=archs)
    assert two.activations == 2 * one.activations  # linear in the batch size
    second = estimate_training_memory(model, (1, 8, 8), 16, arch_params=archs, second_order=True)
    assert second.states - one.states == memory.SECOND_ORDER_COPIES * w
    big = estimate_training_memory(model, (1, 16, 16), 16, arch_params=archs)
    assert big.activations == pytest.approx(4 * one.activations, rel=0.1)  # ~ resolution


def test_partial_channels_shrink_activations():
    full = Supernet(darts_space(), cells=2, channels=8, classes=3, in_chans=1)
    pc = Supernet(darts_space(), cells=2, channels=8, classes=3, in_chans=1, pc=4)
    a_full = estimate_training_memory(full, (1, 8, 8), 8).activations
    a_pc = estimate_training_memory(pc, (1, 8, 8), 8).activations
    assert a_pc < 0.5 * a_full


def test_available_memory_reads_meminfo_and_cgroup(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:  100 kB\n"
                       "MemAvailable:    8000000 kB\n")
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    assert available_memory("cpu", meminfo=meminfo, cgroup=cgroup) == 8_000_000 * 1024
    (cgroup / "memory.max").write_text("max\n")
    (cgroup / "memory.current").write_text("123\n")
    assert available_memory("cpu", meminfo=meminfo, cgroup=cgroup) == 8_000_000 * 1024
    (cgroup / "memory.max").write_text("3000000000\n")
    (cgroup / "memory.current").write_text("1000000000\n")
    assert available_memory("cpu", meminfo=meminfo, cgroup=cgroup) == 2_000_000_000
    assert available_memory("cpu", meminfo=tmp_path / "none", cgroup=tmp_path) is None
    assert available_memory("meta") is None


def test_check_fits_names_estimate_available_and_knobs():
    est = MemoryEstimate(weights=100 * MIB, states=200 * MIB, activations=1024 * MIB,
                         workspace=256 * MIB)
    check_fits(est, 2000 * MIB)
    check_fits(est, None)
    with pytest.raises(InsufficientMemoryError) as e:
        check_fits(est, 2000 * MIB, processes=2, knobs="batch, pc")
    text = str(e.value)
    # 2 processes x (peak - weights) = 2 x 1480 MiB
    assert "not enough memory: training needs about 2.89 GiB more, 1.95 GiB is available" in text
    assert "(estimated peak 1.54 GiB (weights 0.10 GiB, gradients and optimiser state 0.20 GiB, " \
        "activations 1.00 GiB, workspace 0.25 GiB) in each of 2 processes)" in text
    assert "hint: lower batch, pc, or pass --force" in text
    assert e.value.exit_code == 3


def test_search_stops_before_training_unless_forced(tmp_path, monkeypatch):
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, """
  batch 16
  stage search { epochs 1  select magnitude }
"""))
    monkeypatch.setattr(stage, "available_memory", lambda device: 1024)
    with pytest.raises(InsufficientMemoryError, match="0.00 GiB is available") as e:
        start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset(n_train=32))
    assert "stage 'search': batch, supernet channels or cells, supernet pc" in str(e.value)
    assert not (tmp_path / "run").exists()  # a failed start leaves nothing behind
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset(n_train=32),
                          options=SearchOptions(force=True))
    assert result.genotype is not None
