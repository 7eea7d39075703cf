"""End-to-end: every run publishes exactly one outcome event, with the detail an operator reads.

The workflow puts the event itself (an ``events:putEvents`` task before each terminal state);
the offline account records what reached the default bus, validated against botocore's
EventBridge model, with the ARNs Step Functions appends to ``resources``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from contract.events import OUTCOME_DETAIL_KEYS
from simulator.offline import ACCOUNT_ID, REGION, STATE_MACHINE_ARN, OfflinePipeline
from simulator.sample_data import generate_ratings, to_u_data

ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}"
METRIC = "normalized_discounted_cumulative_gain_at_10"


def new_ratings_arrive(pipeline: OfflinePipeline, week: int) -> None:
    ratings = generate_ratings() + generate_ratings(users=30, seed=week, first_user=1000 + 30 * week)
    pipeline.upload_raw_data(to_u_data(ratings))


def metrics(value: float) -> dict[str, float]:
    return {METRIC: value, "coverage": 0.2, "precision_at_10": 0.05}


def only_event_of(pipeline: OfflinePipeline, run_name: str) -> dict[str, Any]:
    """The one event a run published; fails if it published none or more than one."""
    found = [event for event in pipeline.events if event["detail"]["runName"] == run_name]
    assert len(found) == 1, [event["detail"] for event in found]
    event = found[0]
    execution_arn = f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{run_name}"
    assert (event["source"], event["detail-type"], event["eventBusName"]) == (
        "personalize-retraining",
        "Retraining run finished",
        "default",
    )
    assert event["resources"] == [execution_arn, STATE_MACHINE_ARN]
    assert set(event["detail"]) == OUTCOME_DETAIL_KEYS
    assert event["detail"]["executionArn"] == execution_arn
    assert event["detail"]["pipelineName"] == "movielens"
    return event["detail"]


def test_a_successful_run_publishes_succeeded_with_the_model_and_its_campaign(pipeline: OfflinePipeline) -> None:
    pipeline.account.personalize.set_metrics(None, metrics(0.2))

    result = pipeline.start_execution(name="week-1")

    assert result.status == "SUCCEEDED"
    detail = only_event_of(pipeline, "week-1")
    assert detail == {
        **detail,
        "outcome": "succeeded",
        "reason": f"{METRIC} 0.2 against no served version (tolerance 5%)",
        "failedStage": None,
        "error": None,
        "cause": None,
        "metrics": {
            "metric": METRIC,
            "trained": {"solutionVersionArn": result.output["solutionVersionArn"], "value": 0.2},
            "served": None,
            "minimum": None,
        },
        "solutionVersionArn": result.output["solutionVersionArn"],
        "campaignArn": f"{ARN}:campaign/movielens-campaign",
    }
    assert detail["runStartedAt"] == result.start_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # The event does not change what the execution returns.
    assert result.output["outcome"] == "succeeded" and "Entries" not in json.dumps(result.output)


def test_a_second_success_names_the_version_it_replaced(pipeline: OfflinePipeline) -> None:
    sim = pipeline.account.personalize
    sim.set_metrics(None, metrics(0.2))
    first = pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)
    sim.set_metrics(None, metrics(0.22))

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    served = only_event_of(pipeline, "week-2")["metrics"]["served"]
    assert served == {"solutionVersionArn": first.output["solutionVersionArn"], "value": 0.2}
    assert only_event_of(pipeline, "week-2")["solutionVersionArn"] == second.output["solutionVersionArn"]


def test_unchanged_data_publishes_one_skipped_event_and_touches_nothing_in_personalize(
    pipeline: OfflinePipeline,
) -> None:
    pipeline.start_execution(name="week-1")
    calls_before = len(pipeline.account.personalize.calls)

    result = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert result.output["outcome"] == "skipped"
    assert pipeline.account.personalize.calls[calls_before:] == []
    detail = only_event_of(pipeline, "week-2")
    assert {
        key: detail[key] for key in OUTCOME_DETAIL_KEYS - {"runName", "executionArn", "runStartedAt", "pipelineName"}
    } == {
        "outcome": "skipped",
        "reason": "no new data since the last training",
        "failedStage": None,
        "error": None,
        "cause": None,
        "metrics": None,
        "solutionVersionArn": None,
        "campaignArn": None,
        "deletionRequests": None,
    }
    assert len(pipeline.events) == 2


def test_an_overlapping_run_publishes_one_skipped_event_and_calls_nothing_else(pipeline: OfflinePipeline) -> None:
    pipeline.mark_running("started-by-hand")

    result = pipeline.start_execution(name="scheduled")

    assert result.output["outcome"] == "skipped"
    assert pipeline.account.personalize.calls == []
    # Only the guard ran (it decides; see register sfn.list-executions.eventual-consistency).
    assert [pipeline.synthesized.functions[f].handler for f, _ in pipeline.invocations] == ["run_guard.handler"]
    detail = only_event_of(pipeline, "scheduled")
    assert (detail["outcome"], detail["reason"]) == ("skipped", "another execution of this state machine is running")
    assert (detail["metrics"], detail["solutionVersionArn"], detail["campaignArn"]) == (None, None, None)


def test_a_rejected_version_publishes_rejected_with_both_numbers(pipeline: OfflinePipeline) -> None:
    sim = pipeline.account.personalize
    sim.set_metrics(None, metrics(0.20))
    first = pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)
    sim.set_metrics(None, metrics(0.18))

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.output["outcome"] == "rejected"
    detail = only_event_of(pipeline, "week-2")
    candidate = second.output["candidate"]["solutionVersionArn"]
    assert detail["outcome"] == "rejected"
    assert detail["reason"] == f"{METRIC} 0.18 is more than 5% below the served version's 0.2 (at least 0.19 needed)"
    assert detail["metrics"] == {
        "metric": METRIC,
        "trained": {"solutionVersionArn": candidate, "value": 0.18},
        "served": {"solutionVersionArn": first.output["solutionVersionArn"], "value": 0.2},
        "minimum": None,
    }
    assert (detail["solutionVersionArn"], detail["campaignArn"]) == (candidate, None)
    assert (detail["failedStage"], detail["error"], detail["cause"]) == (None, None, None)


def test_a_failed_training_publishes_failed_with_its_stage_and_cause_and_the_run_still_fails(
    pipeline: OfflinePipeline,
) -> None:
    reason = "Insufficient data: at least 1000 interactions are required"
    pipeline.account.personalize.fail_next("solution_version", reason)

    result = pipeline.start_execution(name="week-1")

    assert result.status == "FAILED"
    assert result.error == "SolutionVersionFailed"
    detail = only_event_of(pipeline, "week-1")
    assert detail["outcome"] == "failed"
    assert detail["failedStage"] == "training"
    assert detail["error"] == result.error == "SolutionVersionFailed"
    assert detail["cause"] == result.cause
    assert detail["cause"].endswith(f"is CREATE FAILED: {reason}")
    assert (detail["reason"], detail["metrics"], detail["solutionVersionArn"], detail["campaignArn"]) == (
        None,
        None,
        None,
        None,
    )
    assert result.states_entered()[-3:] == ["Failed in training", "Publish failure", "Run failed"]


def test_a_lambda_step_failure_names_the_step_and_carries_the_lambda_error(pipeline: OfflinePipeline) -> None:
    pipeline.upload_raw_data(b"1,10,5,874724710\n")  # comma-separated: no usable row in u.data format

    result = pipeline.start_execution(name="bad-data")

    detail = only_event_of(pipeline, "bad-data")
    assert (result.status, detail["outcome"], detail["failedStage"]) == ("FAILED", "failed", "prepare data")
    assert detail["error"] == "NoUsableRowsError"
    assert "no usable rows" in json.loads(detail["cause"])["errorMessage"]


def test_a_campaign_that_fails_to_deploy_is_reported_at_the_campaign_stage(pipeline: OfflinePipeline) -> None:
    pipeline.account.personalize.fail_next("campaign", "Provisioned capacity unavailable")

    result = pipeline.start_execution(name="week-1")

    detail = only_event_of(pipeline, "week-1")
    assert (result.status, detail["failedStage"], detail["error"]) == ("FAILED", "campaign", "CampaignFailed")


def test_an_outcome_that_cannot_be_published_fails_the_run_and_says_so(pipeline: OfflinePipeline) -> None:
    # The success event is refused on its first attempt and on each of its three retries.
    pipeline.account.event_bus.reject_next("ThrottlingException", times=4)

    result = pipeline.start_execution(name="week-1")

    assert result.status == "FAILED"
    assert result.error == "EventBridge.FailedEntry"
    detail = only_event_of(pipeline, "week-1")
    assert (detail["outcome"], detail["failedStage"], detail["error"]) == ("failed", "notification", result.error)
    assert "ThrottlingException" in detail["cause"]
    # The work itself was done: the campaign serves the new version.
    (campaign,) = pipeline.account.personalize.resources_of("campaign")
    assert campaign["status"] == "ACTIVE"


def test_a_failure_event_that_cannot_be_published_keeps_the_runs_own_cause(pipeline: OfflinePipeline) -> None:
    reason = "Internal training error"
    pipeline.account.personalize.fail_next("solution_version", reason)
    pipeline.account.event_bus.reject_next(times=4)

    result = pipeline.start_execution(name="week-1")

    assert (result.status, result.error) == ("FAILED", "SolutionVersionFailed")
    assert result.cause.endswith(reason)
    assert pipeline.events == []


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge matching for the exact-value patterns the stack uses (a list matches any of its values)."""
    for key, expected in pattern.items():
        value = event.get(key)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not matches(expected, value):
                return False
        elif isinstance(value, list):
            if not set(value) & set(expected):
                return False
        elif value not in expected:
            return False
    return True


def test_each_outcome_event_reaches_the_topic_through_exactly_its_own_rule(pipeline: OfflinePipeline) -> None:
    resources = pipeline.synthesized.template["Resources"]
    machine_id = pipeline.synthesized.state_machine_logical_id
    rules = {}
    for rule_id, rule in resources.items():
        if rule["Type"] == "AWS::Events::Rule" and "EventPattern" in rule["Properties"]:
            pattern = json.loads(
                json.dumps(rule["Properties"]["EventPattern"]).replace(
                    json.dumps({"Ref": machine_id}), json.dumps(STATE_MACHINE_ARN)
                )
            )
            rules[rule_id] = pattern
    sim = pipeline.account.personalize
    sim.set_metrics(None, metrics(0.2))
    pipeline.start_execution(name="week-1")  # succeeded
    pipeline.start_execution(name="week-2", gap=timedelta(days=7))  # skipped: no new data
    new_ratings_arrive(pipeline, 3)
    sim.set_metrics(None, metrics(0.1))
    pipeline.start_execution(name="week-3", gap=timedelta(days=7))  # rejected
    new_ratings_arrive(pipeline, 4)
    sim.fail_next("solution_version", "Internal training error")
    pipeline.start_execution(name="week-4", gap=timedelta(days=7))  # failed

    outcomes = [event["detail"]["outcome"] for event in pipeline.events]
    assert outcomes == ["succeeded", "skipped", "rejected", "failed"]
    for event in pipeline.events:
        matched = [rid for rid, pattern in rules.items() if matches(pattern, event)]
        assert len(matched) == 1, (event["detail"]["outcome"], matched)
        assert rules[matched[0]]["detail"]["outcome"] == [event["detail"]["outcome"]]
