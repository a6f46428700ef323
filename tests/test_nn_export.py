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
    for program, cases in zip(sys.argv[1::2], sys.argv[2::2]):
        model = torch.export.load(program).module()
        for x, expected in torch.load(cases):
            y = model(x)
            assert y.shape == expected.shape, (y.shape, expected.shape)
            assert torch.allclose(y, expected, atol=1e-5), (y - expected).abs().max()
            print(tuple(y.shape))
    assert "genospec" not in sys.modules
""")


def test_exported_networks_run_without_genospec(tmp_path):
    darts = build_network(darts_genotype("DARTS_V2", cells=3, channels=4), auxiliary=True,
                          drop_path=0.2, classes=5)
    darts.schedule_drop_path(1.0)
    nb201 = build_network(nb201_genotype((("nor_conv_3x3",), ("skip_connect", "avg_pool_3x3"),
                                          ("nor_conv_1x1", "none", "skip_connect")),
                                         cells=3, channels=4), in_chans=1)
    args = []
    for name, model, shape in (("darts", darts, (3, 16, 16)), ("nb201", nb201, (1, 12, 12))):
        model.train()
        args.append(str(export_network(model, tmp_path / f"{name}.pt2", shape)))
        assert model.training  # export leaves the caller's mode alone
        model.eval()
        with torch.no_grad():
            cases = [(x, model(x)) for x in (torch.randn(b, *shape) for b in (1, 3))]
        torch.save(cases, tmp_path / f"{name}.io.pt")
        args.append(str(tmp_path / f"{name}.io.pt"))
    done = subprocess.run([sys.executable, "-c", CHECK, *args], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(1,", "5)", "(3,", "5)", "(1,", "10)", "(3,", "10)"]
