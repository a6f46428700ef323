"""Issue 16 §2: the settings that choose between two readings of a paper (eDARTS op bias, DOTS'
data and learning-rate schedule across stages, DARTS-PT's edge rule, DOTS on DARTS as in CVPR)
are read from recipes, checked, and reach the engine."""

from __future__ import annotations

import pytest

from genospec.errors import SpecError
from genospec.lang.settings import stage_settings

from search_fixtures import TINY_SPACE, recipe_text, write_recipe


def _settings(tmp_path, body: str, stage: int = 0):
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, body))
    return stage_settings(recipe, recipe.stages[stage])


def test_perturbation_edge_rule_is_read_and_defaults_to_the_released_code(tmp_path):
    s = _settings(tmp_path, "stage a { select perturbation edges }")
    assert s.select.options == {"target": "edges", "edge_rule": "single"}
    s = _settings(tmp_path, "stage a { select perturbation edge_rule sequential }")
    assert s.select.options == {"target": "both", "edge_rule": "sequential"}
    s = _settings(tmp_path, "stage a { select progressive magnitude edge_rule sequential }")
    assert s.select.options["edge_rule"] == "sequential"
    with pytest.raises(SpecError, match="unexpected .greedy"):
        _settings(tmp_path, "stage a { select perturbation edge_rule greedy }")
