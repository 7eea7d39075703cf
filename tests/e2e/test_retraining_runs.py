"""End-to-end: the definition synth emitted, run by the real ASL interpreter, with the real
handler code from the cloud assembly, against the simulated Personalize and S3."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from simulator.cloud_assembly import SynthesizedPipeline
from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline, offline_account
from simulator.personalize import StageDurations
from simulator.sample_data import generate_ratings, to_u_data

ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}"
CREATE_ONCE = ("CreateDatasetGroup", "CreateSchema", "CreateDataset", "CreateSolution", "CreateCampaign")


def calls(pipeline: OfflinePipeline, operation: str, since: int = 0) -> list[dict[str, Any]]:
    return [params for name, params in pipeline.account.personalize.calls[since:] if name == operation]


def new_ratings_arrive(pipeline: OfflinePipeline, week: int) -> None:
    """A week of ratings from new users is appended to the raw file."""
    ratings = generate_ratings() + generate_ratings(users=30, seed=week, first_user=1000 + 30 * week)
    pipeline.upload_raw_data(to_u_data(ratings))


def guard_function(pipeline: OfflinePipeline) -> str:
    (logical_id,) = [f.logical_id for f in pipeline.synthesized.functions.values() if f.handler == "run_guard.handler"]
    return logical_id


def campaign(pipeline: OfflinePipeline) -> dict[str, Any]:
    (only,) = pipeline.account.personalize.resources_of("campaign")
    return only


def test_first_run_builds_the_recommender_and_serves_recommendations(pipeline: OfflinePipeline) -> None:
    result = pipeline.start_execution(name="first-run")

    assert result.status == "SUCCEEDED", result.cause
    assert calls(pipeline, "CreateDatasetGroup") == [{"name": "movielens"}]
    (schema,) = calls(pipeline, "CreateSchema")
    assert schema["name"] == "movielens-interactions"
    assert [f["name"] for f in json.loads(schema["schema"])["fields"]] == ["USER_ID", "ITEM_ID", "TIMESTAMP"]
    assert calls(pipeline, "CreateDataset") == [
        {
            "name": "movielens-interactions",
            "schemaArn": f"{ARN}:schema/movielens-interactions",
            "datasetGroupArn": f"{ARN}:dataset-group/movielens",
            "datasetType": "Interactions",
        }
    ]
    (import_job,) = calls(pipeline, "CreateDatasetImportJob")
    assert import_job == {
        "jobName": import_job["jobName"],
        "datasetArn": f"{ARN}:dataset/movielens/INTERACTIONS",
        "dataSource": {"dataLocation": f"s3://{pipeline.bucket_name}/training/first-run/interactions.csv"},
        "roleArn": pipeline.personalize_role_arn,
        "importMode": "FULL",
    }
    assert import_job["jobName"].startswith("movielens-import-2026")
    assert calls(pipeline, "CreateSolution") == [
        {
            "name": "movielens-solution",
            "datasetGroupArn": f"{ARN}:dataset-group/movielens",
            "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2",
            "performAutoTraining": False,
        }
    ]
    (training,) = calls(pipeline, "CreateSolutionVersion")
    assert training["solutionArn"] == f"{ARN}:solution/movielens-solution"
    assert training["trainingMode"] == "FULL"
    (created,) = calls(pipeline, "CreateCampaign")
    assert created == {
        "name": "movielens-campaign",
        "solutionVersionArn": result.output["solutionVersionArn"],
        "minProvisionedTPS": 1,
        "campaignConfig": {"syncWithLatestSolutionVersion": False},
    }
    assert calls(pipeline, "UpdateCampaign") == []
    assert campaign(pipeline)["status"] == "ACTIVE"
    assert campaign(pipeline)["solutionVersionArn"] == result.output["solutionVersionArn"]
    assert result.output["campaignAction"] == "created"
    assert len(result.output["recommendations"]["itemIds"]) == 10
    assert calls(pipeline, "GetRecommendations") == [
        {"campaignArn": f"{ARN}:campaign/movielens-campaign", "userId": "1", "numResults": 10},
        # Then through the exclusion filter (the configured filter that needs no values).
        {
            "campaignArn": f"{ARN}:campaign/movielens-campaign",
            "userId": "1",
            "numResults": 10,
            "filterArn": f"{ARN}:filter/movielens-filter-unseen",
        },
    ]


def test_first_run_writes_the_interactions_file_personalize_imports(pipeline: OfflinePipeline) -> None:
    ratings = generate_ratings()
    result = pipeline.start_execution(name="first-run")

    body = (
        pipeline.account.s3()
        .get_object(Bucket=pipeline.bucket_name, Key="training/first-run/interactions.csv")["Body"]
        .read()
        .decode()
    )
    lines = body.splitlines()
    assert lines[0] == "USER_ID,ITEM_ID,TIMESTAMP"
    kept = [f"{r.user_id},{r.item_id},{r.timestamp}" for r in ratings if r.rating >= 4.0]
    assert lines[1:] == kept
    assert result.output["data"]["rowsWritten"] == len(kept)
    assert result.output["data"]["rowsRead"] == len(ratings)


def test_second_run_reuses_every_resource_and_updates_the_campaign_in_place(pipeline: OfflinePipeline) -> None:
    first = pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)
    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert first.status == second.status == "SUCCEEDED", second.cause
    for operation in CREATE_ONCE:
        assert len(calls(pipeline, operation)) == 1, operation
    import_names = [job["jobName"] for job in calls(pipeline, "CreateDatasetImportJob")]
    assert len(set(import_names)) == 2
    assert len(calls(pipeline, "CreateSolutionVersion")) == 2
    assert calls(pipeline, "UpdateCampaign") == [
        {
            "campaignArn": f"{ARN}:campaign/movielens-campaign",
            "solutionVersionArn": second.output["solutionVersionArn"],
            "minProvisionedTPS": 1,
            "campaignConfig": {"syncWithLatestSolutionVersion": False},
        }
    ]
    assert second.output["campaignAction"] == "updated"
    assert second.output["solutionVersionArn"] != first.output["solutionVersionArn"]
    assert campaign(pipeline)["solutionVersionArn"] == second.output["solutionVersionArn"]
    # The update was awaited on latestCampaignUpdate: it is ACTIVE by the time the run ends.
    assert campaign(pipeline)["latestCampaignUpdate"]["status"] == "ACTIVE"
    assert "Check campaign update" in second.states_entered()


def test_third_run_keeps_working(pipeline: OfflinePipeline) -> None:
    results = []
    for week in (1, 2, 3):
        new_ratings_arrive(pipeline, week)
        results.append(pipeline.start_execution(name=f"week-{week}", gap=timedelta(days=7)))

    assert [r.status for r in results] == ["SUCCEEDED"] * 3
    assert len(calls(pipeline, "UpdateCampaign")) == 2
    assert campaign(pipeline)["solutionVersionArn"] == results[-1].output["solutionVersionArn"]


def test_failed_import_fails_the_run_with_personalize_reason_and_keeps_the_campaign(
    pipeline: OfflinePipeline,
) -> None:
    first = pipeline.start_execution(name="week-1")
    reason = "Input CSV is missing required column: TIMESTAMP"
    pipeline.account.personalize.fail_next("import_job", reason)
    new_ratings_arrive(pipeline, 2)
    calls_before = len(pipeline.account.personalize.calls)

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.status == "FAILED"
    assert second.error == "DatasetImportJobFailed"
    assert second.cause.startswith(f"Dataset import job {ARN}:dataset-import-job/movielens-import-")
    assert second.cause.endswith(f"is CREATE FAILED: {reason}")
    assert calls(pipeline, "CreateSolutionVersion", since=calls_before) == []
    assert calls(pipeline, "UpdateCampaign", since=calls_before) == []
    assert campaign(pipeline)["solutionVersionArn"] == first.output["solutionVersionArn"]


def test_failed_training_fails_the_run_with_the_reason_and_keeps_the_campaign(pipeline: OfflinePipeline) -> None:
    first = pipeline.start_execution(name="week-1")
    reason = "Insufficient data: at least 1000 interactions are required"
    pipeline.account.personalize.fail_next("solution_version", reason)
    new_ratings_arrive(pipeline, 2)

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.status == "FAILED"
    assert second.error == "SolutionVersionFailed"
    assert second.cause.endswith(f"is CREATE FAILED: {reason}")
    assert "Deploy campaign" not in second.states_entered()
    assert campaign(pipeline)["solutionVersionArn"] == first.output["solutionVersionArn"]
    assert len(calls(pipeline, "UpdateCampaign")) == 0


def test_failed_first_training_creates_no_campaign(pipeline: OfflinePipeline) -> None:
    pipeline.account.personalize.fail_next("solution_version", "Internal training error")

    result = pipeline.start_execution(name="first-run")

    assert result.status == "FAILED"
    assert result.error == "SolutionVersionFailed"
    assert pipeline.account.personalize.resources_of("campaign") == []


def test_failed_solution_without_reason_still_names_the_resource(pipeline: OfflinePipeline) -> None:
    # DescribeSolution has no failureReason member in the service model.
    pipeline.account.personalize.fail_next("solution", "ignored: the model has no field for it")

    result = pipeline.start_execution(name="first-run")

    assert result.status == "FAILED"
    assert result.error == "PersonalizeResourceFailed"
    assert "CREATE FAILED" in result.cause
    assert f"{ARN}:solution/movielens-solution" in result.cause


def test_data_without_usable_rows_fails_before_touching_personalize(pipeline: OfflinePipeline) -> None:
    # Comma-separated although the config says u.data (tab-separated): every row is malformed.
    pipeline.upload_raw_data(b"1,10,5,874724710\n2,20,4,874724711\n")

    result = pipeline.start_execution(name="bad-data")

    assert result.status == "FAILED"
    assert result.error == "NoUsableRowsError"
    message = json.loads(result.cause)["errorMessage"]
    assert "no usable rows" in message
    assert "2 malformed" in message
    assert pipeline.account.personalize.calls == []


def test_a_run_before_any_upload_is_skipped_and_says_where_to_upload(synthesized: SynthesizedPipeline) -> None:
    """The schedule may fire right after cdk deploy: nothing to train is not a failure."""
    with offline_account() as account:
        pipeline = OfflinePipeline(synthesized, account)

        result = pipeline.start_execution(name="no-data")

    assert result.status == "SUCCEEDED"
    assert result.output["outcome"] == "skipped"
    assert result.output["reason"].startswith(f"no data uploaded yet to s3://{pipeline.bucket_name}/raw/ml-100k/u.data")
    assert "upload_movielens.py" in result.output["reason"]
    assert pipeline.account.personalize.calls == []
    assert [event["detail"]["outcome"] for event in pipeline.events] == ["skipped"]


def test_missing_raw_data_after_a_training_fails_and_says_where_to_upload(pipeline: OfflinePipeline) -> None:
    pipeline.start_execution(name="week-1")
    pipeline.account.s3().delete_object(Bucket=pipeline.bucket_name, Key=pipeline.raw_data_key)

    result = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert result.status == "FAILED"
    assert result.error == "RawDataNotFoundError"
    message = json.loads(result.cause)["errorMessage"]
    assert f"s3://{pipeline.bucket_name}/raw/ml-100k/u.data" in message
    assert "upload_movielens.py" in message


def test_training_that_never_finishes_times_out_with_a_bounded_wait(synthesized: SynthesizedPipeline) -> None:
    with offline_account(durations=StageDurations(solution_version=30 * 3600)) as account:
        pipeline = OfflinePipeline(synthesized, account)
        pipeline.upload_raw_data(to_u_data(generate_ratings()))

        result = pipeline.start_execution(name="slow")

    assert result.status == "FAILED"
    assert result.error == "SolutionVersionTimedOut"
    assert re.search(
        r"is still CREATE IN_PROGRESS after 288 checks \(run started \S+Z, gave up \S+Z\)$", result.cause
    ), result.cause
    assert result.duration < timedelta(hours=25)


def test_pending_resources_never_show_as_failed_or_retried_tasks(pipeline: OfflinePipeline) -> None:
    result = pipeline.start_execution(name="first-run")

    failures = [e for e in result.events if e.type in ("StateFailed", "StateRetried", "StateCaught", "ExecutionFailed")]
    assert failures == []
    assert result.states_entered().count("Check solution version") > 1


def test_a_run_started_while_another_is_running_is_skipped_and_touches_nothing(pipeline: OfflinePipeline) -> None:
    other = pipeline.mark_running("started-by-hand")

    result = pipeline.start_execution(name="scheduled")

    assert result.status == "SUCCEEDED"
    assert result.output["outcome"] == "skipped"
    assert result.output["reason"] == "another execution of this state machine is running"
    assert other["executionArn"] in result.output["runningExecutionArns"]
    assert pipeline.account.personalize.calls == []
    assert [function for function, _ in pipeline.invocations] == [guard_function(pipeline)]


def test_finished_runs_do_not_block_the_next_one(pipeline: OfflinePipeline) -> None:
    pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.output["outcome"] == "succeeded"


def test_a_run_on_unchanged_data_is_skipped_without_import_training_or_campaign_change(
    pipeline: OfflinePipeline,
) -> None:
    first = pipeline.start_execution(name="week-1")
    calls_before = len(pipeline.account.personalize.calls)
    pipeline.upload_raw_data(to_u_data(generate_ratings()))  # the same file uploaded again

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.status == "SUCCEEDED"
    assert second.output["outcome"] == "skipped"
    assert second.output["reason"] == "no new data since the last training"
    assert pipeline.account.personalize.calls[calls_before:] == []
    assert campaign(pipeline)["solutionVersionArn"] == first.output["solutionVersionArn"]
    listing = pipeline.account.s3().list_objects_v2(Bucket=pipeline.bucket_name, Prefix="training/week-2/")
    assert listing["KeyCount"] == 0


def test_the_state_record_names_what_the_deployed_model_was_trained_on(pipeline: OfflinePipeline) -> None:
    result = pipeline.start_execution(name="week-1")

    body = pipeline.account.s3().get_object(Bucket=pipeline.bucket_name, Key="state/pipeline-state.json")["Body"]
    record = json.loads(body.read())["lastSuccessfulRun"]
    assert record["executionName"] == "week-1"
    assert record["solutionVersionArn"] == result.output["solutionVersionArn"]
    assert record["datasetImportJobArn"] == result.output["datasetImportJobArn"]
    assert record["campaignArn"] == result.output["campaignArn"]
    assert record["dataFingerprint"] == result.output["data"]["dataFingerprint"]


def test_after_a_failed_run_the_same_data_is_trained_again(pipeline: OfflinePipeline) -> None:
    pipeline.start_execution(name="week-1")
    new_ratings_arrive(pipeline, 2)
    pipeline.account.personalize.fail_next("solution_version", "Internal training error")
    failed = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    retried = pipeline.start_execution(name="week-2-retry", gap=timedelta(hours=1))

    assert failed.status == "FAILED"
    assert retried.status == "SUCCEEDED"
    assert retried.output["outcome"] == "succeeded"
    assert campaign(pipeline)["solutionVersionArn"] == retried.output["solutionVersionArn"]
