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
    model = torch.export.load(sys.argv[1]).module()
    assert "genospec" not in sys.modules
    for x, expected in torch.load(sys.argv[2]):
        y = model(x)
        assert y.shape == expected.shape, (y.shape, expected.shape)
        assert torch.allclose(y, expected, atol=1e-5), (y - expected).abs().max()
        print(tuple(y.shape))
""")


def run_exported(model, input_shape, tmp_path) -> list[str]:
    path = export_network(model, tmp_path / "model.pt2", input_shape)
    assert model.training  # export leaves the caller's mode alone
    model.eval()
    with torch.no_grad():
        cases = [(x, model(x)) for x in (torch.randn(b, *input_shape) for b in (1, 3))]
    torch.save(cases, tmp_path / "io.pt")
    done = subprocess.run([sys.executable, "-c", CHECK, str(path), str(tmp_path / "io.pt")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[:2]


def test_darts_network_with_auxiliary_head_and_drop_path_exports(tmp_path):
    model = build_network(darts_genotype("DARTS_V2", cells=3, channels=4), auxiliary=True,
                          drop_path=0.2, classes=5)
    model.schedule_drop_path(1.0)
    assert run_exported(model.train(), (3, 16, 16), tmp_path) == ["(1, 5)", "(3, 5)"]


def test_nb201_network_exports(tmp_path):
    model = build_network(nb201_genotype((("nor_conv_3x3",), ("skip_connect", "avg_pool_3x3"),
                                          ("nor_conv_1x1", "none", "skip_connect")),
                                         cells=3, channels=4), in_chans=1)
    assert run_exported(model.train(), (1, 12, 12), tmp_path) == ["(1, 10)", "(3, 10)"]
