"""What a run tells the world: its outcome event, and the metrics of the dashboard and alarms."""

from __future__ import annotations

# Every run puts exactly one event on the account's default bus (docs/runbook.md).
EVENT_SOURCE = "personalize-retraining"
EVENT_DETAIL_TYPE = "Retraining run finished"
OUTCOMES = ("succeeded", "failed", "skipped", "rejected")
# Every outcome event's detail has exactly these keys (null where they do not apply), whatever the
# outcome: consumers (rules, dashboards, the CLI) may rely on each being present.
OUTCOME_DETAIL_KEYS = frozenset(
    {
        "pipelineName",
        "runName",
        "executionArn",
        "runStartedAt",
        "outcome",
        "reason",
        "failedStage",
        "error",
        "cause",
        "metrics",
        "solutionVersionArn",
        "campaignArn",
        "deletionRequests",
    }
)

# CloudWatch namespace of the pipeline's own metrics; each carries the dimension PipelineName.
METRIC_NAMESPACE = "PersonalizePipeline"
# Creation-to-ACTIVE seconds of each stage (dimension Stage, training kept per mode).
STAGE_DURATION_METRIC = "StageDuration"
# The deployed model's quality-gate metric (dimension Metric).
DEPLOYED_MODEL_METRIC = "DeployedModelMetric"
# Hours since the last successful retraining, reported hourly by the heartbeat.
RETRAINING_AGE_METRIC = "HoursSinceLastRetraining"

# Where a failed run stopped, named in its event (``failedStage``): each Task belongs to one stage.
STAGE_INPUT = "run input"
STAGE_GUARD = "look for another run"
STAGE_PREPARE = "prepare data"
STAGE_DATASET_GROUP = "dataset group"
STAGE_DATASET = "interactions dataset"
STAGE_IMPORT = "dataset import"
STAGE_ITEMS_DATASET = "items dataset"
STAGE_ITEMS_IMPORT = "items import"
STAGE_DELETION = "data deletion"
STAGE_FILTERS = "filters"
STAGE_SOLUTION = "solution"
STAGE_TRAINING = "training"
STAGE_EVALUATION = "evaluation"
STAGE_CAMPAIGN = "campaign"
STAGE_SMOKE_TEST = "smoke test"
STAGE_BATCH_JOB = "batch inference job"
STAGE_BATCH_OUTPUT = "batch output"
STAGE_RECORD = "record"
# Several solutions: the run fails at this stage when any solution's branch failed.
STAGE_SOLUTIONS = "solutions"
STAGE_NOTIFICATION = "notification"
