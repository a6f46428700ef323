"""A seeded search computes the same numbers every time it runs.

Every op kind of the DARTS space (zero, max and average pooling, identity and its
FactorizedReduce at stride 2, separable and dilated convolutions), reduction cells, the
preprocessing FactorizedReduce after a reduction, channels-last memory and the CPU fast paths
(on by default in search): run twice in one process, the metrics and the genotype are
identical, at one thread and at two. A write out of bounds anywhere in a training step (the
defect of oneDNN's strided 1x1 weight gradient, see tests/test_torch_reproducers.py) shows up
here as differing numbers, or under `.ci/run`'s malloc checks as an abort.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from genospec.progress import Reporter
from genospec.search.engine import start_search
from search_fixtures import recipe_text, tiny_dataset, write_recipe

DARTS_SPACE = Path(__file__).resolve().parents[1] / "specs" / "spaces" / "darts.gs"
# The DARTS space itself (every op kind) with 2-node cells, 3 cells (the last two reduce), C=4.
DARTS_OPS_SPACE = f"""
import "{DARTS_SPACE}"
space every_op extends darts {{
  cell normal {{ nodes 2 }}
  cell reduce {{ nodes 2 }}
  network {{ cells 3  channels 4 }}
}}
"""

RECIPE = """
  batch 16
  seed 5
  stage search {
    epochs 2
    weights sgd lr 0.05 -> 0.001 cosine momentum 0.9 decay 3e-4 clip 5
    arch adam lr 3e-3 betas 0.5, 0.999 decay 1e-3
    update bilevel first_order
    select magnitude
  }
"""

_TIMES = {"time", "time_s", "elapsed", "elapsed_s", "seconds", "wall_s", "eta_s"}


def _numbers(run_dir) -> list[dict]:
    """metrics.jsonl without its clock readings."""
    rows = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        rows.append({k: v for k, v in row.items() if k not in _TIMES and "time" not in k})
    return rows


@pytest.mark.parametrize("threads", [1, 2])
def test_a_seeded_search_gives_identical_numbers_twice(tmp_path, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        recipe = write_recipe(tmp_path, recipe_text(DARTS_OPS_SPACE, RECIPE, of="every_op"))
        runs = []
        for attempt in range(2):
            result = start_search(recipe, out=tmp_path / f"run{attempt}",
                                  dataset=tiny_dataset(n_train=32, size=8),
                                  reporter=Reporter())
            runs.append((_numbers(tmp_path / f"run{attempt}"),
                         result.genotype.read_text(encoding="utf-8")))
    finally:
        torch.set_num_threads(before)
    (metrics_a, genotype_a), (metrics_b, genotype_b) = runs
    assert len(metrics_a) >= 2  # both epochs reported
    assert metrics_a == metrics_b
    assert genotype_a == genotype_b
    assert "FactorizedReduce" not in genotype_a  # a genotype, in the language's words
