"""Lambda: the run record's two writers and readers besides the data preparation.

- ``record_run``, the workflow's last step after a training: what was trained, deployed and
  learned goes into the run record (contract/run_record.py), and the stage durations and the
  deployed model's metric go to CloudWatch for the dashboard.
- ``report_retraining_age``, the hourly heartbeat: the hours since the last successful
  retraining, the metric the staleness alarm watches.

Both take their S3 and CloudWatch clients and their clock from :data:`DEPENDENCIES` (handed in
by tests and the offline simulator).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from contract.event_fields import InvalidEventError, required_str
from contract.events import DEPLOYED_MODEL_METRIC, RETRAINING_AGE_METRIC, STAGE_DURATION_METRIC
from contract.logs import log_operation
from contract.personalize import TRAINING_MODES
from contract.run_record import measured_stage_seconds, read_state, record_training, write_state
from contract.runtime import Dependencies
from contract.timestamps import parse_time

logger = logging.getLogger()
logger.setLevel(logging.INFO)

DEPENDENCIES = Dependencies("run_record")


def _log_event(operation: str, **fields: Any) -> None:
    log_operation(logger, operation, **fields)


RECORD_OUTCOMES: Final = ("succeeded", "rejected")


@DEPENDENCIES.entry_point
def record_run(event: Any, context: Any = None) -> dict[str, Any]:
    """Last step of a run that trained a version: remember what was trained, deployed and learned.

    ``outcome`` is ``succeeded`` (the campaign now serves the version, or its batch output is
    published: ``campaignArn``, ``batchOutput`` or both) or ``rejected`` (the quality gate kept
    the previous one). ``polls`` are the run's last Describe* answers per
    readiness check and ``resourcePaths`` where in each the resource's times are. With
    ``metricNamespace`` and ``pipelineName``, each measured stage's duration and, when the
    version is deployed, its quality-gate metric go to CloudWatch for the dashboard.
    """
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"event must be a JSON object; got {type(event).__name__}")
    outcome = required_str(event, "outcome", " or ".join(RECORD_OUTCOMES))
    if outcome not in RECORD_OUTCOMES:
        raise InvalidEventError(f"field 'outcome' must be one of {', '.join(RECORD_OUTCOMES)}; got {outcome!r}")
    required = ["dataFingerprint", "executionName", "datasetImportJobArn", "solutionVersionArn"]
    # A deployed version went to the campaign, to batch output, or both (deployment.targets).
    if outcome == "succeeded" and "batchOutput" not in event:
        required.append("campaignArn")
    if outcome == "succeeded" and "campaignArn" in event:
        required.append("campaignArn")
    run: dict[str, Any] = {name: required_str(event, name, "a non-empty string") for name in dict.fromkeys(required)}
    if outcome == "succeeded" and "batchOutput" in event:
        batch_output = event["batchOutput"]
        if not isinstance(batch_output, Mapping) or not isinstance(batch_output.get("outputPrefix"), str):
            raise InvalidEventError(f"field 'batchOutput' must be the published manifest; got {batch_output!r}")
        run["batchOutputPrefix"] = batch_output["outputPrefix"]
    bucket = required_str(event, "bucket", "an S3 bucket name")
    key = required_str(event, "stateKey", "an S3 key")
    training_mode = required_str(event, "trainingMode", " or ".join(TRAINING_MODES))
    run_started_at = required_str(event, "runStartedAt", "an ISO-8601 time")
    polls, paths = event.get("polls", {}), event.get("resourcePaths", {})
    if not isinstance(polls, Mapping) or not isinstance(paths, Mapping):
        raise InvalidEventError("fields 'polls' and 'resourcePaths' must be JSON objects when given")
    if isinstance(event.get("evaluation"), Mapping):
        run["evaluation"] = event["evaluation"]
    client = DEPENDENCIES.client("s3")
    try:
        started = parse_time(run_started_at)
    except ValueError:
        raise InvalidEventError(f"field 'runStartedAt' must be an ISO-8601 time; got {run_started_at!r}") from None
    measured = measured_stage_seconds(polls, paths, training_mode, created_since=started)
    state = record_training(
        read_state(client, bucket, key),
        outcome=outcome,
        run=run,
        training_mode=training_mode,
        run_started_at=run_started_at,
        stage_seconds=measured,
        recorded_at=DEPENDENCIES.now(),
    )
    write_state(client, bucket, key, state)
    if "metricNamespace" in event:
        namespace = required_str(event, "metricNamespace", "a CloudWatch namespace")
        pipeline = required_str(event, "pipelineName", "the pipeline's name")
        data = [
            _metric(STAGE_DURATION_METRIC, seconds, "Seconds", pipeline, Stage=stage)
            for stage, seconds in measured.items()
        ]
        evaluation = event.get("evaluation")
        if (
            outcome == "succeeded"
            and isinstance(evaluation, Mapping)
            and isinstance(evaluation.get("candidate"), Mapping)
        ):
            value = evaluation["candidate"].get("value")
            if isinstance(value, (int, float)):
                data.append(
                    _metric(DEPLOYED_MODEL_METRIC, value, "None", pipeline, Metric=str(evaluation.get("metric")))
                )
        if data:
            DEPENDENCIES.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=data)
    _log_event("record_run", status="ok", state=f"s3://{bucket}/{key}", outcome=outcome, stageSeconds=measured)
    return {"outcome": outcome, "trainingMode": training_mode, "stageSeconds": measured}


@DEPENDENCIES.entry_point
def report_retraining_age(event: Any, context: Any = None) -> dict[str, Any]:
    """Hourly heartbeat: how long ago the last successful retraining was recorded, as a metric.

    The staleness alarm needs a data point every hour whatever the schedule (CloudWatch alarms
    look back at most seven days, and a weekly schedule needs more). Before the first
    successful run there is nothing to measure and nothing is sent: the alarm treats missing
    data as breaching, so a pipeline that never succeeds, or a heartbeat that stopped, alarms too.
    """
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"event must be a JSON object; got {type(event).__name__}")
    bucket = required_str(event, "bucket", "an S3 bucket name")
    key = required_str(event, "stateKey", "an S3 key")
    namespace = required_str(event, "metricNamespace", "a CloudWatch namespace")
    pipeline = required_str(event, "pipelineName", "the pipeline's name")
    state = read_state(DEPENDENCIES.client("s3"), bucket, key)
    recorded_at = (state.get("lastSuccessfulRun") or {}).get("recordedAt")
    if not recorded_at:
        _log_event("report_retraining_age", status="no successful run recorded yet", state=f"s3://{bucket}/{key}")
        return {"hoursSinceLastRetraining": None}
    hours = round((DEPENDENCIES.now() - parse_time(recorded_at)).total_seconds() / 3600, 2)
    DEPENDENCIES.client("cloudwatch").put_metric_data(
        Namespace=namespace, MetricData=[_metric(RETRAINING_AGE_METRIC, hours, "None", pipeline)]
    )
    _log_event("report_retraining_age", status="ok", hoursSinceLastRetraining=hours, lastRetrainingAt=recorded_at)
    return {"hoursSinceLastRetraining": hours}


def _metric(name: str, value: float, unit: str, pipeline: str, **dimensions: str) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": "PipelineName", "Value": pipeline}]
        + [{"Name": key, "Value": item} for key, item in dimensions.items()],
        "Value": float(value),
        "Unit": unit,
    }
