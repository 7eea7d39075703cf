"""What each Personalize recipe is: its type, the request its campaign answers, what it trains on.

Groundwork for several solutions per pipeline (issue 13): the recipe type comes from the recipe,
never from the user. The table follows the developer guide's recipe table and recipe pages
(register personalize.recipes.types), with one conflict the guide itself has: Popularity-Count
is listed under POPULAR_ITEMS in the table and as USER_PERSONALIZATION on its own page. The
botocore model's ``Recipe.recipeType`` documents only PERSONALIZED_RANKING, RELATED_ITEMS and
USER_PERSONALIZATION. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

RECIPE_ARN_PREFIX: Final = "arn:aws:personalize:::recipe/"

USER_PERSONALIZATION: Final = "USER_PERSONALIZATION"
POPULAR_ITEMS: Final = "POPULAR_ITEMS"
RELATED_ITEMS: Final = "RELATED_ITEMS"
PERSONALIZED_RANKING: Final = "PERSONALIZED_RANKING"

# The request a campaign of each type answers (the guide's recipe table).
REQUEST_BY_TYPE: Final = {
    USER_PERSONALIZATION: "GetRecommendations(userId)",
    POPULAR_ITEMS: "GetRecommendations(userId only for a filter that needs it)",
    RELATED_ITEMS: "GetRecommendations(itemId)",
    PERSONALIZED_RANKING: "GetPersonalizedRanking(userId, inputList)",
}
# GetSolutionMetrics of item recipes ("Evaluating a solution version with metrics"); the same
# keys for every type above (Trending-Now adds a trend metric whose key is not documented).
ITEM_RECIPE_METRICS: Final = (
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
    "mean_reciprocal_rank_at_25",
    "coverage",
)

# The quality gate's choice per recipe type. The guide documents one set of keys for every custom
# solution version ("Evaluating a solution version with metrics"), ranking recipes included: the
# gate checks a metric against its type all the same, so a type that reports others needs one line.
METRICS_BY_TYPE: Final = {recipe_type: ITEM_RECIPE_METRICS for recipe_type in REQUEST_BY_TYPE}


def metrics_of_type(recipe_type: str) -> tuple[str, ...]:
    """The GetSolutionMetrics keys a solution version of this recipe type reports."""
    return METRICS_BY_TYPE[recipe_type]


@dataclass(frozen=True)
class Recipe:
    """One recipe: its documented type, and whether it can use the items dataset."""

    name: str
    recipe_type: str
    uses_item_metadata: bool
    legacy: bool = False

    @property
    def arn(self) -> str:
        return RECIPE_ARN_PREFIX + self.name

    @property
    def request(self) -> str:
        return REQUEST_BY_TYPE[self.recipe_type]


RECIPES: Final = {
    recipe.name: recipe
    for recipe in (
        Recipe("aws-user-personalization-v2", USER_PERSONALIZATION, uses_item_metadata=True),
        Recipe("aws-user-personalization", USER_PERSONALIZATION, uses_item_metadata=True),
        # The guide's table says POPULAR_ITEMS, its own page USER_PERSONALIZATION (assumed: table).
        Recipe("aws-popularity-count", POPULAR_ITEMS, uses_item_metadata=False),
        Recipe("aws-trending-now", POPULAR_ITEMS, uses_item_metadata=False),
        # "Similar-Items calculates similarity based on interactions data and any item metadata";
        # "SIMS uses your Item interactions dataset, not item metadata".
        Recipe("aws-similar-items", RELATED_ITEMS, uses_item_metadata=True),
        Recipe("aws-sims", RELATED_ITEMS, uses_item_metadata=False),
        Recipe("aws-personalized-ranking-v2", PERSONALIZED_RANKING, uses_item_metadata=True),
        Recipe("aws-personalized-ranking", PERSONALIZED_RANKING, uses_item_metadata=True),
        Recipe("aws-hrnn", USER_PERSONALIZATION, uses_item_metadata=False, legacy=True),
        Recipe("aws-hrnn-metadata", USER_PERSONALIZATION, uses_item_metadata=True, legacy=True),
        Recipe("aws-hrnn-coldstart", USER_PERSONALIZATION, uses_item_metadata=True, legacy=True),
    )
}


def related_items_recipe(*, has_items: bool) -> Recipe:
    """The related-items recipe issue 13's default config adds: Similar-Items with item metadata,
    SIMS (interactions only) without."""
    return RECIPES["aws-similar-items" if has_items else "aws-sims"]


def recipe_of(arn: str) -> Recipe:
    """The recipe of an ARN, or KeyError naming the known ones."""
    name = arn.removeprefix(RECIPE_ARN_PREFIX)
    if not arn.startswith(RECIPE_ARN_PREFIX) or name not in RECIPES:
        raise KeyError(f"{arn!r} is not a recipe this pipeline knows ({', '.join(sorted(RECIPES))})")
    return RECIPES[name]
