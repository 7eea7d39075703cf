"""The recipe table (register personalize.recipes.types): types as the guide documents them."""

from __future__ import annotations

import pytest

from contract.recipes import (
    ITEM_RECIPE_METRICS,
    PERSONALIZED_RANKING,
    RELATED_ITEMS,
    USER_PERSONALIZATION,
    recipe_of,
    related_items_recipe,
)
from stacks.config import QUALITY_METRICS, RECIPE_ARN_PREFIX, USER_RECIPES


def test_the_recipes_the_config_accepts_today_are_user_recipes_of_the_table() -> None:
    for name in USER_RECIPES:
        assert recipe_of(RECIPE_ARN_PREFIX + name).request.startswith("GetRecommendations")
    assert set(QUALITY_METRICS) == set(ITEM_RECIPE_METRICS)


def test_types_and_requests_follow_the_guide() -> None:
    assert recipe_of("arn:aws:personalize:::recipe/aws-user-personalization-v2").recipe_type == USER_PERSONALIZATION
    assert recipe_of("arn:aws:personalize:::recipe/aws-sims").recipe_type == RELATED_ITEMS
    ranking = recipe_of("arn:aws:personalize:::recipe/aws-personalized-ranking-v2")
    assert (ranking.recipe_type, ranking.request) == (PERSONALIZED_RANKING, "GetPersonalizedRanking(userId, inputList)")
    assert related_items_recipe(has_items=True).name == "aws-similar-items"
    assert related_items_recipe(has_items=False).name == "aws-sims"
    with pytest.raises(KeyError, match="is not a recipe this pipeline knows"):
        recipe_of("arn:aws:personalize:::recipe/aws-item-affinity")
