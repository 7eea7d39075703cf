"""The end of a run that deployed its version: record it, summarize it, publish the success event."""

from __future__ import annotations

from typing import Any

from stacks.workflow.builder import WorkflowBuilder
from stacks.workflow.outcomes import SUCCESS_METRICS, outcome_detail
from stacks.workflow.sdk import Chain, Pass, State, Succeed


def build_success(b: WorkflowBuilder) -> State:
    """Returns the phase's first state, ``Record successful run``."""
    config = b.config
    deployment = config.deployment
    record_run = b.record_run("Record successful run", "succeeded")
    campaign: dict[str, Any] = (
        {"campaignArn.$": "$.campaign.arn", "campaignAction.$": "$.campaign.action"} if deployment.campaign else {}
    )
    summarize = Pass(
        "Summarize run",
        parameters={
            "outcome": "succeeded",
            **campaign,
            "solutionVersionArn.$": "$.solutionVersion.arn",
            "trainingMode.$": "$.data.plan.trainingMode",
            "trainingModeReason.$": "$.data.plan.trainingModeReason",
            "datasetImportJobArn.$": "$.importJob.arn",
            "evaluation.$": "$.evaluation",
            "data.$": "$.data",
            "deletionRequests.$": "$.deletion",
            **({"recommendations.$": "$.smokeTest"} if deployment.campaign else {}),
            **({"batchOutput.$": "$.batchManifest"} if deployment.batch_job else {}),
        },
    )
    publish_success = b.publish_outcome(
        "Publish success",
        outcome_detail(
            config,
            "succeeded",
            reason="$.evaluation.reason",
            metrics=SUCCESS_METRICS,
            solution_version_arn="$.solutionVersionArn",
            campaign_arn="$.campaignArn" if deployment.campaign else None,
            batch_output="$.batchOutput" if deployment.batch_job else None,
            deletion_requests="$.deletionRequests",
        ),
        Succeed("Run succeeded"),
    )
    Chain([record_run, summarize, publish_success])
    return record_run
