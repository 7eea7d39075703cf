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


def test_the_table_synth_reads_agrees_with_what_describe_recipe_answers() -> None:
    """Synth takes each solution's type from contract/recipes.py; the simulator answers DescribeRecipe
    from its own copy of the guide's table (simulator/personalize/core.py). They must agree."""
    import boto3

    from contract.recipes import RECIPES
    from simulator.offline import offline_account

    with offline_account():
        personalize = boto3.client("personalize", region_name="us-east-1")
        for recipe in RECIPES.values():
            answer = personalize.describe_recipe(recipeArn=recipe.arn)["recipe"]
            assert (answer["name"], answer["recipeType"], answer["status"]) == (
                recipe.name,
                recipe.recipe_type,
                "ACTIVE",
            )


def test_a_solution_is_checked_against_its_recipe_type() -> None:
    from stacks.config import ConfigError, load_config

    similar = {"name": "similar", "recipeArn": RECIPE_ARN_PREFIX + "aws-similar-items"}
    with pytest.raises(ConfigError, match=r'solutions\[0\]\.smokeTest".*exactly itemId: a aws-similar-items campaign'):
        load_config({"solutions": [{**similar, "smokeTest": {"userId": "1"}}]})
    ranking = {"name": "rank", "recipeArn": RECIPE_ARN_PREFIX + "aws-personalized-ranking-v2"}
    (solution,) = load_config({"solutions": [ranking]}).solutions
    assert (solution.smoke_test.user_id, len(solution.smoke_test.item_ids)) == ("1", 10)
    with pytest.raises(ConfigError, match="a name no other solution has"):
        load_config({"solutions": [similar, similar]})
    with pytest.raises(ConfigError, match="no top-level recipeArn when solutions are listed"):
        load_config({"recipeArn": RECIPE_ARN_PREFIX + "aws-sims", "solutions": [similar]})
    with pytest.raises(ConfigError, match=r"batch output here recommends for the run's users file, the input of USER_"):
        load_config({"solutions": [{**similar, "deployment": {"targets": ["batch"]}}]})
    picks = {"name": "picks", "recipeArn": RECIPE_ARN_PREFIX + "aws-user-personalization-v2"}
    with pytest.raises(ConfigError, match=r'solutions\[0\]\.deployment\.batch\.usersKey".*null: with "solutions"'):
        load_config({"solutions": [{**picks, "deployment": {"targets": ["batch"], "batch": {"usersKey": "u.json"}}}]})
    with pytest.raises(ConfigError, match=r'solutions\[0\]\.deployment\.batch\.filter"'):
        load_config({"solutions": [{**picks, "deployment": {"targets": ["batch"], "batch": {"filter": "genre"}}}]})
    (batch,) = load_config({"solutions": [{**picks, "deployment": {"targets": ["batch"]}}]}).solutions
    assert batch.deployment.targets == ("batch",)
    with pytest.raises(ConfigError, match=r"1 to 24 lowercase letters or digits"):
        load_config({"solutions": [{**similar, "name": "Similar"}]})


def test_quota_warnings_name_the_documented_quota() -> None:
    from stacks.config import config_warnings, load_config

    solutions = [{"name": f"s{i}", "recipeArn": RECIPE_ARN_PREFIX + "aws-sims"} for i in range(11)]
    warnings = config_warnings(load_config({"solutions": solutions}))
    assert warnings == [
        "11 solutions in one dataset group: Personalize's quota is 10 active solutions per dataset group; ask for "
        "an increase in Service Quotas before deploying",
        "11 campaigns in one dataset group: Personalize's quota is 5 active campaigns per dataset group; ask for an "
        "increase in Service Quotas before deploying",
    ]
    assert config_warnings(load_config(None)) == []
