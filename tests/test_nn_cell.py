"""The cell compiler: preprocessing, strides, multigraph edges, outputs, edge weights, drop path."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genospec.errors import SpecError
from genospec.ir import Cell, Edge, Output, Topology
from genospec.nn import build_network
from genospec.nn.cell import DropPath, SingleOpEdge, compile_cell
from genospec.nn.ops import FactorizedReduce, ReLUConvBN
from genospec.oplib import STANDARD_OPS
from nn_fixtures import GENOTYPES, darts_cell, darts_genotype, nb201_genotype


def ops_of(compiled):
    return [m.op for m in compiled.edges]


def test_darts_reduce_cell_strides_edges_from_inputs_only():
    g = GENOTYPES["DARTS_V2"]
    cell = darts_cell("reduce", g["reduce"], g["reduce_concat"], 2)
    c = compile_cell(cell, STANDARD_OPS, [32, 32], 8, reduced=[True, False])
    assert isinstance(c.preprocess[0], FactorizedReduce) and isinstance(c.preprocess[1], ReLUConvBN)
    # edges() order: node 2 (max_pool 0, max_pool 1), node 3 (skip 2, max_pool 1), ...
    kinds = [(type(o).__name__, getattr(o, "stride", None)) for o in ops_of(c)]
    assert kinds == [("MaxPool2d", 2), ("MaxPool2d", 2), ("Identity", None), ("MaxPool2d", 2),
                     ("MaxPool2d", 2), ("Identity", None), ("Identity", None), ("MaxPool2d", 2)]
    y = c([torch.randn(2, 32, 16, 16), torch.randn(2, 32, 8, 8)])
    assert y.shape == (2, 32, 4, 4) and c.out_chs == 32


def test_two_edges_from_the_same_input_are_two_modules():
    g = GENOTYPES["NASNet"]
    cell = darts_cell("normal", g["normal"], g["normal_concat"], 1)
    node5 = cell.in_edges(5)
    assert [(e.src, e.op) for e in node5] == [(0, "avg_pool_3x3"), (0, "avg_pool_3x3")]
    c = compile_cell(cell, STANDARD_OPS, [8, 8], 4)
    assert len(c.edges) == 10 and c.out_chs == 20
    assert c([torch.randn(1, 8, 6, 6)] * 2).shape == (1, 20, 6, 6)


def test_edge_weights_reach_edge_i_in_edges_order():
    g = GENOTYPES["AmoebaNet"]
    cell = darts_cell("reduce", g["reduce"], g["reduce_concat"], 2)
    seen: list[tuple[int, int, float]] = []

    class Recorder(nn.Module):
        def __init__(self, edge, stride):
            super().__init__()
            self.edge, self.stride = edge, stride

        def forward(self, x, w=None):
            seen.append((self.edge.src, self.edge.dst, float(w)))
            return x[:, :, ::self.stride, ::self.stride] * w

    c = compile_cell(cell, STANDARD_OPS, [4, 4], 4,
                     edge_builder=lambda e, chs, stride, affine: Recorder(e, stride))
    weights = [torch.tensor(float(i)) for i in range(len(cell.edges()))]
    c([torch.randn(1, 4, 8, 8)] * 2, weights)
    assert sorted(seen, key=lambda s: s[2]) == [(e.src, e.dst, float(i))
                                                for i, e in enumerate(cell.edges())]


def test_single_op_edges_ignore_weights():
    g = GENOTYPES["DARTS_V2"]
    c = compile_cell(darts_cell("normal", g["normal"], g["normal_concat"], 1), STANDARD_OPS, [4, 4], 4)
    c.eval()
    xs = [torch.randn(1, 4, 6, 6)] * 2
    assert torch.equal(c(xs), c(xs, [torch.tensor(0.0)] * 8))


def test_sum_and_single_node_outputs_without_preprocessing():
    space = nb201_genotype((("skip_connect",), ("skip_connect", "none"), ("none", "skip_connect", "skip_connect")))
    c = compile_cell(space.cells["normal"], space.ops, [4], 4, preprocess=False)
    x = torch.randn(1, 4, 5, 5)
    # node1 = x, node2 = x, node3 = node1 + node2
    assert torch.allclose(c([x]), 2 * x)
    summed = Cell.build("s", 1, 2, 1, Topology("keep"),
                        [Edge(0, 1, ("skip_connect",)), Edge(1, 2, ("skip_connect",))],
                        Output("sum", (1, 2)))
    assert torch.allclose(compile_cell(summed, STANDARD_OPS, [4], 4, preprocess=False)([x]), 2 * x)


def test_compile_errors():
    empty = Cell.build("e", 2, 2, 1, Topology("keep"), [Edge(0, 2, ("skip_connect",))],
                       Output("concat", (2, 3)))
    with pytest.raises(SpecError, match="node 3 has no incoming edge"):
        compile_cell(empty, STANDARD_OPS, [4, 4], 4)
    backwards = Cell.build("b", 2, 2, 1, Topology("keep"),
                           [Edge(3, 2, ("skip_connect",)), Edge(0, 3, ("skip_connect",))],
                           Output("concat", (2, 3)))
    with pytest.raises(SpecError, match="edge 3->2 must come from an earlier node"):
        compile_cell(backwards, STANDARD_OPS, [4, 4], 4)
    space = nb201_genotype((("skip_connect",), ("skip_connect",) * 2, ("skip_connect",) * 3))
    with pytest.raises(SpecError, match="needs preprocessing"):
        compile_cell(space.cells["normal"], space.ops, [8], 4, preprocess=False)
    multi = Cell.build("m", 2, 1, 1, Topology("pick", 1, 1),
                       [Edge(0, 2, ("skip_connect", "sep_conv_3x3"))], Output("concat", (2,)))
    with pytest.raises(SpecError, match="needs a genotype"):
        compile_cell(multi, STANDARD_OPS, [4, 4], 4)


def test_drop_path_drops_whole_samples_in_training_only():
    torch.manual_seed(0)
    d = DropPath()
    d.set_rate(0.5)
    x = torch.ones(400, 2, 3, 3)
    y = d.train()(x)
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()
    assert 120 < int((per_sample[:, 0] == 0).sum()) < 280
    assert torch.equal(d.eval()(x), x)
    with pytest.raises(ValueError):
        d.set_rate(1.0)


def test_drop_path_spares_identity_edges():
    g = GENOTYPES["DARTS_V2"]
    c = compile_cell(darts_cell("normal", g["normal"], g["normal_concat"], 1), STANDARD_OPS, [4, 4], 4)
    spared = [isinstance(m, SingleOpEdge) and m.is_identity for m in c.edges]
    assert spared == [False, False, False, False, False, True, True, False]
    only_skips = Cell.build("k", 2, 1, 1, Topology("keep"),
                            [Edge(0, 2, ("skip_connect",)), Edge(1, 2, ("skip_connect",))],
                            Output("concat", (2,)))
    c = compile_cell(only_skips, STANDARD_OPS, [4, 4], 4, preprocess=False)
    c.drop_path.set_rate(0.9)
    x = torch.randn(16, 4, 3, 3)
    assert torch.equal(c.train()([x, x]), 2 * x)


def test_network_schedules_drop_path():
    model = build_network(darts_genotype("DARTS_V2", cells=3, channels=4, drop_path=0.3))
    rates = lambda: {c.drop_path.rate for c in model.cells}  # noqa: E731
    assert rates() == {0.0}
    model.schedule_drop_path(0.5)
    assert rates() == {0.15}
    model.schedule_drop_path(1.0)
    assert rates() == {0.3}
