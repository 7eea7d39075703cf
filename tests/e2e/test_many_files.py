"""Raw data as a folder of many objects (data.rawKey ending in '/'): daily drops, some gzip-compressed,
converted by the Lambda engine below the threshold of data.engine auto; an empty folder.

The movielens pipeline of tests/conftest.py TWO_PIPELINES_BLOCK reads raw/ml-100k/, so these runs
share the several-pipelines synth.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator

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
