"""The run record's handlers (lambdas/run_record): the workflow's record step and the hourly heartbeat."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import prepare_data
import pytest
import run_record

from contract.event_fields import InvalidEventError
from contract.readiness import TRAINING_READY

BUCKET = "pipeline-data-bucket"
RAW_KEY = "raw/ml-100k/u.data"
STATE_KEY = "state/pipeline-state.json"
_DROP = object()


def plan_next_run(s3: Any, training_mode: str = "UPDATE") -> dict[str, Any]:
    """What the data preparation plans from the record for new ratings (u.data rows), a week on,
    with training polled every 5 minutes unless the record says better."""
    polling = {TRAINING_READY.key: {"intervalSeconds": 300, "maxChecks": 288}}
    prepare: dict[str, Any] = {
        "bucket": BUCKET,
        "rawKey": RAW_KEY,
        "format": "ml-100k",
        "minRating": 4,
        "outputKey": "training/run-2/interactions.csv",
        "stateKey": STATE_KEY,
        "plan": {
            "trainingMode": training_mode,
            "fullRetrainEveryDays": 7,
            "runStartedAt": "2026-03-10T06:00:00Z",
            "polling": polling,
        },
    }
    planned: dict[str, Any] = prepare_data.handler(prepare, s3=s3)["plan"]
    return planned


def record_event(**overrides: Any) -> dict[str, Any]:
    base = {
        "bucket": BUCKET,
        "stateKey": STATE_KEY,
        "outcome": "succeeded",
        "dataFingerprint": "f1",
        "executionName": "week-1",
        "runStartedAt": "2026-03-03T06:00:00Z",
        "trainingMode": "FULL",
        "datasetImportJobArn": "arn:import",
        "solutionVersionArn": "arn:version",
        "campaignArn": "arn:campaign",
        "evaluation": {"passed": True, "metric": "coverage"},
        "polls": {
            "SolutionVersion": {
                "SolutionVersion": {
                    "Status": "ACTIVE",
                    "CreationDateTime": "2026-03-03T06:20:00Z",
                    "LastUpdatedDateTime": "2026-03-03T08:20:00Z",
                }
            }
        },
        "resourcePaths": {"SolutionVersion": "SolutionVersion"},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not _DROP}


def test_record_run_then_plan_uses_what_was_learned(s3: Any) -> None:
    version = {
        "Status": "ACTIVE",
        "CreationDateTime": "2026-03-05T06:20:00Z",
        "LastUpdatedDateTime": "2026-03-05T08:20:00Z",
    }
    recorded = run_record.record_run(
        record_event(runStartedAt="2026-03-05T06:00:00Z", polls={"SolutionVersion": {"SolutionVersion": version}}),
        s3=s3,
    )
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=b"1\t10\t5\t100\n2\t10\t5\t101\n")

    planned = plan_next_run(s3)

    assert recorded == {"outcome": "succeeded", "trainingMode": "FULL", "stageSeconds": {"SolutionVersion.FULL": 7200}}
    assert planned["trainingMode"] == "UPDATE"
    # Only a FULL training was measured: an UPDATE run polls at the configured interval.
    assert planned["waits"] == {"SolutionVersion": {"firstSeconds": 300, "intervalSeconds": 300}}
    full_plan = plan_next_run(s3, "FULL")
    assert full_plan["waits"] == {"SolutionVersion": {"firstSeconds": 6840, "intervalSeconds": 180}}
    state = json.loads(s3.get_object(Bucket=BUCKET, Key=STATE_KEY)["Body"].read())
    assert state["lastSuccessfulRun"]["evaluation"] == {"passed": True, "metric": "coverage"}
    assert state["lastFullTraining"] == {"at": "2026-03-05T06:00:00Z", "solutionVersionArn": "arn:version"}


def test_a_rejected_run_needs_no_campaign(s3: Any) -> None:
    result = run_record.record_run(record_event(outcome="rejected", campaignArn=_DROP), s3=s3)

    assert result["outcome"] == "rejected"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"outcome": "skipped"}, "field 'outcome' must be one of succeeded, rejected; got 'skipped'"),
        ({"campaignArn": _DROP}, "field 'campaignArn' is missing"),
        ({"polls": []}, "fields 'polls' and 'resourcePaths' must be JSON objects"),
    ],
)
def test_record_run_rejects_a_malformed_event(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        run_record.record_run(record_event(**overrides), s3=object())
    assert expected in str(caught.value)


# --- metrics for the dashboard and the staleness alarm ------------------------------------------


class RecordingCloudWatch:
    """Stands in for the CloudWatch client: keeps what was sent (botocore validates shapes in e2e runs)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def put_metric_data(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        return {}


def test_record_run_sends_stage_durations_and_the_deployed_models_metric(s3: Any) -> None:
    cloudwatch = RecordingCloudWatch()
    evaluation = {
        "passed": True,
        "metric": "coverage",
        "candidate": {"solutionVersionArn": "arn:version", "value": 0.25},
    }

    run_record.record_run(
        record_event(metricNamespace="PersonalizePipeline", pipelineName="movielens", evaluation=evaluation),
        s3=s3,
        cloudwatch=cloudwatch,
    )

    assert cloudwatch.sent == [
        {
            "Namespace": "PersonalizePipeline",
            "MetricData": [
                {
                    "MetricName": "StageDuration",
                    "Dimensions": [
                        {"Name": "PipelineName", "Value": "movielens"},
                        {"Name": "Stage", "Value": "SolutionVersion.FULL"},
                    ],
                    "Value": 7200.0,
                    "Unit": "Seconds",
                },
                {
                    "MetricName": "DeployedModelMetric",
                    "Dimensions": [
                        {"Name": "PipelineName", "Value": "movielens"},
                        {"Name": "Metric", "Value": "coverage"},
                    ],
                    "Value": 0.25,
                    "Unit": "None",
                },
            ],
        }
    ]


def test_a_rejected_version_is_not_reported_as_the_deployed_model(s3: Any) -> None:
    cloudwatch = RecordingCloudWatch()
    evaluation = {
        "passed": False,
        "metric": "coverage",
        "candidate": {"solutionVersionArn": "arn:version", "value": 0.1},
    }

    run_record.record_run(
        record_event(
            outcome="rejected",
            campaignArn=_DROP,
            metricNamespace="PersonalizePipeline",
            pipelineName="movielens",
            evaluation=evaluation,
        ),
        s3=s3,
        cloudwatch=cloudwatch,
    )

    assert [m["MetricName"] for m in cloudwatch.sent[0]["MetricData"]] == ["StageDuration"]


def test_the_record_keeps_the_previously_deployed_version_for_a_rollback(s3: Any) -> None:
    run_record.record_run(record_event(solutionVersionArn="arn:version-1", executionName="week-1"), s3=s3)
    run_record.record_run(
        record_event(solutionVersionArn="arn:version-2", executionName="week-2", dataFingerprint="f2"), s3=s3
    )
    run_record.record_run(
        record_event(
            outcome="rejected",
            campaignArn=_DROP,
            solutionVersionArn="arn:version-3",
            executionName="week-3",
            dataFingerprint="f3",
        ),
        s3=s3,
    )

    state = json.loads(s3.get_object(Bucket=BUCKET, Key=STATE_KEY)["Body"].read())
    assert state["lastSuccessfulRun"]["solutionVersionArn"] == "arn:version-2"
    assert state["previousSuccessfulRun"]["solutionVersionArn"] == "arn:version-1"


def age_event() -> dict[str, Any]:
    return {
        "bucket": BUCKET,
        "stateKey": STATE_KEY,
        "metricNamespace": "PersonalizePipeline",
        "pipelineName": "movielens",
    }


def test_the_heartbeat_reports_the_exact_hours_since_the_recorded_retraining_over_days(s3: Any) -> None:
    """A week-long simulated stretch, one heartbeat a day: the metric grows by 24 each time,
    and a new record (the next weekly retraining) resets it."""
    trained = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    run_record.record_run(record_event(runStartedAt="2026-03-02T05:40:00Z"), s3=s3, clock=lambda: trained)
    cloudwatch = RecordingCloudWatch()

    hours = [
        run_record.report_retraining_age(
            age_event(), s3=s3, cloudwatch=cloudwatch, clock=lambda day=day: trained + timedelta(days=day, minutes=30)
        )["hoursSinceLastRetraining"]
        for day in range(8)
    ]
    retrained = trained + timedelta(days=7, hours=1)
    run_record.record_run(
        record_event(runStartedAt="2026-03-09T06:40:00Z", executionName="week-2"), s3=s3, clock=lambda: retrained
    )
    after = run_record.report_retraining_age(
        age_event(), s3=s3, cloudwatch=cloudwatch, clock=lambda: retrained + timedelta(hours=2)
    )

    assert hours == [0.5, 24.5, 48.5, 72.5, 96.5, 120.5, 144.5, 168.5]
    assert after == {"hoursSinceLastRetraining": 2.0}
    assert cloudwatch.sent[0] == {
        "Namespace": "PersonalizePipeline",
        "MetricData": [
            {
                "MetricName": "HoursSinceLastRetraining",
                "Dimensions": [{"Name": "PipelineName", "Value": "movielens"}],
                "Value": 0.5,
                "Unit": "None",
            }
        ],
    }
    assert [request["MetricData"][0]["Value"] for request in cloudwatch.sent] == [*hours, 2.0]


def test_before_the_first_successful_run_the_heartbeat_sends_nothing(s3: Any) -> None:
    cloudwatch = RecordingCloudWatch()

    assert run_record.report_retraining_age(age_event(), s3=s3, cloudwatch=cloudwatch) == {
        "hoursSinceLastRetraining": None
    }
    assert cloudwatch.sent == []


def test_the_heartbeat_rejects_an_event_without_its_namespace() -> None:
    with pytest.raises(InvalidEventError, match="metricNamespace"):
        run_record.report_retraining_age({**age_event(), "metricNamespace": ""}, s3=object(), cloudwatch=object())


def test_with_several_solutions_the_heartbeat_reports_the_stalest_solution(s3: Any) -> None:
    """NoRecentRetraining covers each solution: one that stopped retraining ages while the others do not."""
    from contract.run_record import write_state

    write_state(
        s3,
        BUCKET,
        STATE_KEY,
        {
            "version": 2,
            "solutions": {
                "picks": {"lastSuccessfulRun": {"recordedAt": "2026-03-09T06:00:00+00:00"}},
                "similar": {"lastSuccessfulRun": {"recordedAt": "2026-03-02T06:00:00+00:00"}},
                "mail": {},
            },
        },
    )
    cloudwatch = RecordingCloudWatch()

    now = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)

    result = run_record.report_retraining_age(
        {**age_event(), "solutions": ["picks", "similar", "mail"]}, s3=s3, cloudwatch=cloudwatch, clock=lambda: now
    )
    # A solution the config no longer lists does not age the metric (its record stays until the next run).
    without = run_record.report_retraining_age(
        {**age_event(), "solutions": ["picks", "mail"]}, s3=s3, cloudwatch=cloudwatch, clock=lambda: now
    )

    assert result == {"hoursSinceLastRetraining": 170.0}
    assert without == {"hoursSinceLastRetraining": 2.0}
