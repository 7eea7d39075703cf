"""Teardown on stack deletion: the Personalize resources the workflow created at run time.

Those resources are not CloudFormation resources, so ``cdk destroy`` would leave them behind
(the campaign is billed every hour). A custom resource of CDK's provider framework calls
``on_event`` once and then ``is_complete`` every query interval until it returns true:

- ``on_event`` (Delete only) pauses the pipeline: it disables the schedule and stops the
  state machine's RUNNING executions, so no run creates resources while they are deleted.
- ``is_complete`` makes one pass over the pipeline's resources, in dependency order:
  campaigns, in-progress solution versions (stopped), solutions, event trackers and filters,
  datasets, the schema, the dataset group. Each pass starts the deletions of the first stage
  that still has resources and reports the teardown complete when every stage is empty.

Every pass reads the account afresh, so the teardown keeps no state between calls, resumes
where it stopped after a failure, and is a no-op once everything is gone. It deletes only
resources named by this pipeline's naming scheme (contract/names.py, passed in as properties): the dataset group whose
name *equals* the pipeline name, and within it only names the pipeline gives. Anything else
that blocks the deletion stops the teardown with a message naming it.

boto3 and the standard library only: the folder is deployed as it is, without bundling.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from contract.logs import log_operation
from contract.personalize import DELETING_STATUSES, PENDING_STATUSES, STOPPING
from contract.runtime import Dependencies

logger = logging.getLogger()
logger.setLevel(logging.INFO)

# One id for the life of the stack: an Update never replaces the resource, so the only Delete
# CloudFormation ever sends is the one of stack deletion (or of removing the construct).
PHYSICAL_RESOURCE_ID = "personalize-teardown"
DEADLINE_KEY = "TeardownDeadline"


# The clients, and the clock the deadline is measured on (offline runs hand in the simulated one).
DEPENDENCIES = Dependencies("teardown", config=Config(retries={"mode": "standard", "max_attempts": 5}))


class InvalidEventError(ValueError):
    """CloudFormation sent an event this handler cannot act on."""


class ForeignResourceError(RuntimeError):
    """A resource this pipeline did not create keeps its resources from being deleted."""


class TeardownTimeoutError(RuntimeError):
    """The deletions did not finish within the time the provider framework allows."""


def _log(operation: str, **fields: Any) -> None:
    log_operation(logger, operation, **fields)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# --- what the custom resource tells us ------------------------------------------------------


@dataclass(frozen=True)
class Pipeline:
    """The custom resource's properties: whose resources to delete, and how long to try."""

    name: str
    state_machine_arn: str
    schedule_name: str
    schedule_group: str
    give_up_after: timedelta
    # The names the stack gives (contract/names.py), sent as the resource's Names property.
    dataset_group: str
    interactions_schema: str
    interactions_dataset: str
    # Items schemas are <prefix><8 hex>: one per schema the items dataset has had (contract/names.py).
    items_schema_prefix: str
    items_dataset: str
    solution: str
    campaign: str
    owned_prefix: str
    # The solutions and campaigns the config names now; others of this pipeline go on an update.
    kept_solutions: tuple[str, ...] = ()
    kept_campaigns: tuple[str, ...] = ()

    def is_solution(self, name: str) -> bool:
        """A solution this pipeline names or named: the single one, or ``<solution>-<name>`` of a list."""
        return name == self.solution or re.fullmatch(re.escape(self.solution) + "-[a-z][a-z0-9]*", name) is not None

    def is_campaign(self, name: str) -> bool:
        return name == self.campaign or re.fullmatch(re.escape(self.campaign) + "-[a-z][a-z0-9]*", name) is not None

    def is_items_schema(self, name: str) -> bool:
        """One of the items schemas this pipeline names, old or current (not another pipeline's)."""
        suffix = name.removeprefix(self.items_schema_prefix)
        return name.startswith(self.items_schema_prefix) and re.fullmatch("[0-9a-f]{8}", suffix) is not None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Pipeline:
        properties = event.get("ResourceProperties")
        if not isinstance(properties, dict):
            raise InvalidEventError("the event has no ResourceProperties object")

        def text(key: str) -> str:
            value = properties.get(key)
            if not isinstance(value, str) or not value:
                raise InvalidEventError(f"ResourceProperties.{key} must be a non-empty string; got {value!r}")
            return value

        seconds = text("GiveUpAfterSeconds")
        if not seconds.isdigit():
            raise InvalidEventError(f"ResourceProperties.GiveUpAfterSeconds must be whole seconds; got {seconds!r}")
        names = properties.get("Names")
        if not isinstance(names, dict):
            raise InvalidEventError(f"ResourceProperties.Names must be an object of resource names; got {names!r}")

        def names_list(key: str, default: str) -> tuple[str, ...]:
            """A list of names (a stack deployed before lists existed named one: ``default``)."""
            value = names.get(key, [default])
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise InvalidEventError(f"ResourceProperties.Names.{key} must be a list of names; got {value!r}")
            return tuple(value)

        def name(key: str) -> str:
            value = names.get(key)
            if not isinstance(value, str) or not value:
                raise InvalidEventError(f"ResourceProperties.Names.{key} must be a non-empty string; got {value!r}")
            return value

        return cls(
            name=text("PipelineName"),
            state_machine_arn=text("StateMachineArn"),
            schedule_name=text("ScheduleName"),
            schedule_group=text("ScheduleGroupName"),
            give_up_after=timedelta(seconds=int(seconds)),
            dataset_group=name("DatasetGroup"),
            interactions_schema=name("InteractionsSchema"),
            interactions_dataset=name("InteractionsDataset"),
            items_schema_prefix=name("ItemsSchemaPrefix"),
            items_dataset=name("ItemsDataset"),
            solution=name("Solution"),
            campaign=name("Campaign"),
            owned_prefix=name("OwnedPrefix"),
            kept_solutions=names_list("Solutions", name("Solution")),
            kept_campaigns=names_list("Campaigns", name("Campaign")),
        )


def _request_type(event: dict[str, Any]) -> str:
    request_type = event.get("RequestType")
    if request_type not in ("Create", "Update", "Delete"):
        raise InvalidEventError(f"RequestType must be Create, Update or Delete; got {request_type!r}")
    return str(request_type)


# --- entry points ---------------------------------------------------------------------------


@DEPENDENCIES.entry_point
def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Create: nothing to do. Update: set the deadline for deleting the solutions the config no longer
    names. Delete: pause the pipeline and set the deadline."""
    request_type = _request_type(event)
    if request_type == "Create":
        return {"PhysicalResourceId": PHYSICAL_RESOURCE_ID}
    pipeline = Pipeline.from_event(event)
    if request_type == "Update":
        deadline = DEPENDENCIES.now() + pipeline.give_up_after
        _log("removal_started", pipeline=pipeline.name, kept=list(pipeline.kept_solutions))
        return {"PhysicalResourceId": event["PhysicalResourceId"], DEADLINE_KEY: deadline.isoformat()}
    disable_schedule(pipeline)
    stop_running_executions(pipeline)
    deadline = DEPENDENCIES.now() + pipeline.give_up_after
    _log("teardown_started", pipeline=pipeline.name, deadline=deadline.isoformat())
    return {"PhysicalResourceId": event["PhysicalResourceId"], DEADLINE_KEY: deadline.isoformat()}


@DEPENDENCIES.entry_point
def is_complete(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """One pass of deletions; complete when nothing of the pipeline is left (Delete), or nothing of the
    solutions the config no longer names (Update: a removed solution must not keep billing)."""
    request_type = _request_type(event)
    if request_type == "Create":
        return {"IsComplete": True}
    pipeline = Pipeline.from_event(event)
    deadline_text = event.get(DEADLINE_KEY)
    if not isinstance(deadline_text, str):
        raise InvalidEventError(f"{DEADLINE_KEY} (set by on_event) is missing from the event")
    waiting = advance_teardown(pipeline, removed_only=request_type == "Update")
    if not waiting:
        _log("teardown_complete", pipeline=pipeline.name)
        return {"IsComplete": True}
    if DEPENDENCIES.now() >= datetime.fromisoformat(deadline_text):
        minutes = int(pipeline.give_up_after.total_seconds() // 60)
        raise TeardownTimeoutError(
            f"Teardown of Personalize pipeline '{pipeline.name}' did not finish within {minutes} minutes: "
            + "; ".join(str(resource) for resource in waiting)
            + ". Look at it in the Personalize console, then run cdk destroy again: the teardown resumes "
            "where it stopped."
        )
    _log("teardown_waiting", pipeline=pipeline.name, waiting=[str(resource) for resource in waiting])
    return {"IsComplete": False}


# --- pausing the pipeline -------------------------------------------------------------------

# UpdateSchedule replaces the whole schedule: every setting GetSchedule returns is sent back.
_SCHEDULE_SETTINGS = (
    "GroupName",
    "Description",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "EndDate",
    "FlexibleTimeWindow",
    "Target",
    "KmsKeyArn",
    "ActionAfterCompletion",
)


def disable_schedule(pipeline: Pipeline) -> None:
    """Keep the schedule from starting a run while resources are being deleted."""
    scheduler = DEPENDENCIES.client("scheduler")
    try:
        schedule = scheduler.get_schedule(Name=pipeline.schedule_name, GroupName=pipeline.schedule_group)
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
        _log("schedule_already_gone", resourceName=pipeline.schedule_name)
        return
    if schedule.get("State") == "DISABLED":
        return
    settings = {key: schedule[key] for key in _SCHEDULE_SETTINGS if schedule.get(key) is not None}
    # Register scheduler.start-date.not-in-past: the first run's StartDate has usually passed, and
    # UpdateSchedule may refuse a StartDate in the past; a disabled schedule needs none.
    if "StartDate" in settings and settings["StartDate"] <= DEPENDENCIES.now() + timedelta(minutes=5):
        del settings["StartDate"]
    scheduler.update_schedule(Name=pipeline.schedule_name, State="DISABLED", **settings)
    _log("schedule_disabled", resourceName=pipeline.schedule_name)


def stop_running_executions(pipeline: Pipeline) -> list[str]:
    """Stop every RUNNING execution, so no step creates a resource behind the teardown."""
    states = DEPENDENCIES.client("stepfunctions")
    try:
        running = [
            execution["executionArn"]
            for page in states.get_paginator("list_executions").paginate(
                stateMachineArn=pipeline.state_machine_arn, statusFilter="RUNNING"
            )
            for execution in page["executions"]
        ]
    except ClientError as error:
        if _error_code(error) != "StateMachineDoesNotExist":
            raise
        return []
    for execution_arn in running:
        try:
            states.stop_execution(
                executionArn=execution_arn,
                error="StackDeleted",
                cause="The CloudFormation stack of the pipeline is being deleted",
            )
        except ClientError as error:
            if _error_code(error) != "ExecutionDoesNotExist":
                raise
        _log("execution_stopped", executionArn=execution_arn)
    return running


# --- deleting Personalize resources ---------------------------------------------------------


@dataclass(frozen=True)
class Remaining:
    """A resource that is still there, and why the teardown is waiting for it."""

    kind: str
    name: str
    arn: str
    status: str
    refusal: str = ""

    def __str__(self) -> str:
        text = f"{self.kind} '{self.name}' ({self.arn}) is still {self.status}"
        return f"{text} ({self.refusal})" if self.refusal else text


@dataclass(frozen=True)
class _Found:
    kind: str
    name: str
    arn: str
    status: str
    owned: bool


# How each kind is deleted (or, for solution versions in training, stopped).
_DELETE_CALLS: dict[str, tuple[str, str]] = {
    "campaign": ("delete_campaign", "campaignArn"),
    "solution version": ("stop_solution_version_creation", "solutionVersionArn"),
    "solution": ("delete_solution", "solutionArn"),
    "event tracker": ("delete_event_tracker", "eventTrackerArn"),
    "filter": ("delete_filter", "filterArn"),
    "dataset": ("delete_dataset", "datasetArn"),
    "schema": ("delete_schema", "schemaArn"),
    "dataset group": ("delete_dataset_group", "datasetGroupArn"),
}
SCHEMA_STATUS = "present"  # schemas have no status


def _listed(operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    for page in DEPENDENCIES.client("personalize").get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def advance_teardown(pipeline: Pipeline, *, removed_only: bool = False) -> list[Remaining]:
    """Act on the first stage that still has resources; return what is left (empty: done).

    ``removed_only``: only the solutions (with their campaigns) the config no longer names."""
    for stage in _removed_solutions(pipeline) if removed_only else _stages(pipeline):
        if not stage:
            continue
        ours = [Remaining(f.kind, f.name, f.arn, f.status, _start_deletion(f)) for f in stage if f.owned]
        foreign = [f for f in stage if not f.owned]
        if foreign and not ours:
            raise ForeignResourceError(
                f"Teardown of Personalize pipeline '{pipeline.name}' stopped: "
                + "; ".join(f"{f.kind} '{f.name}' ({f.arn})" for f in foreign)
                + " was not created by this pipeline (its name is not one the pipeline gives), so it is not "
                f"deleted, and it keeps dataset group '{pipeline.dataset_group}' from being deleted. Delete it "
                "yourself, then run cdk destroy again."
            )
        return ours + [Remaining(f.kind, f.name, f.arn, f.status, "not this pipeline's") for f in foreign]
    return []


def _start_deletion(found: _Found) -> str:
    """Start deleting (or stopping) unless already under way; "not yet" is a reason to wait, not to fail."""
    if found.status in DELETING_STATUSES or found.status == STOPPING:
        return ""
    operation, arn_parameter = _DELETE_CALLS[found.kind]
    try:
        getattr(DEPENDENCIES.client("personalize"), operation)(**{arn_parameter: found.arn})
    except ClientError as error:
        code = _error_code(error)
        if code == "ResourceNotFoundException":
            return ""
        if code == "ResourceInUseException":
            return f"{code}: {error.response.get('Error', {}).get('Message', '')}"
        raise
    _log("deletion_started", kind=found.kind, resourceName=found.name, arn=found.arn, previousStatus=found.status)
    return ""


def _solution_stages(pipeline: Pipeline, solutions: list[_Found]) -> Iterator[list[_Found]]:
    """The campaigns of the solutions that are ours, their versions in training, then the solutions."""
    our_solutions = [s for s in solutions if s.owned]
    yield [
        _Found("campaign", c["name"], c["campaignArn"], c["status"], pipeline.is_campaign(c["name"]))
        for s in our_solutions
        for c in _listed("list_campaigns", "campaigns", solutionArn=s.arn)
    ]
    # Versions in training are stopped; the others are deleted with their solution.
    yield [
        _Found("solution version", s.name, v["solutionVersionArn"], v["status"], True)
        for s in our_solutions
        for v in _listed("list_solution_versions", "solutionVersions", solutionArn=s.arn)
        if v["status"] in PENDING_STATUSES or v["status"] == STOPPING
    ]
    yield solutions


def _removed_solutions(pipeline: Pipeline) -> Iterator[list[_Found]]:
    """On a stack update: the campaigns of this pipeline the config no longer names (a removed solution's,
    or a kept solution's whose deployment dropped its campaign), then the solutions it no longer names."""
    group = next(
        (g for g in _listed("list_dataset_groups", "datasetGroups") if g["name"] == pipeline.dataset_group), None
    )
    if group is None:
        return
    ours = [
        s
        for s in _listed("list_solutions", "solutions", datasetGroupArn=group["datasetGroupArn"])
        if pipeline.is_solution(s["name"])
    ]
    yield [
        _Found("campaign", c["name"], c["campaignArn"], c["status"], True)
        for s in ours
        for c in _listed("list_campaigns", "campaigns", solutionArn=s["solutionArn"])
        if pipeline.is_campaign(c["name"]) and c["name"] not in pipeline.kept_campaigns
    ]
    removed = [
        _Found("solution", s["name"], s["solutionArn"], s["status"], True)
        for s in ours
        if s["name"] not in pipeline.kept_solutions
    ]
    yield from _solution_stages(pipeline, removed)


def _stages(pipeline: Pipeline) -> Iterator[list[_Found]]:
    """The stages in dependency order, each listed only when every earlier one is empty."""
    group = next(
        (g for g in _listed("list_dataset_groups", "datasetGroups") if g["name"] == pipeline.dataset_group), None
    )
    if group is not None:
        group_arn = group["datasetGroupArn"]
        solutions = [
            _Found("solution", s["name"], s["solutionArn"], s["status"], pipeline.is_solution(s["name"]))
            for s in _listed("list_solutions", "solutions", datasetGroupArn=group_arn)
        ]
        yield from _solution_stages(pipeline, solutions)
        yield [
            _Found(
                "event tracker",
                t["name"],
                t["eventTrackerArn"],
                t["status"],
                t["name"].startswith(pipeline.owned_prefix),
            )
            for t in _listed("list_event_trackers", "eventTrackers", datasetGroupArn=group_arn)
        ] + [
            _Found("filter", f["name"], f["filterArn"], f["status"], f["name"].startswith(pipeline.owned_prefix))
            for f in _listed("list_filters", "Filters", datasetGroupArn=group_arn)
        ]
        yield [
            _Found(
                "dataset",
                d["name"],
                d["datasetArn"],
                d["status"],
                d["name"] in (pipeline.interactions_dataset, pipeline.items_dataset),
            )
            for d in _listed("list_datasets", "datasets", datasetGroupArn=group_arn)
        ]
    # Schemas belong to no dataset group: ours is found by its name even when the group is gone.
    yield [
        _Found("schema", s["name"], s["schemaArn"], SCHEMA_STATUS, True)
        for s in _listed("list_schemas", "schemas")
        if s["name"] == pipeline.interactions_schema or pipeline.is_items_schema(s["name"])
    ]
    if group is not None:
        yield [_Found("dataset group", group["name"], group["datasetGroupArn"], group["status"], True)]
