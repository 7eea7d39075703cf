"""Raw data as a folder of many objects (data.rawKey ending in '/'): daily drops, some gzip-compressed,
converted by the Lambda engine below the threshold of data.engine auto; an empty folder.

The movielens pipeline of tests/conftest.py TWO_PIPELINES_BLOCK reads raw/ml-100k/, so these runs
share the several-pipelines synth.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from simulator.cloud_assembly import SynthesizedPipeline, load_synthesized_pipeline
from simulator.offline import OfflinePipeline, offline_account
from simulator.sample_data import Rating, generate_ratings, to_u_data
from tests.conftest import MANY_FILES_STACK, TWO_PIPELINES_BLOCK, app_synth_once


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    synth = app_synth_once(tmp_path_factory, TWO_PIPELINES_BLOCK)
    assert synth.completed.returncode == 0, synth.completed.stderr
    return load_synthesized_pipeline(synth.outdir, MANY_FILES_STACK)


@pytest.fixture
def pipeline(synthesized: SynthesizedPipeline) -> Iterator[OfflinePipeline]:
    with offline_account() as account:
        yield OfflinePipeline(synthesized, account)


def test_an_empty_folder_skips_then_daily_files_train_then_an_emptied_folder_fails(pipeline: OfflinePipeline) -> None:
    # Right after deployment the folder is empty (the console's folder marker only): nothing to do yet.
    pipeline.account.s3().put_object(Bucket=pipeline.bucket_name, Key="raw/ml-100k/", Body=b"")
    first = pipeline.start_execution()
    assert (first.status, first.output["outcome"]) == ("SUCCEEDED", "skipped")
    assert first.output["reason"].startswith("no data uploaded yet to s3://")

    # Three days of ratings: two plain, one gzip-compressed, one in a sub-folder.
    days = [to_u_data(part) for part in _split(generate_ratings(), 3)]
    keys = [
        pipeline.upload_raw_data(days[0], "2026-11-01.data"),
        pipeline.upload_raw_data(gzip.compress(days[1]), "2026-11-02.data.gz"),
        pipeline.upload_raw_data(days[2], "late/2026-11-03.data"),
    ]
    trained = pipeline.start_execution()
    assert (trained.status, trained.output["outcome"]) == ("SUCCEEDED", "succeeded"), trained.cause
    data = trained.output["data"]
    assert (data["rawObjects"], data["engine"]) == (3, "lambda")
    assert data["engineReason"].endswith("within the 4.00 GiB data.engine auto gives one Lambda")
    rows_in = sum(len(day.splitlines()) for day in days)
    assert data["rowsRead"] == rows_in
    key = data["interactionsUri"].removeprefix(f"s3://{pipeline.bucket_name}/")
    training_file = pipeline.account.s3().get_object(Bucket=pipeline.bucket_name, Key=key)["Body"].read()
    assert len(training_file.splitlines()) == data["rowsWritten"] + 1

    # The same files again: no new data. Every object gone after a training: a failure someone must see.
    assert pipeline.start_execution().output["outcome"] == "skipped"
    for key in keys:
        pipeline.account.s3().delete_object(Bucket=pipeline.bucket_name, Key=key)
    emptied = pipeline.start_execution()
    assert (emptied.status, emptied.error) == ("FAILED", "RawDataNotFoundError")
    assert f"no raw ratings objects under s3://{pipeline.bucket_name}/raw/ml-100k/" in str(emptied.cause)


def _split(ratings: list[Rating], parts: int) -> list[list[Rating]]:
    return [ratings[i::parts] for i in range(parts)]


def import_jobs(pipeline: OfflinePipeline) -> list[dict[str, Any]]:
    jobs = pipeline.account.personalize.resources_of("import_job")
    return sorted(jobs, key=lambda job: str(job["creationDateTime"]))


def test_incremental_runs_import_only_new_files_then_a_full_import_at_the_floor(pipeline: OfflinePipeline) -> None:
    """data.importMode INCREMENTAL (movielens): the first import is FULL, a new day's file alone is the next
    import, and training.fullRetrainEveryDays (7) after the last FULL import, a FULL import again."""
    days = [to_u_data(generate_ratings(seed=seed)) for seed in (1, 2, 3)]
    pipeline.upload_raw_data(days[0], "day-1.data")
    first = pipeline.start_execution()
    assert first.output["outcome"] == "succeeded", first.cause
    assert (first.output["data"]["importMode"], first.output["data"]["importModeReason"]) == (
        "FULL",
        "the first import into the dataset is FULL",
    )

    pipeline.upload_raw_data(days[1], "day-2.data")
    second = pipeline.start_execution(gap=timedelta(days=1))
    assert second.output["outcome"] == "succeeded", second.cause
    data = second.output["data"]
    assert (data["importMode"], data["rawObjects"], data["rawObjectsConverted"]) == ("INCREMENTAL", 2, 1)
    job = import_jobs(pipeline)[-1]
    assert (job["importMode"], job["dataSource"]["dataLocation"]) == ("INCREMENTAL", data["interactionsUri"])
    # Personalize now holds both days: what the first import gave and what this one appended.
    (group,) = pipeline.account.personalize.resources_of("dataset_group")
    held = pipeline.account.personalize._group_data(group["datasetGroupArn"], pipeline.account.clock.now())
    assert held is not None and len(held) == first.output["data"]["rowsWritten"] + data["rowsWritten"]

    pipeline.upload_raw_data(days[2], "day-3.data")
    third = pipeline.start_execution(gap=timedelta(days=7))
    assert third.output["outcome"] == "succeeded", third.cause
    assert third.output["data"]["importMode"] == "FULL"
    assert third.output["data"]["importModeReason"].startswith("the last FULL import was 8 days ago")
    assert third.output["data"]["rawObjectsConverted"] == 3
    record = pipeline.account.s3().get_object(Bucket=pipeline.bucket_name, Key="state/imported-objects.json")
    assert sorted(json.loads(record["Body"].read())["objects"]) == [f"raw/ml-100k/day-{n}.data" for n in (1, 2, 3)]
