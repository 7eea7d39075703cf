"""The workflow's Personalize steps: find-or-create the long-lived resources, start the per-run jobs.

One code folder, several Lambda functions: each entry point below is deployed as its own
function with its own IAM role holding only the Personalize actions that entry point calls.

Every step is safe to repeat. "Ensure" steps look the resource up by its configured name and
create it only when it is missing; "start" steps name their job after the execution, so a
retried invocation finds the job it already started instead of starting a second one.

boto3 and the standard library only: the folder is deployed as it is, without bundling.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from contract.filters import parse_filter_expression
from contract.logs import log_operation
from contract.personalize import ACTIVE, BATCH_JOB_PENDING_STATUSES, DELETING_STATUSES, PENDING_STATUSES
from contract.runtime import Dependencies

logger = logging.getLogger()
logger.setLevel(logging.INFO)

# Throttling is retried by boto3 first (standard mode, jittered backoff), then by the state
# machine's Retry if it persists.
DEPENDENCIES = Dependencies("personalize_steps", config=Config(retries={"mode": "standard", "max_attempts": 5}))

USABLE_STATUS = ACTIVE


class InvalidEventError(ValueError):
    """The state machine sent an event this step cannot act on."""


class DatasetGroupKeyMismatchError(Exception):
    """The existing dataset group is not encrypted with the configured key (or has one it should not)."""


class ResourceUnusableError(RuntimeError):
    """A resource with the pipeline's name exists but cannot be used as it is."""


class SmokeTestFailedError(RuntimeError):
    """The deployed campaign did not return recommendations."""


class FilterFailedError(RuntimeError):
    """The filter the smoke test asks through is unusable (CREATE FAILED): the model is not at fault."""


class MetricUnavailableError(RuntimeError):
    """The new solution version does not report the metric the quality gate is told to use."""


class ThrottlingException(RuntimeError):
    """Personalize still throttled after boto3's own retries.

    botocore has no class for this unmodeled error code, so it would reach Step Functions as
    ``ClientError``; under its own code's name the state machine's Retry matches it. The
    message is botocore's, which names the call.
    """


class LimitExceededException(RuntimeError):
    """A Personalize quota or rate limit, under the name the state machine retries.

    Personalize models this error, Personalize Runtime (GetRecommendations) does not.
    """


class ResourceInUseException(RuntimeError):
    """The resource is busy (an import or an update running); the state machine retries."""


class ResourceBeingReplacedError(RuntimeError):
    """A resource of this pipeline was CREATE FAILED and is being deleted; retrying recreates it."""


# Error codes raised under their own name whatever client raised them, for the state machine's
# Retry (an unmodeled code would reach it as ClientError).
_RENAMED_ERRORS: dict[str, type[Exception]] = {
    "ThrottlingException": ThrottlingException,
    "TooManyRequestsException": ThrottlingException,
    "LimitExceededException": LimitExceededException,
    "ResourceInUseException": ResourceInUseException,
}


def step(handler: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A Lambda entry point whose service errors reach the state machine under their own names;
    like every handler, it takes its clients as keywords when a caller hands them in."""

    @functools.wraps(handler)
    def entry_point(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        try:
            return handler(event, context)
        except ClientError as error:
            renamed = _RENAMED_ERRORS.get(error.response.get("Error", {}).get("Code", ""))
            if renamed is None:
                raise
            raise renamed(str(error)) from error

    return DEPENDENCIES.entry_point(entry_point)


def _log(operation: str, **fields: Any) -> None:
    log_operation(logger, operation, **fields)


def _require(event: dict[str, Any], field: str, kind: type = str) -> Any:
    value = event.get(field)
    wrong_type = not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)
    if wrong_type or value == "":
        raise InvalidEventError(f"event field '{field}' must be a non-empty {kind.__name__}; got {value!r}")
    return value


def _paginate(operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    paginator = DEPENDENCIES.client("personalize").get_paginator(operation)
    for page in paginator.paginate(**params):
        yield from page.get(key, [])


def _is_error(error: ClientError, code: str) -> bool:
    return error.response.get("Error", {}).get("Code") == code


def _find_or_create(
    find: Callable[[], dict[str, Any] | None],
    create: Callable[[], str],
    kind: str,
    name: str,
    arn_key: str,
    delete: Callable[[str], Any] | None = None,
) -> tuple[str, bool]:
    """Return (arn, created). A concurrent creator winning the race is not an error.

    With ``delete``, a resource found CREATE FAILED is deleted and the step fails with
    :class:`ResourceBeingReplacedError`, which the state machine retries until the name is
    free and the resource can be created again: a failed creation never blocks later runs.
    """
    found = find()
    if found is not None:
        return _usable_arn(found, kind, name, arn_key, delete), False
    try:
        return create(), True
    except ClientError as error:
        if not _is_error(error, "ResourceAlreadyExistsException"):
            raise
    found = find()
    if found is None:
        raise ResourceUnusableError(f"{kind} '{name}' was reported to exist but cannot be found")
    return _usable_arn(found, kind, name, arn_key, delete), False


def _usable_arn(
    summary: dict[str, Any], kind: str, name: str, arn_key: str, delete: Callable[[str], Any] | None = None
) -> str:
    """Schemas have no status; anything else must be ACTIVE or on its way there."""
    status = summary.get("status", USABLE_STATUS)
    arn = summary[arn_key]
    if status == USABLE_STATUS or status in PENDING_STATUSES or status in BATCH_JOB_PENDING_STATUSES:
        return arn
    reason = summary.get("failureReason", "no reason given")
    if delete is not None and status in ("CREATE FAILED", *DELETING_STATUSES):
        if status == "CREATE FAILED":
            delete(arn)
            _log("replace_failed_resource", kind=kind, resourceName=name, arn=arn, failureReason=reason)
        raise ResourceBeingReplacedError(
            f"{kind} '{name}' ({arn}) was {status} ({reason}); it is being deleted, and this step is "
            "retried until it can be created again"
        )
    raise ResourceUnusableError(
        f"{kind} '{name}' ({arn}) is {status} ({reason}); delete it (or choose another pipelineName) and run again"
    )


def run_scoped_name(prefix: str, execution_name: str, execution_start_time: str) -> str:
    """A job name unique to this execution and stable across retries of the same step.

    ``<prefix>-<UTC start, to the second>-<6 hex of the execution name>``: sortable by time, and
    at most 63 characters because the pipeline name is capped at 32.
    """
    started = datetime.fromisoformat(execution_start_time.replace("Z", "+00:00"))
    digest = hashlib.sha256(execution_name.encode()).hexdigest()[:6]
    return f"{prefix}-{started:%Y%m%dT%H%M%S}-{digest}"


# --- dataset group ---------------------------------------------------------------------------


@step
def ensure_dataset_group(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Find or create the dataset group; with ``kmsKeyArn`` (and the ``roleArn`` Personalize uses
    it through), created with that key, and an existing group must have exactly that key."""
    name = _require(event, "name")
    kms_key_arn = event.get("kmsKeyArn")
    encryption = {"kmsKeyArn": kms_key_arn, "roleArn": _require(event, "roleArn")} if kms_key_arn else {}

    def find() -> dict[str, Any] | None:
        return next((g for g in _paginate("list_dataset_groups", "datasetGroups") if g["name"] == name), None)

    def create() -> str:
        return DEPENDENCIES.client("personalize").create_dataset_group(name=name, **encryption)["datasetGroupArn"]

    arn, created = _find_or_create(
        find,
        create,
        "dataset group",
        name,
        "datasetGroupArn",
        lambda arn: DEPENDENCIES.client("personalize").delete_dataset_group(datasetGroupArn=arn),
    )
    if not created:
        _require_same_key(name, arn, kms_key_arn)
    _log("ensure_dataset_group", resourceName=name, arn=arn, createdNow=created, kmsKeyArn=kms_key_arn)
    return {"arn": arn, "created": created}


def _require_same_key(name: str, arn: str, configured: str | None) -> None:
    """A dataset group's key is fixed when it is created: refuse to go on with another one."""
    group = DEPENDENCIES.client("personalize").describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    existing = group.get("kmsKeyArn")
    if existing == configured:
        return
    has = f"is encrypted with {existing}" if existing else "was created without a KMS key"
    wants = f"encryption.kmsKey is {configured}" if configured else "encryption.kmsKey is null"
    raise DatasetGroupKeyMismatchError(
        f"dataset group '{name}' ({arn}) {has}, but {wants}. Personalize cannot change a dataset group's key. "
        "Either set encryption.kmsKey back to the key the group has, or deploy under another pipelineName "
        "(a new dataset group, trained from the same data); then delete the old dataset group yourself once "
        "nothing serves from it. The pipeline deleted and recreated nothing."
    )


# --- schemas and datasets ---------------------------------------------------------------------

DATASET_TYPES = ("Interactions", "Items")


class SchemaColumnRemovedError(RuntimeError):
    """The configured schema lacks a column the dataset's schema has: UpdateDataset cannot drop it."""


@step
def ensure_dataset(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Find or create the dataset of ``datasetType`` and its schema.

    An existing dataset on another schema is moved to the configured one with UpdateDataset
    (register personalize.dataset.update), never recreated: its imported data stays. A schema
    without a column the dataset has is refused before anything changes.
    """
    dataset_group_arn = _require(event, "datasetGroupArn")
    dataset_type = _require(event, "datasetType")
    if dataset_type not in DATASET_TYPES:
        raise InvalidEventError(
            f"event field 'datasetType' must be one of {', '.join(DATASET_TYPES)}; got {dataset_type!r}"
        )
    schema_name = _require(event, "schemaName")
    schema = _require(event, "schema")
    dataset_name = _require(event, "datasetName")
    kind = f"{dataset_type.lower()} dataset"
    personalize = DEPENDENCIES.client("personalize")

    schema_arn = _ensure_schema(schema_name, schema)

    def find() -> dict[str, Any] | None:
        return next(
            (
                d
                for d in _paginate("list_datasets", "datasets", datasetGroupArn=dataset_group_arn)
                if d["datasetType"].upper() == dataset_type.upper()
            ),
            None,
        )

    def create() -> str:
        return personalize.create_dataset(
            name=dataset_name, schemaArn=schema_arn, datasetGroupArn=dataset_group_arn, datasetType=dataset_type
        )["datasetArn"]

    dataset_arn, created = _find_or_create(
        find, create, kind, dataset_name, "datasetArn", lambda arn: personalize.delete_dataset(datasetArn=arn)
    )
    previous_schema = None
    if not created:
        dataset = personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]
        previous_schema = _move_to_schema(kind, dataset, schema_arn, schema)
    _log(
        "ensure_dataset",
        datasetType=dataset_type,
        schemaArn=schema_arn,
        arn=dataset_arn,
        createdNow=created,
        previousSchemaArn=previous_schema,
    )
    return {"arn": dataset_arn, "schemaArn": schema_arn, "created": created, "previousSchemaArn": previous_schema}


def _move_to_schema(kind: str, dataset: dict[str, Any], schema_arn: str, schema: str) -> str | None:
    """UpdateDataset when the dataset is on another schema; the schema it was on, or None when it
    already is on (or moving to) the configured one."""
    used = dataset["schemaArn"]
    update = dataset.get("latestDatasetUpdate") or {}
    if used == schema_arn or (update.get("schemaArn") == schema_arn and update.get("status") != "CREATE FAILED"):
        return None
    personalize = DEPENDENCIES.client("personalize")
    old_fields = _field_names(personalize.describe_schema(schemaArn=used)["schema"]["schema"])
    removed = [name for name in old_fields if name not in _field_names(schema)]
    if removed:
        raise SchemaColumnRemovedError(
            f"the {kind} {dataset['datasetArn']} has the column(s) {', '.join(removed)} (schema {used}), which the "
            f"pipeline's schema {schema_arn} does not: Personalize cannot remove a column from a dataset's schema. "
            "Keep the column(s) in the schema (the data preparation may leave them empty when they are nullable), "
            "or delete the dataset (its imported data goes with it) so that the next run creates it with the new "
            "schema and imports again. Nothing was changed."
        )
    personalize.update_dataset(datasetArn=dataset["datasetArn"], schemaArn=schema_arn)
    _log("update_dataset", datasetArn=dataset["datasetArn"], fromSchemaArn=used, toSchemaArn=schema_arn)
    return str(used)


def _field_names(schema: str) -> list[str]:
    return [field["name"] for field in json.loads(schema).get("fields", [])]


def _ensure_schema(name: str, schema: str) -> str:
    personalize = DEPENDENCIES.client("personalize")

    def find() -> dict[str, Any] | None:
        return next((s for s in _paginate("list_schemas", "schemas") if s["name"] == name), None)

    def create() -> str:
        return personalize.create_schema(name=name, schema=schema)["schemaArn"]

    arn, created = _find_or_create(find, create, "schema", name, "schemaArn")
    if not created:
        existing = personalize.describe_schema(schemaArn=arn)["schema"]["schema"]
        if json.loads(existing) != json.loads(schema):
            raise ResourceUnusableError(
                f"schema '{name}' ({arn}) exists with different fields; schemas cannot be changed, "
                "so delete it (with its dataset) or choose another pipelineName"
            )
    return arn


# --- dataset import job ------------------------------------------------------------------------


@step
def start_import(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    dataset_arn = _require(event, "datasetArn")
    data_location = _require(event, "dataLocation")
    role_arn = _require(event, "roleArn")
    job_name = run_scoped_name(
        _require(event, "jobNamePrefix"), _require(event, "executionName"), _require(event, "executionStartTime")
    )
    # data.importMode INCREMENTAL: the data preparation decides each run's mode (register
    # personalize.import.incremental); FULL otherwise.
    import_mode = event.get("importMode", "FULL")
    if import_mode not in ("FULL", "INCREMENTAL"):
        raise InvalidEventError(f"field 'importMode' must be FULL or INCREMENTAL; got {import_mode!r}")

    def find() -> dict[str, Any] | None:
        return next(
            (
                job
                for job in _paginate("list_dataset_import_jobs", "datasetImportJobs", datasetArn=dataset_arn)
                if job["jobName"] == job_name
            ),
            None,
        )

    def create() -> str:
        return DEPENDENCIES.client("personalize").create_dataset_import_job(
            jobName=job_name,
            datasetArn=dataset_arn,
            dataSource={"dataLocation": data_location},
            roleArn=role_arn,
            importMode=import_mode,
        )["datasetImportJobArn"]

    _require_schema_settled(dataset_arn)
    # Looked up first: a retry of this step must find the job it started, and Personalize
    # refuses a second import into the dataset while the first one runs.
    arn, created = _find_or_create(find, create, "dataset import job", job_name, "datasetImportJobArn")
    _log(
        "start_import",
        jobName=job_name,
        arn=arn,
        dataLocation=data_location,
        importMode=import_mode,
        createdNow=created,
    )
    return {"arn": arn, "name": job_name}


class DatasetUpdateFailedError(RuntimeError):
    """The dataset's move to a newer schema (UpdateDataset) failed: its data would not match."""


def _require_schema_settled(dataset_arn: str) -> None:
    """No import while the dataset moves to a newer schema: the new columns would not match the old
    one. A pending move is ResourceInUseException, which the state machine retries; a failed one
    ends the run with Personalize's reason (the next run's ensure step tries the move again)."""
    dataset = DEPENDENCIES.client("personalize").describe_dataset(datasetArn=dataset_arn)["dataset"]
    update = dataset.get("latestDatasetUpdate")
    status = (update or {}).get("status", ACTIVE)
    if status == ACTIVE:
        return
    if status in PENDING_STATUSES:
        raise ResourceInUseException(
            f"dataset {dataset_arn} is moving to schema {update.get('schemaArn')} ({status}); the import waits for it"
        )
    raise DatasetUpdateFailedError(
        f"dataset {dataset_arn} could not move to schema {update.get('schemaArn')}: {status} "
        f"({update.get('failureReason', 'no reason given')}); it keeps schema {dataset.get('schemaArn')}, "
        "and the next run tries again"
    )


# --- users' deletion requests ---------------------------------------------------------------------


@step
def start_data_deletion(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Start the data deletion job for this run's new requests (or find the one a retry started).

    It runs after the imports and before training: the guide asks that no import or training run
    beside it, or the users' data may survive in a model (register personalize.data-deletion).
    """
    dataset_group_arn = _require(event, "datasetGroupArn")
    data_location = _require(event, "dataLocation")
    role_arn = _require(event, "roleArn")
    job_name = run_scoped_name(
        _require(event, "jobNamePrefix"), _require(event, "executionName"), _require(event, "executionStartTime")
    )

    personalize = DEPENDENCIES.client("personalize")

    def find() -> dict[str, Any] | None:
        # botocore has no paginator for ListDataDeletionJobs: nextToken by hand.
        params: dict[str, Any] = {"datasetGroupArn": dataset_group_arn}
        while True:
            page = personalize.list_data_deletion_jobs(**params)
            found = next((job for job in page.get("dataDeletionJobs", []) if job["jobName"] == job_name), None)
            if found is not None or not page.get("nextToken"):
                return found
            params["nextToken"] = page["nextToken"]

    def create() -> str:
        return personalize.create_data_deletion_job(
            jobName=job_name,
            datasetGroupArn=dataset_group_arn,
            dataSource={"dataLocation": data_location},
            roleArn=role_arn,
        )["dataDeletionJobArn"]

    found = find()
    arn, created = (found["dataDeletionJobArn"], False) if found is not None else (create(), True)
    _log("start_data_deletion", jobName=job_name, arn=arn, dataLocation=data_location, createdNow=created)
    return {"arn": arn, "name": job_name}


# --- filters -------------------------------------------------------------------------------------


@step
def ensure_filters(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Make the dataset group's filters named ``<prefix>…`` exactly the configured ones.

    A filter cannot be updated: one whose expression changed, or that is CREATE FAILED, is deleted
    and created again once its name is free (ResourceBeingReplacedError, which the state machine
    retries); one the config no longer names is deleted. Filters with other names (made by hand)
    are left alone. The campaign serves unfiltered requests meanwhile.
    """
    dataset_group_arn = _require(event, "datasetGroupArn")
    prefix = _require(event, "namePrefix")
    wanted = _require(event, "filters", list)
    expressions: dict[str, str] = {}
    for entry in wanted:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry.get("expression"):
            raise InvalidEventError(f"each of 'filters' must be an object with a name and an expression; got {entry!r}")
        expressions[prefix + entry["name"]] = entry["expression"]
    personalize = DEPENDENCIES.client("personalize")
    # A filter on a dataset the group does not have yet (Items, before a movie file was uploaded)
    # would be refused: it waits for a run that has that dataset.
    datasets = {
        d["datasetType"].upper() for d in _paginate("list_datasets", "datasets", datasetGroupArn=dataset_group_arn)
    }
    waiting = sorted(
        name
        for name, expression in expressions.items()
        if any(clause.dataset.upper() not in datasets for clause in parse_filter_expression(expression).clauses)
    )
    for name in waiting:
        del expressions[name]
    found = {
        f["name"]: f
        for f in _paginate("list_filters", "Filters", datasetGroupArn=dataset_group_arn)
        if f["name"].startswith(prefix)
    }
    result: dict[str, Any] = {"filters": {}, "removed": [], "replacing": [], "waitingForData": waiting}
    for name, summary in found.items():
        status = summary.get("status", "")
        if status in DELETING_STATUSES:
            if name in expressions:
                result["replacing"].append(name)
            continue
        if name in expressions:
            expression = personalize.describe_filter(filterArn=summary["filterArn"])["filter"]["filterExpression"]
            if expression == expressions[name] and status != "CREATE FAILED":
                result["filters"][name] = {"arn": summary["filterArn"], "action": "reused"}
                continue
            result["replacing"].append(name)
        elif name in waiting:
            result["filters"][name] = {"arn": summary["filterArn"], "action": "kept"}
            continue
        else:
            result["removed"].append(name)
        personalize.delete_filter(filterArn=summary["filterArn"])
        _log("delete_filter", resourceName=name, arn=summary["filterArn"], status=status)
    for name, expression in expressions.items():
        if name not in found:
            arn = personalize.create_filter(name=name, datasetGroupArn=dataset_group_arn, filterExpression=expression)
            result["filters"][name] = {"arn": arn["filterArn"], "action": "created"}
    _log("ensure_filters", **result)
    if result["replacing"]:
        raise ResourceBeingReplacedError(
            f"filter(s) {', '.join(sorted(result['replacing']))} changed and are being deleted (a filter cannot be "
            "updated); this step is retried until each can be created again with its new expression"
        )
    output = {"filters": result["filters"], "removed": result["removed"], "waitingForData": waiting}

    def arn_of(field: str, chosen: str) -> str | None:
        kept = result["filters"].get(prefix + chosen)
        if kept is None and prefix + chosen not in waiting:
            raise InvalidEventError(f"event field {field!r} names no filter this step keeps: {chosen!r}")
        # null while the filter waits for its dataset: the smoke test and the batch job go without it.
        return str(kept["arn"]) if kept is not None else None

    for field, arn_key in (("smokeFilter", "smokeFilterArn"), ("batchFilter", "batchFilterArn")):
        chosen = event.get(field)
        if chosen:
            output[arn_key] = arn_of(field, chosen)
    # Several solutions: each batch job's filter, by solution.
    batch_filters = event.get("batchFilters")
    if batch_filters is not None:
        if not isinstance(batch_filters, dict) or not all(isinstance(v, str) for v in batch_filters.values()):
            raise InvalidEventError(
                f"event field 'batchFilters' must map solutions to filter names; got {batch_filters!r}"
            )
        output["batchFilterArns"] = {solution: arn_of("batchFilters", name) for solution, name in batch_filters.items()}
    return output


# --- solution ----------------------------------------------------------------------------------


@step
def ensure_solution(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    name = _require(event, "name")
    dataset_group_arn = _require(event, "datasetGroupArn")
    recipe_arn = _require(event, "recipeArn")
    personalize = DEPENDENCIES.client("personalize")

    def find() -> dict[str, Any] | None:
        return next(
            (
                s
                for s in _paginate("list_solutions", "solutions", datasetGroupArn=dataset_group_arn)
                if s["name"] == name
            ),
            None,
        )

    def create() -> str:
        # performAutoTraining defaults to true in the service: our schedule must be the only trainer.
        return personalize.create_solution(
            name=name,
            datasetGroupArn=dataset_group_arn,
            recipeArn=recipe_arn,
            performAutoTraining=False,
        )["solutionArn"]

    arn, created = _find_or_create(
        find, create, "solution", name, "solutionArn", lambda arn: personalize.delete_solution(solutionArn=arn)
    )
    if not created:
        solution = personalize.describe_solution(solutionArn=arn)["solution"]
        if solution.get("recipeArn") != recipe_arn:
            raise ResourceUnusableError(
                f"solution '{name}' ({arn}) uses recipe {solution.get('recipeArn')}, not the configured "
                f"{recipe_arn}; solutions cannot change recipe, so delete it or choose another pipelineName"
            )
        if solution.get("performAutoTraining", True):
            raise ResourceUnusableError(
                f"solution '{name}' ({arn}) has automatic training on, which would train beside the "
                "schedule and double the training cost; delete it so the pipeline recreates it with "
                "performAutoTraining false"
            )
    _log("ensure_solution", resourceName=name, arn=arn, createdNow=created)
    return {"arn": arn, "created": created}


# --- solution version ----------------------------------------------------------------------------


@step
def start_training(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    solution_arn = _require(event, "solutionArn")
    training_mode = _require(event, "trainingMode")
    if training_mode not in ("FULL", "UPDATE"):
        raise InvalidEventError(f"event field 'trainingMode' must be FULL or UPDATE; got {training_mode!r}")
    name = run_scoped_name(
        _require(event, "namePrefix"), _require(event, "executionName"), _require(event, "executionStartTime")
    )
    personalize = DEPENDENCIES.client("personalize")
    existing = _solution_version_named(solution_arn, name)
    if existing is not None:
        # A retry of this step: training for this execution was already started.
        _log("start_training", resourceName=name, arn=existing, createdNow=False)
        return {"arn": existing, "name": name, "trainingMode": training_mode}
    arn = personalize.create_solution_version(solutionArn=solution_arn, trainingMode=training_mode, name=name)[
        "solutionVersionArn"
    ]
    _log("start_training", resourceName=name, arn=arn, trainingMode=training_mode, createdNow=True)
    return {"arn": arn, "name": name, "trainingMode": training_mode}


def _solution_version_named(solution_arn: str, name: str) -> str | None:
    """Only versions still being created can belong to a retried call of this execution."""
    personalize = DEPENDENCIES.client("personalize")
    for summary in _paginate("list_solution_versions", "solutionVersions", solutionArn=solution_arn):
        if summary.get("status") not in PENDING_STATUSES:
            continue
        version = personalize.describe_solution_version(solutionVersionArn=summary["solutionVersionArn"])
        if version["solutionVersion"].get("name") == name:
            return summary["solutionVersionArn"]
    return None


# --- quality gate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str
    threshold: float | None  # the least value the served version's metric allows; None if nothing is served


def quality_gate_verdict(
    metric: str, value: float, served: float | None, *, tolerance: float, minimum: float | None
) -> Verdict:
    """Pure decision of the quality gate: the floor, then the tolerance against the served version.

    The new version's metric must reach ``minimum`` (when set) and may fall at most ``tolerance``
    (a fraction) short of the served version's value; with nothing served only the floor applies.
    """
    reasons = []
    if minimum is not None and value < minimum:
        reasons.append(f"{metric} {value:g} is below the minimum {minimum:g}")
    threshold = None
    if served is not None:
        threshold = round(served * (1 - tolerance), 6)
        if value < threshold:
            reasons.append(
                f"{metric} {value:g} is more than {tolerance:.0%} below the served version's "
                f"{served:g} (at least {threshold:g} needed)"
            )
    if reasons:
        return Verdict(False, "; ".join(reasons), threshold)
    compared = f"the served version's {served:g}" if served is not None else "no served version"
    floor = f", minimum {minimum:g}" if minimum is not None else ""
    return Verdict(True, f"{metric} {value:g} against {compared} (tolerance {tolerance:.0%}{floor})", threshold)


@step
def evaluate_version(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Decide whether the new version may replace the one the campaign serves.

    The new version's metric must reach ``minimum`` (when set) and may fall at most
    ``maxRelativeRegression`` short of the served version's. Before the first deployment there
    is nothing served, so only the floor applies. Personalize computes these offline metrics on
    a held-out split of the data each version was trained on; the service advises caution when
    comparing versions trained on different data, hence a tolerance rather than "must improve".
    """
    candidate_arn = _require(event, "solutionVersionArn")
    solution_arn = _require(event, "solutionArn")
    # The served version: the campaign's, or without a campaign (deployment to batch only) the one
    # whose batch output the manifest names, as the data preparation read it (null before any).
    campaign_name = event.get("campaignName")
    if campaign_name is None and "servedSolutionVersionArn" not in event:
        raise InvalidEventError("event needs 'campaignName' or 'servedSolutionVersionArn' (null before any is served)")
    served_given = event.get("servedSolutionVersionArn")
    if served_given is not None and (not isinstance(served_given, str) or not served_given):
        raise InvalidEventError(f"event field 'servedSolutionVersionArn' must be an ARN or null; got {served_given!r}")
    metric = _require(event, "metric")
    tolerance = _number(event, "maxRelativeRegression")
    minimum = None if event.get("minimum") is None else _number(event, "minimum")

    candidate_metrics = _metrics(candidate_arn)
    if metric not in candidate_metrics:
        raise MetricUnavailableError(
            f"solution version {candidate_arn} reports no {metric}; it reports "
            f"{', '.join(sorted(candidate_metrics)) or 'no metrics'}: choose one of those as qualityGate.metric"
        )
    value = float(candidate_metrics[metric])
    served_arn = (
        _served_version(solution_arn, _require(event, "campaignName")) if campaign_name is not None else served_given
    )
    current: dict[str, Any] | None = None
    served_value: float | None = None
    if served_arn is not None and served_arn != candidate_arn:
        served_value = _metrics(served_arn).get(metric)
        if served_value is not None:
            current = {"solutionVersionArn": served_arn, "value": float(served_value)}

    verdict = quality_gate_verdict(
        metric, value, None if served_value is None else float(served_value), tolerance=tolerance, minimum=minimum
    )
    result = {
        "passed": verdict.passed,
        "reason": verdict.reason,
        "metric": metric,
        "candidate": {"solutionVersionArn": candidate_arn, "value": value},
        "current": current,
        "threshold": verdict.threshold,
        "minimum": minimum,
        "maxRelativeRegression": tolerance,
        "metrics": candidate_metrics,
    }
    _log("evaluate_version", **{k: v for k, v in result.items() if k != "metrics"})
    return result


def _number(event: dict[str, Any], field: str) -> float:
    value = event.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEventError(f"event field '{field}' must be a number; got {value!r}")
    return float(value)


def _metrics(solution_version_arn: str) -> dict[str, float]:
    response = DEPENDENCIES.client("personalize").get_solution_metrics(solutionVersionArn=solution_version_arn)
    return dict(response.get("metrics", {}))


def _served_version(solution_arn: str, campaign_name: str) -> str | None:
    """The version the pipeline's campaign serves now, or None before it serves any."""
    summary = _campaign_named(solution_arn, campaign_name)
    if summary is None:
        return None
    campaign = DEPENDENCIES.client("personalize").describe_campaign(campaignArn=summary["campaignArn"])["campaign"]
    if campaign.get("status") != USABLE_STATUS:
        return None
    return campaign.get("solutionVersionArn")


def _campaign_named(solution_arn: str, name: str) -> dict[str, Any] | None:
    return next(
        (c for c in _paginate("list_campaigns", "campaigns", solutionArn=solution_arn) if c["name"] == name), None
    )


# --- campaign ------------------------------------------------------------------------------------


@step
def deploy_campaign(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Create the campaign on the first run; switch it to the new version in place afterwards.

    UpdateCampaign keeps the endpoint serving the previous version until the new one is
    ACTIVE, so recommendations never stop during a retrain.
    """
    name = _require(event, "name")
    solution_arn = _require(event, "solutionArn")
    solution_version_arn = _require(event, "solutionVersionArn")
    min_tps = _require(event, "minProvisionedTPS", int)
    personalize = DEPENDENCIES.client("personalize")
    campaign_config = {"syncWithLatestSolutionVersion": False}

    existing = _campaign_named(solution_arn, name)
    if existing is None:
        try:
            arn = personalize.create_campaign(
                name=name,
                solutionVersionArn=solution_version_arn,
                minProvisionedTPS=min_tps,
                campaignConfig=campaign_config,
            )["campaignArn"]
        except ClientError as error:
            if not _is_error(error, "ResourceAlreadyExistsException"):
                raise
            raise ResourceUnusableError(
                f"a campaign named '{name}' exists but not on solution {solution_arn}; "
                "delete it or choose another pipelineName"
            ) from error
        _log("deploy_campaign", action="created", arn=arn, solutionVersionArn=solution_version_arn)
        return {"arn": arn, "action": "created", "previousSolutionVersionArn": None}

    arn = existing["campaignArn"]
    campaign = personalize.describe_campaign(campaignArn=arn)["campaign"]
    if campaign["status"] in ("CREATE FAILED", *DELETING_STATUSES):
        # Never served anything: delete it, and the retried step creates it again.
        _usable_arn(campaign, "campaign", name, "campaignArn", lambda arn: personalize.delete_campaign(campaignArn=arn))
    if campaign["status"] != USABLE_STATUS:
        raise ResourceUnusableError(
            f"campaign '{name}' ({arn}) is {campaign['status']} "
            f"({campaign.get('failureReason', 'no reason given')}); it must be ACTIVE to be updated"
        )
    previous = campaign.get("solutionVersionArn")
    personalize.update_campaign(
        campaignArn=arn,
        solutionVersionArn=solution_version_arn,
        minProvisionedTPS=min_tps,
        campaignConfig=campaign_config,
    )
    _log("deploy_campaign", action="updated", arn=arn, solutionVersionArn=solution_version_arn, previous=previous)
    return {"arn": arn, "action": "updated", "previousSolutionVersionArn": previous}


# --- smoke test ----------------------------------------------------------------------------------


@step
def smoke_test(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Ask the new campaign what its recipe's type answers (register personalize.recipes.types):
    recommendations for ``userId``, related items of ``itemId``, or with ``inputList`` the user's
    ranking of those items (GetPersonalizedRanking). An empty answer fails the test."""
    campaign_arn = _require(event, "campaignArn")
    num_results = _require(event, "numResults", int)
    runtime = DEPENDENCIES.client("personalize-runtime")
    result: dict[str, Any]
    if "inputList" in event:
        user_id = _require(event, "userId")
        input_list = event["inputList"]
        if not isinstance(input_list, list) or not input_list or not all(isinstance(i, str) for i in input_list):
            raise InvalidEventError(f"event field 'inputList' must be a non-empty list of item ids; got {input_list!r}")
        ranking = runtime.get_personalized_ranking(campaignArn=campaign_arn, userId=user_id, inputList=input_list)
        items, result = ranking.get("personalizedRanking", []), {"userId": user_id}
        nothing = f"ranked none of {len(input_list)} items for user {user_id}"
    elif "itemId" in event:
        item_id = _require(event, "itemId")
        response = runtime.get_recommendations(campaignArn=campaign_arn, itemId=item_id, numResults=num_results)
        items, result = response.get("itemList", []), {"itemId": item_id}
        nothing = f"returned no related items for item {item_id}"
    else:
        user_id = _require(event, "userId")
        response = runtime.get_recommendations(campaignArn=campaign_arn, userId=user_id, numResults=num_results)
        items, result = response.get("itemList", []), {"userId": user_id}
        nothing = f"returned no recommendations for user {user_id}"
    result["itemIds"] = [item["itemId"] for item in items]
    if not result["itemIds"]:
        raise SmokeTestFailedError(f"campaign {campaign_arn} {nothing}")
    filter_arn = event.get("filterArn")
    if filter_arn and "inputList" not in event and "userId" in result:
        result["filtered"] = _smoke_test_filter(campaign_arn, result["userId"], num_results, filter_arn)
    _log("smoke_test", campaignArn=campaign_arn, **result)
    return result


def _require_filter_active(filter_arn: str) -> dict[str, Any]:
    """A filter is used only ACTIVE (GetRecommendations' documentation): one still being created is
    ResourceInUseException, which the state machine retries; a failed one, FilterFailedError."""
    described: dict[str, Any] = DEPENDENCIES.client("personalize").describe_filter(filterArn=filter_arn)["filter"]
    status = described["status"]
    if status in PENDING_STATUSES:
        raise ResourceInUseException(f"filter {filter_arn} is {status}; waiting for it")
    if status != ACTIVE:
        # Not SmokeTestFailedError: the version answered; rolling it back would not mend the filter,
        # which the next run's "Ensure filters" deletes and creates again.
        raise FilterFailedError(
            f"filter {filter_arn} is {status} ({described.get('failureReason', 'no reason given')}): recommendations "
            "cannot be asked through it; the new version stays in service, and the next run creates the filter again"
        )
    return described


def _smoke_test_filter(campaign_arn: str, user_id: str, num_results: int, filter_arn: str) -> dict[str, Any]:
    """The same request through the filter that needs no values: it must answer with items too.

    The filter must be ACTIVE to be used (GetRecommendations' documentation); one still being
    created is ResourceInUseException, which the state machine retries."""
    _require_filter_active(filter_arn)
    response = DEPENDENCIES.client("personalize-runtime").get_recommendations(
        campaignArn=campaign_arn, userId=user_id, numResults=num_results, filterArn=filter_arn
    )
    item_ids = [item["itemId"] for item in response.get("itemList", [])]
    if not item_ids:
        raise SmokeTestFailedError(
            f"campaign {campaign_arn} returned no recommendations for user {user_id} through filter {filter_arn}"
        )
    return {"filterArn": filter_arn, "itemIds": item_ids}


# --- batch inference -----------------------------------------------------------------------------


@step
def start_batch_inference(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Start this run's batch inference job for the promoted version (or find the one a retry started).

    ``inputPath`` is the users file, ``outputPath`` the run's own folder (ending in '/');
    ``filterArn`` and ``kmsKeyArn`` are optional. The job reads and writes with ``roleArn``.
    Batch inference jobs cannot be stopped or deleted (register personalize.batch.request), so a
    retried step must find its job rather than start a second one.
    """
    solution_version_arn = _require(event, "solutionVersionArn")
    input_path = _require(event, "inputPath")
    output_path = _require(event, "outputPath")
    if not output_path.endswith("/"):
        raise InvalidEventError(f"event field 'outputPath' must be a folder ending in '/'; got {output_path!r}")
    role_arn = _require(event, "roleArn")
    num_results = _require(event, "numResults", int)
    job_name = run_scoped_name(
        _require(event, "jobNamePrefix"), _require(event, "executionName"), _require(event, "executionStartTime")
    )
    kms = {"kmsKeyArn": event["kmsKeyArn"]} if event.get("kmsKeyArn") else {}
    optional = {"filterArn": event["filterArn"]} if event.get("filterArn") else {}
    if optional:
        _require_filter_active(optional["filterArn"])

    def find() -> dict[str, Any] | None:
        return next(
            (
                job
                for job in _paginate(
                    "list_batch_inference_jobs", "batchInferenceJobs", solutionVersionArn=solution_version_arn
                )
                if job["jobName"] == job_name
            ),
            None,
        )

    def create() -> str:
        return DEPENDENCIES.client("personalize").create_batch_inference_job(
            jobName=job_name,
            solutionVersionArn=solution_version_arn,
            numResults=num_results,
            jobInput={"s3DataSource": {"path": input_path, **kms}},
            jobOutput={"s3DataDestination": {"path": output_path, **kms}},
            roleArn=role_arn,
            **optional,
        )["batchInferenceJobArn"]

    arn, created = _find_or_create(find, create, "batch inference job", job_name, "batchInferenceJobArn")
    _log(
        "start_batch_inference",
        jobName=job_name,
        arn=arn,
        inputPath=input_path,
        outputPath=output_path,
        createdNow=created,
    )
    return {"arn": arn, "name": job_name}
