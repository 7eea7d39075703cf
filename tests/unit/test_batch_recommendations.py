"""Batch recommendations: the job step and the simulated job, the check of its output, the manifest.

The simulated job writes the documented output format (register personalize.batch.input-output);
the validation and publication handlers read it from a moto S3 as they would from S3.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import batch_output
import boto3
import personalize_steps as steps
import prepare_data
import pytest

from contract.batch_output import (
    MANIFEST_HISTORY,
    BatchOutputInvalidError,
    published_manifest,
    rolled_back_manifest,
    users_file_lines,
)
from simulator import aws as simulated_aws
from simulator.clock import SimulatedClock
from simulator.personalize import PersonalizeSimulator
from stacks.interactions_schema import INTERACTIONS_SCHEMA_JSON
from stacks.items_schema import ITEMS_SCHEMA_JSON

BUCKET = "pipeline-data-bucket"
ARN = "arn:aws:personalize:us-east-1:123456789012"
RECIPE = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
INPUT_KEY = "batch-input/run-1/users.json"
OUTPUT_PREFIX = "recommendations/run-1/"
ROLE = "arn:aws:iam::123456789012:role/BatchRole"
RUN = {"executionName": "run-1", "executionStartTime": "2026-01-05T06:00:00Z", "jobNamePrefix": "movielens-batch"}


def interactions(users: int = 30, per_user: int = 40) -> bytes:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP"]
    for user in range(users):
        lines += [f"{user},{(user + k) % 60},{1_700_000_000 + k}" for k in range(per_user)]
    return ("\n".join(lines) + "\n").encode()


def users_file(users: list[str]) -> bytes:
    return b"".join(users_file_lines(users))


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock()


@pytest.fixture
def files() -> dict[tuple[str, str], bytes]:
    return {(BUCKET, "training/run-1/interactions.csv"): interactions()}


@pytest.fixture
def personalize(
    monkeypatch: pytest.MonkeyPatch, clock: SimulatedClock, files: dict[tuple[str, str], bytes]
) -> Iterator[PersonalizeSimulator]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)

    def read(bucket: str, key: str) -> bytes:
        return files[(bucket, key)]

    def listing(bucket: str, prefix: str) -> list[str]:
        return [key for (b, key) in files if b == bucket and key.startswith(prefix)]

    def write(bucket: str, key: str, body: bytes) -> None:
        files[(bucket, key)] = body

    simulator = PersonalizeSimulator(clock, s3_reader=read, s3_lister=listing, s3_writer=write)
    with simulated_aws.activate(simulator), steps.DEPENDENCIES.given(personalize=boto3.client("personalize")):
        yield simulator


def trained_version(personalize: PersonalizeSimulator, clock: SimulatedClock) -> str:
    """An ACTIVE solution version trained on :func:`interactions` (30 users, 60 items)."""
    pz = boto3.client("personalize")
    group = pz.create_dataset_group(name="movielens")["datasetGroupArn"]
    clock.advance(3600)
    schema = pz.create_schema(name="s", schema=INTERACTIONS_SCHEMA_JSON)["schemaArn"]
    dataset = pz.create_dataset(name="d", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions")
    clock.advance(3600)
    pz.create_dataset_import_job(
        jobName="import",
        datasetArn=dataset["datasetArn"],
        dataSource={"dataLocation": f"s3://{BUCKET}/training/run-1/interactions.csv"},
        roleArn=ROLE,
    )
    solution = pz.create_solution(name="movielens-solution", datasetGroupArn=group, recipeArn=RECIPE)["solutionArn"]
    clock.advance(3600)
    version = pz.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    clock.advance(3 * 3600)
    return str(version)


def start_job(version: str, **overrides: Any) -> dict[str, Any]:
    event = {
        "solutionVersionArn": version,
        "inputPath": f"s3://{BUCKET}/{INPUT_KEY}",
        "outputPath": f"s3://{BUCKET}/{OUTPUT_PREFIX}",
        "roleArn": ROLE,
        "numResults": 10,
        **RUN,
        **overrides,
    }
    return steps.start_batch_inference(event)


# --- the job: the step's request, and the simulated service ----------------------------------------


def test_start_batch_inference_sends_the_documented_request_once_per_run(
    personalize: PersonalizeSimulator, clock: SimulatedClock, files: dict[tuple[str, str], bytes]
) -> None:
    version = trained_version(personalize, clock)
    files[(BUCKET, INPUT_KEY)] = users_file(["1", "2"])

    first = start_job(version, kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    retried = start_job(
        version, kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )

    creates = [params for name, params in personalize.calls if name == "CreateBatchInferenceJob"]
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert creates == [
        {
            "jobName": first["name"],
            "solutionVersionArn": version,
            "numResults": 10,
            "jobInput": {"s3DataSource": {"path": f"s3://{BUCKET}/{INPUT_KEY}", "kmsKeyArn": key}},
            "jobOutput": {"s3DataDestination": {"path": f"s3://{BUCKET}/{OUTPUT_PREFIX}", "kmsKeyArn": key}},
            "roleArn": ROLE,
        }
    ]
    assert first["name"].startswith("movielens-batch-20260105T060000-")
    assert retried == first
    assert first["arn"] == f"{ARN}:batch-inference-job/{first['name']}"


def test_start_batch_inference_refuses_an_output_path_that_is_not_a_folder(
    personalize: PersonalizeSimulator, clock: SimulatedClock
) -> None:
    with pytest.raises(steps.InvalidEventError, match="'outputPath' must be a folder ending in '/'"):
        start_job(f"{ARN}:solution/s/1", outputPath=f"s3://{BUCKET}/recommendations/run-1")


def test_simulated_job_moves_through_the_documented_statuses_and_writes_the_output_when_active(
    personalize: PersonalizeSimulator, clock: SimulatedClock, files: dict[tuple[str, str], bytes]
) -> None:
    version = trained_version(personalize, clock)
    files[(BUCKET, INPUT_KEY)] = users_file(["1", "2", "unknown-user"])
    job = start_job(version)
    pz = boto3.client("personalize")

    def status() -> str:
        return str(pz.describe_batch_inference_job(batchInferenceJobArn=job["arn"])["batchInferenceJob"]["status"])

    seen = [status()]
    clock.advance(2)
    seen.append(status())
    output_key = (BUCKET, f"{OUTPUT_PREFIX}users.json.out")
    assert output_key not in files  # nothing is written before the job is done
    clock.advance(3600)
    seen.append(status())

    assert seen == ["PENDING", "IN PROGRESS", "ACTIVE"]
    lines = [json.loads(line) for line in files[output_key].splitlines()]
    assert [line["input"] for line in lines] == [{"userId": "1"}, {"userId": "2"}, {"userId": "unknown-user"}]
    assert all(line["error"] is None and len(line["output"]["recommendedItems"]) == 10 for line in lines)
    assert set(lines[0]["output"]) == {"recommendedItems", "scores"}
    (summary,) = pz.list_batch_inference_jobs(solutionVersionArn=version)["batchInferenceJobs"]
    assert summary["status"] == "ACTIVE" and summary["jobName"] == job["name"]


def test_a_batch_job_through_a_filter_recommends_only_what_the_filter_keeps(
    personalize: PersonalizeSimulator, clock: SimulatedClock, files: dict[tuple[str, str], bytes]
) -> None:
    """deployment.batch.filter: the job's lines honour the filter (register personalize.filters.expressions)."""
    version = trained_version(personalize, clock)
    pz = boto3.client("personalize")
    group = personalize.resources_of("dataset_group")[0]["datasetGroupArn"]
    schema = pz.create_schema(name="items", schema=ITEMS_SCHEMA_JSON)["schemaArn"]
    items = pz.create_dataset(name="items", schemaArn=schema, datasetGroupArn=group, datasetType="Items")
    clock.advance(3600)
    files[(BUCKET, "training/run-1/items.csv")] = (
        "ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP\n"
        + "".join(f"{item},Drama,{1980 + item % 20},\n" for item in range(60))
    ).encode()
    pz.create_dataset_import_job(
        jobName="items",
        datasetArn=items["datasetArn"],
        dataSource={"dataLocation": f"s3://{BUCKET}/training/run-1/items.csv"},
        roleArn=ROLE,
    )
    clock.advance(3600)
    recent = pz.create_filter(
        name="movielens-filter-recent",
        datasetGroupArn=group,
        filterExpression="INCLUDE ItemID WHERE Items.YEAR >= 1995",
    )["filterArn"]
    files[(BUCKET, INPUT_KEY)] = users_file(["1", "2"])
    # Not ACTIVE yet: the step waits (ResourceInUseException, retried by the state machine).
    with pytest.raises(steps.ResourceInUseException, match="is CREATE PENDING"):
        start_job(version, filterArn=recent)
    clock.advance(3600)

    job = start_job(version, filterArn=recent)
    clock.advance(3600)

    described = pz.describe_batch_inference_job(batchInferenceJobArn=job["arn"])["batchInferenceJob"]
    assert described["status"] == "ACTIVE", described.get("failureReason")
    assert described["filterArn"] == recent
    lines = [json.loads(line) for line in files[(BUCKET, f"{OUTPUT_PREFIX}users.json.out")].splitlines()]
    recommended = [item for line in lines for item in line["output"]["recommendedItems"]]
    assert recommended and all(1980 + int(item) % 20 >= 1995 for item in recommended)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, f"No input data files found at s3://{BUCKET}/{INPUT_KEY}"),
        (b'{"userId": "1"}\nnot json\n', f"Invalid JSON in input file {INPUT_KEY} at line 2"),
    ],
    ids=["missing", "malformed"],
)
def test_simulated_job_fails_on_a_missing_or_malformed_input(
    personalize: PersonalizeSimulator,
    clock: SimulatedClock,
    files: dict[tuple[str, str], bytes],
    body: bytes | None,
    reason: str,
) -> None:
    version = trained_version(personalize, clock)
    if body is not None:
        files[(BUCKET, INPUT_KEY)] = body
    job = start_job(version)
    clock.advance(3600)

    described = boto3.client("personalize").describe_batch_inference_job(batchInferenceJobArn=job["arn"])
    assert described["batchInferenceJob"]["status"] == "CREATE FAILED"
    assert described["batchInferenceJob"]["failureReason"] == reason
    assert not [key for (_, key) in files if key.startswith(OUTPUT_PREFIX)]


def test_simulated_jobs_are_limited_to_five_pending_per_region(
    personalize: PersonalizeSimulator, clock: SimulatedClock, files: dict[tuple[str, str], bytes]
) -> None:
    version = trained_version(personalize, clock)
    files[(BUCKET, INPUT_KEY)] = users_file(["1"])
    for run in range(5):
        start_job(version, executionName=f"run-{run}")

    with pytest.raises(steps.LimitExceededException, match="pending or in progress batch inference jobs"):
        start_job(version, executionName="run-6")


# --- the check of the output -------------------------------------------------------------------


def put(s3: Any, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def output_line(user: str, items: int, error: str | None = None) -> bytes:
    record = {"input": {"userId": user}, "output": {"recommendedItems": [str(i) for i in range(items)]}, "error": error}
    return json.dumps(record).encode() + b"\n"


def validate(s3: Any, num_results: int = 3) -> dict[str, Any]:
    return batch_output.validate_batch_output(
        {"bucket": BUCKET, "inputKey": INPUT_KEY, "outputPrefix": OUTPUT_PREFIX, "numResults": num_results}, s3=s3
    )


def test_a_complete_output_is_counted_and_short_lists_are_reported_not_refused(s3: Any) -> None:
    put(s3, INPUT_KEY, users_file(["1", "2", "3"]))
    put(s3, f"{OUTPUT_PREFIX}users.json.out", output_line("3", 3) + output_line("1", 3) + output_line("2", 1))
    put(s3, f"{OUTPUT_PREFIX}_CHECK", b"")

    assert validate(s3) == {
        "outputPrefix": OUTPUT_PREFIX,
        "outputKeys": [f"{OUTPUT_PREFIX}users.json.out"],
        "users": 3,
        "recommendations": 7,
        "numResults": 3,
        "usersWithFewerItems": 1,
        "fewerItemsExamples": ["user 2: 1 items"],
    }


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [
                ("1", 3, None),
                ("2", 0, "User error: Required fields for the provided recipe are userId"),
                ("3", 3, None),
            ],
            "1 lines carry an error (user 2: User error: Required fields for the provided recipe are userId)",
        ),
        ([("1", 3, None), ("3", 3, None)], "1 of the 3 input users have no output line"),
        (
            [("1", 3, None), ("2", 3, None), ("3", 3, None), ("3", 3, None)],
            "1 output lines are for users not in the input, or repeat a user",
        ),
    ],
    ids=["error-line", "missing-user", "repeated-user"],
)
def test_an_incomplete_or_failed_output_is_refused_with_the_reason(
    s3: Any, lines: list[tuple[str, int, str | None]], message: str
) -> None:
    put(s3, INPUT_KEY, users_file(["1", "2", "3"]))
    put(s3, f"{OUTPUT_PREFIX}users.json.out", b"".join(output_line(*line) for line in lines))

    with pytest.raises(BatchOutputInvalidError) as raised:
        validate(s3)
    assert str(raised.value) == (
        f"batch output s3://{BUCKET}/{OUTPUT_PREFIX} was not published: {message} (input s3://{BUCKET}/{INPUT_KEY})"
    )


def test_no_output_file_is_refused(s3: Any) -> None:
    put(s3, INPUT_KEY, users_file(["1"]))
    with pytest.raises(BatchOutputInvalidError, match=f"the batch job wrote no .out file under s3://{BUCKET}/"):
        validate(s3)


# --- the manifest --------------------------------------------------------------------------------


def output(run: str) -> dict[str, Any]:
    return {"runName": run, "solutionVersionArn": f"{ARN}:solution/s/{run}", "outputPrefix": f"recommendations/{run}/"}


def test_publishing_keeps_the_replaced_outputs_newest_first_and_bounded() -> None:
    manifest = None
    for run in range(MANIFEST_HISTORY + 3):
        manifest = published_manifest(manifest, output(f"run-{run}"), published_at=f"t{run}")

    assert manifest is not None
    assert manifest["runName"] == f"run-{MANIFEST_HISTORY + 2}"
    assert [entry["runName"] for entry in manifest["history"]] == [
        f"run-{n}" for n in range(MANIFEST_HISTORY + 1, 1, -1)
    ]


def test_rollback_points_at_the_previous_output_and_refuses_when_none_is_left() -> None:
    manifest = published_manifest(None, output("run-1"), published_at="t1")
    manifest = published_manifest(manifest, output("run-2"), published_at="t2")

    rolled = rolled_back_manifest(manifest, rolled_back_at="t3")

    assert rolled["runName"] == "run-1" and rolled["outputPrefix"] == "recommendations/run-1/"
    assert rolled["rolledBackFrom"]["runName"] == "run-2"
    assert rolled["history"] == []
    with pytest.raises(ValueError, match="no earlier batch output to roll back to"):
        rolled_back_manifest(rolled, rolled_back_at="t4")


def test_publish_step_writes_the_manifest_consumers_read(s3: Any) -> None:
    event = {
        "bucket": BUCKET,
        "manifestKey": "recommendations/latest.json",
        "runName": "run-1",
        "solutionVersionArn": f"{ARN}:solution/s/1",
        "batchInferenceJobArn": f"{ARN}:batch-inference-job/j",
        "inputKey": INPUT_KEY,
        "output": {
            "outputPrefix": OUTPUT_PREFIX,
            "outputKeys": [f"{OUTPUT_PREFIX}users.json.out"],
            "users": 3,
            "recommendations": 9,
            "numResults": 3,
            "usersWithFewerItems": 0,
        },
    }
    moment = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    batch_output.publish_batch_output(event, s3=s3, clock=lambda: moment)

    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="recommendations/latest.json")["Body"].read())
    assert manifest == {
        "version": 1,
        "runName": "run-1",
        "solutionVersionArn": f"{ARN}:solution/s/1",
        "batchInferenceJobArn": f"{ARN}:batch-inference-job/j",
        "bucket": BUCKET,
        "inputKey": INPUT_KEY,
        "outputPrefix": OUTPUT_PREFIX,
        "outputKeys": [f"{OUTPUT_PREFIX}users.json.out"],
        "users": 3,
        "recommendations": 9,
        "numResults": 3,
        "usersWithFewerItems": 0,
        "publishedAt": "2026-01-05T09:00:00+00:00",
        "history": [],
    }


# --- the data preparation's part ------------------------------------------------------------------


def prepare_event(**batch: str) -> dict[str, Any]:
    return {
        "bucket": BUCKET,
        "rawKey": "raw/u.data",
        "format": "ml-100k",
        "minRating": 4,
        "outputKey": "training/run-1/interactions.csv",
        "batch": {"manifestKey": "recommendations/latest.json", **batch},
    }


def test_prepare_writes_every_trained_user_once_and_reads_the_served_version(s3: Any) -> None:
    put(s3, "raw/u.data", b"7\t1\t5\t1\n8\t2\t5\t2\n7\t3\t4\t3\n9\t4\t1\t4\n")
    put(s3, "recommendations/latest.json", json.dumps({"solutionVersionArn": f"{ARN}:solution/s/abc"}).encode())

    result = prepare_data.handler(prepare_event(inputKey=INPUT_KEY), s3=s3)

    assert result["batch"] == {
        "inputKey": INPUT_KEY,
        "usersWritten": 2,
        "servedSolutionVersionArn": f"{ARN}:solution/s/abc",
    }
    body = s3.get_object(Bucket=BUCKET, Key=INPUT_KEY)["Body"].read()
    assert body == b'{"userId":"7"}\n{"userId":"8"}\n'  # user 9 rated below the threshold only


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ({}, f"no users file at s3://{BUCKET}/batch/users.json (deployment.batch.usersKey)"),
        (
            {"batch/users.json": b"{}", "batch/users.json.old": b"{}"},
            f"s3://{BUCKET}/batch/users.json.old starts with the users file's key 'batch/users.json'",
        ),
    ],
    ids=["missing", "shares-its-prefix"],
)
def test_prepare_refuses_a_configured_users_file_the_job_could_not_use(
    s3: Any, objects: dict[str, bytes], message: str
) -> None:
    put(s3, "raw/u.data", b"7\t1\t5\t1\n")
    for key, body in objects.items():
        put(s3, key, body)

    with pytest.raises(prepare_data.BatchUsersNotFoundError, match=re.escape(message)):
        prepare_data.handler(prepare_event(usersKey="batch/users.json"), s3=s3)
    assert "training/run-1/interactions.csv" not in {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
