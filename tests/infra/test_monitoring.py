"""Alarms, the retraining-age heartbeat and the dashboard (stacks/monitoring.py).

Expected values are written out here, not read back from the code under test.
"""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    FUNCTION_LOG_ACTIONS,
    FUNCTION_XRAY_ACTIONS,
    Json,
    bucket_id,
    encrypted,
    heartbeat_function_id,
    only_resource,
    render,
    resources_of_type,
    role_actions,
    role_statements,
    workflow_state_machine,
)

# --- alarms and dashboard -------------------------------------------------------------------


def alarms(pipeline: SynthesizedPipeline) -> dict[str, Json]:
    """Alarm properties by metric name."""
    found = {}
    for alarm in resources_of_type(pipeline, "AWS::CloudWatch::Alarm").values():
        found[alarm["Properties"]["MetricName"]] = alarm["Properties"]
    assert len(found) == 3, sorted(found)
    return found


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut"])
def test_a_failed_or_timed_out_execution_alarms_within_five_minutes(pipeline: SynthesizedPipeline, metric: str) -> None:
    state_machine_id, _ = workflow_state_machine(pipeline)
    alarm = alarms(pipeline)[metric]

    assert {key: alarm[key] for key in alarm if key not in ("AlarmDescription", "AlarmActions")} == {
        "Namespace": "AWS/States",
        "MetricName": metric,
        "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": state_machine_id}}],
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }
    assert alarm["AlarmActions"] == [{"Ref": only_resource(pipeline, "AWS::SNS::Topic")[0]}]
    assert "docs/runbook.md" in alarm["AlarmDescription"]


@pytest.mark.parametrize(
    ("synthesized", "threshold_hours"),
    # rate(7 days) and cron(0 3 ? * MON *) both allow a week between runs, plus a day.
    [("default_pipeline", 192), ("custom_pipeline", 192)],
    ids=["default", "custom"],
)
def test_no_recent_retraining_alarms_when_the_schedule_is_overdue_or_the_heartbeat_is_silent(
    request: pytest.FixtureRequest, synthesized: str, threshold_hours: int
) -> None:
    pipeline: SynthesizedPipeline = request.getfixturevalue(synthesized)
    alarm = alarms(pipeline)["HoursSinceLastRetraining"]
    topic = {"Ref": only_resource(pipeline, "AWS::SNS::Topic")[0]}

    assert {key: alarm[key] for key in alarm if key != "AlarmDescription"} == {
        "Namespace": "PersonalizePipeline",
        "MetricName": "HoursSinceLastRetraining",
        "Dimensions": [{"Name": "PipelineName", "Value": pipeline.config.pipeline_name}],
        "Statistic": "Maximum",
        "Period": 3600,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": threshold_hours,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "breaching",
        "AlarmActions": [topic],
        "OKActions": [topic],
    }


def test_the_staleness_threshold_follows_the_schedule(variations_pipeline: SynthesizedPipeline) -> None:
    daily = variations_pipeline

    assert alarms(daily)["HoursSinceLastRetraining"]["Threshold"] == 48


def test_an_hourly_heartbeat_reports_the_age_of_the_last_retraining(pipeline: SynthesizedPipeline) -> None:
    function_id = heartbeat_function_id(pipeline)
    (rule,) = [
        r["Properties"]
        for r in resources_of_type(pipeline, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    (target,) = rule["Targets"]

    assert rule["ScheduleExpression"] == "rate(1 hour)"
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    # The input is JSON text with the bucket's name joined in at deploy time.
    text = render(target["Input"]).replace(f"${{{bucket_id(pipeline)}}}", "<bucket>")
    assert json.loads(text) == {
        "bucket": "<bucket>",
        "stateKey": "state/pipeline-state.json",
        "metricNamespace": "PersonalizePipeline",
        "pipelineName": pipeline.config.pipeline_name,
    }


def test_the_heartbeat_reads_only_the_state_record_and_puts_only_its_metric(pipeline: SynthesizedPipeline) -> None:
    function = pipeline.resources[heartbeat_function_id(pipeline)]["Properties"]
    role_id = function["Role"]["Fn::GetAtt"][0]
    bucket = bucket_id(pipeline)
    statements = role_statements(pipeline, role_id)

    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert role_actions(pipeline, role_id) == {
        "s3:GetObject",
        "s3:ListBucket",
        "cloudwatch:PutMetricData",
    } | FUNCTION_LOG_ACTIONS | FUNCTION_XRAY_ACTIONS | ({"kms:Decrypt"} if encrypted(pipeline) else set())
    readable = {r for s in statements if "s3:GetObject" in s.actions for r in s.resources}
    assert readable == {f"${{{bucket}.Arn}}/state/pipeline-state.json"}


def test_the_dashboard_shows_outcomes_stage_durations_and_the_deployed_models_metric(
    pipeline: SynthesizedPipeline,
) -> None:
    _, dashboard = only_resource(pipeline, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"])

    for expected in (
        "MatchedEvents",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "StageDuration",
        "SolutionVersion.FULL",
        "DatasetImportJob",
        "CampaignUpdate",
        "DeployedModelMetric",
        pipeline.config.quality_gate.metric,
        "HoursSinceLastRetraining",
    ):
        assert expected in body, expected
