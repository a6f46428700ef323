"""Exported networks run in a fresh process that imports torch only."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import torch

from genospec.nn import build_network, export_network
from nn_fixtures import darts_genotype, nb201_genotype

CHECK = textwrap.dedent("""
    import sys, torch
    model = torch.jit.load(sys.argv[1])
    x, expected = torch.load(sys.argv[2])
    y = model(x)
    assert "genospec" not in sys.modules
    assert y.shape == expected.shape, (y.shape, expected.shape)
    assert torch.allclose(y, expected, atol=1e-5), (y - expected).abs().max()
    print("ok", tuple(y.shape))
""")


def run_exported(model, input_shape, tmp_path, batch=3):
    path = export_network(model, tmp_path / "model.pt", input_shape)
    x = torch.randn(batch, *input_shape)
    with torch.no_grad():
        expected = model.eval()(x)
    torch.save((x, expected), tmp_path / "io.pt")
    done = subprocess.run([sys.executable, "-c", CHECK, str(path), str(tmp_path / "io.pt")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_darts_network_with_auxiliary_head_exports(tmp_path):
    model = build_network(darts_genotype("DARTS_V2", cells=3, channels=4), auxiliary=True,
                          drop_path=0.2, classes=5)
    model.train()
    # traced on a batch of one, run on a batch of three
    assert run_exported(model, (3, 16, 16), tmp_path) == "ok (3, 5)"
    assert model.training


def test_nb201_network_exports(tmp_path):
    model = build_network(nb201_genotype((("nor_conv_3x3",), ("skip_connect", "avg_pool_3x3"),
                                          ("nor_conv_1x1", "none", "skip_connect")),
                                         cells=3, channels=4), in_chans=1)
    assert run_exported(model, (1, 12, 12), tmp_path) == "ok (3, 10)"
