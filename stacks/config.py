"""The pipeline's configuration: the ``personalize`` block of cdk.json context.

It is parsed once, in app.py, into a frozen :class:`PipelineConfig`. Everything below app.py
receives typed values and never reads context or the environment. Every bad value stops
synth with one :class:`ConfigError` naming the key, the bad value and a good example, so a
user never has to read a stack trace to fix a typo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contract.engines import (
    ENGINES,
    FULL_VCPU_MEMORY_MB,
    GLUE_THRESHOLD_BYTES,
    GLUE_VERSIONS,
    GLUE_WORKER_TYPES,
    IMPORT_MODES,
    describe_size,
)
from contract.filters import (
    EVENT_TYPE,
    INTERACTIONS,
    ITEMS,
    MAX_FIELDS_PER_DATASET_GROUP,
    MAX_FILTERS_PER_DATASET_GROUP,
    FilterExpression,
    FilterExpressionError,
    check_fields,
    parse_filter_expression,
)
from contract.functions import PREPARE_DATA, FunctionSpec, workflow_functions
from contract.layout import (
    BATCH_INPUT_PREFIX,
    DELETION_REQUESTS_PREFIX,
    RECOMMENDATIONS_PREFIX,
    STATE_KEY,
    TRAINING_PREFIX,
)
from contract.personalize import TRAINING_MODES, UPDATE_CAPABLE_RECIPES
from contract.readiness import SOLUTION_CHECKS, ReadinessCheck, planned_checks
from contract.recipes import (
    ITEM_RECIPE_METRICS,
    PERSONALIZED_RANKING,
    RECIPE_ARN_PREFIX,
    RECIPES,
    RELATED_ITEMS,
    Recipe,
    metrics_of_type,
    recipe_of,
    related_items_recipe,
)
from contract.schedule import CRON_PATTERN, RATE_PATTERN
from stacks.items_schema import ITEMS_FIELDS

CONTEXT_KEY = "personalize"

# Personalize's own name rule (botocore model: pattern ^[a-zA-Z0-9][a-zA-Z0-9\-_]*, max 63).
# Derived names add at most 31 characters (``-import-20260105T060000-ab12cd``), so the pipeline
# name is capped at 32 to keep every derived name within 63.
PIPELINE_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
PIPELINE_NAME_MAX_LENGTH = 32

# Recipes whose campaigns answer GetRecommendations for a userId, which is what the
# workflow's smoke test and users of a movie recommender call.
USER_RECIPES = (
    "aws-user-personalization-v2",
    "aws-user-personalization",
    "aws-popularity-count",
    "aws-hrnn",
    "aws-hrnn-metadata",
    "aws-hrnn-coldstart",
)

DATA_FORMATS = ("ml-100k", "ratings-csv")
# The movie file each ratings format ships with (lambdas/prepare_data/movies.py reads both), found
# beside the ratings unless data.itemsKey says where.
ITEMS_FILES = {"ml-100k": "u.item", "ratings-csv": "movies.csv"}
# Whether a run imports the movie file as the items dataset: when it exists (auto), always
# (required: a missing file fails the run), or never (off: ratings only).
USE_ITEMS_CHOICES = ("auto", "required", "off")
# What `cdk destroy` does with the data bucket: keep it (and the users' data) or empty and delete it.
ON_DESTROY_CHOICES = ("retain", "destroy")


# Offline metrics GetSolutionMetrics reports for the user recipes above; higher is better for all.
QUALITY_METRICS = ITEM_RECIPE_METRICS

# Where run outcomes go besides EventBridge: an optional e-mail subscription to the SNS topic.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_MAX_LENGTH = 254

# Step Functions execution log levels (CloudWatch Logs): ALL logs every state, OFF nothing.
STATE_MACHINE_LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")


# Where a trained, quality-gated version goes: a campaign (real-time, billed per provisioned TPS-hour),
# a batch inference job (a file of recommendations per run), or both.
DEPLOYMENT_TARGETS = ("campaign", "batch")
# CreateBatchInferenceJob's numResults: the model (NumBatchResults) sets no bound; 500 is the
# documented maximum of GetRecommendations, assumed for batch (register personalize.batch.request).
BATCH_MAX_RESULTS = 500
# Prefixes the workflow writes; raw data and a batch users file must live elsewhere.
WORKFLOW_PREFIXES = (TRAINING_PREFIX, BATCH_INPUT_PREFIX, RECOMMENDATIONS_PREFIX)

KMS_KEY_CREATE = "create"
KMS_KEY_ARN_PATTERN = re.compile(
    r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/mrk-[0-9a-f]{32}"
)


# Filters created from config (``filters``), named <pipeline>-filter-<name> (Personalize's 63).
FILTER_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
UNSEEN_EXPRESSION = f'EXCLUDE ItemID WHERE {INTERACTIONS}.{EVENT_TYPE} IN ("*")'
GENRE_EXPRESSION = f"INCLUDE ItemID WHERE {ITEMS}.GENRES IN ($GENRES)"


class ConfigError(ValueError):
    """A configuration value that would produce a broken or rejected deployment."""

    def __init__(self, key: str, value: Any, expected: str, example: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        self.example = example
        shown = json.dumps(value) if not isinstance(value, _Missing) else "(missing)"
        full_key = f"{CONTEXT_KEY}.{key}" if key else CONTEXT_KEY
        super().__init__(
            f'Invalid cdk.json context "{full_key}": got {shown}; expected {expected}, for example {example}.'
        )


class _Missing:
    """Marks a value that is absent, so messages can say so instead of printing null."""


@dataclass(frozen=True)
class ScheduleConfig:
    """When the retraining runs. ``expression`` is an EventBridge Scheduler expression."""

    expression: str = "rate(7 days)"
    time_zone: str = "UTC"
    enabled: bool = True
    # The first run of a rate schedule (UTC, ISO-8601), or None: one period after the deployment.
    start_date: str | None = None

    @property
    def is_rate(self) -> bool:
        return RATE_PATTERN.fullmatch(self.expression) is not None

    @property
    def longest_interval(self) -> timedelta:
        """An upper bound of the time between two runs the schedule starts.

        Exact for rate(); for cron() a bound from the fields that constrain the day: a fixed
        month or year can mean a year, a day of the month 62 days (the 31st skips months), an
        nth or last weekday 35 days, a day of the week 7 days, anything else a day.
        """
        rate = RATE_PATTERN.fullmatch(self.expression)
        if rate:
            unit = rate["unit"].rstrip("s")
            return timedelta(**{f"{unit}s": int(rate["value"])})
        cron = CRON_PATTERN.fullmatch(self.expression)
        if cron is None:  # the loader accepts only rate() and cron() expressions
            raise ValueError(f"not a schedule expression: {self.expression!r}")
        _minutes, _hours, day_of_month, month, day_of_week, year = cron["fields"].split()
        if month != "*" or year != "*":
            return timedelta(days=366)
        if day_of_month not in ("*", "?"):
            return timedelta(days=62)
        if day_of_week not in ("*", "?"):
            return timedelta(days=35) if "#" in day_of_week or "L" in day_of_week else timedelta(days=7)
        return timedelta(days=1)


@dataclass(frozen=True)
class GlueConfig:
    """The Glue Spark job of data.engine (docs/data-at-scale.md): version, workers, time limit.

    The defaults are sized for what ``auto`` hands over (contract/engines.py): by the rate per core
    of local Spark in make bench-prepare (about 65,000 rows/s), 10 G.1X workers (36 executor cores)
    convert the 4 GiB threshold in about 1.5 minutes, and the largest FULL import Personalize takes,
    100 GB, in about half an hour, within the 60-minute timeout (an estimate: Glue's cores are not
    the benchmark machine's; larger inputs want more workers).
    """

    version: str = "5.1"
    worker_type: str = "G.1X"
    workers: int = 10
    timeout_minutes: int = 60
    # data.engine auto: the input size above which a run hands the conversion to Glue.
    auto_above_gib: float = GLUE_THRESHOLD_BYTES / 1024**3

    @property
    def auto_above_bytes(self) -> int:
        return int(self.auto_above_gib * 1024**3)


@dataclass(frozen=True)
class DataConfig:
    """Where the raw MovieLens ratings are and which rows make an interaction."""

    # One object, or a prefix ending in "/" whose every object holds ratings (daily drops).
    raw_key: str = "raw/ml-100k/u.data"
    format: str = "ml-100k"
    min_rating: float = 4.0
    on_destroy: str = "retain"
    # The movie file (u.item or movies.csv, after ``format``); None: beside the ratings.
    items_key: str | None = None
    use_items: str = "auto"
    # Who converts the ratings: the Lambda, the Glue job, or auto by the input's size.
    engine: str = "auto"
    glue: GlueConfig = GlueConfig()
    # FULL: each run imports everything; INCREMENTAL: only the objects new since the last import.
    import_mode: str = "FULL"
    # The data preparation function's memory, which buys its CPU (contract/functions.py).
    lambda_memory_mb: int = PREPARE_DATA.memory_mb

    @property
    def incremental(self) -> bool:
        return self.import_mode == "INCREMENTAL"

    @property
    def raw_is_prefix(self) -> bool:
        return self.raw_key.endswith("/")

    @property
    def may_use_glue(self) -> bool:
        """Whether a run may hand the conversion to the Glue job (then the stack deploys it)."""
        return self.engine != "lambda"

    @property
    def destroy_on_delete(self) -> bool:
        """True when `cdk destroy` empties and deletes the data bucket."""
        return self.on_destroy == "destroy"

    @property
    def uses_items(self) -> bool:
        """True when runs import the movie file (when it exists, or always) as the items dataset."""
        return self.use_items != "off"

    @property
    def items_format(self) -> str:
        """``u.item`` (ml-100k) or ``movies.csv`` (ratings-csv): the movie file of the ratings' release."""
        return ITEMS_FILES[self.format]

    @property
    def items_object_key(self) -> str:
        """Where the movie file is: ``data.itemsKey``, or the release's file name beside the ratings."""
        if self.items_key is not None:
            return self.items_key
        # Beside the ratings file, or beside the ratings' folder (never inside it: it would be read as ratings).
        folder, _, _ = self.raw_key.rstrip("/").rpartition("/") if self.raw_is_prefix else self.raw_key.rpartition("/")
        return f"{folder}/{self.items_format}" if folder else self.items_format


@dataclass(frozen=True)
class TrainingConfig:
    """How each run trains. ``full_retrain_every_days`` is the FULL floor when mode is UPDATE."""

    mode: str = "FULL"
    full_retrain_every_days: int = 7


@dataclass(frozen=True)
class QualityGateConfig:
    """When a new version may replace the one the campaign serves.

    The new version's ``metric`` may be at most ``max_relative_regression`` (a fraction) below
    the served version's, and at least ``minimum`` when that is set.
    """

    metric: str = "normalized_discounted_cumulative_gain_at_10"
    max_relative_regression: float = 0.05
    minimum: float | None = None


@dataclass(frozen=True)
class NotificationsConfig:
    """Who hears about run outcomes and alarms: the SNS topic always exists, e-mail is optional."""

    email: str | None = None


@dataclass(frozen=True)
class LoggingConfig:
    """How much of each execution the state machine writes to its log group."""

    state_machine_level: str = "ALL"


@dataclass(frozen=True)
class BatchConfig:
    """The batch inference job a deployment to ``batch`` runs after the quality gate passes.

    ``users_key``: the S3 key (in the data bucket) of a JSON-lines file of ``{"userId": ...}``
    lines to recommend for; None means every user of the run's training data, written by the
    data preparation.
    """

    num_results: int = 25
    users_key: str | None = None
    # The name of a configured filter (``filters``) the batch job applies, or None.
    filter: str | None = None


@dataclass(frozen=True)
class DeploymentConfig:
    """Where a version that passed the quality gate is deployed: ``campaign``, ``batch`` or both."""

    targets: tuple[str, ...] = ("campaign",)
    batch: BatchConfig = BatchConfig()

    @property
    def campaign(self) -> bool:
        return "campaign" in self.targets

    @property
    def batch_job(self) -> bool:
        return "batch" in self.targets


@dataclass(frozen=True)
class EncryptionConfig:
    """Which key protects the pipeline's data: AWS-managed and AWS-owned keys (``kms_key`` None),
    a key the stack creates (``"create"``), or the ARN of an existing customer-managed key."""

    kms_key: str | None = None

    @property
    def creates_key(self) -> bool:
        return self.kms_key == KMS_KEY_CREATE

    @property
    def imported_key_arn(self) -> str | None:
        return self.kms_key if self.kms_key not in (None, KMS_KEY_CREATE) else None


@dataclass(frozen=True)
class FilterConfig:
    """A Personalize filter the workflow keeps in the dataset group: ``name`` is the part after
    ``<pipeline>-filter-``; ``parsed`` the checked expression (contract/filters.py)."""

    name: str
    expression: str

    @property
    def parsed(self) -> FilterExpression:
        return parse_filter_expression(self.expression)


# Without a config: the items the user has not rated, a genre given at request time, and both.
DEFAULT_FILTERS = (
    FilterConfig("unseen", UNSEEN_EXPRESSION),
    FilterConfig("genre", GENRE_EXPRESSION),
    FilterConfig("unseen-genre", f"{UNSEEN_EXPRESSION} | {GENRE_EXPRESSION}"),
)


# Several solutions (``solutions``): each name is part of its resources' names and of JSONPaths in
# the definition, so it is short and plain. A version is named ``<pipeline>-train-<name>-<UTC
# start>-<6 hex>``: the pipeline's and the solution's names together leave 63 characters at most.
SOLUTION_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*$")
SOLUTION_NAMES_MAX_LENGTH = 33
# Personalize quotas per dataset group (register personalize.recipes.types): adjustable, so a
# config beyond them is warned about, not refused.
ACTIVE_SOLUTIONS_QUOTA = 10
ACTIVE_CAMPAIGNS_QUOTA = 5
# Recipe types whose batch input is a users file ({"userId"} lines, register personalize.batch.input-output).
BATCH_BY_USER_TYPES = ("USER_PERSONALIZATION",)
# GetPersonalizedRanking ranks at most 500 items (the API reference's inputList; the model sets no bound).
RANKING_INPUT_MAX = 500
# The keys a listed solution has; with ``solutions`` they may not appear at the top level.
SOLUTION_KEYS = (
    "recipeArn",
    "campaignMinProvisionedTps",
    "smokeTest",
    "training",
    "qualityGate",
    "deployment",
    "legacyNames",
)
LEGACY_SOLUTION_KEYS = (
    "recipeArn",
    "campaignMinProvisionedTps",
    "smokeTestUserId",
    "training",
    "qualityGate",
    "deployment",
)


@dataclass(frozen=True)
class SmokeTestConfig:
    """The request the smoke test makes, after the recipe's type (register personalize.recipes.types):
    a user (USER_PERSONALIZATION, POPULAR_ITEMS), an item (RELATED_ITEMS), or a user and the items
    to rank (PERSONALIZED_RANKING)."""

    user_id: str | None = "1"
    item_id: str | None = None
    item_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SolutionConfig:
    """One recommender trained from the pipeline's datasets: its recipe, training, gate and deployment.

    ``name`` is None for the one solution of a config without ``solutions``: its resources keep the
    names they always had (``<pipeline>-solution``, ``<pipeline>-campaign``).
    """

    name: str | None
    recipe_arn: str
    campaign_min_provisioned_tps: int = 1
    smoke_test: SmokeTestConfig = SmokeTestConfig()
    training: TrainingConfig = TrainingConfig()
    quality_gate: QualityGateConfig = QualityGateConfig()
    deployment: DeploymentConfig = DeploymentConfig()
    # ``legacyNames``: this listed solution keeps the single solution's resource names (<pipeline>-solution,
    # <pipeline>-campaign), so that a deployment moving to a list keeps its solution and its campaign serving.
    legacy_names: bool = False

    @property
    def resource_name(self) -> str | None:
        """What its Personalize resources are named after (contract/names.py): its name, or None for the
        single solution's names (a config without ``solutions``, or ``legacyNames``)."""
        return None if self.legacy_names else self.name

    @property
    def recipe(self) -> Recipe:
        return recipe_of(self.recipe_arn)

    @property
    def recipe_type(self) -> str:
        return self.recipe.recipe_type

    @property
    def recipe_name(self) -> str:
        return self.recipe_arn.removeprefix(RECIPE_ARN_PREFIX)

    @property
    def label(self) -> str:
        """How messages and the picture call it: its name, or "solution" for the single one."""
        return self.name or "solution"


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a deployment of the pipeline can be told, validated."""

    pipeline_name: str = "movielens"
    recipe_arn: str = RECIPE_ARN_PREFIX + "aws-user-personalization-v2"
    campaign_min_provisioned_tps: int = 1
    smoke_test_user_id: str = "1"
    schedule: ScheduleConfig = ScheduleConfig()
    data: DataConfig = DataConfig()
    training: TrainingConfig = TrainingConfig()
    quality_gate: QualityGateConfig = QualityGateConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    logging: LoggingConfig = LoggingConfig()
    encryption: EncryptionConfig = EncryptionConfig()
    deployment: DeploymentConfig = DeploymentConfig()
    filters: tuple[FilterConfig, ...] = DEFAULT_FILTERS
    # The listed solutions (``solutions``); empty: the one solution of the top-level keys.
    solutions: tuple[SolutionConfig, ...] = ()

    @property
    def several_solutions(self) -> bool:
        """True when the config lists its solutions: each trains on its own branch of the run."""
        return bool(self.solutions)

    @property
    def trained_solutions(self) -> tuple[SolutionConfig, ...]:
        """Every solution a run trains: the listed ones, or the one the top-level keys describe."""
        if self.solutions:
            return self.solutions
        return (
            SolutionConfig(
                name=None,
                recipe_arn=self.recipe_arn,
                campaign_min_provisioned_tps=self.campaign_min_provisioned_tps,
                smoke_test=SmokeTestConfig(user_id=self.smoke_test_user_id),
                training=self.training,
                quality_gate=self.quality_gate,
                deployment=self.deployment,
            ),
        )

    @property
    def functions(self) -> tuple[FunctionSpec, ...]:
        """The workflow steps this pipeline deploys (contract.functions.workflow_functions)."""
        deployment = self.deployment
        return workflow_functions(
            campaign=deployment.campaign,
            batch=deployment.batch_job,
            filters=bool(self.filters),
            glue=self.data.may_use_glue,
            incremental=self.data.incremental,
        )

    @property
    def full_import_every_days(self) -> int:
        """data.importMode INCREMENTAL: a FULL import at least this often, the shortest FULL training floor
        of the solutions, so deleted and corrected data reach every model by its next FULL training."""
        return min(s.training.full_retrain_every_days for s in self.trained_solutions)

    @property
    def provisioned_tps(self) -> int:
        """The TPS the campaigns provision together (each is billed per TPS-hour)."""
        return sum(s.campaign_min_provisioned_tps for s in self.trained_solutions if s.deployment.campaign)

    @property
    def primary_solution(self) -> SolutionConfig:
        """The first solution that answers requests by user (the one of a single-solution config)."""
        users = [s for s in self.trained_solutions if s.smoke_test.user_id is not None and not s.smoke_test.item_ids]
        return (users or list(self.trained_solutions))[0]

    @property
    def smoke_filter(self) -> FilterConfig | None:
        """The filter the smoke test also asks through: the first that needs no request values."""
        return next((f for f in self.filters if not f.parsed.parameters), None)

    @property
    def recipe_name(self) -> str:
        return self.recipe_arn.removeprefix(RECIPE_ARN_PREFIX)

    @property
    def readiness_checks(self) -> tuple[ReadinessCheck, ...]:
        """The waits a run plans (contract.readiness.planned_checks): the campaign's only with a
        campaign, the batch job's only with batch output, the items dataset's only with items."""
        deployment = self.deployment
        return planned_checks(campaign=deployment.campaign, batch=deployment.batch_job, items=self.data.uses_items)

    @property
    def run_checks(self) -> tuple[ReadinessCheck, ...]:
        """The waits the run plans before any solution's branch: all of them for a single solution,
        the dataset group's, datasets', imports' and deletion's with several."""
        checks = self.readiness_checks
        return tuple(c for c in checks if c not in SOLUTION_CHECKS) if self.several_solutions else checks

    def solution_checks(self, solution: SolutionConfig) -> tuple[ReadinessCheck, ...]:
        """The waits of one solution's branch: its solution, its training and its deployment."""
        deployment = solution.deployment
        checks = planned_checks(campaign=deployment.campaign, batch=deployment.batch_job)
        return tuple(c for c in checks if c in SOLUTION_CHECKS)


def _from_text(context_value: Any) -> Any:
    """The block as given, or parsed when it came as JSON text (``-c personalize='{...}'``)."""
    if not isinstance(context_value, str):
        return context_value
    try:
        return json.loads(context_value)
    except json.JSONDecodeError:
        raise ConfigError("", context_value, "a JSON object", '-c personalize=\'{"pipelineName": "movies"}\'') from None


def load_config(context_value: Any) -> PipelineConfig:
    """Parse the ``personalize`` context value (a dict, a JSON string from ``-c``, or None)."""
    if context_value is None:
        return PipelineConfig()
    context_value = _from_text(context_value)
    block = _require_object("", context_value, '{"pipelineName": "movielens"}')
    defaults = PipelineConfig()
    _reject_unknown_keys(
        "",
        block,
        {
            "pipelineName",
            "recipeArn",
            "campaignMinProvisionedTps",
            "smokeTestUserId",
            "schedule",
            "data",
            "training",
            "qualityGate",
            "notifications",
            "logging",
            "encryption",
            "deployment",
            "filters",
            "solutions",
        },
    )
    pipeline_name = _pipeline_name(block.get("pipelineName", defaults.pipeline_name))
    data = _data(block.get("data", {}))
    filters = _filters(block["filters"], pipeline_name, data) if "filters" in block else _default_filters(data)
    if "solutions" in block:
        return _with_solutions(block, pipeline_name, data, filters)
    recipe_arn = _recipe_arn(block.get("recipeArn", defaults.recipe_arn))
    deployment = _deployment(block.get("deployment", {}))
    _check_batch_filter(deployment.batch.filter, filters)
    _check_incremental_batch(data, deployment.batch_job and deployment.batch.users_key is None)
    return PipelineConfig(
        pipeline_name=pipeline_name,
        recipe_arn=recipe_arn,
        campaign_min_provisioned_tps=_min_tps(
            block.get("campaignMinProvisionedTps", defaults.campaign_min_provisioned_tps)
        ),
        smoke_test_user_id=_smoke_test_user(block.get("smokeTestUserId", defaults.smoke_test_user_id)),
        schedule=_schedule(block.get("schedule", {})),
        data=data,
        training=_training(block.get("training", {}), recipe_arn),
        quality_gate=_quality_gate(block.get("qualityGate", {})),
        notifications=_notifications(block.get("notifications", {})),
        logging=_logging(block.get("logging", {})),
        encryption=_encryption(block.get("encryption", {})),
        deployment=deployment,
        filters=filters,
    )


# Several pipelines from one app (``pipelines``, with shared ``defaults``): one stack each, named
# after the pipeline. Personalize's quota of active dataset groups per region (adjustable; register
# personalize.quotas) is warned about, since each pipeline has its own dataset group.
PIPELINES_STACK_PREFIX = "PersonalizePipeline-"
DATASET_GROUPS_QUOTA = 5


def load_pipelines(context_value: Any) -> tuple[PipelineConfig, ...]:
    """Every pipeline of the ``personalize`` block: the one it describes, or with ``pipelines`` each
    entry merged over ``defaults`` (objects merge key by key; any other value replaces the default)."""
    context_value = _from_text(context_value)
    if not isinstance(context_value, Mapping) or "pipelines" not in context_value:
        return (load_config(context_value),)
    _reject_unknown_keys("", context_value, {"pipelines", "defaults"})
    _require_object("defaults", context_value.get("defaults", {}), '{"schedule": {"expression": "rate(7 days)"}}')
    entries = context_value["pipelines"]
    example = '[{"pipelineName": "movielens"}, {"pipelineName": "films", "data": {"rawKey": "raw/films/u.data"}}]'
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            "pipelines", entries, "a non-empty list of pipelines, each a block like the single one", example
        )
    configs: list[PipelineConfig] = []
    stacks: dict[str, int] = {}
    for index, entry in enumerate(entries):
        key = f"pipelines[{index}]"
        block = _require_object(key, entry, '{"pipelineName": "films"}')
        if "pipelineName" not in block:
            raise ConfigError(
                f"{key}.pipelineName",
                _Missing(),
                "a name for each pipeline (it names its dataset group and stack)",
                '"films"',
            )
        try:
            config = load_config(pipeline_block(context_value, index))
        except ConfigError as error:
            raise ConfigError(
                f"{key}.{error.key}" if error.key else key, error.value, error.expected, error.example
            ) from None
        name = config.pipeline_name
        if any(c.pipeline_name == name for c in configs):
            raise ConfigError(
                f"{key}.pipelineName",
                name,
                "a name no other pipeline has: it is the pipeline's dataset group, and two pipelines on one dataset "
                "group would import, train and delete over each other",
                f'"{name}-2"',
            )
        stack = pipeline_stack_name(name)
        if stack in stacks:
            raise ConfigError(
                f"{key}.pipelineName",
                name,
                f"a name whose stack ({stack}; '_' becomes '-' in stack names) no other pipeline's has "
                f"(pipelines[{stacks[stack]}] has it)",
                f'"{name}2"',
            )
        stacks[stack] = index
        configs.append(config)
    return tuple(configs)


def lists_pipelines(context_value: Any) -> bool:
    """Whether the block (or its JSON text) lists several pipelines (``pipelines``)."""
    try:
        context_value = _from_text(context_value)
    except ConfigError:
        return False
    return isinstance(context_value, Mapping) and "pipelines" in context_value


def pipeline_stack_name(pipeline_name: str) -> str:
    """The stack of one of several pipelines: ``PersonalizePipeline-<name>`` (CloudFormation allows no '_')."""
    return PIPELINES_STACK_PREFIX + pipeline_name.replace("_", "-")


def pipeline_block(context_value: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The block of pipeline ``index`` of a ``pipelines`` list, merged over the shared ``defaults``."""
    defaults = context_value.get("defaults", {})
    return _merged(defaults if isinstance(defaults, Mapping) else {}, context_value["pipelines"][index])


def _merged(defaults: Mapping[str, Any], block: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in block.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def pipelines_warnings(configs: tuple[PipelineConfig, ...]) -> list[str]:
    """Quotas a valid set of pipelines may still exceed (adjustable, so warned, not refused)."""
    warnings = [warning for config in configs for warning in config_warnings(config)]
    if len(configs) > DATASET_GROUPS_QUOTA:
        warnings.append(
            f"{len(configs)} pipelines, each with its own dataset group: Personalize's quota is "
            f"{DATASET_GROUPS_QUOTA} active dataset groups per region; ask for an increase in Service Quotas "
            "before deploying them in one region"
        )
    return warnings


def _with_solutions(
    block: Mapping[str, Any], pipeline_name: str, data: DataConfig, filters: tuple[FilterConfig, ...]
) -> PipelineConfig:
    """A config that lists its solutions: the per-solution keys live in each entry, not at the top."""
    for key in LEGACY_SOLUTION_KEYS:
        if key in block:
            raise ConfigError(
                key,
                block[key],
                f"no top-level {key} when solutions are listed: set it in each solution",
                f'"solutions": [{{"name": "picks", "{_solution_key(key)}": ...}}]',
            )
    solutions = _solutions(block["solutions"], pipeline_name, data, filters)
    targets = {target for solution in solutions for target in solution.deployment.targets}
    # Listed batch solutions share the run's users file, written from the training data.
    _check_incremental_batch(data, "batch" in targets)
    batch_filter = next((s.deployment.batch.filter for s in solutions if s.deployment.batch.filter), None)
    return PipelineConfig(
        pipeline_name=pipeline_name,
        schedule=_schedule(block.get("schedule", {})),
        data=data,
        notifications=_notifications(block.get("notifications", {})),
        logging=_logging(block.get("logging", {})),
        encryption=_encryption(block.get("encryption", {})),
        # What the stack provisions: a campaign step when any solution has a campaign, the batch steps
        # when any has batch output (each solution's own settings are in its entry).
        deployment=DeploymentConfig(
            targets=tuple(t for t in DEPLOYMENT_TARGETS if t in targets), batch=BatchConfig(filter=batch_filter)
        ),
        filters=filters,
        solutions=solutions,
    )


def _check_incremental_batch(data: DataConfig, users_from_training_data: bool) -> None:
    """An INCREMENTAL run converts only the new objects, so it cannot list every user for a batch job."""
    if data.incremental and users_from_training_data:
        raise ConfigError(
            "data.importMode",
            data.import_mode,
            '"FULL" with batch output whose users come from the training data: an INCREMENTAL run converts only '
            "the new raw objects and cannot list every user; or keep INCREMENTAL and set deployment.batch.usersKey "
            "to a file of the users to recommend for",
            '"FULL"',
        )


def _solution_key(legacy_key: str) -> str:
    return "smokeTest" if legacy_key == "smokeTestUserId" else legacy_key


def default_solutions(data: DataConfig) -> list[dict[str, Any]]:
    """The shipped config's solutions: top picks per user, and "more like this" for a movie's page
    (Similar-Items, which also reads the movie file, when items are imported; SIMS when not). Top picks
    keep the single solution's names, so that a deployment of the earlier cdk.json (one solution) keeps
    its solution and campaign serving when it takes this one."""
    return [
        {"name": "picks", "recipeArn": RECIPE_ARN_PREFIX + "aws-user-personalization-v2", "legacyNames": True},
        {"name": "similar", "recipeArn": related_items_recipe(has_items=data.uses_items).arn},
    ]


def _solutions(
    value: Any, pipeline_name: str, data: DataConfig, filters: tuple[FilterConfig, ...]
) -> tuple[SolutionConfig, ...]:
    example = '[{"name": "picks", "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2"}]'
    if not isinstance(value, list) or not value:
        raise ConfigError(
            "solutions",
            value,
            "a non-empty list of solutions, each at least {name, recipeArn}; omit the key for the single "
            "solution of the top-level keys",
            example,
        )
    solutions: list[SolutionConfig] = []
    for index, entry in enumerate(value):
        solution = _solution(f"solutions[{index}]", entry, pipeline_name, data, filters)
        if solution.name in {s.name for s in solutions}:
            raise ConfigError(f"solutions[{index}].name", solution.name, "a name no other solution has", '"similar"')
        if solution.legacy_names and any(s.legacy_names for s in solutions):
            raise ConfigError(
                f"solutions[{index}].legacyNames",
                True,
                "true for one solution at most: the single solution's names belong to one solution",
                "false",
            )
        solutions.append(solution)
    return tuple(solutions)


def _solution(
    key: str, value: Any, pipeline_name: str, data: DataConfig, filters: tuple[FilterConfig, ...]
) -> SolutionConfig:
    example = '{"name": "picks", "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2"}'
    block = _require_object(key, value, example)
    _reject_unknown_keys(f"{key}.", block, {"name", *SOLUTION_KEYS})
    name = block.get("name", _Missing())
    max_name = SOLUTION_NAMES_MAX_LENGTH - len(pipeline_name)
    if not isinstance(name, str) or not SOLUTION_NAME_PATTERN.fullmatch(name) or len(name) > max_name:
        raise ConfigError(
            f"{key}.name",
            name,
            f"1 to {max_name} lowercase letters or digits, starting with a letter (it names the solution "
            f"{pipeline_name}-solution-<name> and its versions, at most 63 characters with the pipeline's name)",
            '"picks"',
        )
    arn = block.get("recipeArn", _Missing())
    if (
        not isinstance(arn, str)
        or arn.removeprefix(RECIPE_ARN_PREFIX) not in RECIPES
        or not arn.startswith(RECIPE_ARN_PREFIX)
    ):
        raise ConfigError(
            f"{key}.recipeArn",
            arn,
            "the ARN of one of the recipes "
            + ", ".join(sorted(RECIPES))
            + " (the pipeline knows each one's type, so it knows the request its campaign answers)",
            f'"{RECIPE_ARN_PREFIX}aws-similar-items"',
        )
    recipe = recipe_of(arn)
    deployment = _deployment(block.get("deployment", {}), prefix=f"{key}.")
    if deployment.batch.users_key is not None:
        # Every listed solution's batch job reads the run's users file (every user of its training data).
        raise ConfigError(
            f"{key}.deployment.batch.usersKey",
            deployment.batch.users_key,
            'null: with "solutions", each batch job recommends for every user of the run\'s training data; a '
            "users file of your own is for a config without solutions",
            "null",
        )
    if deployment.batch_job and recipe.recipe_type not in BATCH_BY_USER_TYPES:
        # Register personalize.batch.input-output: the users file ({"userId"} lines) is the input of
        # user recipes; related items take {"itemId"} lines and ranking a user and an item list.
        raise ConfigError(
            f"{key}.deployment.targets",
            list(deployment.targets),
            f'["campaign"] for a {recipe.recipe_type} recipe ({recipe.name}): batch output here recommends for '
            "the run's users file, the input of USER_PERSONALIZATION recipes",
            '["campaign"]',
        )
    _check_batch_filter(deployment.batch.filter, filters, key=f"{key}.deployment.batch.filter")
    legacy_names = block.get("legacyNames", False)
    if not isinstance(legacy_names, bool):
        raise ConfigError(
            f"{key}.legacyNames",
            legacy_names,
            f"true (its solution and campaign keep the names {pipeline_name}-solution and {pipeline_name}-campaign of "
            "a config without solutions, so that moving to a list keeps them serving) or false",
            "true",
        )
    return SolutionConfig(
        name=name,
        recipe_arn=arn,
        campaign_min_provisioned_tps=_min_tps(
            block.get("campaignMinProvisionedTps", 1), key=f"{key}.campaignMinProvisionedTps"
        ),
        smoke_test=_smoke_test(f"{key}.smokeTest", block.get("smokeTest"), recipe),
        training=_training(block.get("training", {}), arn, prefix=f"{key}."),
        quality_gate=_quality_gate(block.get("qualityGate", {}), prefix=f"{key}.", recipe=recipe),
        deployment=deployment,
        legacy_names=legacy_names,
    )


def _smoke_test(key: str, value: Any, recipe: Recipe) -> SmokeTestConfig:
    """The smoke request follows the recipe's type: which fields it needs, and its defaults."""
    kind = recipe.recipe_type
    if kind == RELATED_ITEMS:
        needed, example, default = {"itemId"}, '{"itemId": "1"}', SmokeTestConfig(user_id=None, item_id="1")
    elif kind == PERSONALIZED_RANKING:
        needed = {"userId", "itemIds"}
        example = '{"userId": "1", "itemIds": ["1", "2", "3"]}'
        default = SmokeTestConfig(user_id="1", item_ids=tuple(str(i) for i in range(1, 11)))
    else:
        needed, example, default = {"userId"}, '{"userId": "1"}', SmokeTestConfig(user_id="1")
    if value is None:
        return default
    block = _require_object(key, value, example)
    if set(block) != needed:
        raise ConfigError(
            key,
            value,
            f"exactly {', '.join(sorted(needed))}: a {recipe.name} campaign answers {recipe.request}",
            example,
        )
    for field in ("userId", "itemId"):
        if field in block and (not isinstance(block[field], str) or not block[field] or len(block[field]) > 256):
            raise ConfigError(f"{key}.{field}", block[field], "an id from the data, as a string", '"1"')
    item_ids = block.get("itemIds", [])
    if "itemIds" in block and (
        not isinstance(item_ids, list)
        or not 1 <= len(item_ids) <= RANKING_INPUT_MAX
        or not all(isinstance(i, str) and i and len(i) <= 256 for i in item_ids)
        or len(set(item_ids)) != len(item_ids)
    ):
        raise ConfigError(
            f"{key}.itemIds",
            item_ids,
            f"1 to {RANKING_INPUT_MAX} distinct item ids from the data, as strings (GetPersonalizedRanking's inputList)",
            '["1", "2", "3"]',
        )
    return SmokeTestConfig(user_id=block.get("userId"), item_id=block.get("itemId"), item_ids=tuple(item_ids))


def config_warnings(config: PipelineConfig) -> list[str]:
    """What a valid config may still run into: documented Personalize quotas that can be raised
    (register personalize.recipes.types), so synth warns instead of refusing."""
    warnings = []
    solutions = config.trained_solutions
    if len(solutions) > ACTIVE_SOLUTIONS_QUOTA:
        warnings.append(
            f"{len(solutions)} solutions in one dataset group: Personalize's quota is {ACTIVE_SOLUTIONS_QUOTA} active "
            "solutions per dataset group; ask for an increase in Service Quotas before deploying"
        )
    campaigns = [s for s in solutions if s.deployment.campaign]
    if len(campaigns) > ACTIVE_CAMPAIGNS_QUOTA:
        warnings.append(
            f"{len(campaigns)} campaigns in one dataset group: Personalize's quota is {ACTIVE_CAMPAIGNS_QUOTA} active "
            "campaigns per dataset group; ask for an increase in Service Quotas before deploying"
        )
    return warnings


def _require_object(key: str, value: Any, example: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "an object", example)
    return value


def _reject_unknown_keys(prefix: str, block: Mapping[str, Any], known: set[str]) -> None:
    for key in block:
        if key not in known:
            raise ConfigError(
                f"{prefix}{key}",
                block[key],
                f"no such key (known keys: {', '.join(sorted(known))})",
                "removing it or fixing its spelling",
            )


def _pipeline_name(value: Any) -> str:
    if (
        not isinstance(value, str)
        or not PIPELINE_NAME_PATTERN.fullmatch(value)
        or len(value) > PIPELINE_NAME_MAX_LENGTH
    ):
        raise ConfigError(
            "pipelineName",
            value,
            f"1 to {PIPELINE_NAME_MAX_LENGTH} letters, digits, '-' or '_', starting with a letter or "
            "digit (Personalize's name rule, leaving room for the suffixes of derived names)",
            '"movielens"',
        )
    return value


def _recipe_arn(value: Any) -> str:
    if not (
        isinstance(value, str)
        and value.startswith(RECIPE_ARN_PREFIX)
        and value.removeprefix(RECIPE_ARN_PREFIX) in USER_RECIPES
    ):
        raise ConfigError(
            "recipeArn",
            value,
            "the ARN of a user-personalization recipe ("
            + ", ".join(USER_RECIPES)
            + ") since the campaign serves recommendations per user",
            f'"{RECIPE_ARN_PREFIX}aws-user-personalization-v2"',
        )
    return value


def _min_tps(value: Any, key: str = "campaignMinProvisionedTps") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            key,
            value,
            "an integer of at least 1 (Personalize bills this provisioned capacity every hour)",
            "1",
        )
    return value


def _smoke_test_user(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 256:
        raise ConfigError("smokeTestUserId", value, "a user id from the data as a string", '"1"')
    return value


def _schedule(value: Any) -> ScheduleConfig:
    block = _require_object("schedule", value, '{"expression": "rate(7 days)"}')
    _reject_unknown_keys("schedule.", block, {"expression", "timeZone", "enabled", "startDate"})
    defaults = ScheduleConfig()
    expression = block.get("expression", defaults.expression)
    if not isinstance(expression, str) or not _is_valid_schedule_expression(expression):
        raise ConfigError(
            "schedule.expression",
            expression,
            "an EventBridge Scheduler expression: rate(<n> minute(s)|hour(s)|day(s)) or "
            "cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) "
            "with '?' in one of the two day fields",
            '"rate(7 days)" or "cron(0 3 ? * MON *)"',
        )
    time_zone = block.get("timeZone", defaults.time_zone)
    if not isinstance(time_zone, str) or not _is_known_time_zone(time_zone):
        raise ConfigError("schedule.timeZone", time_zone, "an IANA time zone name", '"Europe/Berlin"')
    enabled = block.get("enabled", defaults.enabled)
    if not isinstance(enabled, bool):
        raise ConfigError("schedule.enabled", enabled, "true or false", "true")
    start_date = block.get("startDate", defaults.start_date)
    if start_date is not None:
        if not RATE_PATTERN.fullmatch(expression):
            raise ConfigError(
                "schedule.startDate",
                start_date,
                "null with a cron() expression (cron fires only at its own times)",
                "null",
            )
        if not isinstance(start_date, str) or not _is_utc_timestamp(start_date):
            raise ConfigError(
                "schedule.startDate",
                start_date,
                "a UTC time, ISO-8601 with a Z (the first run; later runs follow the rate from it)",
                '"2027-01-04T06:00:00Z"',
            )
    return ScheduleConfig(expression=expression, time_zone=time_zone, enabled=enabled, start_date=start_date)


def _is_utc_timestamp(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?Z", text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_valid_schedule_expression(expression: str) -> bool:
    rate = RATE_PATTERN.fullmatch(expression)
    if rate:
        # EventBridge rejects "rate(1 days)" and "rate(5 day)": singular exactly for 1.
        singular = not rate["unit"].endswith("s")
        return singular == (rate["value"] == "1")
    cron = CRON_PATTERN.fullmatch(expression)
    if cron:
        fields = cron["fields"].split()
        if len(fields) != 6:
            return False
        day_of_month, day_of_week = fields[2], fields[4]
        # Exactly one of the two day fields must be '?'.
        return (day_of_month == "?") != (day_of_week == "?")
    return False


# Files of the tz database that are not zones EventBridge Scheduler knows.
NOT_TIME_ZONES = frozenset({"Factory", "localtime", "posixrules"})


def _is_known_time_zone(name: str) -> bool:
    if name in NOT_TIME_ZONES or name.startswith(("posix/", "right/")):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _is_user_data_key(key: Any, *, prefix_allowed: bool = False) -> bool:
    """An S3 object key of the data bucket that the user uploads, not where the workflow writes; with
    ``prefix_allowed``, also a folder ending in '/' that holds none of the workflow's own objects."""
    if not isinstance(key, str) or not key or key.startswith("/") or len(key.encode()) > 1024:
        return False
    if key.startswith(WORKFLOW_PREFIXES) or key == STATE_KEY:
        return False
    if key.endswith("/"):
        owned = (*WORKFLOW_PREFIXES, STATE_KEY, DELETION_REQUESTS_PREFIX)
        return prefix_allowed and key != "/" and not any(path.startswith(key) for path in owned)
    return True


def _data(value: Any) -> DataConfig:
    block = _require_object("data", value, '{"rawKey": "raw/ml-100k/u.data", "format": "ml-100k"}')
    _reject_unknown_keys(
        "data.",
        block,
        {
            "rawKey",
            "format",
            "minRating",
            "onDestroy",
            "itemsKey",
            "useItems",
            "engine",
            "glue",
            "importMode",
            "lambdaMemoryMb",
        },
    )
    defaults = DataConfig()
    raw_key = block.get("rawKey", defaults.raw_key)
    if not _is_user_data_key(raw_key, prefix_allowed=True):
        raise ConfigError(
            "data.rawKey",
            raw_key,
            "the S3 key of the raw ratings file in the data bucket, or a folder ending in '/' whose every object "
            f"holds ratings, not under or above {', '.join(repr(p) for p in WORKFLOW_PREFIXES)} (the workflow "
            "writes there)",
            '"raw/ml-100k/u.data"',
        )
    data_format = block.get("format", defaults.format)
    if data_format not in DATA_FORMATS:
        raise ConfigError(
            "data.format",
            data_format,
            "'ml-100k' (u.data, tab-separated, no header) or 'ratings-csv' "
            "(ratings.csv of the newer MovieLens releases)",
            '"ml-100k"',
        )
    min_rating = block.get("minRating", defaults.min_rating)
    if isinstance(min_rating, bool) or not isinstance(min_rating, (int, float)) or not 0 <= min_rating <= 5:
        raise ConfigError(
            "data.minRating",
            min_rating,
            "a number from 0 to 5; ratings at or above it count as interactions",
            "4.0",
        )
    on_destroy = block.get("onDestroy", defaults.on_destroy)
    if on_destroy not in ON_DESTROY_CHOICES:
        raise ConfigError(
            "data.onDestroy",
            on_destroy,
            "'retain' (cdk destroy keeps the data bucket and its data) or 'destroy' (cdk destroy empties "
            "and deletes it)",
            '"retain"',
        )
    use_items = block.get("useItems", defaults.use_items)
    if use_items not in USE_ITEMS_CHOICES:
        raise ConfigError(
            "data.useItems",
            use_items,
            "'auto' (import the movie file as the items dataset when it exists), 'required' (a run without it "
            "fails) or 'off' (ratings only)",
            '"auto"',
        )
    items_key = block.get("itemsKey", defaults.items_key)
    if items_key is not None and (
        not _is_user_data_key(items_key)
        or items_key == raw_key
        or (raw_key.endswith("/") and items_key.startswith(raw_key))
    ):
        raise ConfigError(
            "data.itemsKey",
            items_key,
            f"null (the {ITEMS_FILES[data_format]} beside data.rawKey) or the S3 key of the movie file "
            f"({ITEMS_FILES[data_format]} for format {data_format}), not the ratings' key or under their prefix, "
            "and not under "
            f"{', '.join(repr(p) for p in WORKFLOW_PREFIXES)} (the workflow writes there)",
            f'"raw/movies/{ITEMS_FILES[data_format]}"',
        )
    if items_key is not None and use_items == "off":
        raise ConfigError(
            "data.itemsKey",
            items_key,
            'null when data.useItems is "off" (the movie file would never be read)',
            "null",
        )
    engine = block.get("engine", defaults.engine)
    if engine not in ENGINES:
        raise ConfigError(
            "data.engine",
            engine,
            "'auto' (the Lambda converts, or the Glue job when the input is larger than one Lambda converts in "
            f"time: {describe_size(GLUE_THRESHOLD_BYTES)}), 'lambda' or 'glue'",
            '"auto"',
        )
    import_mode = block.get("importMode", defaults.import_mode)
    if import_mode not in IMPORT_MODES:
        raise ConfigError(
            "data.importMode",
            import_mode,
            "'FULL' (each run imports all the ratings) or 'INCREMENTAL' (each run imports only the raw objects new "
            "since the last import, for data that only grows; a FULL import every training.fullRetrainEveryDays)",
            '"FULL"',
        )
    glue = _glue(block.get("glue", {}))
    if "glue" in block and engine == "lambda":
        raise ConfigError("data.glue", block["glue"], 'no setting when data.engine is "lambda" (no Glue job)', "{}")
    memory = block.get("lambdaMemoryMb", defaults.lambda_memory_mb)
    if isinstance(memory, bool) or not isinstance(memory, int) or not 1024 <= memory <= 10_240:
        raise ConfigError(
            "data.lambdaMemoryMb",
            memory,
            "an integer of MB from 1024 to 10240 (Lambda's maximum): the data preparation's memory, which buys its "
            f"CPU, one vCPU per {FULL_VCPU_MEMORY_MB} MB; above {PREPARE_DATA.memory_mb} only where the account "
            "allows it (new accounts may not)",
            str(PREPARE_DATA.memory_mb),
        )
    return DataConfig(
        raw_key=raw_key,
        format=data_format,
        min_rating=float(min_rating),
        on_destroy=on_destroy,
        items_key=items_key,
        use_items=use_items,
        engine=engine,
        glue=glue,
        import_mode=import_mode,
        lambda_memory_mb=memory,
    )


def _glue(value: Any) -> GlueConfig:
    block = _require_object("data.glue", value, '{"workers": 10}')
    _reject_unknown_keys("data.glue.", block, {"version", "workerType", "workers", "timeoutMinutes", "autoAboveGiB"})
    defaults = GlueConfig()
    version = block.get("version", defaults.version)
    if version not in GLUE_VERSIONS:
        raise ConfigError(
            "data.glue.version",
            version,
            f"one of {', '.join(repr(v) for v in GLUE_VERSIONS)}: the Glue versions whose Spark (3.5) the job's "
            "script is tested with",
            f'"{defaults.version}"',
        )
    worker_type = block.get("workerType", defaults.worker_type)
    if worker_type not in GLUE_WORKER_TYPES:
        raise ConfigError(
            "data.glue.workerType",
            worker_type,
            f"one of {', '.join(GLUE_WORKER_TYPES)} (Glue's Spark job workers)",
            '"G.1X"',
        )
    workers = block.get("workers", defaults.workers)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 2 <= workers <= 299:
        raise ConfigError("data.glue.workers", workers, "an integer from 2 (a driver and one executor) to 299", "10")
    timeout = block.get("timeoutMinutes", defaults.timeout_minutes)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 2880:
        raise ConfigError(
            "data.glue.timeoutMinutes", timeout, "an integer from 1 to 2880 (Glue's limit, 48 hours)", "60"
        )
    above = block.get("autoAboveGiB", defaults.auto_above_gib)
    if isinstance(above, bool) or not isinstance(above, (int, float)) or not 0 < above <= 100:
        raise ConfigError(
            "data.glue.autoAboveGiB",
            above,
            "a number of GiB above 0 and at most 100 (the largest FULL import): with data.engine auto, larger "
            f"inputs go to Glue (default {defaults.auto_above_gib:g}, from make bench-prepare)",
            f"{defaults.auto_above_gib:g}",
        )
    return GlueConfig(
        version=version,
        worker_type=worker_type,
        workers=workers,
        timeout_minutes=timeout,
        auto_above_gib=float(above),
    )


def _training(value: Any, recipe_arn: str, prefix: str = "") -> TrainingConfig:
    block = _require_object(f"{prefix}training", value, '{"mode": "FULL"}')
    _reject_unknown_keys(f"{prefix}training.", block, {"mode", "fullRetrainEveryDays"})
    defaults = TrainingConfig()
    mode = block.get("mode", defaults.mode)
    if mode not in TRAINING_MODES:
        raise ConfigError(f"{prefix}training.mode", mode, "FULL or UPDATE", '"FULL"')
    recipe = recipe_arn.removeprefix(RECIPE_ARN_PREFIX)
    if mode == "UPDATE" and recipe not in UPDATE_CAPABLE_RECIPES:
        raise ConfigError(
            f"{prefix}training.mode",
            mode,
            f"FULL for recipe {recipe}: Personalize accepts trainingMode UPDATE only for "
            + " and ".join(UPDATE_CAPABLE_RECIPES),
            f'"FULL", or "UPDATE" with recipeArn "{RECIPE_ARN_PREFIX}aws-user-personalization"',
        )
    days = block.get("fullRetrainEveryDays", defaults.full_retrain_every_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise ConfigError(
            f"{prefix}training.fullRetrainEveryDays",
            days,
            "whole days from 1 to 365 between FULL retrains when mode is UPDATE",
            "7",
        )
    return TrainingConfig(mode=mode, full_retrain_every_days=days)


def _quality_gate(value: Any, prefix: str = "", recipe: Recipe | None = None) -> QualityGateConfig:
    key = f"{prefix}qualityGate"
    block = _require_object(key, value, '{"metric": "normalized_discounted_cumulative_gain_at_10"}')
    _reject_unknown_keys(f"{key}.", block, {"metric", "maxRelativeRegression", "minimum"})
    defaults = QualityGateConfig()
    metric = block.get("metric", defaults.metric)
    # The metrics of the recipe's type (register personalize.recipes.types); the top-level gate is a
    # user recipe's.
    metrics = QUALITY_METRICS if recipe is None else metrics_of_type(recipe.recipe_type)
    if metric not in metrics:
        of = "" if recipe is None else f" for a {recipe.recipe_type} recipe ({recipe.name})"
        raise ConfigError(
            f"{key}.metric",
            metric,
            f"one of the metrics GetSolutionMetrics reports{of}: " + ", ".join(metrics),
            f'"{defaults.metric}"',
        )
    regression = block.get("maxRelativeRegression", defaults.max_relative_regression)
    if not _is_number(regression) or not 0 <= regression < 1:
        raise ConfigError(
            f"{key}.maxRelativeRegression",
            regression,
            "the fraction (0 to below 1) by which a new version's metric may fall short of the served version's",
            "0.05",
        )
    minimum = block.get("minimum", defaults.minimum)
    if minimum is not None and (not _is_number(minimum) or not 0 <= minimum <= 1):
        raise ConfigError(
            f"{key}.minimum",
            minimum,
            "null (no floor) or the metric value, 0 to 1, below which no version is deployed",
            "0.1",
        )
    return QualityGateConfig(
        metric=metric,
        max_relative_regression=float(regression),
        minimum=None if minimum is None else float(minimum),
    )


def _notifications(value: Any) -> NotificationsConfig:
    block = _require_object("notifications", value, '{"email": "ops@example.com"}')
    _reject_unknown_keys("notifications.", block, {"email"})
    email = block.get("email", NotificationsConfig().email)
    if email is not None and (
        not isinstance(email, str) or len(email) > EMAIL_MAX_LENGTH or not EMAIL_PATTERN.fullmatch(email)
    ):
        raise ConfigError(
            "notifications.email",
            email,
            "null (no e-mail; the SNS topic and EventBridge events remain) or one e-mail address to subscribe "
            "to run outcomes and alarms",
            '"ops@example.com"',
        )
    return NotificationsConfig(email=email)


def _logging(value: Any) -> LoggingConfig:
    block = _require_object("logging", value, '{"stateMachineLevel": "ALL"}')
    _reject_unknown_keys("logging.", block, {"stateMachineLevel"})
    level = block.get("stateMachineLevel", LoggingConfig().state_machine_level)
    if level not in STATE_MACHINE_LOG_LEVELS:
        raise ConfigError(
            "logging.stateMachineLevel",
            level,
            "the Step Functions execution log level: " + ", ".join(STATE_MACHINE_LOG_LEVELS),
            '"ALL"',
        )
    return LoggingConfig(state_machine_level=level)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _encryption(value: Any) -> EncryptionConfig:
    block = _require_object("encryption", value, '{"kmsKey": "create"}')
    _reject_unknown_keys("encryption.", block, {"kmsKey"})
    key = block.get("kmsKey", EncryptionConfig().kms_key)
    if key is None or key == KMS_KEY_CREATE or (isinstance(key, str) and KMS_KEY_ARN_PATTERN.fullmatch(key)):
        return EncryptionConfig(kms_key=key)
    raise ConfigError(
        "encryption.kmsKey",
        key,
        'null (AWS-managed encryption), "create" (the stack creates a customer-managed key with rotation on) or '
        "the ARN of an existing symmetric customer-managed key in this account and region "
        "(arn:aws:kms:<region>:<account>:key/<key id>; an alias is not accepted, since key policies and "
        "Personalize need the key itself)",
        '"create"',
    )


def _deployment(value: Any, prefix: str = "") -> DeploymentConfig:
    block = _require_object(f"{prefix}deployment", value, '{"targets": ["campaign"]}')
    _reject_unknown_keys(f"{prefix}deployment.", block, {"targets", "batch"})
    defaults = DeploymentConfig()
    targets = block.get("targets", list(defaults.targets))
    if (
        not isinstance(targets, list)
        or not targets
        or any(target not in DEPLOYMENT_TARGETS for target in targets)
        or len(set(targets)) != len(targets)
    ):
        raise ConfigError(
            f"{prefix}deployment.targets",
            targets,
            'a list of "campaign" (real-time recommendations, billed per provisioned TPS-hour) and/or "batch" '
            "(a file of recommendations per user after every promoted training), each at most once",
            '["campaign"], ["batch"] or ["campaign", "batch"]',
        )
    batch = _batch(block.get("batch", {}), prefix)
    if "batch" in block and "batch" not in targets:
        raise ConfigError(
            f"{prefix}deployment.batch",
            block["batch"],
            'no batch settings unless "batch" is in deployment.targets (they would have no effect)',
            '"targets": ["campaign", "batch"]',
        )
    # In the order of DEPLOYMENT_TARGETS, so that equal configs are equal.
    return DeploymentConfig(targets=tuple(t for t in DEPLOYMENT_TARGETS if t in targets), batch=batch)


def _batch(value: Any, prefix: str = "") -> BatchConfig:
    block = _require_object(f"{prefix}deployment.batch", value, '{"numResults": 25}')
    _reject_unknown_keys(f"{prefix}deployment.batch.", block, {"numResults", "usersKey", "filter"})
    defaults = BatchConfig()
    num_results = block.get("numResults", defaults.num_results)
    if isinstance(num_results, bool) or not isinstance(num_results, int) or not 1 <= num_results <= BATCH_MAX_RESULTS:
        raise ConfigError(
            f"{prefix}deployment.batch.numResults",
            num_results,
            f"an integer from 1 to {BATCH_MAX_RESULTS}: how many items to recommend per user",
            "25",
        )
    users_key = block.get("usersKey", defaults.users_key)
    if users_key is not None and not _is_user_data_key(users_key):
        raise ConfigError(
            f"{prefix}deployment.batch.usersKey",
            users_key,
            "null (every user of the run's training data) or the S3 key, in the data bucket, of a JSON-lines file "
            'with one {"userId": "..."} per line, not under '
            + ", ".join(repr(p) for p in WORKFLOW_PREFIXES)
            + " (the workflow writes there)",
            '"batch/users.json"',
        )
    batch_filter = block.get("filter", defaults.filter)
    if batch_filter is not None and not isinstance(batch_filter, str):
        raise ConfigError(
            f"{prefix}deployment.batch.filter",
            batch_filter,
            "null or the name of a filter in the filters list",
            '"unseen"',
        )
    return BatchConfig(num_results=num_results, users_key=users_key, filter=batch_filter)


def _check_batch_filter(
    name: str | None, filters: tuple[FilterConfig, ...], key: str = "deployment.batch.filter"
) -> None:
    """A batch job's filter must be one of the pipeline's, and need no request values (a batch job
    has no request to give them)."""
    if name is None:
        return
    usable = [f.name for f in filters if not f.parsed.parameters]
    if name not in usable:
        raise ConfigError(
            key,
            name,
            "null or the name of a filter in the filters list that takes no $PARAMETER ("
            + (", ".join(usable) or "there is none")
            + ")",
            '"unseen"',
        )


def _default_filters(data: DataConfig) -> tuple[FilterConfig, ...]:
    """The genre filters need the items dataset: without items, only the exclusion filter."""
    return DEFAULT_FILTERS if data.uses_items else DEFAULT_FILTERS[:1]


def _filters(value: Any, pipeline_name: str, data: DataConfig) -> tuple[FilterConfig, ...]:
    example = '[{"name": "unseen", "expression": "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\\"*\\")"}]'
    if not isinstance(value, list) or len(value) > MAX_FILTERS_PER_DATASET_GROUP:
        raise ConfigError(
            "filters",
            value,
            f"a list of at most {MAX_FILTERS_PER_DATASET_GROUP} filters (Personalize's quota per dataset group), "
            "each {name, expression}; [] for none",
            example,
        )
    max_name = 63 - len(f"{pipeline_name}-filter-")
    # Register personalize.filters.expressions: EVENT_TYPE is the only interactions field a filter
    # may use; the items fields are those of the items schema, when the pipeline imports items.
    datasets = {
        INTERACTIONS: [EVENT_TYPE],
        **({ITEMS: list(ITEMS_FIELDS)} if data.uses_items else {}),
    }
    filters: list[FilterConfig] = []
    for index, entry in enumerate(value):
        key = f"filters[{index}]"
        if not isinstance(entry, Mapping) or set(entry) != {"name", "expression"}:
            raise ConfigError(key, entry, "an object with exactly a name and an expression", example)
        name, expression = entry["name"], entry["expression"]
        if not isinstance(name, str) or not FILTER_NAME_PATTERN.fullmatch(name) or len(name) > max_name:
            raise ConfigError(
                f"{key}.name",
                name,
                f"1 to {max_name} letters, digits, '-' or '_' (the filter is named {pipeline_name}-filter-<name>, "
                "at most 63 characters)",
                '"unseen"',
            )
        if name in {f.name for f in filters}:
            raise ConfigError(f"{key}.name", name, "a name no other filter has", f'"{name}-2"')
        try:
            check_fields(parse_filter_expression(expression), datasets)
        except FilterExpressionError as error:
            raise ConfigError(
                f"{key}.expression",
                expression,
                f"a Personalize filter expression over this pipeline's datasets ({error})",
                '"INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)"',
            ) from None
        filters.append(FilterConfig(name, expression))
    fields = {field for f in filters for field in f.parsed.fields}
    if len(fields) > MAX_FIELDS_PER_DATASET_GROUP:
        raise ConfigError(
            "filters",
            value,
            f"at most {MAX_FIELDS_PER_DATASET_GROUP} distinct fields across all filters of a dataset group; these use "
            f"{len(fields)}: {', '.join(sorted(fields))}",
            example,
        )
    return tuple(filters)
