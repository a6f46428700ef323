"""Atomic checkpoints, text and JSON-lines outputs, RNG capture."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
import torch

from genospec.errors import GenospecWarning
from genospec.checkpoint import (CheckpointError, append_jsonl, atomic_save, atomic_write_text,
                                 capture_rng, load, previous_path, read_jsonl, restore_rng)


def _state(value: float) -> dict:
    return {"w": torch.full((3, 2), value), "epoch": int(value), "tag": "x", "hist": [1.5, None]}


def test_save_load_roundtrip_weights_only(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save(_state(1.0), path)
    loaded = load(path)
    assert torch.equal(loaded["w"], torch.full((3, 2), 1.0))
    assert loaded["epoch"] == 1 and loaded["tag"] == "x" and loaded["hist"] == [1.5, None]
    assert not previous_path(path).exists()


def test_previous_checkpoint_kept_whole(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save(_state(1.0), path)
    atomic_save(_state(2.0), path)
    assert previous_path(path) == tmp_path / "ckpt.prev.pt"
    assert load(path)["epoch"] == 2
    assert torch.load(previous_path(path), weights_only=True)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.prev.pt", "ckpt.pt"]


def test_corrupt_newest_falls_back_to_previous(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save(_state(1.0), path)
    atomic_save(_state(2.0), path)
    path.write_bytes(path.read_bytes()[:50])  # a torn write
    with pytest.warns(GenospecWarning, match="continuing from the previous checkpoint"):
        assert load(path)["epoch"] == 1
    previous_path(path).write_bytes(b"garbage")
    with pytest.raises(CheckpointError) as err:
        load(path)
    assert "no readable checkpoint" in str(err.value)


def test_missing_checkpoint_is_a_genospec_error(tmp_path):
    with pytest.raises(CheckpointError):
        load(tmp_path / "nothing.pt")


def test_failed_save_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save(_state(1.0), path)
    with pytest.raises(Exception):
        atomic_save({"bad": lambda: 0}, path)  # lambdas cannot be pickled
    assert load(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


class _Custom:
    pass


def test_arbitrary_objects_are_refused_on_load(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save({"obj": _Custom()}, path)
    with pytest.raises(CheckpointError):
        load(path)


def test_atomic_write_text_replaces_whole_file(tmp_path):
    path = tmp_path / "out" / "g.gs"
    atomic_write_text(path, "genotype a {}\n")
    atomic_write_text(path, "genotype b {}\n")
    assert path.read_text() == "genotype b {}\n"
    assert [p.name for p in path.parent.iterdir()] == ["g.gs"]
    assert path.stat().st_mode & 0o044  # readable by others, unlike mkstemp's 0600


def test_jsonl_append_and_torn_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"epoch": 1, "loss": 0.5})
    append_jsonl(path, {"epoch": 2, "loss": 0.25})
    with open(path, "a") as f:
        f.write('{"epoch": 3, "lo')
    assert read_jsonl(path) == [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
    assert json.loads(path.read_text().splitlines()[0]) == {"epoch": 1, "loss": 0.5}
    assert read_jsonl(tmp_path / "absent.jsonl") == []


def test_rng_capture_restore_through_a_checkpoint(tmp_path):
    torch.manual_seed(7)
    random.seed(7)
    random.gauss(0, 1)  # leaves a cached gaussian in Python's state
    atomic_save({"rng": capture_rng()}, tmp_path / "rng.pt")
    expected = (torch.rand(4), random.random(), random.gauss(0, 1))
    torch.manual_seed(123)
    random.seed(123)
    restore_rng(load(tmp_path / "rng.pt")["rng"])
    again = (torch.rand(4), random.random(), random.gauss(0, 1))
    assert torch.equal(expected[0], again[0])
    assert expected[1:] == again[1:]


def test_text_helpers_do_not_import_torch():
    code = ("import sys, genospec.checkpoint, genospec.progress; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # `genospec fmt` writes through atomic_write_text
