"""The pipeline's campaign: what it serves, since when, how good it is; switching it back.

The campaign is found by the name the pipeline gives it (contract/names.py). Which versions it
served comes from the runs that deployed them (Personalize keeps no history of a campaign's
versions): pipelinectl.runs.deployed_runs.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contract.personalize import PENDING_STATUSES
from pipelinectl.errors import CampaignNotCreated, NothingToRollBack, RollbackFailed, RunInProgress
from pipelinectl.runs import Run, deployed_runs, list_executions, short_id
from pipelinectl.stack import PipelineStack, SolutionRef

CAMPAIGN_UPDATE_CHECK_SECONDS = 30
CAMPAIGN_UPDATE_MAX_CHECKS = 360  # three hours


@dataclass(frozen=True)
class ServedCampaign:
    arn: str
    name: str
    status: str
    solution_version_arn: str
    since: datetime
    update: dict[str, Any] | None  # latestCampaignUpdate, when there was one


def find_campaign(personalize: Any, stack: PipelineStack, solution: SolutionRef | None = None) -> dict[str, Any]:
    """DescribeCampaign of the solution's campaign (the single solution's by default), or CampaignNotCreated."""
    name = (solution or stack.solution(None)).campaign or stack.names.campaign
    for page in personalize.get_paginator("list_campaigns").paginate():
        for summary in page["campaigns"]:
            if summary["name"] == name:
                campaign: dict[str, Any] = personalize.describe_campaign(campaignArn=summary["campaignArn"])["campaign"]
                return campaign
    raise CampaignNotCreated(
        f"campaign {name} does not exist yet: the first successful run creates it (`python -m pipelinectl run --wait`)"
    )


def served_campaign(personalize: Any, stack: PipelineStack, solution: SolutionRef | None = None) -> ServedCampaign:
    campaign = find_campaign(personalize, stack, solution)
    if campaign["status"] in PENDING_STATUSES:
        raise CampaignNotCreated(
            f"campaign {campaign['name']} is being created ({campaign['status']}): "
            "try again when the run finishes (`python -m pipelinectl watch`)"
        )
    update = campaign.get("latestCampaignUpdate")
    since = campaign.get("lastUpdatedDateTime") or campaign["creationDateTime"]
    if update and update.get("status") == "ACTIVE":
        since = update["lastUpdatedDateTime"]
    return ServedCampaign(
        arn=campaign["campaignArn"],
        name=campaign["name"],
        status=campaign["status"],
        solution_version_arn=campaign["solutionVersionArn"],
        since=since,
        update=update,
    )


def metrics(personalize: Any, solution_version_arn: str) -> dict[str, float]:
    return dict(personalize.get_solution_metrics(solutionVersionArn=solution_version_arn).get("metrics", {}))


def run_that_deployed(runs: Iterator[Run], solution_version_arn: str) -> Run | None:
    return next((run for run in runs if run.solution_version_arn == solution_version_arn), None)


def rollback_target(
    stepfunctions: Any, personalize: Any, stack: PipelineStack, served_arn: str, solution: SolutionRef | None = None
) -> Run:
    """The deployed version before the served one (still ACTIVE), from the runs that deployed them."""
    name, resource = (solution.name, solution.solution) if solution is not None else (None, None)
    deployed = list(deployed_runs(stepfunctions, stack.state_machine_arn, name, resource))
    position = next((i for i, run in enumerate(deployed) if run.solution_version_arn == served_arn), None)
    older = deployed[position + 1 :] if position is not None else deployed
    for run in older:
        if run.solution_version_arn == served_arn:
            continue
        version = personalize.describe_solution_version(solutionVersionArn=run.solution_version_arn)["solutionVersion"]
        if version["status"] == "ACTIVE":
            return run
    raise NothingToRollBack(
        f"no earlier deployed version than {short_id(served_arn)} in the runs Step Functions keeps (90 days): "
        "nothing to roll back to"
    )


def refuse_while_running(stepfunctions: Any, stack: PipelineStack) -> None:
    for execution in list_executions(stepfunctions, stack.state_machine_arn):
        if execution["status"] == "RUNNING":
            raise RunInProgress(
                f"run {execution['name']} is in progress and may deploy a version: wait for it "
                "(`python -m pipelinectl watch`), then roll back"
            )


def switch_version(
    personalize: Any, campaign: ServedCampaign, solution_version_arn: str, wait: Callable[[float], None]
) -> dict[str, Any]:
    """UpdateCampaign to ``solution_version_arn`` and wait for latestCampaignUpdate to end.

    The campaign keeps the settings the pipeline deploys with (syncWithLatestSolutionVersion off,
    its provisioned throughput), so a rollback changes the version and nothing else. Right after
    the call DescribeCampaign may still show the previous update (register
    personalize.campaign-update.stale-read): only an update naming this version counts.
    """
    current = personalize.describe_campaign(campaignArn=campaign.arn)["campaign"]
    personalize.update_campaign(
        campaignArn=campaign.arn,
        solutionVersionArn=solution_version_arn,
        minProvisionedTPS=current["minProvisionedTPS"],
        campaignConfig={"syncWithLatestSolutionVersion": False},
    )
    for _ in range(CAMPAIGN_UPDATE_MAX_CHECKS):
        wait(CAMPAIGN_UPDATE_CHECK_SECONDS)
        update: dict[str, Any] = personalize.describe_campaign(campaignArn=campaign.arn)["campaign"].get(
            "latestCampaignUpdate", {}
        )
        if update.get("solutionVersionArn") != solution_version_arn:
            continue
        if update.get("status") == "ACTIVE":
            return update
        if update.get("status") not in PENDING_STATUSES:
            raise RollbackFailed(
                f"the campaign update ended {update.get('status')}: {update.get('failureReason', 'no reason given')}; "
                "the campaign keeps serving its previous version"
            )
    raise RollbackFailed(
        f"the campaign update is still {update.get('status')} after "
        f"{CAMPAIGN_UPDATE_CHECK_SECONDS * CAMPAIGN_UPDATE_MAX_CHECKS // 3600} hours: check it in the console"
    )


def user_in_training_data(s3: Any, interactions_uri: str, user_id: str) -> bool | None:
    """Whether ``user_id`` is in the interactions a version was trained on; None if the file is gone."""
    bucket, _, key = interactions_uri.removeprefix("s3://").partition("/")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except s3.exceptions.NoSuchKey:
        return None
    rows = csv.reader(codecs.iterdecode(body.iter_lines(keepends=True), "utf-8"))
    header = next(rows, [])
    column = header.index("USER_ID") if "USER_ID" in header else 0
    return any(len(row) > column and row[column] == user_id for row in rows)
