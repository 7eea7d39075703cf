"""End-to-end: users' deletion requests dropped under deletion-requests/, honoured by the next run
(left out of the training file, deleted by a data deletion job before training, the request moved
under completed/ and reported in the outcome event), and what a failure leaves."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline
from simulator.sample_data import generate_ratings, to_u_data

ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}"
REQUEST = "deletion-requests/2026-01-ticket-42.csv"


def calls(pipeline: OfflinePipeline, operation: str, since: int = 0) -> list[dict[str, Any]]:
    return [params for name, params in pipeline.account.personalize.calls[since:] if name == operation]


def read(pipeline: OfflinePipeline, key: str) -> str:
    return pipeline.account.s3().get_object(Bucket=pipeline.bucket_name, Key=key)["Body"].read().decode()


def keys(pipeline: OfflinePipeline, prefix: str) -> list[str]:
    listed = pipeline.account.s3().list_objects_v2(Bucket=pipeline.bucket_name, Prefix=prefix)
    return [entry["Key"] for entry in listed.get("Contents", [])]


def users_in(pipeline: OfflinePipeline, run: str) -> set[str]:
    return {line.split(",")[0] for line in read(pipeline, f"training/{run}/interactions.csv").splitlines()[1:]}


def request_deletion(pipeline: OfflinePipeline, *users: str, key: str = REQUEST) -> None:
    body = "USER_ID\n" + "".join(f"{user}\n" for user in users)
    pipeline.account.s3().put_object(Bucket=pipeline.bucket_name, Key=key, Body=body.encode())


def test_a_deletion_request_is_honoured_in_the_training_file_and_by_a_deletion_job(pipeline: OfflinePipeline) -> None:
    first = pipeline.start_execution(name="week-1")
    assert {"7", "8"} <= users_in(pipeline, "week-1")
    request_deletion(pipeline, "7", "8")
    before = len(pipeline.account.personalize.calls)

    # The ratings did not change: the request alone is new data, so the model is retrained without them.
    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert first.status == second.status == "SUCCEEDED", second.cause
    assert not {"7", "8"} & users_in(pipeline, "week-2")
    assert second.output["data"]["deletion"] == {
        "inputUri": f"s3://{pipeline.bucket_name}/training/week-2/deletions.csv",
        "requests": [{"key": REQUEST, "users": 2}],
        "users": 2,
        "excludedUsers": 2,
        "rowsLeftOut": second.output["data"]["deletion"]["rowsLeftOut"],
    }
    assert second.output["data"]["deletion"]["rowsLeftOut"] > 0
    assert read(pipeline, "training/week-2/deletions.csv") == "USER_ID\n7\n8\n"
    (job,) = calls(pipeline, "CreateDataDeletionJob", since=before)
    assert job == {
        "jobName": job["jobName"],
        "datasetGroupArn": f"{ARN}:dataset-group/movielens",
        "dataSource": {"dataLocation": f"s3://{pipeline.bucket_name}/training/week-2/deletions.csv"},
        "roleArn": pipeline.personalize_role_arn,
    }
    assert job["jobName"].startswith("movielens-delete-2026")
    # Training started only once the deletion job was COMPLETED (the guide: nothing beside it).
    (deletion,) = pipeline.account.personalize.resources_of("deletion_job")
    assert deletion["status"] == "COMPLETED"
    version = pipeline.account.personalize.resources_of("solution_version")[-1]
    assert version["creationDateTime"] >= deletion["lastUpdatedDateTime"]
    # The request moved under completed/<run>/ and is reported in the outcome event.
    moved = f"deletion-requests/completed/week-2/{REQUEST.removeprefix('deletion-requests/')}"
    assert keys(pipeline, "deletion-requests/") == [moved]
    (event,) = [e for e in pipeline.events if e["detail"]["runName"] == "week-2"]
    assert event["detail"]["deletionRequests"] == {
        "requests": [{"key": REQUEST, "movedTo": moved, "users": 2}],
        "job": {"arn": f"{ARN}:data-deletion-job/{job['jobName']}", "name": job["jobName"]},
    }

    # Later runs still leave them out (their ratings are still in the raw file), without a new job.
    pipeline.upload_raw_data(to_u_data(generate_ratings() + generate_ratings(users=30, seed=3, first_user=1090)))
    third = pipeline.start_execution(name="week-3", gap=timedelta(days=7))
    assert third.status == "SUCCEEDED", third.cause
    assert not {"7", "8"} & users_in(pipeline, "week-3")
    assert len(calls(pipeline, "CreateDataDeletionJob")) == 1
    assert third.output["deletionRequests"] == {"requests": [], "job": None}
    (event,) = [e for e in pipeline.events if e["detail"]["runName"] == "week-3"]
    assert event["detail"]["deletionRequests"] == {"requests": [], "job": None}


def test_a_failed_deletion_job_keeps_the_request_and_the_served_version(pipeline: OfflinePipeline) -> None:
    first = pipeline.start_execution(name="week-1")
    request_deletion(pipeline, "7")
    pipeline.account.personalize.fail_next("deletion_job", "Simulated deletion failure")

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.status == "FAILED"
    assert second.error == "DataDeletionJobFailed"
    assert second.cause.endswith("is FAILED: Simulated deletion failure")
    (event,) = [e for e in pipeline.events if e["detail"]["runName"] == "week-2"]
    assert event["detail"]["failedStage"] == "data deletion"
    assert len(pipeline.account.personalize.resources_of("solution_version")) == 1  # nothing trained
    assert keys(pipeline, "deletion-requests/") == [REQUEST]
    # The request is still there, and the next run honours it with a job of its own.
    third = pipeline.start_execution(name="week-3", gap=timedelta(days=7))
    assert third.status == "SUCCEEDED", third.cause
    assert len(calls(pipeline, "CreateDataDeletionJob")) == 2
    assert keys(pipeline, "deletion-requests/") == ["deletion-requests/completed/week-3/2026-01-ticket-42.csv"]
    assert third.output["solutionVersionArn"] != first.output["solutionVersionArn"]


def test_a_malformed_request_stops_the_run_before_anything_and_is_kept(pipeline: OfflinePipeline) -> None:
    pipeline.start_execution(name="week-1")
    pipeline.account.s3().put_object(Bucket=pipeline.bucket_name, Key=REQUEST, Body=b"user,reason\n7,asked by e-mail\n")
    before = len(pipeline.account.personalize.calls)

    result = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert result.status == "FAILED"
    assert result.error == "DeletionRequestInvalidError"
    assert json.loads(result.cause)["errorMessage"] == (
        f"s3://{pipeline.bucket_name}/{REQUEST} must be a CSV whose first line is USER_ID, then one user id per "
        "line; nothing was deleted and the file is kept: fix it and the next run honours it"
    )
    assert keys(pipeline, "deletion-requests/") == [REQUEST]
    assert calls(pipeline, "CreateDatasetImportJob", since=before) == []
