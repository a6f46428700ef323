"""Parameter and multiply-add counting by forward hooks, checked against hand counts."""

from __future__ import annotations

from genospec.nn import build_network, count_macs, count_parameters
from genospec.oplib import STANDARD_OPS
from nn_fixtures import darts_genotype, nb201_genotype, one_edge_space


def test_macs_of_a_one_edge_cell_network_match_a_hand_count():
    # C=4, one reduction cell (channels doubled to 8), input 3x8x8, 10 classes.
    model = build_network(one_edge_space(STANDARD_OPS["conv_3x3"]))
    stem = 12 * 8 * 8 * (3 * 3 * 3)            # 3x3 conv, 3 -> 12 channels at 8x8
    preprocess = 2 * 8 * 8 * 8 * 12           # two 1x1 convs 12 -> 8 at 8x8
    edge = 8 * 4 * 4 * (8 * 3 * 3)            # 3x3 conv 8 -> 8, stride 2 -> 4x4
    classifier = 8 * 10
    assert count_macs(model, (3, 8, 8)) == stem + preprocess + edge + classifier == 42_320
    # stem conv + BN, two preprocess convs + BNs, edge conv + BN, linear with bias
    assert count_parameters(model) == (324 + 24) + 2 * (96 + 16) + (576 + 16) + 90


def test_depthwise_convolutions_count_per_group():
    model = build_network(one_edge_space(STANDARD_OPS["dil_conv_3x3"]))
    edge = 8 * 4 * 4 * 3 * 3 + 8 * 4 * 4 * 8  # depthwise stride 2, then pointwise
    assert count_macs(model, (3, 8, 8)) == 20_736 + 12_288 + edge + 80


def test_macs_ignore_the_auxiliary_head_and_keep_the_training_flag():
    with_aux = build_network(darts_genotype("DARTS_V2", cells=3, channels=4), auxiliary=True)
    without = build_network(darts_genotype("DARTS_V2", cells=3, channels=4), auxiliary=False)
    with_aux.train()
    assert count_macs(with_aux, (3, 32, 32)) == count_macs(without, (3, 32, 32)) > 0
    assert with_aux.training


def test_nb201_macs_match_a_hand_count():
    # C=8, one cell per stage, 16x16 input. A cell: 6 nor_conv_3x3 edges of C*C*9 per pixel.
    # A residual reduction block: conv_a (3x3, stride 2), conv_b (3x3), avg-pool + 1x1 shortcut.
    model = build_network(nb201_genotype((("nor_conv_3x3",), ("nor_conv_3x3",) * 2,
                                          ("nor_conv_3x3",) * 3), cells=3, channels=8))
    stem = 8 * 16 * 16 * 27
    cells = 6 * 9 * (8 * 8 * 16 * 16 + 16 * 16 * 8 * 8 + 32 * 32 * 4 * 4)
    blocks = 16 * 8 * 8 * (8 * 9 + 16 * 9 + 8) + 32 * 4 * 4 * (16 * 9 + 32 * 9 + 16)
    assert count_macs(model, (3, 16, 16)) == stem + cells + blocks + 32 * 10 == 3_168_576
