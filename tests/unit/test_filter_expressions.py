"""The filter-expression contract: the grammar Personalize documents, as the config validator and
the simulator apply it (register personalize.filters.expressions)."""

from __future__ import annotations

import pytest

from contract.filters import (
    FilterExpressionError,
    check_fields,
    format_filter_values,
    item_matches,
    parse_filter_expression,
    parse_filter_values,
)
from stacks.config import ConfigError, load_config

DATASETS = {"Interactions": ["EVENT_TYPE"], "Items": ["ITEM_ID", "GENRES", "YEAR", "CREATION_TIMESTAMP"]}


@pytest.mark.parametrize(
    ("expression", "parameters", "excludes_interacted"),
    [
        ('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")', (), True),
        ("INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)", ("GENRES",), False),
        (
            'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*") | INCLUDE ItemID WHERE Items.GENRES IN ($G)',
            ("G",),
            True,
        ),
        ('INCLUDE ItemID WHERE Items.YEAR >= 1990 AND Items.GENRES NOT IN ("Horror", "War")', (), False),
        ("EXCLUDE ItemID WHERE Items.YEAR < $BEFORE OR Items.GENRES IN ($GENRES)", ("BEFORE", "GENRES"), False),
    ],
)
def test_documented_expressions_parse(expression: str, parameters: tuple[str, ...], excludes_interacted: bool) -> None:
    parsed = parse_filter_expression(expression)
    check_fields(parsed, DATASETS)
    assert (parsed.parameters, parsed.excludes_interacted) == (parameters, excludes_interacted)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("", "1 to 2500 characters"),
        ("x" * 2501, "1 to 2500 characters"),
        ('INCLUDE ItemID Items.GENRES IN ("Comedy")', "expected WHERE, got 'Items.GENRES'"),
        ('INCLUDE UserID WHERE Items.GENRES IN ("Comedy")', "item recommendations filter ItemID"),
        ('INCLUDE ItemID WHERE Items.GENRES IN ("Comedy"', "the expression ends early"),
        ('EXCLUDE ItemID WHERE Interactions.RATING IN ("4")', "Interactions can be filtered on EVENT_TYPE only"),
        ("INCLUDE ItemID WHERE Items.GENRES NOT IN ($GENRES)", "a $PARAMETER cannot be used with NOT IN"),
        ('INCLUDE ItemID WHERE Items.GENRES IN ("*")', '"*" means every event type'),
        ('INCLUDE ItemID WHERE Items.GENRES IN ($A, "Comedy")', "a $PARAMETER stands alone"),
        (
            'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*") AND Items.GENRES IN ("Comedy")',
            "one clause cannot use both Interactions and Items",
        ),
        ('INCLUDE ItemID WHERE Items.YEAR > "old"', "expected a number or a $PARAMETER"),
        ('INCLUDE ItemID WHERE Items.GENRES IN ("a") EXCLUDE', "expected '|' or the end"),
        (
            'INCLUDE ItemID WHERE Items.A IN ("1") AND Items.B IN ("1") AND Items.C IN ("1") AND Items.D IN ("1") '
            'AND Items.E IN ("1") AND Items.F IN ("1")',
            "at most 5 distinct fields",
        ),
    ],
)
def test_malformed_expressions_are_refused_with_the_reason(expression: str, reason: str) -> None:
    with pytest.raises(FilterExpressionError) as refused:
        parse_filter_expression(expression)
    assert reason in str(refused.value)


def test_a_field_no_dataset_has_is_refused() -> None:
    with pytest.raises(FilterExpressionError, match=r"Items.TITLE: the Items dataset has no field TITLE"):
        check_fields(parse_filter_expression('INCLUDE ItemID WHERE Items.TITLE IN ("x")'), DATASETS)
    with pytest.raises(FilterExpressionError, match="the dataset group has no Items dataset"):
        check_fields(parse_filter_expression("INCLUDE ItemID WHERE Items.GENRES IN ($G)"), {"Interactions": []})


def test_a_categorical_value_matches_any_of_its_joined_values_and_values_round_trip() -> None:
    (clause,) = parse_filter_expression("INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)").clauses
    values = parse_filter_values(format_filter_values({"GENRES": ["Sci-Fi", 'Say "hi"']}))
    assert values == {"GENRES": ["Sci-Fi", 'Say "hi"']}
    assert item_matches(clause, {"GENRES": "Action|Sci-Fi"}, False, values)
    assert not item_matches(clause, {"GENRES": "Action|Sci"}, False, values)
    assert not item_matches(clause, None, False, values)  # an item the items dataset does not have


def test_the_config_refuses_a_filter_on_items_when_the_pipeline_imports_none() -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(
            {
                "data": {"useItems": "off"},
                "filters": [{"name": "genre", "expression": "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)"}],
            }
        )
    assert str(refused.value).startswith(
        'Invalid cdk.json context "personalize.filters[0].expression": got "INCLUDE ItemID WHERE Items.GENRES IN '
        "($GENRES)\"; expected a Personalize filter expression over this pipeline's datasets (Items.GENRES: the "
        "dataset group has no Items dataset)"
    )
    assert [f.name for f in load_config({"data": {"useItems": "off"}}).filters] == ["unseen"]


@pytest.mark.parametrize(
    ("filters", "key", "expected"),
    [
        ([{"name": "a b", "expression": "x"}], "filters[0].name", "letters, digits"),
        (
            [{"name": "x" * 47, "expression": 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")'}],
            "filters[0].name",
            "1 to 46",
        ),
        (
            [{"name": "a", "expression": 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")'}] * 2,
            "filters[1].name",
            "a name no other filter has",
        ),
        ([{"name": "a"}], "filters[0]", "exactly a name and an expression"),
        (
            [
                {"name": f"f{i}", "expression": 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")'}
                for i in range(31)
            ],
            "filters",
            "at most 30",
        ),
    ],
)
def test_bad_filter_lists_name_the_entry(filters: list[dict[str, str]], key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config({"filters": filters})
    assert refused.value.key == key
    assert expected in str(refused.value)


def test_a_batch_filter_names_a_configured_filter_without_parameters() -> None:
    batch = {"targets": ["batch"], "batch": {"filter": "unseen"}}
    assert load_config({"deployment": batch}).deployment.batch.filter == "unseen"
    for name in ("genre", "nope"):
        with pytest.raises(ConfigError) as refused:
            load_config({"deployment": {"targets": ["batch"], "batch": {"filter": name}}})
        assert str(refused.value) == (
            f'Invalid cdk.json context "personalize.deployment.batch.filter": got "{name}"; expected null or the '
            'name of a filter in the filters list that takes no $PARAMETER (unseen), for example "unseen".'
        )
