"""Unit tests of the config model: the ``personalize`` block of cdk.json context.

What a user relies on: a wrong value stops synth with exactly one ``ConfigError`` whose
message names the key (as a dotted path under ``personalize``), shows the value as it was
written (JSON) and gives an example of a right one; a right value reaches its typed field;
the shipped cdk.json block and an absent block both mean the documented defaults.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contract.names import PersonalizeNames
from stacks.config import (
    ConfigError,
    DataConfig,
    LoggingConfig,
    NotificationsConfig,
    PipelineConfig,
    QualityGateConfig,
    ScheduleConfig,
    TrainingConfig,
    default_solutions,
    load_config,
)

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"

SCHEDULE_EXAMPLE = '"rate(7 days)" or "cron(0 3 ? * MON *)"'
RECIPE_EXAMPLE = '"arn:aws:personalize:::recipe/aws-user-personalization-v2"'
UNKNOWN_KEY_EXAMPLE = "removing it or fixing its spelling"


def config_error_of(block: Any) -> ConfigError:
    """The one error ``load_config`` raises for ``block`` (fails the test if it accepts it)."""
    with pytest.raises(ConfigError) as raised:
        load_config(block)
    return raised.value


# --- defaults --------------------------------------------------------------------------------


def test_absent_block_means_the_defaults() -> None:
    assert load_config(None) == PipelineConfig()


def test_empty_block_means_the_defaults() -> None:
    assert load_config({}) == PipelineConfig()


def test_shipped_cdk_json_block_lists_the_two_documented_solutions_and_the_defaults_for_the_rest() -> None:
    context = json.loads(CDK_JSON.read_text())["context"]

    assert load_config(context["personalize"]) == load_config({"solutions": default_solutions(DataConfig())})


def test_the_documented_two_solutions_are_top_picks_and_similar_items() -> None:
    """README "Several solutions": top picks per user and "more like this" (Similar-Items, since items
    are imported when the movie file is there; SIMS when they are off)."""
    listed = load_config({"solutions": default_solutions(DataConfig())})

    assert listed == PipelineConfig(solutions=listed.solutions)
    assert [(s.name, s.recipe_name, s.recipe_type) for s in listed.solutions] == [
        ("picks", "aws-user-personalization-v2", "USER_PERSONALIZATION"),
        ("similar", "aws-similar-items", "RELATED_ITEMS"),
    ]
    # Top picks keep the names of the one solution the earlier cdk.json had, so a deployment that takes
    # the new cdk.json keeps that solution and campaign: the teardown's update keeps them.
    names = PersonalizeNames("movielens").as_properties(tuple(s.resource_name for s in listed.solutions))
    assert names["Solutions"] == ["movielens-solution", "movielens-solution-similar"]
    assert names["Campaigns"] == ["movielens-campaign", "movielens-campaign-similar"]
    with pytest.raises(ConfigError, match="true for one solution at most"):
        load_config({"solutions": [{**s, "legacyNames": True} for s in default_solutions(DataConfig())]})
    without_items = default_solutions(DataConfig(use_items="off"))
    assert without_items[1]["recipeArn"] == "arn:aws:personalize:::recipe/aws-sims"


def test_defaults_are_the_documented_values() -> None:
    assert PipelineConfig() == PipelineConfig(
        pipeline_name="movielens",
        recipe_arn="arn:aws:personalize:::recipe/aws-user-personalization-v2",
        campaign_min_provisioned_tps=1,
        smoke_test_user_id="1",
        schedule=ScheduleConfig(expression="rate(7 days)", time_zone="UTC", enabled=True),
        data=DataConfig(raw_key="raw/ml-100k/u.data", format="ml-100k", min_rating=4.0),
        training=TrainingConfig(mode="FULL", full_retrain_every_days=7),
        quality_gate=QualityGateConfig(
            metric="normalized_discounted_cumulative_gain_at_10", max_relative_regression=0.05, minimum=None
        ),
        notifications=NotificationsConfig(email=None),
        logging=LoggingConfig(state_machine_level="ALL"),
    )


def test_every_key_reaches_its_typed_field() -> None:
    block = {
        "pipelineName": "films_2",
        "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization",
        "campaignMinProvisionedTps": 3,
        "smokeTestUserId": "42",
        "schedule": {"expression": "cron(0 3 ? * MON *)", "timeZone": "Europe/Berlin", "enabled": False},
        "data": {"rawKey": "raw/ml-latest/ratings.csv", "format": "ratings-csv", "minRating": 3},
        "training": {"mode": "UPDATE", "fullRetrainEveryDays": 14},
        "qualityGate": {"metric": "precision_at_10", "maxRelativeRegression": 0, "minimum": 0.02},
        "notifications": {"email": "ml-ops@example.com"},
        "logging": {"stateMachineLevel": "ERROR"},
    }

    assert load_config(block) == PipelineConfig(
        pipeline_name="films_2",
        recipe_arn="arn:aws:personalize:::recipe/aws-user-personalization",
        campaign_min_provisioned_tps=3,
        smoke_test_user_id="42",
        schedule=ScheduleConfig(expression="cron(0 3 ? * MON *)", time_zone="Europe/Berlin", enabled=False),
        data=DataConfig(raw_key="raw/ml-latest/ratings.csv", format="ratings-csv", min_rating=3.0),
        training=TrainingConfig(mode="UPDATE", full_retrain_every_days=14),
        quality_gate=QualityGateConfig(metric="precision_at_10", max_relative_regression=0.0, minimum=0.02),
        notifications=NotificationsConfig(email="ml-ops@example.com"),
        logging=LoggingConfig(state_machine_level="ERROR"),
    )


def test_integer_min_rating_becomes_a_float() -> None:
    assert load_config({"data": {"minRating": 3}}).data.min_rating == 3.0
    assert isinstance(load_config({"data": {"minRating": 3}}).data.min_rating, float)


def test_partial_nested_block_keeps_the_other_defaults() -> None:
    config = load_config({"schedule": {"enabled": False}, "data": {"minRating": 3.5}})

    assert config.schedule == ScheduleConfig(enabled=False)
    assert config.data == DataConfig(min_rating=3.5)


# --- the block given on the command line (-c personalize='{...}') ---------------------------


def test_block_given_as_json_text_is_parsed() -> None:
    text = '{"pipelineName": "films", "schedule": {"expression": "rate(1 day)"}}'

    assert load_config(text) == PipelineConfig(pipeline_name="films", schedule=ScheduleConfig(expression="rate(1 day)"))


def test_block_given_as_json_text_is_validated_like_a_dict() -> None:
    error = config_error_of('{"campaignMinProvisionedTps": 0}')

    assert error.key == "campaignMinProvisionedTps"
    assert error.value == 0


def test_invalid_json_text_is_one_config_error_with_a_command_line_example() -> None:
    error = config_error_of('{"pipelineName": ')

    # How the key is named is covered by test_errors_about_the_whole_block_name_it_personalize.
    assert str(error).endswith(
        'got "{\\"pipelineName\\": "; expected a JSON object, '
        'for example -c personalize=\'{"pipelineName": "movies"}\'.'
    )
    # The JSON parser's own exception is not chained: the user sees only our message.
    assert error.__cause__ is None
    assert error.__suppress_context__


@pytest.mark.parametrize("text", ['"just a string"', "[1, 2]", "7"], ids=["string", "array", "number"])
def test_json_text_that_is_not_an_object_is_rejected(text: str) -> None:
    error = config_error_of(text)

    assert f"got {text}" in str(error)
    assert "expected an object" in str(error)


@pytest.mark.parametrize("block", ['{"pipelineName": ', "[1, 2]", ["not", "an", "object"]], ids=repr)
def test_errors_about_the_whole_block_name_it_personalize(block: Any) -> None:
    assert str(config_error_of(block)).startswith('Invalid cdk.json context "personalize": got ')


# --- exact messages a user reads --------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "message"),
    [
        pytest.param(
            {"pipelinename": "films"},
            'Invalid cdk.json context "personalize.pipelinename": got "films"; expected no such key '
            "(known keys: campaignMinProvisionedTps, data, deployment, encryption, filters, logging, notifications, "
            "pipelineName, qualityGate, recipeArn, schedule, smokeTestUserId, solutions, training), "
            "for example removing it or fixing its spelling.",
            id="unknown-top-level-key",
        ),
        pytest.param(
            {"pipelineName": "a" * 33},
            f'Invalid cdk.json context "personalize.pipelineName": got "{"a" * 33}"; expected 1 to 32 letters, '
            "digits, '-' or '_', starting with a letter or digit (Personalize's name rule, leaving room for the "
            'suffixes of derived names), for example "movielens".',
            id="pipeline-name-too-long",
        ),
        pytest.param(
            {"campaignMinProvisionedTps": 0},
            'Invalid cdk.json context "personalize.campaignMinProvisionedTps": got 0; expected an integer of at '
            "least 1 (Personalize bills this provisioned capacity every hour), for example 1.",
            id="min-tps-zero",
        ),
        pytest.param(
            {"schedule": {"expression": "rate(1 days)"}},
            'Invalid cdk.json context "personalize.schedule.expression": got "rate(1 days)"; expected an '
            "EventBridge Scheduler expression: rate(<n> minute(s)|hour(s)|day(s)) or cron(<minutes> <hours> "
            "<day-of-month> <month> <day-of-week> <year>) with '?' in one of the two day fields, for example "
            '"rate(7 days)" or "cron(0 3 ? * MON *)".',
            id="rate-plural-unit-for-one",
        ),
        pytest.param(
            {"schedule": {"timeZone": "Mars/Olympus"}},
            'Invalid cdk.json context "personalize.schedule.timeZone": got "Mars/Olympus"; expected an IANA time '
            'zone name, for example "Europe/Berlin".',
            id="unknown-time-zone",
        ),
        pytest.param(
            {"training": {"mode": "UPDATE"}},
            'Invalid cdk.json context "personalize.training.mode": got "UPDATE"; expected FULL for recipe '
            "aws-user-personalization-v2: Personalize accepts trainingMode UPDATE only for "
            'aws-user-personalization and aws-hrnn-coldstart, for example "FULL", or "UPDATE" with recipeArn '
            '"arn:aws:personalize:::recipe/aws-user-personalization".',
            id="update-with-v2-recipe",
        ),
        pytest.param(
            {"qualityGate": {"metric": "auc"}},
            'Invalid cdk.json context "personalize.qualityGate.metric": got "auc"; expected one of the metrics '
            "GetSolutionMetrics reports: normalized_discounted_cumulative_gain_at_5, "
            "normalized_discounted_cumulative_gain_at_10, normalized_discounted_cumulative_gain_at_25, "
            "precision_at_5, precision_at_10, precision_at_25, mean_reciprocal_rank_at_25, coverage, for example "
            '"normalized_discounted_cumulative_gain_at_10".',
            id="unknown-quality-metric",
        ),
        pytest.param(
            {"notifications": {"email": "ops at example.com"}},
            'Invalid cdk.json context "personalize.notifications.email": got "ops at example.com"; expected null '
            "(no e-mail; the SNS topic and EventBridge events remain) or one e-mail address to subscribe to run "
            'outcomes and alarms, for example "ops@example.com".',
            id="email-without-at",
        ),
        pytest.param(
            {"logging": {"stateMachineLevel": "DEBUG"}},
            'Invalid cdk.json context "personalize.logging.stateMachineLevel": got "DEBUG"; expected the Step '
            'Functions execution log level: ALL, ERROR, FATAL, OFF, for example "ALL".',
            id="state-machine-log-level-unknown",
        ),
        pytest.param(
            {"data": {"rawKey": "training/u.data"}},
            'Invalid cdk.json context "personalize.data.rawKey": got "training/u.data"; expected the S3 key of the '
            "raw ratings file in the data bucket, or a folder ending in '/' whose every object holds ratings, not "
            "under or above 'training/', 'batch-input/', 'recommendations/' (the workflow writes there), for example "
            '"raw/ml-100k/u.data".',
            id="raw-key-under-training",
        ),
    ],
)
def test_error_message_names_key_value_and_example(block: dict[str, Any], message: str) -> None:
    assert str(config_error_of(block)) == message


# --- every other bad value: key, shown value and example ------------------------------------


TARGETS_EXAMPLE = '["campaign"], ["batch"] or ["campaign", "batch"]'


@dataclass(frozen=True)
class BadValue:
    """One bad value: where it goes in the block and what the message must show."""

    key: str
    value: Any
    example: str

    def block(self) -> dict[str, Any]:
        """The smallest block holding ``value`` at the dotted ``key``."""
        *parents, leaf = self.key.split(".")
        block: dict[str, Any] = {leaf: self.value}
        for parent in reversed(parents):
            block = {parent: block}
        return block


def bad(key: str, value: Any, example: str, case_id: str) -> Any:
    return pytest.param(BadValue(key, value, example), id=case_id)


BAD_VALUES = [
    # Unknown keys, at each level.
    bad("schedule.expresion", "rate(7 days)", UNKNOWN_KEY_EXAMPLE, "unknown-key-in-schedule"),
    bad("data.minrating", 3, UNKNOWN_KEY_EXAMPLE, "unknown-key-in-data"),
    # pipelineName
    bad("pipelineName", "movie lens", '"movielens"', "name-with-space"),
    bad("pipelineName", "-movies", '"movielens"', "name-starting-with-hyphen"),
    bad("pipelineName", "films.v2", '"movielens"', "name-with-dot"),
    bad("pipelineName", "a" * 33, '"movielens"', "name-33-chars"),
    bad("pipelineName", "", '"movielens"', "name-empty"),
    bad("pipelineName", 42, '"movielens"', "name-number"),
    bad("pipelineName", None, '"movielens"', "name-null"),
    # recipeArn
    bad("recipeArn", "arn:aws:personalize:::recipe/aws-similar-items", RECIPE_EXAMPLE, "recipe-item-to-item"),
    bad("recipeArn", "arn:aws:personalize:::recipe/aws-personalized-ranking", RECIPE_EXAMPLE, "recipe-ranking"),
    bad("recipeArn", "aws-user-personalization-v2", RECIPE_EXAMPLE, "recipe-name-not-arn"),
    bad(
        "recipeArn",
        "arn:aws:personalize:eu-west-1:123456789012:recipe/aws-user-personalization-v2",
        RECIPE_EXAMPLE,
        "recipe-arn-with-region-and-account",
    ),
    bad("recipeArn", "", RECIPE_EXAMPLE, "recipe-empty"),
    bad("recipeArn", 7, RECIPE_EXAMPLE, "recipe-number"),
    # campaignMinProvisionedTps
    bad("campaignMinProvisionedTps", 0, "1", "tps-zero"),
    bad("campaignMinProvisionedTps", -1, "1", "tps-negative"),
    bad("campaignMinProvisionedTps", 1.5, "1", "tps-fraction"),
    bad("campaignMinProvisionedTps", True, "1", "tps-boolean"),
    bad("campaignMinProvisionedTps", "1", "1", "tps-string"),
    # smokeTestUserId
    bad("smokeTestUserId", 1, '"1"', "smoke-user-number"),
    bad("smokeTestUserId", "", '"1"', "smoke-user-empty"),
    # schedule.expression: rate()
    bad("schedule.expression", "rate(7 dayz)", SCHEDULE_EXAMPLE, "rate-unknown-unit"),
    bad("schedule.expression", "rate(1 days)", SCHEDULE_EXAMPLE, "rate-plural-for-one"),
    bad("schedule.expression", "rate(5 day)", SCHEDULE_EXAMPLE, "rate-singular-for-five"),
    bad("schedule.expression", "rate(0 days)", SCHEDULE_EXAMPLE, "rate-zero"),
    bad("schedule.expression", "rate(-1 days)", SCHEDULE_EXAMPLE, "rate-negative"),
    bad("schedule.expression", "rate(7days)", SCHEDULE_EXAMPLE, "rate-no-space"),
    bad("schedule.expression", "rate(1 week)", SCHEDULE_EXAMPLE, "rate-weeks"),
    # schedule.expression: cron()
    bad("schedule.expression", "cron(0 3 * * ?)", SCHEDULE_EXAMPLE, "cron-five-fields"),
    bad("schedule.expression", "cron(0 3 1 * MON *)", SCHEDULE_EXAMPLE, "cron-both-day-fields-set"),
    bad("schedule.expression", "cron(0 3 ? * ? *)", SCHEDULE_EXAMPLE, "cron-both-day-fields-question-mark"),
    bad("schedule.expression", "0 3 ? * MON *", SCHEDULE_EXAMPLE, "cron-without-wrapper"),
    # schedule.expression: other
    bad("schedule.expression", "at(2026-01-05T06:00:00)", SCHEDULE_EXAMPLE, "one-time-at-expression"),
    bad("schedule.expression", "", SCHEDULE_EXAMPLE, "expression-empty"),
    bad("schedule.expression", 7, SCHEDULE_EXAMPLE, "expression-number"),
    # schedule.timeZone
    bad("schedule.timeZone", "Mars/Olympus", '"Europe/Berlin"', "zone-unknown"),
    bad("schedule.timeZone", "utc", '"Europe/Berlin"', "zone-wrong-case"),
    bad("schedule.timeZone", "", '"Europe/Berlin"', "zone-empty"),
    bad("schedule.timeZone", "../etc/passwd", '"Europe/Berlin"', "zone-path"),
    bad("schedule.timeZone", 1, '"Europe/Berlin"', "zone-number"),
    bad("schedule.timeZone", "localtime", '"Europe/Berlin"', "zone-tz-database-file"),
    bad("schedule.timeZone", "posix/Europe/Berlin", '"Europe/Berlin"', "zone-posix-copy"),
    # schedule.enabled
    bad("schedule.enabled", "true", "true", "enabled-string"),
    bad("schedule.enabled", 1, "true", "enabled-number"),
    bad("schedule.enabled", None, "true", "enabled-null"),
    # data.format
    bad("data.format", "ml-1m", '"ml-100k"', "format-unknown"),
    bad("data.format", "ML-100K", '"ml-100k"', "format-wrong-case"),
    bad("data.format", "", '"ml-100k"', "format-empty"),
    bad("data.format", None, '"ml-100k"', "format-null"),
    # data.rawKey
    bad("data.rawKey", "training/u.data", '"raw/ml-100k/u.data"', "raw-key-under-training"),
    bad("data.rawKey", "training/", '"raw/ml-100k/u.data"', "raw-key-training-prefix-itself"),
    bad("data.rawKey", "", '"raw/ml-100k/u.data"', "raw-key-empty"),
    bad("data.rawKey", "state/", '"raw/ml-100k/u.data"', "raw-key-folder-holding-the-run-record"),
    bad("data.rawKey", "deletion-requests/", '"raw/ml-100k/u.data"', "raw-key-folder-of-deletion-requests"),
    bad("data.rawKey", "/", '"raw/ml-100k/u.data"', "raw-key-root-folder"),
    bad("data.rawKey", "/raw/u.data", '"raw/ml-100k/u.data"', "raw-key-leading-slash"),
    bad("data.rawKey", 5, '"raw/ml-100k/u.data"', "raw-key-number"),
    # data.minRating
    bad("data.minRating", -0.5, "4.0", "min-rating-below-zero"),
    bad("data.minRating", 5.5, "4.0", "min-rating-above-five"),
    bad("data.minRating", True, "4.0", "min-rating-boolean"),
    bad("data.minRating", "4", "4.0", "min-rating-string"),
    # training
    bad("training.mode", "INCREMENTAL", '"FULL"', "training-mode-unknown"),
    bad("training.mode", "full", '"FULL"', "training-mode-wrong-case"),
    bad("training.mode", "AUTOTRAIN", '"FULL"', "training-mode-autotrain"),
    bad("training.fullRetrainEveryDays", 0, "7", "full-floor-zero"),
    bad("training.fullRetrainEveryDays", 1.5, "7", "full-floor-fraction"),
    bad("training.fullRetrainEveryDays", 366, "7", "full-floor-over-a-year"),
    bad("training.fullRetrainEveryDays", True, "7", "full-floor-boolean"),
    bad("training.fullretraineverydays", 7, UNKNOWN_KEY_EXAMPLE, "unknown-key-in-training"),
    # qualityGate
    bad("qualityGate.metric", "auc", '"normalized_discounted_cumulative_gain_at_10"', "metric-unknown"),
    bad("qualityGate.metric", "precision_at_20", '"normalized_discounted_cumulative_gain_at_10"', "metric-no-such-k"),
    bad("qualityGate.maxRelativeRegression", 1, "0.05", "regression-whole"),
    bad("qualityGate.maxRelativeRegression", -0.1, "0.05", "regression-negative"),
    bad("qualityGate.maxRelativeRegression", "5%", "0.05", "regression-percent-text"),
    bad("qualityGate.minimum", 1.5, "0.1", "minimum-above-one"),
    bad("qualityGate.minimum", False, "0.1", "minimum-boolean"),
    bad("qualityGate.min", 0.1, UNKNOWN_KEY_EXAMPLE, "unknown-key-in-quality-gate"),
    # notifications
    bad("notifications.email", "", '"ops@example.com"', "email-empty"),
    bad("notifications.email", "ops@example", '"ops@example.com"', "email-without-domain-dot"),
    bad("notifications.email", "a@b.c\n", '"ops@example.com"', "email-trailing-newline"),
    bad("notifications.email", ["a@example.com", "b@example.com"], '"ops@example.com"', "email-list"),
    bad("notifications.email", "x" * 250 + "@example.com", '"ops@example.com"', "email-too-long"),
    bad("notifications.emails", "ops@example.com", UNKNOWN_KEY_EXAMPLE, "unknown-key-in-notifications"),
    # logging
    bad("logging.stateMachineLevel", "all", '"ALL"', "log-level-lower-case"),
    bad("logging.stateMachineLevel", None, '"ALL"', "log-level-null"),
    bad("logging.level", "ALL", UNKNOWN_KEY_EXAMPLE, "unknown-key-in-logging"),
    # Nested blocks of the wrong type
    bad("notifications", "ops@example.com", '{"email": "ops@example.com"}', "notifications-not-object"),
    bad("logging", "ALL", '{"stateMachineLevel": "ALL"}', "logging-not-object"),
    bad("training", "UPDATE", '{"mode": "FULL"}', "training-not-object"),
    bad("qualityGate", 0.05, '{"metric": "normalized_discounted_cumulative_gain_at_10"}', "quality-gate-not-object"),
    bad("schedule", "rate(7 days)", '{"expression": "rate(7 days)"}', "schedule-not-object"),
    bad("data", ["raw/u.data"], '{"rawKey": "raw/ml-100k/u.data", "format": "ml-100k"}', "data-not-object"),
    # deployment
    bad("deployment", "batch", '{"targets": ["campaign"]}', "deployment-not-object"),
    bad("deployment.targets", [], TARGETS_EXAMPLE, "targets-empty"),
    bad("deployment.targets", "batch", TARGETS_EXAMPLE, "targets-not-a-list"),
    bad("deployment.targets", ["campaign", "email"], TARGETS_EXAMPLE, "targets-unknown"),
    bad("deployment.targets", ["batch", "batch"], TARGETS_EXAMPLE, "targets-repeated"),
    bad("deployment.batch.numResults", 0, "25", "batch-num-results-zero"),
    bad("deployment.batch.numResults", 501, "25", "batch-num-results-above-500"),
    bad("deployment.batch.numResults", True, "25", "batch-num-results-bool"),
    bad("deployment.batch.usersKey", "recommendations/users.json", '"batch/users.json"', "users-key-in-output"),
    bad("deployment.batch.usersKey", "batch/", '"batch/users.json"', "users-key-folder"),
    bad("data.useItems", "yes", '"auto"', "use-items-unknown"),
    bad("data.useItems", True, '"auto"', "use-items-bool"),
    bad("data.itemsKey", "raw/ml-100k/u.data", '"raw/movies/u.item"', "items-key-is-the-ratings"),
    bad("data.itemsKey", "training/u.item", '"raw/movies/u.item"', "items-key-where-the-workflow-writes"),
    # data.engine, data.glue, data.importMode
    bad("data.engine", "spark", '"auto"', "engine-unknown"),
    bad("data.glue.version", "6.0", '"5.1"', "glue-version-with-another-spark"),
    bad("data.glue.version", 5.1, '"5.1"', "glue-version-a-number"),
    bad("data.glue.workerType", "G.025X", '"G.1X"', "glue-worker-type-for-streaming"),
    bad("data.glue.workers", 1, "10", "glue-workers-only-a-driver"),
    bad("data.glue.workers", 300, "10", "glue-workers-too-many"),
    bad("data.glue.timeoutMinutes", 0, "60", "glue-timeout-zero"),
    bad("data.glue.autoAboveGiB", 0, "4", "glue-threshold-zero"),
    bad("data.glue.autoAboveGiB", 101, "4", "glue-threshold-above-a-full-import"),
    bad("data.glue.workerz", 2, UNKNOWN_KEY_EXAMPLE, "unknown-key-in-glue"),
    bad("data.importMode", "APPEND", '"FULL"', "import-mode-unknown"),
    # data.lambdaMemoryMb
    bad("data.lambdaMemoryMb", 512, "3008", "lambda-memory-below-a-gib"),
    bad("data.lambdaMemoryMb", 10_241, "3008", "lambda-memory-above-lambdas-maximum"),
    bad("data.lambdaMemoryMb", 3538.5, "3008", "lambda-memory-not-whole"),
]


@pytest.mark.parametrize("case", BAD_VALUES)
def test_bad_value_stops_with_one_error_naming_key_value_and_example(case: BadValue) -> None:
    error = config_error_of(case.block())
    message = str(error)

    assert (error.key, error.value) == (case.key, case.value)
    assert message.startswith(f'Invalid cdk.json context "personalize.{case.key}": got {json.dumps(case.value)}; ')
    assert message.endswith(f", for example {case.example}.")


def test_config_error_is_a_value_error() -> None:
    """Callers that guard with ``except ValueError`` still catch it."""
    assert isinstance(config_error_of({"pipelineName": ""}), ValueError)


# --- good values at the edges ---------------------------------------------------------------


def test_a_folder_of_raw_files_keeps_the_movie_file_beside_it() -> None:
    config = load_config({"data": {"rawKey": "raw/clicks/daily/", "format": "ratings-csv"}})
    assert config.data.raw_is_prefix and config.data.items_object_key == "raw/clicks/movies.csv"
    with pytest.raises(ConfigError, match="not the ratings' key or under their prefix"):
        load_config({"data": {"rawKey": "raw/clicks/", "itemsKey": "raw/clicks/movies.csv"}})


def test_glue_settings_need_an_engine_that_may_use_glue() -> None:
    error = config_error_of({"data": {"engine": "lambda", "glue": {"workers": 4}}})
    assert error.key == "data.glue" and 'no setting when data.engine is "lambda"' in str(error)
    glue = load_config({"data": {"glue": {"workers": 20, "workerType": "G.2X", "autoAboveGiB": 0.5}}}).data.glue
    assert (glue.workers, glue.worker_type, glue.auto_above_bytes) == (20, "G.2X", 512 * 1024**2)


def test_incremental_imports_cannot_write_the_batch_users_file() -> None:
    block = {"data": {"importMode": "INCREMENTAL"}, "deployment": {"targets": ["batch"]}}
    error = config_error_of(block)
    assert error.key == "data.importMode" and "set deployment.batch.usersKey" in str(error)
    given = {**block, "deployment": {"targets": ["batch"], "batch": {"usersKey": "users/all.json"}}}
    assert load_config(given).data.incremental
    listed = {
        "data": {"importMode": "INCREMENTAL"},
        "solutions": [
            {"name": "picks", "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2"},
            {
                "name": "mail",
                "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2",
                "deployment": {"targets": ["batch"]},
            },
        ],
    }
    assert config_error_of(listed).key == "data.importMode"


def test_the_full_import_floor_is_the_shortest_training_floor() -> None:
    config = load_config(
        {
            "data": {"importMode": "INCREMENTAL"},
            "solutions": [
                {
                    "name": "a",
                    "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization",
                    "training": {"mode": "UPDATE", "fullRetrainEveryDays": 3},
                },
                {"name": "b", "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2"},
            ],
        }
    )
    assert config.full_import_every_days == 3


@pytest.mark.parametrize("name", ["a", "a" * 32, "Films_2-eu", "7movies"])
def test_pipeline_name_within_personalize_rule_is_accepted(name: str) -> None:
    assert load_config({"pipelineName": name}).pipeline_name == name


@pytest.mark.parametrize(
    "recipe",
    [
        "aws-user-personalization-v2",
        "aws-user-personalization",
        "aws-popularity-count",
        "aws-hrnn",
        "aws-hrnn-metadata",
        "aws-hrnn-coldstart",
    ],
)
def test_user_recipe_arn_is_accepted(recipe: str) -> None:
    config = load_config({"recipeArn": f"arn:aws:personalize:::recipe/{recipe}"})

    assert config.recipe_name == recipe


@pytest.mark.parametrize("tps", [1, 3, 100])
def test_positive_integer_min_tps_is_accepted(tps: int) -> None:
    assert load_config({"campaignMinProvisionedTps": tps}).campaign_min_provisioned_tps == tps


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(30 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
        "cron(0 3 ? * MON *)",
        "cron(15 6 1 * ? *)",
        "cron(0/30 8-17 ? * MON-FRI *)",
    ],
)
def test_scheduler_expression_is_accepted(expression: str) -> None:
    assert load_config({"schedule": {"expression": expression}}).schedule.expression == expression


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_iana_time_zone_is_accepted(zone: str) -> None:
    assert load_config({"schedule": {"timeZone": zone}}).schedule.time_zone == zone


@pytest.mark.parametrize("rating", [0, 0.5, 5])
def test_min_rating_from_zero_to_five_inclusive_is_accepted(rating: float) -> None:
    assert load_config({"data": {"minRating": rating}}).data.min_rating == rating


@pytest.mark.parametrize("raw_key", ["raw/ml-latest/ratings.csv", "u.data", "trainingdata/u.data"])
def test_raw_key_outside_training_prefix_is_accepted(raw_key: str) -> None:
    assert load_config({"data": {"rawKey": raw_key}}).data.raw_key == raw_key


# --- known bugs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "block",
    [{"pipelineName": "movielens\n"}, {"schedule": {"expression": "rate(7 days)\n"}}],
    ids=["pipeline-name", "schedule-expression"],
)
def test_value_with_trailing_newline_is_rejected(block: dict[str, Any]) -> None:
    config_error_of(block)


@pytest.fixture
def host_without_time_zone_database() -> Iterator[None]:
    """A host with no system tz database (Windows, slim containers): only the tzdata package helps."""
    zoneinfo.reset_tzpath(to=[])
    zoneinfo.ZoneInfo.clear_cache()
    try:
        yield
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()


@pytest.mark.usefixtures("host_without_time_zone_database")
def test_default_time_zone_validates_without_a_system_time_zone_database() -> None:
    assert load_config({}).schedule.time_zone == "UTC"


@pytest.mark.parametrize("recipe", ["aws-user-personalization", "aws-hrnn-coldstart"])
def test_update_training_is_accepted_for_the_recipes_that_support_it(recipe: str) -> None:
    config = load_config({"recipeArn": f"arn:aws:personalize:::recipe/{recipe}", "training": {"mode": "UPDATE"}})

    assert config.training == TrainingConfig(mode="UPDATE", full_retrain_every_days=7)


@pytest.mark.parametrize(
    "recipe", ["aws-user-personalization-v2", "aws-hrnn", "aws-hrnn-metadata", "aws-popularity-count"]
)
def test_update_training_is_rejected_for_every_other_user_recipe(recipe: str) -> None:
    error = config_error_of({"recipeArn": f"arn:aws:personalize:::recipe/{recipe}", "training": {"mode": "UPDATE"}})

    assert (error.key, error.value) == ("training.mode", "UPDATE")
    assert f"FULL for recipe {recipe}" in str(error)


def test_quality_gate_without_a_minimum_checks_only_the_regression() -> None:
    assert load_config({"qualityGate": {"minimum": None}}).quality_gate.minimum is None
    assert load_config({"qualityGate": {"minimum": 0}}).quality_gate.minimum == 0.0


@pytest.mark.parametrize("level", ["ALL", "ERROR", "FATAL", "OFF"])
def test_every_step_functions_log_level_is_accepted(level: str) -> None:
    assert load_config({"logging": {"stateMachineLevel": level}}).logging.state_machine_level == level


def test_no_email_means_the_topic_without_a_subscription() -> None:
    assert load_config({"notifications": {}}).notifications.email is None
    assert load_config({"notifications": {"email": None}}).notifications.email is None


@pytest.mark.parametrize(
    ("expression", "days"),
    [
        ("rate(7 days)", 7),
        ("rate(1 day)", 1),
        ("rate(12 hours)", 0.5),
        ("rate(30 minutes)", 30 / 1440),
        ("cron(0 3 ? * MON *)", 7),
        ("cron(0 3 ? * MON,THU *)", 7),
        ("cron(0 3 * * ? *)", 1),
        ("cron(0/15 * * * ? *)", 1),
        ("cron(0 3 1 * ? *)", 62),
        ("cron(0 3 ? * MON#1 *)", 35),
        ("cron(0 3 ? * 6L *)", 35),
        ("cron(0 3 1 1 ? *)", 366),
        ("cron(0 3 ? * MON 2027)", 366),
    ],
)
def test_the_longest_interval_between_runs_bounds_the_schedule(expression: str, days: float) -> None:
    assert ScheduleConfig(expression=expression).longest_interval.total_seconds() == pytest.approx(days * 86400)


# --- the movie file (items dataset) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key", "fmt"),
    [
        ({}, "raw/ml-100k/u.item", "u.item"),
        (
            {"rawKey": "raw/ml-latest-small/ratings.csv", "format": "ratings-csv"},
            "raw/ml-latest-small/movies.csv",
            "movies.csv",
        ),
        ({"rawKey": "ratings.csv", "format": "ratings-csv"}, "movies.csv", "movies.csv"),
        ({"itemsKey": "catalogue/u.item"}, "catalogue/u.item", "u.item"),
    ],
)
def test_the_movie_file_is_the_releases_file_beside_the_ratings_unless_configured(
    data: dict[str, str], key: str, fmt: str
) -> None:
    config = load_config({"data": data})
    assert (config.data.items_object_key, config.data.items_format, config.data.uses_items) == (key, fmt, True)


def test_items_off_leaves_out_the_items_waits_and_refuses_a_movie_file_key() -> None:
    config = load_config({"data": {"useItems": "off"}})
    assert "ItemsImportJob" not in [check.key for check in config.readiness_checks]
    assert "ItemsImportJob" in [check.key for check in load_config({}).readiness_checks]
    error = config_error_of({"data": {"useItems": "off", "itemsKey": "raw/u.item"}})
    assert str(error) == (
        'Invalid cdk.json context "personalize.data.itemsKey": got "raw/u.item"; expected null when data.useItems '
        'is "off" (the movie file would never be read), for example null.'
    )


# --- deployment targets ------------------------------------------------------------------------


def test_deployment_defaults_to_a_campaign_only() -> None:
    deployment = load_config({}).deployment
    assert (deployment.targets, deployment.campaign, deployment.batch_job) == (("campaign",), True, False)


def test_deployment_targets_are_kept_in_one_order_with_their_batch_settings() -> None:
    deployment = load_config(
        {"deployment": {"targets": ["batch", "campaign"], "batch": {"numResults": 50, "usersKey": "batch/users.json"}}}
    ).deployment
    assert deployment.targets == ("campaign", "batch")
    assert (deployment.batch.num_results, deployment.batch.users_key) == (50, "batch/users.json")


def test_batch_settings_without_the_batch_target_are_refused_as_having_no_effect() -> None:
    error = config_error_of({"deployment": {"targets": ["campaign"], "batch": {"numResults": 10}}})
    assert str(error) == (
        'Invalid cdk.json context "personalize.deployment.batch": got {"numResults": 10}; expected no batch settings '
        'unless "batch" is in deployment.targets (they would have no effect), for example "targets": ["campaign", '
        '"batch"].'
    )


# --- several pipelines (personalize.pipelines) -------------------------------------------------


def test_each_pipeline_is_its_entry_merged_over_the_shared_defaults() -> None:
    from stacks.config import load_pipelines

    movielens, films = load_pipelines(
        {
            "defaults": {
                "schedule": {"expression": "rate(1 day)", "timeZone": "Europe/Berlin"},
                "data": {"minRating": 3},
            },
            "pipelines": [
                {"pipelineName": "movielens"},
                {"pipelineName": "films", "schedule": {"expression": "rate(7 days)"}, "filters": []},
            ],
        }
    )

    assert movielens == load_config(
        {
            "pipelineName": "movielens",
            "schedule": {"expression": "rate(1 day)", "timeZone": "Europe/Berlin"},
            "data": {"minRating": 3},
        }
    )
    assert films.schedule == ScheduleConfig(expression="rate(7 days)", time_zone="Europe/Berlin")
    assert (films.data.min_rating, films.filters) == (3.0, ())


def test_a_single_block_is_one_pipeline_as_before() -> None:
    from stacks.config import lists_pipelines, load_pipelines

    assert load_pipelines(None) == (PipelineConfig(),)
    assert load_pipelines('{"pipelineName": "films"}') == (PipelineConfig(pipeline_name="films"),)
    assert not lists_pipelines({"pipelineName": "films"}) and lists_pipelines('{"pipelines": []}')


@pytest.mark.parametrize(
    ("block", "message"),
    [
        pytest.param(
            {"pipelines": [{"pipelineName": "a"}, {"pipelineName": "a"}]},
            'Invalid cdk.json context "personalize.pipelines[1].pipelineName": got "a"; expected a name no other '
            "pipeline has: it is the pipeline's dataset group, and two pipelines on one dataset group would import, "
            'train and delete over each other, for example "a-2".',
            id="same-dataset-group",
        ),
        pytest.param(
            {"pipelines": [{"pipelineName": "films_2"}, {"pipelineName": "films-2"}]},
            'Invalid cdk.json context "personalize.pipelines[1].pipelineName": got "films-2"; expected a name whose '
            "stack (PersonalizePipeline-films-2; '_' becomes '-' in stack names) no other pipeline's has "
            '(pipelines[0] has it), for example "films-22".',
            id="same-stack-name",
        ),
        pytest.param(
            {"pipelines": [{"pipelineName": "a", "data": {"minRating": 9}}]},
            'Invalid cdk.json context "personalize.pipelines[0].data.minRating": got 9; expected a number from 0 to '
            "5; ratings at or above it count as interactions, for example 4.0.",
            id="a-pipeline's-own-error",
        ),
        pytest.param(
            {"pipelines": [{"data": {}}]},
            'Invalid cdk.json context "personalize.pipelines[0].pipelineName": got (missing); expected a name for '
            'each pipeline (it names its dataset group and stack), for example "films".',
            id="unnamed",
        ),
        pytest.param(
            {"pipelines": [], "defaults": {}},
            'Invalid cdk.json context "personalize.pipelines": got []; expected a non-empty list of pipelines, each a '
            'block like the single one, for example [{"pipelineName": "movielens"}, {"pipelineName": "films", '
            '"data": {"rawKey": "raw/films/u.data"}}].',
            id="empty",
        ),
    ],
)
def test_pipelines_that_would_collide_are_refused(block: dict[str, Any], message: str) -> None:
    from stacks.config import load_pipelines

    with pytest.raises(ConfigError) as raised:
        load_pipelines(block)
    assert str(raised.value) == message


def test_more_pipelines_than_the_dataset_group_quota_warn() -> None:
    from stacks.config import load_pipelines, pipelines_warnings

    configs = load_pipelines({"pipelines": [{"pipelineName": f"p{i}"} for i in range(6)]})

    assert pipelines_warnings(configs) == [
        "6 pipelines, each with its own dataset group: Personalize's quota is 5 active dataset groups per region; "
        "ask for an increase in Service Quotas before deploying them in one region"
    ]
