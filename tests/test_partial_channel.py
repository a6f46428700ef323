"""Partial channel connections (PC-DARTS): channel sampling, bypass, shuffle, parameters, search."""

from __future__ import annotations

import pytest
import torch

from genospec.errors import SpecError
from genospec.ir import Edge
from genospec.nn.mixed import EdgeMix, MixedEdge
from genospec.nn.partial import PartialChannelEdge, channel_shuffle
from genospec.nn.supernet import Supernet
from genospec.oplib import STANDARD_OPS
from genospec.search.engine import start_search
from nn_fixtures import darts_space
from search_fixtures import TINY_SPACE, recipe_text, tiny_dataset, write_recipe

OPS = {o: STANDARD_OPS[o] for o in ("none", "skip_connect", "sep_conv_3x3", "max_pool_3x3")}
EDGE = Edge(0, 2, tuple(OPS), order=0)


def sep_conv_params(c: int) -> int:
    """DARTS SepConv(c, c, 3) in search mode: twice a depthwise 3x3 and a pointwise 1x1
    (BN without affine has no parameters)."""
    return 2 * (9 * c + c * c)


def mix(edge: MixedEdge, weights: list[float], scale: float | None = None) -> EdgeMix:
    w = torch.tensor(weights)
    return EdgeMix(w, tuple(i for i, v in enumerate(weights) if v != 0),
                   None if scale is None else torch.tensor(scale))


def test_channel_shuffle_interleaves_groups():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


def test_ops_are_built_at_a_kth_of_the_channels():
    edge = PartialChannelEdge(EDGE, OPS, 16, 1, affine=False, k=4)
    full = MixedEdge(EDGE, OPS, 16, 1, affine=False)
    conv = EDGE.ops.index("sep_conv_3x3")
    assert sum(p.numel() for p in edge.ops[conv].parameters()) == sep_conv_params(4) == 104
    assert sum(p.numel() for p in full.ops[conv].parameters()) == sep_conv_params(16) == 800
    assert sum(p.numel() for p in edge.parameters()) == 104
    # the stride-2 skip is a FactorizedReduce: two 1x1 convolutions to half the channels each
    reduce = PartialChannelEdge(EDGE, OPS, 16, 2, affine=False, k=4)
    assert sum(p.numel() for p in reduce.parameters()) == 104 + 2 * (4 * 2)


def test_bypassed_channels_pass_through_shuffled():
    edge = PartialChannelEdge(EDGE, OPS, 8, 1, affine=False, k=4)
    x = torch.randn(2, 8, 5, 5)
    out = edge(x, mix(edge, [0.1, 0.2, 0.3, 0.4]))
    assert out.shape == (2, 8, 5, 5)
    # input channels 2..7 bypass; after the shuffle (groups of 2) they sit at these positions
    assert torch.equal(out[:, [1, 5, 2, 6, 3, 7]], x[:, 2:])
    mixed = MixedEdge.forward(edge, x[:, :2], mix(edge, [0.1, 0.2, 0.3, 0.4]))
    assert torch.allclose(out[:, [0, 4]], mixed)
    # with an edge relaxation the edge weight scales the bypass too; a dead edge gives zeros
    half = edge(x, mix(edge, [0.05, 0.1, 0.15, 0.2], scale=0.5))
    assert torch.allclose(half[:, [1, 5, 2, 6, 3, 7]], 0.5 * x[:, 2:])
    assert torch.equal(edge(x, mix(edge, [0.0, 0.0, 0.0, 0.0])), torch.zeros(2, 8, 5, 5))


@pytest.mark.parametrize("size, out", [(8, 4), (7, 4)])
def test_reduction_edge_pools_the_bypass(size, out):
    edge = PartialChannelEdge(EDGE, OPS, 8, 2, affine=False, k=4)
    x = torch.randn(2, 8, size, size)
    y = edge(x, mix(edge, [0.25, 0.25, 0.25, 0.25]))
    assert y.shape == (2, 8, out, out)
    pooled = torch.nn.functional.max_pool2d(x[:, 2:], 2, 2, ceil_mode=True)
    assert torch.equal(y[:, [1, 5, 2, 6, 3, 7]], pooled)


def test_channels_must_divide_by_k():
    with pytest.raises(SpecError, match="divisible by 4, but edge 0->2 has 6 channels"):
        PartialChannelEdge(EDGE, OPS, 6, 1, affine=False, k=4)
    with pytest.raises(SpecError, match="pc must be a positive integer"):
        Supernet(darts_space(), cells=2, channels=8, classes=3, pc=0)


def test_supernet_forward_backward_and_parameter_reduction():
    torch.manual_seed(0)
    full = Supernet(darts_space(), cells=3, channels=8, classes=5, in_chans=3)
    pc = Supernet(darts_space(), cells=3, channels=8, classes=5, in_chans=3, pc=4)
    count = lambda m: sum(p.numel() for p in m.weight_parameters())  # noqa: E731
    assert count(pc) < 0.3 * count(full)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 5, (4,))
    loss = torch.nn.functional.cross_entropy(pc(x), y)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in pc.weight_parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in pc.arch_parameters())


def test_search_stage_with_partial_channels(tmp_path):
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, """
  batch 16
  seed 1
  stage search { epochs 1  supernet channels 8 pc 4  select magnitude }
"""))
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset(n_train=64))
    assert result.space.is_genotype
    assert (tmp_path / "run" / "genotype.gs").is_file()


def test_search_stage_with_checkpoint_ops(tmp_path, monkeypatch):
    """`supernet checkpoint ops` reaches the stage's separable and dilated convolutions."""
    from genospec.nn import ops

    calls = []
    original = ops.recomputed_chain

    def spy(*args, **kwargs):
        if args[1] is not None:  # a separable or dilated block (None: a cell's preprocessing)
            calls.append(kwargs.get("keep", args[4] if len(args) > 4 else "output"))
        return original(*args, **kwargs)

    monkeypatch.setattr(ops, "recomputed_chain", spy)
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, """
  batch 16
  seed 1
  stage search { epochs 1  supernet channels 8 checkpoint ops  select magnitude }
"""))
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset(n_train=64))
    assert result.space.is_genotype and calls and set(calls) == {"input"}


def test_search_stage_with_checkpointed_cells(tmp_path, monkeypatch):
    """`supernet checkpoint cells` reaches the stage's supernet and the run still searches."""
    from genospec.nn import network

    seen = []
    original = network.Network.forward

    def spy(self, x, edge_weights=None):
        seen.append(self.checkpoint_cells)
        return original(self, x, edge_weights)

    monkeypatch.setattr(network.Network, "forward", spy)
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, """
  batch 16
  seed 1
  stage search { epochs 1  supernet channels 8 checkpoint cells  select magnitude }
"""))
    result = start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset(n_train=64))
    # every training forward checkpoints (the memory estimate probes once without)
    assert result.space.is_genotype and seen.count(True) > 1 and seen.count(False) <= 1
