"""End-to-end: what the dashboard and the staleness alarm are fed, and the functions' JSON logs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3

from simulator.lambda_runtime import invoke_lambda
from simulator.offline import REGION, OfflinePipeline

NAMESPACE = "PersonalizePipeline"
METRIC = "normalized_discounted_cumulative_gain_at_10"


def metrics_sent(name: str) -> list[dict[str, Any]]:
    listed = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=NAMESPACE, MetricName=name)
    return [{d["Name"]: d["Value"] for d in metric["Dimensions"]} for metric in listed["Metrics"]]


def heartbeat(pipeline: OfflinePipeline) -> Any:
    """Invoke the heartbeat function with the input its hourly rule sends."""
    resources = pipeline.synthesized.template["Resources"]
    (function,) = [
        f for f in pipeline.synthesized.functions.values() if f.handler == "run_record.report_retraining_age"
    ]
    (rule,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in r["Properties"]
    ]
    separator, parts = rule["Targets"][0]["Input"]["Fn::Join"]
    text = separator.join(part if isinstance(part, str) else pipeline.bucket_name for part in parts)
    return invoke_lambda(
        function,
        json.loads(text),
        arn=f"arn:aws:lambda:{REGION}:123456789012:function:heartbeat",
        clock=pipeline.account.clock.now,
    )


def test_a_successful_run_reports_its_stage_durations_and_the_deployed_models_metric(pipeline: OfflinePipeline) -> None:
    pipeline.account.personalize.set_metrics(None, {METRIC: 0.2, "coverage": 0.2})

    pipeline.start_execution(name="week-1")

    stages = {m["Stage"] for m in metrics_sent("StageDuration")}
    assert {"DatasetGroup", "Dataset", "DatasetImportJob", "Solution", "SolutionVersion.FULL", "Campaign"} <= stages
    assert metrics_sent("DeployedModelMetric") == [{"PipelineName": "movielens", "Metric": METRIC}]


def test_the_heartbeat_reports_nothing_before_the_first_success_and_the_age_after_it(pipeline: OfflinePipeline) -> None:
    assert heartbeat(pipeline) == {"hoursSinceLastRetraining": None}
    assert metrics_sent("HoursSinceLastRetraining") == []

    pipeline.start_execution(name="week-1")
    recorded = pipeline.account.clock.now()
    just_after = heartbeat(pipeline)["hoursSinceLastRetraining"]
    pipeline.account.clock.advance(timedelta(days=3, hours=5).total_seconds())
    three_days_later = heartbeat(pipeline)["hoursSinceLastRetraining"]

    assert (just_after, three_days_later) == (0.0, 77.0)
    assert pipeline.account.clock.now() - recorded == timedelta(hours=77)
    assert metrics_sent("HoursSinceLastRetraining") == [{"PipelineName": "movielens"}]


def test_every_function_logs_json_records_with_their_fields_at_the_top_level(pipeline: OfflinePipeline) -> None:
    pipeline.start_execution(name="week-1")

    lines = [json.loads(line) for line in pipeline.function_logs.getvalue().splitlines()]

    assert len(lines) >= 10
    for line in lines:
        assert {"timestamp", "level", "message", "logger", "requestId"} <= set(line)
        assert "operation" in line, line
    prepared = [line for line in lines if line.get("operation") == "prepare_data"]
    assert prepared[0]["status"] == "ok" and prepared[0]["rowsWritten"] > 0
