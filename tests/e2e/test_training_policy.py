"""End-to-end: which training a run starts, whether its version is promoted, how long it waits.

Training modes and the quality gate need a non-default config (a recipe that supports
UPDATE, a metric floor): the suite's variations config, synthesized once through the real entry point.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from simulator.cloud_assembly import SynthesizedPipeline, load_synthesized_pipeline
from simulator.interpreter import ExecutionResult
from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline
from simulator.sample_data import generate_ratings, to_u_data
from tests.conftest import VARIATIONS_BLOCK, synthesize
from tests.e2e.conftest import deployed_with_ratings

ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}"
METRIC = VARIATIONS_BLOCK["qualityGate"]["metric"]


@pytest.fixture(scope="module")
def update_mode(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    return load_synthesized_pipeline(synthesize(tmp_path_factory, VARIATIONS_BLOCK))


@pytest.fixture
def incremental(update_mode: SynthesizedPipeline) -> Iterator[OfflinePipeline]:
    with deployed_with_ratings(update_mode) as deployed:
        yield deployed


def training_modes(pipeline: OfflinePipeline) -> list[str]:
    return [p["trainingMode"] for name, p in pipeline.account.personalize.calls if name == "CreateSolutionVersion"]


def operations(pipeline: OfflinePipeline, name: str) -> list[dict[str, Any]]:
    return [params for op, params in pipeline.account.personalize.calls if op == name]


def new_ratings_arrive(pipeline: OfflinePipeline, day: int) -> None:
    ratings = generate_ratings() + generate_ratings(users=30, seed=day, first_user=1000 + 30 * day)
    pipeline.upload_raw_data(to_u_data(ratings))


def served_version(pipeline: OfflinePipeline) -> str:
    (campaign,) = pipeline.account.personalize.resources_of("campaign")
    return campaign["solutionVersionArn"]


def state_record(pipeline: OfflinePipeline) -> dict[str, Any]:
    body = pipeline.account.s3().get_object(Bucket=pipeline.bucket_name, Key="state/pipeline-state.json")["Body"]
    return json.loads(body.read())


def metrics(value: float) -> dict[str, float]:
    return {METRIC: value, "coverage": 0.2, "precision_at_10": 0.05}


# --- training modes ----------------------------------------------------------------------------


def test_update_mode_trains_full_first_then_update_then_full_at_the_floor(incremental: OfflinePipeline) -> None:
    pipeline = incremental
    runs = [pipeline.start_execution(name="day-0")]
    for day, gap in ((1, 1), (3, 2), (8, 5)):
        new_ratings_arrive(pipeline, day)
        runs.append(pipeline.start_execution(name=f"day-{day}", gap=timedelta(days=gap)))

    assert [r.output["outcome"] for r in runs] == ["succeeded"] * 4, runs[-1].cause
    assert training_modes(pipeline) == ["FULL", "UPDATE", "UPDATE", "FULL"]
    reasons = [r.output["trainingModeReason"] for r in runs]
    assert reasons[0] == "no FULL-trained model is deployed yet; UPDATE needs one to build on"
    assert reasons[1].startswith("the last FULL training was 1.1 days ago (floor: 7 days)")
    assert reasons[3].startswith("the last FULL training was 8.")
    assert reasons[3].endswith("a FULL retrain is due every 7 days (fullRetrainEveryDays)")
    assert state_record(pipeline)["lastFullTraining"]["solutionVersionArn"] == runs[3].output["solutionVersionArn"]


def test_a_rejected_full_version_does_not_reset_the_floor(incremental: OfflinePipeline) -> None:
    pipeline = incremental
    pipeline.start_execution(name="day-0")
    full_at = state_record(pipeline)["lastFullTraining"]
    new_ratings_arrive(pipeline, 8)
    pipeline.account.personalize.set_metrics(None, metrics(0.01))  # below the 0.1 floor

    rejected = pipeline.start_execution(name="day-8", gap=timedelta(days=8))
    new_ratings_arrive(pipeline, 9)
    retried = pipeline.start_execution(name="day-9", gap=timedelta(days=1))

    assert rejected.output["outcome"] == "rejected"
    assert training_modes(pipeline) == ["FULL", "FULL", "FULL"]
    assert retried.output["outcome"] == "succeeded"
    assert full_at != state_record(pipeline)["lastFullTraining"]


def test_full_mode_never_sends_update(pipeline: OfflinePipeline) -> None:
    pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)
    pipeline.start_execution(name="week-2", gap=timedelta(days=1))

    assert training_modes(pipeline) == ["FULL", "FULL"]


# --- quality gate ------------------------------------------------------------------------------


def test_gate_rejects_a_worse_version_and_keeps_the_campaign(pipeline: OfflinePipeline) -> None:
    sim = pipeline.account.personalize
    sim.set_metrics(None, metrics(0.20))
    first = pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)
    sim.set_metrics(None, metrics(0.18))  # 10% worse; 5% tolerated
    calls_before = len(sim.calls)

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.status == "SUCCEEDED"
    assert second.output["outcome"] == "rejected"
    assert second.output["metric"] == METRIC
    assert second.output["current"] == {"solutionVersionArn": first.output["solutionVersionArn"], "value": 0.2}
    assert second.output["candidate"]["value"] == 0.18
    assert second.output["reason"] == (
        f"{METRIC} 0.18 is more than 5% below the served version's 0.2 (at least 0.19 needed)"
    )
    assert operations(pipeline, "UpdateCampaign") == []
    assert served_version(pipeline) == first.output["solutionVersionArn"]
    assert [op for op, _ in sim.calls[calls_before:] if op == "GetRecommendations"] == []
    assert "Run rejected" in second.states_entered()


def test_after_a_rejection_the_same_data_is_not_trained_again(pipeline: OfflinePipeline) -> None:
    sim = pipeline.account.personalize
    sim.set_metrics(None, metrics(0.20))
    pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)
    sim.set_metrics(None, metrics(0.10))
    pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    third = pipeline.start_execution(name="week-3", gap=timedelta(days=7))

    assert third.output["outcome"] == "skipped"
    assert third.output["reason"] == "no new data since the last training"
    assert len(operations(pipeline, "CreateSolutionVersion")) == 2


def test_gate_passes_a_better_version_and_promotes_it(pipeline: OfflinePipeline) -> None:
    sim = pipeline.account.personalize
    sim.set_metrics(None, metrics(0.20))
    first = pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)
    sim.set_metrics(None, metrics(0.23))

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.output["outcome"] == "succeeded"
    evaluation = second.output["evaluation"]
    assert evaluation["passed"] is True
    assert evaluation["current"] == {"solutionVersionArn": first.output["solutionVersionArn"], "value": 0.2}
    assert evaluation["candidate"] == {"solutionVersionArn": second.output["solutionVersionArn"], "value": 0.23}
    assert [u["solutionVersionArn"] for u in operations(pipeline, "UpdateCampaign")] == [
        second.output["solutionVersionArn"]
    ]
    assert served_version(pipeline) == second.output["solutionVersionArn"]


def test_gate_tolerates_a_regression_within_the_configured_share(pipeline: OfflinePipeline) -> None:
    sim = pipeline.account.personalize
    sim.set_metrics(None, metrics(0.20))
    pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)
    sim.set_metrics(None, metrics(0.191))  # 4.5% worse; 5% tolerated

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.output["outcome"] == "succeeded"
    assert served_version(pipeline) == second.output["solutionVersionArn"]


def test_first_deployment_checks_only_the_floor(incremental: OfflinePipeline) -> None:
    sim = incremental.account.personalize
    sim.set_metrics(None, metrics(0.05))  # floor is 0.1

    result = incremental.start_execution(name="day-0")

    assert result.output["outcome"] == "rejected"
    assert result.output["current"] is None
    assert result.output["minimum"] == 0.1
    assert result.output["reason"] == f"{METRIC} 0.05 is below the minimum 0.1"
    assert sim.resources_of("campaign") == []


def test_first_deployment_above_the_floor_creates_the_campaign(incremental: OfflinePipeline) -> None:
    incremental.account.personalize.set_metrics(None, metrics(0.15))

    result = incremental.start_execution(name="day-0")

    assert result.output["outcome"] == "succeeded"
    assert result.output["evaluation"]["reason"] == (
        f"{METRIC} 0.15 against no served version (tolerance 5%, minimum 0.1)"
    )
    assert served_version(incremental) == result.output["solutionVersionArn"]


def test_a_metric_the_version_does_not_report_fails_the_run_with_what_it_does_report(
    pipeline: OfflinePipeline,
) -> None:
    pipeline.account.personalize.set_metrics(None, {"coverage": 0.2})

    result = pipeline.start_execution(name="week-1")

    assert result.status == "FAILED"
    assert result.error == "MetricUnavailableError"
    message = json.loads(result.cause)["errorMessage"]
    assert message.endswith(f"reports no {METRIC}; it reports coverage: choose one of those as qualityGate.metric")
    assert pipeline.account.personalize.resources_of("campaign") == []


# --- learned waits -----------------------------------------------------------------------------


def detection_delay(result: ExecutionResult, pipeline: OfflinePipeline, check_state: str, active_at: Any) -> float:
    """Seconds from the resource becoming ACTIVE to the workflow's last check of it."""
    last_check = [e.time for e in result.events if e.type == "StateEntered" and e.state_name == check_state][-1]
    return (last_check - active_at).total_seconds()


def test_the_record_keeps_what_each_stage_took_as_personalize_reports_it(pipeline: OfflinePipeline) -> None:
    pipeline.start_execution(name="week-1")

    assert state_record(pipeline)["stageSeconds"] == {
        "DatasetGroup": 60,
        "Dataset": 60,
        "DatasetImportJob": 900,
        "Solution": 60,
        "SolutionVersion.FULL": 7200,
        "Campaign": 600,
    }


def test_a_second_run_waits_as_long_as_the_stages_took_and_then_checks_often(pipeline: OfflinePipeline) -> None:
    first = pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.output["data"]["plan"]["waits"]["SolutionVersion"] == {"firstSeconds": 6840, "intervalSeconds": 180}
    assert second.output["data"]["plan"]["waits"]["DatasetImportJob"] == {"firstSeconds": 855, "intervalSeconds": 23}
    assert second.output["data"]["plan"]["waits"]["CampaignUpdate"] == {"firstSeconds": 570, "intervalSeconds": 15}
    entered = second.states_entered()
    assert entered.count("Check solution version") <= 4
    assert entered.count("Check dataset import job") <= 4
    assert second.state_transitions < first.state_transitions / 2
    training = pipeline.account.personalize.resources_of("solution_version")[-1]
    active_at = training["creationDateTime"] + timedelta(seconds=7200)
    assert 0 <= detection_delay(second, pipeline, "Check solution version", active_at) <= 180
