"""Evaluation and search networks: exact DARTS parameter counts, layouts, gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genospec.errors import SpecError
from genospec.nn import build_network, build_op, count_parameters
from genospec.nn.network import ResidualReduction
from nn_fixtures import darts_genotype, darts_space, nb201_genotype

NB201_ALL = (("nor_conv_3x3",), ("nor_conv_3x3",) * 2, ("nor_conv_3x3",) * 3)
NB201_MIXED = (("nor_conv_3x3",), ("skip_connect", "avg_pool_3x3"), ("nor_conv_1x1", "none", "skip_connect"))


class MixedSum(nn.Module):
    """Every candidate op on the edge; outputs summed, or weighted by the edge's weight vector."""

    def __init__(self, ops: list[nn.Module]):
        super().__init__()
        self.ops = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        if w is None:
            return sum(op(x) for op in self.ops)
        return sum(wi * op(x) for wi, op in zip(w, self.ops))


def mixed_sum_builder(space):
    return lambda edge, chs, stride, affine: MixedSum(
        [build_op(space.ops[o], chs, stride, affine) for o in edge.ops])


@pytest.mark.parametrize("genotype, layout, cells, chs, classes, total, without_aux", [
    ("DARTS_V2", "cifar", 20, 36, 10, 3_825_768, 3_349_342),
    ("DARTS_V1", "cifar", 20, 36, 10, 3_645_840, 3_169_414),
    ("DARTS_V2", "imagenet", 14, 48, 1000, 5_979_528, 4_718_752),
])
def test_darts_reference_parameter_counts(genotype, layout, cells, chs, classes, total, without_aux):
    model = build_network(darts_genotype(genotype), layout=layout, cells=cells, channels=chs,
                          classes=classes, auxiliary=True)
    assert count_parameters(model) == total
    assert count_parameters(model, exclude_auxiliary=True) == without_aux


def test_small_darts_v2_without_auxiliary():
    model = build_network(darts_genotype("DARTS_V2", cells=8, channels=16))
    assert model.auxiliary_head is None
    assert count_parameters(model) == count_parameters(model, exclude_auxiliary=True) == 246_106


def test_search_network_over_the_darts_space():
    space = darts_space()
    model = build_network(space, mode="search", edge_builder=mixed_sum_builder(space))
    assert count_parameters(model) == 1_930_618
    bns = [m for c in model.cells for m in c.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and not any(bn.affine for bn in bns)


def test_search_network_passes_edge_weights_per_cell_type():
    space = darts_space(["none", "max_pool_3x3", "skip_connect", "sep_conv_3x3"])
    model = build_network(space, cells=3, channels=4, mode="search",
                          edge_builder=mixed_sum_builder(space))
    alphas = {name: torch.zeros(14, 4, requires_grad=True) for name in ("normal", "reduce")}
    weights = {name: list(a.softmax(-1)) for name, a in alphas.items()}
    logits = model(torch.randn(2, 3, 8, 8), weights)
    assert logits.shape == (2, 10)
    logits.sum().backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in alphas.values())


def forward_backward(model: nn.Module, x: torch.Tensor) -> None:
    model.train()
    out = model(x)
    loss = sum(o.square().mean() for o in (out if isinstance(out, tuple) else (out,)))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.isfinite().all()]
    assert not missing


@pytest.mark.parametrize("name", ["NASNet", "AmoebaNet"])
def test_nasnet_and_amoebanet_train_with_auxiliary_head(name):
    torch.manual_seed(0)
    model = build_network(darts_genotype(name), cells=3, channels=6, auxiliary=True)
    x = torch.randn(2, 3, 32, 32)
    out = model.train()(x)
    assert isinstance(out, tuple) and out[0].shape == out[1].shape == (2, 10)
    forward_backward(model, x)
    assert model.eval()(x).shape == (2, 10)


def test_imagenet_layout_forward_at_224():
    model = build_network(darts_genotype("DARTS_V2"), layout="imagenet", cells=3, channels=8,
                          classes=7, auxiliary=True)
    logits, aux = model.train()(torch.randn(2, 3, 224, 224))
    assert logits.shape == aux.shape == (2, 7)


def test_nb201_tiny_network_count_and_structure():
    # Hand count (C=16, 5 cells per stage): stem 464, cells 5 * (14016 + 55680 + 221952),
    # residual blocks 14464 + 57600, last BN 128, classifier 650. NAS-Bench-201 lists its largest
    # CIFAR-10 model (all nor_conv_3x3) at 1.53 MB.
    model = build_network(nb201_genotype(NB201_ALL))
    assert count_parameters(model) == 1_531_546
    kinds = ["R" if isinstance(c, ResidualReduction) else "c" for c in model.cells]
    assert "".join(kinds) == "ccccc" + "R" + "ccccc" + "R" + "ccccc"


def test_nb201_cell_in_tiny_network_trains():
    torch.manual_seed(0)
    model = build_network(nb201_genotype(NB201_MIXED, cells=3, channels=8), in_chans=1, classes=4)
    x = torch.randn(2, 1, 16, 16)
    forward_backward(model, x)
    assert model.eval()(x).shape == (2, 4)


def test_network_errors():
    nb201 = nb201_genotype(NB201_ALL)
    with pytest.raises(SpecError, match="no auxiliary head"):
        build_network(nb201, auxiliary=True)
    with pytest.raises(SpecError, match="no cell with stride 2"):
        build_network(nb201, layout="cifar")
    with pytest.raises(SpecError, match="unknown network layout") as e:
        build_network(nb201, layout="cifra")
    assert "cifar" in e.value.hint
    with pytest.raises(SpecError, match="needs a genotype"):
        build_network(darts_space(), cells=3, channels=4)
    with pytest.raises(SpecError, match="drop path"):
        build_network(darts_genotype("DARTS_V2"), drop_path=1.5)


def _without_shared_relus(model: nn.Module) -> nn.Module:
    """``model`` whose cells do not take shared ReLU outputs (each preprocessing block runs
    its own ReLU, as before the sharing)."""
    from genospec.nn.cell import CompiledCell

    for cell in model.cells:
        if isinstance(cell, CompiledCell):
            cell.relu_inputs = tuple(False for _ in cell.relu_inputs)
    return model


@pytest.mark.parametrize("mode", ["eval", "search"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_cells_share_the_relu_of_each_state(mode, channels_last):
    """The ReLU of a state is computed once for the cells reading it: the same output, gradients
    and running statistics as one ReLU per preprocessing block (float64), and backward keeps
    the ReLU's output instead of the state: fewer saved activations, no more."""
    import copy

    torch.manual_seed(3)
    if mode == "eval":
        shared = build_network(darts_genotype("DARTS_V2"), cells=5, channels=6, auxiliary=True)
    else:
        space = darts_space()
        shared = build_network(space, cells=4, channels=4, mode="search",
                               edge_builder=mixed_sum_builder(space))
    shared = shared.double()
    if channels_last:
        shared.channels_last()
    with torch.no_grad():  # affine BatchNorms away from their initial 1 and 0
        for bn in (m for m in shared.modules() if isinstance(m, nn.BatchNorm2d) and m.affine):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.3, 0.3)
    assert any(any(c.relu_inputs) for c in shared.cells)
    own = _without_shared_relus(copy.deepcopy(shared))
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)

    def run(model):
        model.train()
        saved = []

        def pack(t):
            if t.numel() >= 2 * 32 * 32 and not isinstance(t, nn.Parameter):
                saved.append(t.untyped_storage().data_ptr())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(x)
        out = out if isinstance(out, tuple) else (out,)
        grads = torch.autograd.grad(sum(o.square().sum() for o in out),
                                    [p for p in model.parameters() if p.requires_grad])
        return out, grads, len(set(saved))

    out_a, grads_a, saved_a = run(shared)
    out_b, grads_b, saved_b = run(own)
    for a, b in zip(out_a + grads_a, out_b + grads_b):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(shared.state_dict().values(), own.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert saved_a <= saved_b


def test_cells_pool_each_node_once_per_pooling_function():
    """DARTS_V2's reduction cell max-pools its two inputs on five edges: each input is pooled
    once, with the same output, gradients and drop-path draws as pooling on every edge."""
    import copy

    from genospec.nn.cell import CompiledCell

    torch.manual_seed(5)
    shared = build_network(darts_genotype("DARTS_V2"), cells=3, channels=4,
                           drop_path=0.3).double()
    reduce = [c for c in shared.cells if isinstance(c, CompiledCell) and c.reduction]
    assert reduce and sum(k is not None for k in reduce[0]._repeat_keys) == 5
    own = copy.deepcopy(shared)
    for cell in own.cells:
        if isinstance(cell, CompiledCell):
            cell._repeat_keys = [None] * len(cell._repeat_keys)
    for model in (shared, own):
        model.schedule_drop_path(1.0)
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    calls = []
    results = []
    for model in (shared, own):
        handles = [m.register_forward_hook(lambda *a: calls.append(1))
                   for m in model.modules() if isinstance(m, nn.MaxPool2d)]
        calls.clear()
        torch.manual_seed(9)  # the same drop-path draws
        out = model.train()(x)
        grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
        results.append((len(calls), out, grads))
        for h in handles:
            h.remove()
    (n_shared, out_a, grads_a), (n_own, out_b, grads_b) = results
    assert (n_shared, n_own) == (2 * len(reduce), 5 * len(reduce))
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
