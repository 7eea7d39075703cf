"""The outcome event every run publishes: the same keys for every outcome (docs/runbook.md)."""

from __future__ import annotations

from typing import Any

from contract.events import OUTCOMES
from stacks.config import PipelineConfig

# The quality gate's numbers in an outcome event: the metric, this run's version and the version
# the campaign served when the gate compared them (null on the first deployment).
SUCCESS_METRICS = {
    "metric.$": "$.evaluation.metric",
    "trained.$": "$.evaluation.candidate",
    "served.$": "$.evaluation.current",
    "minimum.$": "$.evaluation.minimum",
}
REJECTION_METRICS = {
    "metric.$": "$.metric",
    "trained.$": "$.candidate",
    "served.$": "$.current",
    "minimum.$": "$.minimum",
}


def outcome_detail(
    config: PipelineConfig,
    outcome: str,
    *,
    reason: str | None,
    failed_stage: str | None = None,
    error: str | None = None,
    cause: str | None = None,
    metrics: dict[str, str] | None = None,
    solution_version_arn: str | None = None,
    campaign_arn: str | None = None,
    batch_output: str | None = None,
    deletion_requests: str | None = None,
    solutions: str | None = None,
) -> dict[str, Any]:
    """The detail of a run's outcome event: the same keys for every outcome, null where a run has no value.

    Each keyword is a JSONPath into the state at the publishing step (or None). Consumers can
    match on ``outcome`` and read every key without checking whether it exists. A deployment to
    batch adds ``batchOutput`` (the published manifest on success) to every outcome it publishes; a
    config with several solutions adds ``solutions``: each solution's outcome, once their branches ended.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}; got {outcome!r}")

    def field(name: str, path: str | None) -> dict[str, Any]:
        return {f"{name}.$": path} if path is not None else {name: None}

    return {
        "pipelineName": config.pipeline_name,
        "runName.$": "$$.Execution.Name",
        "executionArn.$": "$$.Execution.Id",
        "runStartedAt.$": "$$.Execution.StartTime",
        "outcome": outcome,
        **field("reason", reason),
        **field("failedStage", failed_stage),
        **field("error", error),
        **field("cause", cause),
        "metrics": metrics,
        **field("solutionVersionArn", solution_version_arn),
        **field("campaignArn", campaign_arn),
        # Users' deletion requests this run honoured (requests, job), once it got past them.
        **field("deletionRequests", deletion_requests),
        **(field("batchOutput", batch_output) if config.deployment.batch_job else {}),
        **(field("solutions", solutions) if config.several_solutions else {}),
    }


def failure_detail(
    config: PipelineConfig, *, deletion_requests: str | None = None, solutions: str | None = None
) -> dict[str, Any]:
    """A failed run's outcome: the stage, error and cause at ``$.failure`` (and what else it reached)."""
    return outcome_detail(
        config,
        "failed",
        reason=None,
        failed_stage="$.failure.Stage",
        error="$.failure.Error",
        cause="$.failure.Cause",
        deletion_requests=deletion_requests,
        solutions=solutions,
    )
