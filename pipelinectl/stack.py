"""The deployed pipeline, found by its CloudFormation stack's outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from contract.filters import parse_filter_expression
from contract.layout import STATE_KEY
from contract.names import PersonalizeNames
from contract.recipes import POPULAR_ITEMS, RELATED_ITEMS, USER_PERSONALIZATION
from pipelinectl.errors import NoSuchFilter, NoSuchSolution, StackNotFound, StackNotReady

REQUIRED_OUTPUTS = ("DataBucketName", "RawDataKey", "StateMachineArn", "ScheduleName", "PipelineName")
READY_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")


@dataclass(frozen=True)
class SolutionRef:
    """One solution of the deployed pipeline: its name in the config (None: the single one), its
    Personalize solution and campaign (None without one), and its recipe's type."""

    name: str | None
    solution: str
    campaign: str | None
    recipe_type: str
    # Whether its versions go to batch output (recommendations/<name>/latest.json with several).
    batch: bool = False

    @property
    def label(self) -> str:
        return self.name or "solution"


# What each kind of request asks a campaign of (contract/recipes.py REQUEST_BY_TYPE).
ANSWERS_USERS = (USER_PERSONALIZATION, POPULAR_ITEMS)
ANSWERS_ITEMS = (RELATED_ITEMS,)


@dataclass(frozen=True)
class PipelineStack:
    name: str
    bucket: str
    raw_key: str
    state_machine_arn: str
    schedule_name: str
    pipeline_name: str
    # deployment.targets; a stack deployed before batch output existed has only a campaign.
    targets: tuple[str, ...] = ("campaign",)
    # The configured filters, short name -> expression (none on a stack from before filters).
    filters: tuple[tuple[str, str], ...] = ()
    # Where the movie file is (data.itemsKey); None on a stack from before it: beside the ratings.
    items_key: str | None = None

    @property
    def has_campaign(self) -> bool:
        return "campaign" in self.targets

    @property
    def has_batch_output(self) -> bool:
        return "batch" in self.targets

    @property
    def names(self) -> PersonalizeNames:
        return PersonalizeNames(self.pipeline_name)

    # The stack output Solutions (a config that lists its solutions): name -> solution, campaign, type.
    listed_solutions: tuple[SolutionRef, ...] = ()

    @property
    def state_key(self) -> str:
        return STATE_KEY

    @property
    def solutions(self) -> tuple[SolutionRef, ...]:
        """Every solution: the listed ones, or the single one a config without ``solutions`` has."""
        if self.listed_solutions:
            return self.listed_solutions
        campaign = self.names.campaign if self.has_campaign else None
        return (SolutionRef(None, self.names.solution, campaign, USER_PERSONALIZATION, self.has_batch_output),)

    def solution(self, name: str | None, *, answering: tuple[str, ...] | None = None, what: str = "") -> SolutionRef:
        """The solution ``--solution`` names; without it the only one, or the first whose type answers
        the request (``answering``). A name that is not one, or a choice that is not clear, says which exist."""
        choices = ", ".join(f"{s.label} ({s.recipe_type})" for s in self.solutions)
        if name is not None:
            for solution in self.solutions:
                if solution.name == name:
                    return solution
            raise NoSuchSolution(f"pipeline {self.pipeline_name} has no solution {name}: its solutions are {choices}")
        candidates = [s for s in self.solutions if answering is None or s.recipe_type in answering]
        if len(self.solutions) == 1 and candidates:
            return candidates[0]
        if answering is not None and candidates:
            return candidates[0]
        if not candidates:
            raise NoSuchSolution(
                f"no solution of pipeline {self.pipeline_name} answers {what}: its solutions are {choices}"
            )
        raise NoSuchSolution(f"pipeline {self.pipeline_name} has several solutions: pass --solution (one of {choices})")


def choose_filter(stack: PipelineStack, *, genres: bool, exclude_seen: bool) -> str:
    """The Personalize name of the configured filter that does exactly what was asked: takes
    ``$GENRES`` (and no other value) when genres are given, leaves out what the user interacted with
    when asked to."""
    for name, expression in stack.filters:
        parsed = parse_filter_expression(expression)
        if parsed.parameters == (("GENRES",) if genres else ()) and parsed.excludes_interacted == exclude_seen:
            return f"{stack.names.filter_prefix}{name}"
    wanted = " and ".join(
        part for part, asked in (("leaves out what the user rated", exclude_seen), ("takes $GENRES", genres)) if asked
    )
    raise NoSuchFilter(
        f"no filter of this pipeline {wanted}: add one to the personalize.filters list in cdk.json (for example "
        '{"name": "unseen-genre", "expression": "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\\"*\\") | '
        'INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)"}) and deploy'
    )


def find_stack(cloudformation: Any, stack_name: str, region: str) -> PipelineStack:
    """The stack's outputs, or an error that says what to do about a missing or unfinished stack."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ValidationError":
            raise
        raise _not_found(cloudformation, stack_name, region) from None
    status = stack["StackStatus"]
    if status.endswith("_IN_PROGRESS") and status not in ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",):
        raise StackNotReady(f"stack {stack_name} is {status}: wait until the deployment finishes, then try again")
    if status not in READY_STATUSES and status != "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":
        raise StackNotReady(
            f"stack {stack_name} is {status}, not deployed: see its events in the CloudFormation console, "
            "fix the cause and deploy again (make deploy)"
        )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in REQUIRED_OUTPUTS if key not in outputs]
    if missing:
        raise StackNotFound(
            f"stack {stack_name} has no output {', '.join(missing)}: it is not this pipeline's stack "
            "(pass --stack-name), or an older version of it (deploy again with make deploy)"
        )
    return PipelineStack(
        name=stack_name,
        bucket=outputs["DataBucketName"],
        raw_key=outputs["RawDataKey"],
        state_machine_arn=outputs["StateMachineArn"],
        schedule_name=outputs["ScheduleName"],
        pipeline_name=outputs["PipelineName"],
        targets=tuple(outputs.get("DeploymentTargets", "campaign").split(",")),
        filters=tuple(json.loads(outputs.get("Filters", "{}")).items()),
        items_key=outputs.get("ItemsKey"),
        listed_solutions=tuple(
            SolutionRef(name, entry["solution"], entry.get("campaign"), entry["recipeType"], bool(entry.get("batch")))
            for name, entry in json.loads(outputs.get("Solutions", "{}")).items()
        ),
    )


def _not_found(cloudformation: Any, stack_name: str, region: str) -> StackNotFound:
    """A wrong name if another pipeline stack is here (say which), else not deployed here."""
    others = [
        stack["StackName"]
        for page in cloudformation.get_paginator("describe_stacks").paginate()
        for stack in page["Stacks"]
        if {"StateMachineArn", "PipelineName"} <= {o["OutputKey"] for o in stack.get("Outputs", [])}
    ]
    if others:
        pipelines = [
            o.removeprefix("PersonalizePipeline-") for o in sorted(others) if o.startswith("PersonalizePipeline-")
        ]
        hint = (
            f"pass --pipeline with one of {', '.join(pipelines)}" if pipelines else "pass --stack-name with that name"
        )
        return StackNotFound(
            f"no stack {stack_name} in {region}; the pipeline stack here is {', '.join(sorted(others))}: {hint}"
        )
    return StackNotFound(
        f"stack {stack_name} is not deployed in {region}: deploy it (make deploy), or pass --region/--profile "
        "for where it is, or --offline to try the tool against the simulator"
    )
