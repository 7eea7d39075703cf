"""End-to-end: deployments to batch, run offline (the real definition, handlers and ASL interpreter).

Batch only: the suite's batch-only config (no campaign at all). Both targets: the variations config
(a campaign and batch output, under a key the stack creates). The simulated job reads the users
file from S3 and writes the documented output (register personalize.batch.input-output).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from contract.layout import MANIFEST_KEY
from simulator.cloud_assembly import SynthesizedPipeline, load_synthesized_pipeline
from simulator.offline import OfflinePipeline, offline_account
from simulator.sample_data import generate_ratings, to_ratings_csv, to_u_data
from tests.conftest import BATCH_ONLY_BLOCK, VARIATIONS_BLOCK, synthesize

USERS = 200  # generate_ratings()'s users, every one with ratings at or above the threshold


@pytest.fixture(scope="module")
def batch_only(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    return load_synthesized_pipeline(synthesize(tmp_path_factory, BATCH_ONLY_BLOCK))


@pytest.fixture(scope="module")
def both_targets(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    return load_synthesized_pipeline(synthesize(tmp_path_factory, VARIATIONS_BLOCK))


@pytest.fixture
def pipeline(batch_only: SynthesizedPipeline) -> Iterator[OfflinePipeline]:
    with offline_account() as account:
        deployed = OfflinePipeline(batch_only, account)
        deployed.upload_raw_data(to_ratings_csv(generate_ratings()))
        yield deployed


def calls(pipeline: OfflinePipeline, operation: str) -> list[dict[str, Any]]:
    return [params for name, params in pipeline.account.personalize.calls if name == operation]


def read(pipeline: OfflinePipeline, key: str) -> bytes:
    return bytes(pipeline.account.s3().get_object(Bucket=pipeline.bucket_name, Key=key)["Body"].read())


def manifest(pipeline: OfflinePipeline) -> dict[str, Any]:
    return dict(json.loads(read(pipeline, MANIFEST_KEY)))


def outcome(pipeline: OfflinePipeline) -> dict[str, Any]:
    return dict(pipeline.events[-1]["detail"])


def new_ratings_arrive(pipeline: OfflinePipeline) -> None:
    pipeline.upload_raw_data(to_ratings_csv(generate_ratings() + generate_ratings(users=30, seed=2, first_user=1000)))


def test_batch_only_pipeline_writes_recommendations_for_every_user_and_publishes_them(
    pipeline: OfflinePipeline,
) -> None:
    result = pipeline.start_execution(name="week-1")

    assert result.status == "SUCCEEDED", result.cause
    assert calls(pipeline, "CreateCampaign") == [] and pipeline.account.personalize.resources_of("campaign") == []
    (job,) = calls(pipeline, "CreateBatchInferenceJob")
    bucket = pipeline.bucket_name
    assert job["jobInput"]["s3DataSource"]["path"] == f"s3://{bucket}/batch-input/week-1/users.json"
    assert job["jobOutput"]["s3DataDestination"]["path"] == f"s3://{bucket}/recommendations/week-1/"
    assert job["numResults"] == 25 and job["jobName"].startswith("films-batch-")
    lines = [json.loads(line) for line in read(pipeline, "recommendations/week-1/users.json.out").splitlines()]
    assert len({line["input"]["userId"] for line in lines}) == len(lines) == USERS
    assert all(line["error"] is None and len(line["output"]["recommendedItems"]) == 25 for line in lines)
    published = manifest(pipeline)
    assert {k: published[k] for k in ("runName", "outputPrefix", "users", "recommendations", "history")} == {
        "runName": "week-1",
        "outputPrefix": "recommendations/week-1/",
        "users": USERS,
        "recommendations": USERS * 25,
        "history": [],
    }
    assert published["solutionVersionArn"] == job["solutionVersionArn"]
    event = outcome(pipeline)
    assert event["outcome"] == "succeeded" and event["campaignArn"] is None
    assert event["batchOutput"]["outputPrefix"] == "recommendations/week-1/"
    invoked = {logical_id for logical_id, _ in pipeline.invocations}
    assert not any("DeployCampaign" in lid or "SmokeTest" in lid for lid in invoked)


def test_a_rejected_version_produces_no_batch_output_and_leaves_the_manifest(pipeline: OfflinePipeline) -> None:
    assert pipeline.start_execution(name="week-1").status == "SUCCEEDED"
    before = read(pipeline, MANIFEST_KEY)
    new_ratings_arrive(pipeline)
    # Far below the published version's metric: the gate compares with the manifest's version.
    pipeline.account.personalize.set_metrics(None, {"normalized_discounted_cumulative_gain_at_10": 0.001})

    result = pipeline.start_execution(name="week-2")

    assert result.status == "SUCCEEDED"
    assert outcome(pipeline)["outcome"] == "rejected"
    assert len(calls(pipeline, "CreateBatchInferenceJob")) == 1
    assert read(pipeline, MANIFEST_KEY) == before


def test_a_failed_batch_job_fails_the_run_with_its_reason_and_leaves_the_manifest(pipeline: OfflinePipeline) -> None:
    assert pipeline.start_execution(name="week-1").status == "SUCCEEDED"
    before = read(pipeline, MANIFEST_KEY)
    new_ratings_arrive(pipeline)
    pipeline.account.personalize.fail_next("batch_job", "Internal server error while running the job")

    result = pipeline.start_execution(name="week-2")

    assert result.status == "FAILED"
    assert result.error == "BatchInferenceJobFailed"
    assert "is CREATE FAILED: Internal server error while running the job" in (result.cause or "")
    event = outcome(pipeline)
    assert (event["outcome"], event["failedStage"]) == ("failed", "batch inference job")
    assert read(pipeline, MANIFEST_KEY) == before


def test_an_output_with_error_lines_fails_at_validation_and_is_not_published(pipeline: OfflinePipeline) -> None:
    assert pipeline.start_execution(name="week-1").status == "SUCCEEDED"
    before = read(pipeline, MANIFEST_KEY)
    new_ratings_arrive(pipeline)
    pipeline.account.personalize.batch_errors_next(2, "Internal error: no recommendations")

    result = pipeline.start_execution(name="week-2")

    assert result.status == "FAILED"
    assert result.error == "BatchOutputInvalidError"
    assert "2 lines carry an error" in (result.cause or "")
    assert outcome(pipeline)["failedStage"] == "batch output"
    assert read(pipeline, MANIFEST_KEY) == before
    assert json.loads(before)["runName"] == "week-1"


def test_both_targets_run_the_batch_job_before_the_campaign_and_publish_after_it(
    both_targets: SynthesizedPipeline,
) -> None:
    with offline_account() as account:
        pipeline = OfflinePipeline(both_targets, account)
        pipeline.upload_raw_data(to_u_data(generate_ratings()))

        result = pipeline.start_execution(name="week-1")

        assert result.status == "SUCCEEDED", result.cause
        operations = [name for name, _ in account.personalize.calls]
        assert operations.index("CreateBatchInferenceJob") < operations.index("CreateCampaign")
        (job,) = calls(pipeline, "CreateBatchInferenceJob")
        key_arn = job["jobInput"]["s3DataSource"]["kmsKeyArn"]
        assert job["jobOutput"]["s3DataDestination"]["kmsKeyArn"] == key_arn and ":key/" in key_arn
        assert job["numResults"] == 10
        event = outcome(pipeline)
        assert event["campaignArn"].endswith(":campaign/movielens-campaign")
        assert event["batchOutput"]["runName"] == "week-1"
        assert (
            manifest(pipeline)["solutionVersionArn"]
            == account.personalize.resources_of("campaign")[0]["solutionVersionArn"]
        )
