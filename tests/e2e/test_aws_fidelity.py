"""End-to-end: what a real account does that a friendlier simulator would hide (issue 10).

Each test names the register entry of docs/aws-behaviour.md that the simulator reproduces,
and failed on the code before its fix.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import timedelta
from typing import Any

from simulator.cloud_assembly import SynthesizedPipeline
from simulator.interpreter import ExecutionResult
from simulator.offline import OfflinePipeline, offline_account
from simulator.sample_data import generate_ratings, to_u_data


def new_ratings_arrive(pipeline: OfflinePipeline, week: int) -> None:
    ratings = generate_ratings() + generate_ratings(users=30, seed=week, first_user=1000 + 30 * week)
    pipeline.upload_raw_data(to_u_data(ratings))


def weekly_runs(pipeline: OfflinePipeline, weeks: int) -> list[ExecutionResult]:
    results = []
    for week in range(1, weeks + 1):
        if week > 1:
            new_ratings_arrive(pipeline, week)
        result = pipeline.start_execution(name=f"week-{week}", gap=timedelta(days=7))
        assert result.status == "SUCCEEDED", result.cause
        results.append(result)
    return results


def entered(result: ExecutionResult, state: str) -> list[Any]:
    return [event.time for event in result.events if event.type == "StateEntered" and event.state_name == state]


def state_record(pipeline: OfflinePipeline) -> dict[str, Any]:
    body = pipeline.account.s3().get_object(Bucket=pipeline.bucket_name, Key="state/pipeline-state.json")["Body"]
    return dict(json.loads(body.read()))


# --- personalize.campaign-update.stale-read ------------------------------------------------------


def test_the_smoke_test_waits_for_the_update_to_this_runs_version_not_the_previous_active_one(
    pipeline: OfflinePipeline,
) -> None:
    """From the second update on, the previous LatestCampaignUpdate is ACTIVE: a stale read must not pass."""
    durations = pipeline.account.personalize.durations
    *_, third = weekly_runs(pipeline, 3)

    (deployed,) = entered(third, "Deploy campaign")
    (smoke_test,) = entered(third, "Smoke test recommendations")
    assert smoke_test - deployed >= timedelta(seconds=durations.campaign_update)
    assert third.output["campaignAction"] == "updated"
    # The learned duration is the update's own, not a stale answer's.
    assert state_record(pipeline)["stageSeconds"]["CampaignUpdate"] == durations.campaign_update


def test_a_rollback_waits_until_the_campaign_serves_the_previous_version_again(pipeline: OfflinePipeline) -> None:
    _first, second = weekly_runs(pipeline, 2)
    new_ratings_arrive(pipeline, 3)
    pipeline.account.personalize.train_empty_model_next()

    failed = pipeline.start_execution(name="week-3", gap=timedelta(days=7))

    assert failed.status == "FAILED"
    (rolled_back,) = entered(failed, "Roll back campaign")
    assert failed.stop_time - rolled_back >= timedelta(seconds=pipeline.account.personalize.durations.campaign_update)
    (campaign,) = pipeline.account.personalize.resources_of("campaign")
    assert campaign["solutionVersionArn"] == second.output["solutionVersionArn"]
    assert campaign["latestCampaignUpdate"]["status"] == "ACTIVE"


# --- personalize.last-updated-moves --------------------------------------------------------------


def test_durations_are_learned_only_from_resources_the_run_created(pipeline: OfflinePipeline) -> None:
    durations = pipeline.account.personalize.durations
    weekly_runs(pipeline, 1)
    learned_first = state_record(pipeline)["stageSeconds"]

    new_ratings_arrive(pipeline, 2)
    # The second run reuses the dataset group, the dataset, the solution and the campaign.
    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.output["outcome"] == "succeeded"
    learned = state_record(pipeline)["stageSeconds"]
    for reused in ("DatasetGroup", "Dataset", "Solution", "Campaign"):
        assert learned[reused] == learned_first[reused], reused
    assert learned["Dataset"] == durations.dataset
    assert learned["DatasetImportJob"] == durations.import_job
    assert learned["CampaignUpdate"] == durations.campaign_update


# --- sfn.list-executions.eventual-consistency ----------------------------------------------------


def test_a_run_that_is_not_listed_yet_still_sees_an_earlier_run_and_steps_aside(pipeline: OfflinePipeline) -> None:
    assert pipeline.account.step_functions.listing_lag > timedelta(0)  # this run is not listed yet
    earlier = pipeline.mark_running("started-by-hand")

    result = pipeline.start_execution(name="scheduled")

    assert result.output["outcome"] == "skipped"
    assert result.output["runningExecutionArns"] == [earlier["executionArn"]]
    assert pipeline.account.personalize.calls == []


def test_of_two_runs_that_start_together_and_see_each_other_exactly_one_goes_on(pipeline: OfflinePipeline) -> None:
    """Counting RUNNING executions would stop both; the tie is broken by ARN, the same way on both sides."""
    pipeline.account.step_functions.listing_lag = timedelta(0)
    together = pipeline.account.clock.now() + timedelta(minutes=1)  # when start_execution starts its run
    other = pipeline.mark_running("run-b", start_date=together)

    first = pipeline.start_execution(name="run-a")

    assert first.output["outcome"] == "succeeded"
    other["status"] = "SUCCEEDED"  # it went on too, and finished
    pipeline.account.step_functions.executions.remove(other)
    late = pipeline.mark_running("run-0", start_date=pipeline.account.clock.now() + timedelta(minutes=1))
    second = pipeline.start_execution(name="run-c")
    assert second.output["outcome"] == "skipped"
    assert second.output["runningExecutionArns"] == [late["executionArn"]]


# --- sns.topic-policy.alarm-publish, events.sns-target.policy ------------------------------------


def test_every_alarm_may_publish_to_the_topic(pipeline: OfflinePipeline) -> None:
    """The topic policy replaces SNS's default one: without a statement for CloudWatch the alarms are silent."""
    for alarm in ("ExecutionsFailed", "ExecutionsTimedOut", "NoRecentRetraining"):
        assert all(pipeline.fire_alarm(alarm)), pipeline.topics.refused
    assert pipeline.fire_alarm("NoRecentRetraining", state="OK") == [True]
    assert pipeline.topics.refused == []
    assert len(pipeline.topics.delivered) == 4


def test_every_run_outcome_reaches_the_topic(pipeline: OfflinePipeline) -> None:
    pipeline.start_execution(name="week-1")
    pipeline.start_execution(name="week-2", gap=timedelta(days=7))  # same data: skipped

    outcomes = [json.loads(p.message)["detail"]["outcome"] for p in pipeline.topics.delivered]
    assert outcomes == ["succeeded", "skipped"]
    assert pipeline.topics.refused == []


# --- scheduler.rate.first-invocation -------------------------------------------------------------


def test_the_first_scheduled_run_comes_one_period_after_the_deployment(pipeline: OfflinePipeline) -> None:
    first = pipeline.first_scheduled_run()

    assert first is not None
    assert first - pipeline.deployed_at == timedelta(days=7)


# --- personalize.s3-access.policy ----------------------------------------------------------------


def test_an_import_reads_its_file_only_if_the_bucket_policy_lets_personalize_list_the_bucket(
    synthesized: SynthesizedPipeline,
) -> None:
    """The simulator asks the template's role and bucket policies, as Personalize's reads are authorized."""
    template = copy.deepcopy(synthesized.template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::S3::BucketPolicy":
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            statements[:] = [s for s in statements if s.get("Action") != "s3:ListBucket"]
    without_listing = dataclasses.replace(synthesized, template=template)
    with offline_account() as account:
        pipeline = OfflinePipeline(without_listing, account)
        pipeline.upload_raw_data(to_u_data(generate_ratings()))

        result = pipeline.start_execution(name="week-1")

    assert result.status == "FAILED"
    assert result.error == "DatasetImportJobFailed"
    assert "Insufficient privileges for accessing data in S3 (s3:ListBucket on arn:aws:s3:::" in str(result.cause)
