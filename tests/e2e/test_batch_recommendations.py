"""End-to-end: deployments to batch, run offline (the real definition, handlers and ASL interpreter).

Batch only: the suite's batch-only config (no campaign at all). Both targets: the variations config
(a campaign and batch output, under a key the stack creates). The simulated job reads the users
file from S3 and writes the documented output (register personalize.batch.input-output).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from rich.console import Console

from contract.layout import MANIFEST_KEY
from pipelinectl.backend import Backend
from pipelinectl.cli import main
from pipelinectl.errors import ExitCode
from pipelinectl.offline_session import offline_backend
from simulator.cloud_assembly import SynthesizedPipeline, load_synthesized_pipeline
from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline, offline_account
from simulator.sample_data import generate_ratings
from tests.conftest import BATCH_ONLY_STACK, TWO_PIPELINES_BLOCK, VARIATIONS_BLOCK, synthesize

USERS = 200  # generate_ratings()'s users, every one with ratings at or above the threshold


@pytest.fixture(scope="module")
def batch_only(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    # BATCH_ONLY_BLOCK, synthesized as one of two pipelines (tests/conftest.py).
    return load_synthesized_pipeline(synthesize(tmp_path_factory, TWO_PIPELINES_BLOCK), BATCH_ONLY_STACK)


@pytest.fixture(scope="module")
def both_targets(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    return load_synthesized_pipeline(synthesize(tmp_path_factory, VARIATIONS_BLOCK))


@pytest.fixture
def pipeline(batch_only: SynthesizedPipeline) -> Iterator[OfflinePipeline]:
    with offline_account() as account:
        deployed = OfflinePipeline(batch_only, account)
        deployed.upload_ratings(generate_ratings())
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
    pipeline.upload_ratings(generate_ratings() + generate_ratings(users=30, seed=2, first_user=1000))


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
    # cdk destroy: batch jobs cannot be deleted (nor need to be); everything else goes, the output stays.
    assert pipeline.destroy().status == "SUCCESS"
    personalize = pipeline.account.personalize
    assert [
        kind for kind in ("dataset_group", "dataset", "solution", "solution_version") if personalize.resources_of(kind)
    ] == []
    assert read(pipeline, MANIFEST_KEY) and read(pipeline, "recommendations/week-1/users.json.out")


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
        pipeline.upload_ratings(generate_ratings())

        result = pipeline.start_execution(name="week-1")

        assert result.status == "SUCCEEDED", result.cause
        operations = [name for name, _ in account.personalize.calls]
        assert operations.index("CreateBatchInferenceJob") < operations.index("CreateCampaign")
        (job,) = calls(pipeline, "CreateBatchInferenceJob")
        key_arn = job["jobInput"]["s3DataSource"]["kmsKeyArn"]
        assert job["jobOutput"]["s3DataDestination"]["kmsKeyArn"] == key_arn and ":key/" in key_arn
        assert job["numResults"] == 10
        # deployment.batch.filter: the configured exclusion filter, kept by "Ensure filters".
        assert job["filterArn"] == f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}:filter/movielens-filter-unseen"
        event = outcome(pipeline)
        assert event["campaignArn"].endswith(":campaign/movielens-campaign")
        assert event["batchOutput"]["runName"] == "week-1"
        assert (
            manifest(pipeline)["solutionVersionArn"]
            == account.personalize.resources_of("campaign")[0]["solutionVersionArn"]
        )


# --- the command-line tool on a batch-only deployment ---------------------------------------------


def test_cli_shows_recommends_from_and_rolls_back_the_batch_output(batch_only: SynthesizedPipeline) -> None:
    cli = ["--offline", "--cdk-out", str(batch_only.directory), "--pipeline", "films", "--offline-runs", "2"]
    with offline_backend(
        batch_only.directory,
        prior_runs=2,
        same_data=True,
        console=Console(file=io.StringIO()),
        stack_name=BATCH_ONLY_STACK,
    ) as backend:
        status = run_cli(backend, *cli, "status")
        assert status.code == ExitCode.OK, status.err
        assert "Campaign" not in status.out
        assert (
            "Batch output  run offline-week-2, s3://personalizepipeline-films-databucket-offline/recommendations/"
            in (status.out)
        )
        assert "Counts        240 users, 6,000 recommendations (25 asked per user; 0 users with fewer)" in status.out
        assert "Earlier       offline-week-1" in status.out

        recommend = run_cli(backend, *cli, "recommend", "--user", "7", "--n", "5")
        assert recommend.code == ExitCode.OK, recommend.err
        assert "from the batch output of run offline-week-2" in recommend.out
        assert "this pipeline has no campaign (deployment.targets)" in recommend.out
        assert run_cli(backend, *cli, "recommend", "--user", "no-such-user").code == ExitCode.ACTION_NEEDED

        rollback = run_cli(backend, *cli, "rollback", "--yes")
        assert rollback.code == ExitCode.OK, rollback.err
        assert "Batch output manifest points at run offline-week-1 again" in rollback.out
        s3 = backend.client("s3")
        current = json.loads(s3.get_object(Bucket=backend.offline.bucket_name, Key=MANIFEST_KEY)["Body"].read())
        assert (current["runName"], current["rolledBackFrom"]["runName"]) == ("offline-week-1", "offline-week-2")

        again = run_cli(backend, *cli, "rollback", "--yes")
        assert again.code == ExitCode.ACTION_NEEDED
        assert "remembers none before it: nothing to roll back to" in again.err


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(backend: Backend, *argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, backend=backend)
    return Result(code, out.getvalue(), err.getvalue())
