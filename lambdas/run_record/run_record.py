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
from datetime import datetime
from typing import Any, Final

from contract.event_fields import InvalidEventError, required_str
from contract.events import DEPLOYED_MODEL_METRIC, RETRAINING_AGE_METRIC, STAGE_DURATION_METRIC
from contract.logs import log_operation
from contract.personalize import TRAINING_MODES
from contract.readiness import SOLUTION_CHECKS
from contract.run_record import (
    SOLUTION_OUTCOMES,
    measured_stage_seconds,
    read_state,
    record_solution_training,
    record_training,
    run_outcome,
    solution_record,
    write_state,
)
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
    if "solutions" in event:
        return _record_solutions(event)
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
    training_mode = required_str(event, "trainingMode", " or ".join(TRAINING_MODES))
    bucket, key, run_started_at, started, polls, paths = _run_context(event)
    if isinstance(event.get("evaluation"), Mapping):
        run["evaluation"] = event["evaluation"]
    client = DEPENDENCIES.client("s3")
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
    # With several solutions (``solutions``: the ones the config lists now), the stalest one's last
    # successful retraining: the alarm is about any. A solution not trained yet adds nothing.
    listed = event.get("solutions")
    if listed is not None and (not isinstance(listed, list) or not all(isinstance(n, str) for n in listed)):
        raise InvalidEventError(f"field 'solutions' must list the config's solution names; got {listed!r}")
    records = [state] if listed is None else [solution_record(state, name) for name in listed]
    times = [r.get("lastSuccessfulRun", {}).get("recordedAt") for r in records if isinstance(r, Mapping)]
    recorded_at = min((t for t in times if isinstance(t, str) and t), key=parse_time, default=None)
    if not recorded_at:
        _log_event("report_retraining_age", status="no successful run recorded yet", state=f"s3://{bucket}/{key}")
        return {"hoursSinceLastRetraining": None}
    hours = round((DEPENDENCIES.now() - parse_time(recorded_at)).total_seconds() / 3600, 2)
    DEPENDENCIES.client("cloudwatch").put_metric_data(
        Namespace=namespace, MetricData=[_metric(RETRAINING_AGE_METRIC, hours, "None", pipeline)]
    )
    _log_event("report_retraining_age", status="ok", hoursSinceLastRetraining=hours, lastRetrainingAt=recorded_at)
    return {"hoursSinceLastRetraining": hours}


SOLUTION_STAGES: Final = frozenset(check.key for check in SOLUTION_CHECKS)


def _run_context(event: Mapping[str, Any]) -> tuple[str, str, str, datetime, Mapping[str, Any], Mapping[str, Any]]:
    """What both record steps take alike: the record's place, the run's start (text and time), and the
    Describe* answers with where each resource's times are."""
    bucket = required_str(event, "bucket", "an S3 bucket name")
    key = required_str(event, "stateKey", "an S3 key")
    run_started_at = required_str(event, "runStartedAt", "an ISO-8601 time")
    polls, paths = event.get("polls", {}), event.get("resourcePaths", {})
    if not isinstance(polls, Mapping) or not isinstance(paths, Mapping):
        raise InvalidEventError("fields 'polls' and 'resourcePaths' must be JSON objects when given")
    try:
        started = parse_time(run_started_at)
    except ValueError:
        raise InvalidEventError(f"field 'runStartedAt' must be an ISO-8601 time; got {run_started_at!r}") from None
    return bucket, key, run_started_at, started, polls, paths


def _record_solutions(event: Mapping[str, Any]) -> dict[str, Any]:
    """After every solution's branch (several solutions): record each trained solution in its part of
    the record, the shared stages' durations at the top, and decide the run's outcome.

    ``solutions`` is the Parallel state's output: one object per branch, with ``solution``,
    ``outcome`` (succeeded, rejected, failed, skipped) and what that outcome has (the version, the
    evaluation and the branch's ``polls``; the stage and cause of a failure). One writer for all
    solutions: the branches run at once and must not race on the record.
    """
    fingerprint = required_str(event, "dataFingerprint", "a non-empty string")
    execution = required_str(event, "executionName", "a non-empty string")
    import_job = required_str(event, "datasetImportJobArn", "a non-empty string")
    bucket, key, run_started_at, started, polls, paths = _run_context(event)
    branches = event["solutions"]
    if not isinstance(branches, list) or not all(
        isinstance(b, Mapping) and isinstance(b.get("solution"), str) and b.get("outcome") in SOLUTION_OUTCOMES
        for b in branches
    ):
        raise InvalidEventError(
            "field 'solutions' must list each branch's {solution, outcome: "
            + "|".join(SOLUTION_OUTCOMES)
            + "}; got "
            + repr(branches)[:500]
        )
    shared_paths = {stage: path for stage, path in paths.items() if stage not in SOLUTION_STAGES}
    solution_paths = {stage: path for stage, path in paths.items() if stage in SOLUTION_STAGES}
    client = DEPENDENCIES.client("s3")
    state: dict[str, Any] = dict(read_state(client, bucket, key))
    now = DEPENDENCIES.now()
    # A solution the config no longer lists: its record goes (added back later, it trains again).
    ran = {b["solution"] for b in branches}
    if isinstance(state.get("solutions"), Mapping):
        state["solutions"] = {name: part for name, part in state["solutions"].items() if name in ran}
    shared = measured_stage_seconds(polls, shared_paths, "FULL", created_since=started)
    state["stageSeconds"] = {**state.get("stageSeconds", {}), **shared}
    metrics = [
        _metric(STAGE_DURATION_METRIC, seconds, "Seconds", str(event.get("pipelineName")), Stage=stage)
        for stage, seconds in shared.items()
    ]
    summaries = []
    for branch in branches:
        name, outcome = branch["solution"], branch["outcome"]
        summary = {k: v for k, v in branch.items() if k != "polls"}
        summaries.append(summary)
        if outcome not in RECORD_OUTCOMES:
            continue
        mode = branch.get("trainingMode")
        if mode not in TRAINING_MODES:
            raise InvalidEventError(f"solution {name!r} trained without a trainingMode; got {mode!r}")
        branch_polls = branch.get("polls") if isinstance(branch.get("polls"), Mapping) else {}
        measured = measured_stage_seconds(branch_polls, solution_paths, mode, created_since=started)
        run = {
            "dataFingerprint": fingerprint,
            "executionName": execution,
            "datasetImportJobArn": import_job,
            "solutionVersionArn": required_str(branch, "solutionVersionArn", "the trained version's ARN"),
            **({"campaignArn": branch["campaignArn"]} if outcome == "succeeded" and branch.get("campaignArn") else {}),
            **({"evaluation": branch["evaluation"]} if isinstance(branch.get("evaluation"), Mapping) else {}),
        }
        batch_output = branch.get("batchOutput")
        if (
            outcome == "succeeded"
            and isinstance(batch_output, Mapping)
            and isinstance(batch_output.get("outputPrefix"), str)
        ):
            run["batchOutputPrefix"] = batch_output["outputPrefix"]
        new_record = record_training(
            solution_record(state, name),
            outcome=outcome,
            run=run,
            training_mode=mode,
            run_started_at=run_started_at,
            stage_seconds=measured,
            recorded_at=now,
        )
        state = record_solution_training(state, name, new_record)
        pipeline = str(event.get("pipelineName"))
        metrics += [
            _metric(STAGE_DURATION_METRIC, seconds, "Seconds", pipeline, Stage=stage, Solution=name)
            for stage, seconds in measured.items()
        ]
        evaluation = branch.get("evaluation")
        value = evaluation.get("candidate", {}).get("value") if isinstance(evaluation, Mapping) else None
        if outcome == "succeeded" and isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics.append(
                _metric(
                    DEPLOYED_MODEL_METRIC, value, "None", pipeline, Metric=str(evaluation.get("metric")), Solution=name
                )
            )
    write_state(client, bucket, key, state)
    if "metricNamespace" in event and metrics:
        namespace = required_str(event, "metricNamespace", "a CloudWatch namespace")
        DEPENDENCIES.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=metrics)
    outcome = run_outcome([b["outcome"] for b in branches])
    failed = [b for b in branches if b["outcome"] == "failed"]
    result = {
        "outcome": outcome,
        "reason": "; ".join(_solution_reason(b) for b in branches),
        "failure": {
            "Error": "SolutionFailed",
            "Cause": "; ".join(
                f"{b['solution']} failed in {b.get('failedStage')}: {b.get('error')}: {b.get('cause')}" for b in failed
            ),
        }
        if failed
        else None,
        "solutions": summaries,
    }
    _log_event(
        "record_run",
        status="ok",
        state=f"s3://{bucket}/{key}",
        outcome=outcome,
        solutions={b["solution"]: b["outcome"] for b in branches},
    )
    return result


def _solution_reason(branch: Mapping[str, Any]) -> str:
    """One solution's outcome in a sentence, for the run's reason."""
    name, outcome = branch["solution"], branch["outcome"]
    if outcome == "failed":
        return f"{name}: failed in {branch.get('failedStage')} ({branch.get('error')})"
    if outcome == "skipped":
        return f"{name}: skipped ({branch.get('reason')})"
    verb = "deployed" if outcome == "succeeded" else "rejected"
    return f"{name}: {verb} ({branch.get('reason')})"


def _metric(name: str, value: float, unit: str, pipeline: str, **dimensions: str) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": "PipelineName", "Value": pipeline}]
        + [{"Name": key, "Value": item} for key, item in dimensions.items()],
        "Value": float(value),
        "Unit": unit,
    }
