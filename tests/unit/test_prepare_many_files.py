"""The prepare_data Lambda over a prefix of many raw objects, gzip, the engine choice and the Glue
job's hand-off and output (moto S3; all data generated here)."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import pytest

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambdas" / "prepare_data"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

import prepare_data  # noqa: E402
from prepare_data import GlueOutputMissingError, RawDataNotFoundError, RawDataUnreadableError  # noqa: E402

BUCKET = "pipeline-data-bucket"
PREFIX = "raw/ratings/"
RUN = "training/run-1/"
STATE_KEY = "state/pipeline-state.json"
HEADER = b"userId,movieId,rating,timestamp\n"


def event(**overrides: Any) -> dict[str, Any]:
    base = {
        "bucket": BUCKET,
        "rawKey": PREFIX,
        "format": "ratings-csv",
        "minRating": 4,
        "outputKey": f"{RUN}interactions.csv",
        "stateKey": STATE_KEY,
    }
    return {**base, **overrides}


def put(s3: Any, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def daily_drops(s3: Any) -> None:
    """Three days of ratings, one gzip-compressed, one in a sub-folder, and a folder marker."""
    put(s3, f"{PREFIX}2026-11-01.csv", HEADER + b"1,10,5,100\n1,11,3,101\n")
    put(s3, f"{PREFIX}2026-11-02.csv.gz", gzip.compress(HEADER + b"2,10,4.5,200\nbad row\n"))
    put(s3, f"{PREFIX}late/2026-11-03.csv", HEADER + b"\n3,12,4,300\n")
    put(s3, f"{PREFIX}late/", b"")


def test_every_object_under_the_prefix_is_converted_into_one_file(s3: Any) -> None:
    daily_drops(s3)
    result = prepare_data.handler(event(), s3=s3)
    body = s3.get_object(Bucket=BUCKET, Key=f"{RUN}interactions.csv")["Body"].read()
    assert body == b"USER_ID,ITEM_ID,TIMESTAMP\n1,10,100\n2,10,200\n3,12,300\n"
    assert (result["rowsRead"], result["rowsWritten"], result["rowsBelowThreshold"], result["rowsMalformed"]) == (
        5,
        3,
        1,
        1,
    )
    # Line numbers count within each object: "bad row" is line 3 of the second file.
    assert result["malformedLineNumbers"] == [3]
    assert (result["rawObjects"], result["engine"], result["rawETag"]) == (3, "lambda", None)
    assert result["engineReason"].startswith("data.engine is lambda")


def test_the_listing_is_the_fingerprint(s3: Any) -> None:
    daily_drops(s3)
    first = prepare_data.handler(event(), s3=s3)["dataFingerprint"]
    assert prepare_data.handler(event(), s3=s3)["dataFingerprint"] == first
    put(s3, f"{PREFIX}2026-11-04.csv", HEADER + b"4,10,5,400\n")
    added = prepare_data.handler(event(), s3=s3)["dataFingerprint"]
    put(s3, f"{PREFIX}2026-11-01.csv", HEADER + b"1,10,5,100\n")  # a corrected day
    corrected = prepare_data.handler(event(), s3=s3)["dataFingerprint"]
    assert len({first, added, corrected}) == 3
    s3.put_object(Bucket=BUCKET, Key=STATE_KEY, Body=json.dumps({"lastTraining": {"dataFingerprint": corrected}}))
    assert prepare_data.handler(event(), s3=s3)["unchanged"] is True


def test_an_empty_prefix_is_no_data_before_training_and_a_failure_after(s3: Any) -> None:
    put(s3, PREFIX, b"")  # the folder the console creates
    result = prepare_data.handler(event(), s3=s3)
    assert result["noData"] is True
    assert result["detail"].startswith(f"no raw ratings objects under s3://{BUCKET}/{PREFIX}: upload")
    s3.put_object(Bucket=BUCKET, Key=STATE_KEY, Body=json.dumps({"lastTraining": {"dataFingerprint": "f1"}}))
    with pytest.raises(RawDataNotFoundError, match=f"no raw ratings objects under s3://{BUCKET}/{PREFIX}"):
        prepare_data.handler(event(), s3=s3)


def test_output_under_the_raw_prefix_is_refused(s3: Any) -> None:
    with pytest.raises(prepare_data.InvalidEventError, match="must not be under the raw prefix"):
        prepare_data.handler(event(outputKey=f"{PREFIX}out.csv"), s3=s3)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"userId,movieId\n", "is named .gz but is not gzip data", id="not-gzip"),
        # mtime=0: the same bytes in every pytest-xdist worker, which collect the parameters apart.
        pytest.param(
            gzip.compress(HEADER + b"1,2,5,3\n" * 1000, mtime=0)[:-20],
            "ends in the middle of its gzip data",
            id="cut-short",
        ),
    ],
)
def test_a_broken_gzip_object_is_named(s3: Any, body: bytes, message: str) -> None:
    put(s3, f"{PREFIX}day.csv.gz", body)
    with pytest.raises(RawDataUnreadableError, match=f"s3://{BUCKET}/{PREFIX}day.csv.gz {message}"):
        prepare_data.handler(event(), s3=s3)


def test_gzip_members_and_large_inflation_stream_in_bounded_pieces() -> None:
    rows = HEADER + b"1,2,5,3\n" * 200_000  # 1.6 MB that compresses to a few KB
    pieces = list(prepare_data.gunzip(iter([gzip.compress(rows) + gzip.compress(b"9,9,5,9\n")]), "x", limit=65536))
    assert max(map(len, pieces)) <= 65536
    assert b"".join(pieces) == rows + b"9,9,5,9\n"


def test_auto_hands_a_large_input_to_glue(s3: Any) -> None:
    daily_drops(s3)
    put(s3, "deletion-requests/r1.csv", b"USER_ID\n2\n")
    # Above a threshold of 100 bytes (gzip objects count five times their size).
    deletion = {"prefix": "deletion-requests/", "completedPrefix": "deletion-requests/completed/"}
    result = prepare_data.handler(
        event(engine="auto", engineThresholdBytes=100, deletion={**deletion, "inputKey": f"{RUN}deletions.csv"}),
        s3=s3,
    )
    assert result["engine"] == "glue"
    assert result["engineReason"].endswith("to read, above the 100 bytes data.engine auto gives one Lambda")
    assert result["interactionsUri"] == f"s3://{BUCKET}/{RUN}interactions/"
    assert result["glue"]["arguments"] == {
        "--data_root": f"s3://{BUCKET}",
        "--objects_key": f"{RUN}raw-objects.txt",
        "--format": "ratings-csv",
        "--min_rating": "4",
        "--output_prefix": f"{RUN}interactions/",
        "--stats_prefix": f"{RUN}glue-stats/",
        "--excluded_users_key": f"{RUN}excluded-users.txt",
        "--users_prefix": "",
    }
    listed = s3.get_object(Bucket=BUCKET, Key=f"{RUN}raw-objects.txt")["Body"].read().decode().split()
    assert listed == [f"{PREFIX}2026-11-01.csv", f"{PREFIX}2026-11-02.csv.gz", f"{PREFIX}late/2026-11-03.csv"]
    assert s3.get_object(Bucket=BUCKET, Key=f"{RUN}excluded-users.txt")["Body"].read() == b"2\n"
    # Nothing converted here: no training file, and the deletion count comes with the job's counts.
    assert "rowsRead" not in result and result["deletion"]["rowsLeftOut"] is None
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{RUN}interactions")["KeyCount"] == 0
    assert prepare_data.handler(event(engine="auto"), s3=s3)["engine"] == "lambda"


def glue_wrote(s3: Any, counts: dict[str, int], users: bool = False) -> None:
    """What the job leaves in S3 (Hadoop's checksum files included, as a file system may add them)."""
    put(s3, f"{RUN}glue-stats/part-00000-x.txt", json.dumps(counts).encode() + b"\n")
    put(s3, f"{RUN}interactions/part-00000-x.csv", b"USER_ID,ITEM_ID,TIMESTAMP\n1,10,100\n")
    put(s3, f"{RUN}interactions/part-00001-x.csv", b"USER_ID,ITEM_ID,TIMESTAMP\n2,10,200\n")
    put(s3, f"{RUN}interactions/.part-00000-x.csv.crc", b"crc")
    if users:
        put(s3, f"{RUN}glue-users/part-00000-x.json", b'{"userId":"1"}\n{"userId":"2"}\n')


COUNTS = {
    "rowsRead": 5,
    "rowsWritten": 2,
    "rowsBelowThreshold": 1,
    "rowsMalformed": 1,
    "rowsOfDeletedUsers": 1,
    "users": 2,
    "usersWithTwoOrMoreInteractions": 0,
    "objects": 3,
}


def handed_off(users: bool) -> dict[str, Any]:
    return {
        "engine": "glue",
        "interactionsUri": f"s3://{BUCKET}/{RUN}interactions/",
        "glue": {"statsPrefix": f"{RUN}glue-stats/", "usersPrefix": f"{RUN}glue-users/" if users else None},
        "deletion": {"users": 1, "rowsLeftOut": None},
        **(
            {"batch": {"inputKey": "batch-input/run-1/users.json", "usersWritten": None, "solutions": {"a": {}}}}
            if users
            else {}
        ),
    }


def test_glue_output_reports_the_jobs_counts_like_the_lambda(s3: Any) -> None:
    glue_wrote(s3, COUNTS, users=True)
    data = prepare_data.glue_output(
        {"bucket": BUCKET, "data": handed_off(users=True), "jobRun": {"Id": "jr_1", "ExecutionTime": 61}}, s3=s3
    )
    assert (data["rowsRead"], data["rowsWritten"], data["rowsMalformed"], data["users"]) == (5, 2, 1, 2)
    assert data["bytesWritten"] == 2 * len(b"USER_ID,ITEM_ID,TIMESTAMP\n1,10,100\n")
    assert data["glue"]["outputFiles"] == 2 and data["glue"]["jobRunId"] == "jr_1"
    assert data["deletion"]["rowsLeftOut"] == 1
    assert data["warnings"][0].startswith("only 2 interactions written")
    assert data["batch"]["usersWritten"] == 2 and data["batch"]["solutions"]["a"]["usersWritten"] == 2
    users = s3.get_object(Bucket=BUCKET, Key="batch-input/run-1/users.json")
    assert users["Body"].read() == b'{"userId":"1"}\n{"userId":"2"}\n'


def test_glue_output_without_part_files_fails(s3: Any) -> None:
    put(s3, f"{RUN}glue-stats/part-00000-x.txt", json.dumps(COUNTS).encode())
    with pytest.raises(GlueOutputMissingError, match=f"no part file under s3://{BUCKET}/{RUN}interactions/"):
        prepare_data.glue_output({"bucket": BUCKET, "data": handed_off(users=False), "jobRun": {}}, s3=s3)


# --- data.importMode INCREMENTAL --------------------------------------------------------------

IMPORTED_KEY = "state/imported-objects.json"
PLAN = {
    "trainingMode": "FULL",
    "fullRetrainEveryDays": 7,
    "runStartedAt": "2026-11-10T00:00:00+00:00",
    "polling": {"ImportReady": {"intervalSeconds": 60, "maxChecks": 10}},
}


def day(user_base: int, rows: int = 1200) -> bytes:
    """A day of ratings.csv with ``rows`` interactions rated 5 (enough for an import job on their own)."""
    return HEADER + b"".join(b"%d,%d,5,%d\n" % (user_base + n % 40, n, 1000 + n) for n in range(rows))


def incremental_run(s3: Any, run: str, started: str, **overrides: Any) -> dict[str, Any]:
    """One run's data preparation, then, as the workflow does once the import is ACTIVE, the record."""
    result = prepare_data.handler(
        event(
            outputKey=f"training/{run}/interactions.csv",
            incremental={"importedKey": IMPORTED_KEY, "fullEveryDays": 7},
            plan={**PLAN, "runStartedAt": started},
            **overrides,
        ),
        s3=s3,
    )
    prepare_data.record_import(
        {"bucket": BUCKET, "listingKey": result["importedObjectsKey"], "importedKey": IMPORTED_KEY}, s3=s3
    )
    return result


def test_incremental_imports_only_new_objects_until_a_full_import_is_due(s3: Any) -> None:
    put(s3, f"{PREFIX}d1.csv", day(0))
    first = incremental_run(s3, "r1", "2026-11-01T00:00:00+00:00")
    assert (first["importMode"], first["importModeReason"]) == ("FULL", "the first import into the dataset is FULL")
    assert first["rowsWritten"] == 1200

    put(s3, f"{PREFIX}d2.csv", day(100))
    second = incremental_run(s3, "r2", "2026-11-02T00:00:00+00:00")
    assert second["importMode"] == "INCREMENTAL"
    assert second["importModeReason"].startswith("1 new objects since the last import (")
    assert (second["rawObjects"], second["rawObjectsConverted"], second["rowsWritten"]) == (2, 1, 1200)
    body = s3.get_object(Bucket=BUCKET, Key="training/r2/interactions.csv")["Body"].read()
    assert {line.split(b",")[0] for line in body.splitlines()[1:]} == {b"%d" % u for u in range(100, 140)}

    # Fewer new interactions than an import job takes: everything, FULL.
    put(s3, f"{PREFIX}d3.csv", day(200, rows=10))
    third = incremental_run(s3, "r3", "2026-11-03T00:00:00+00:00")
    assert third["importMode"] == "FULL" and "10 interactions, fewer than the 1,000" in third["importModeReason"]
    assert third["rowsWritten"] == 2410

    # A corrected day: the data it gave must go, so FULL.
    put(s3, f"{PREFIX}d4.csv", day(300))
    assert incremental_run(s3, "r4", "2026-11-04T00:00:00+00:00")["importMode"] == "INCREMENTAL"
    put(s3, f"{PREFIX}d1.csv", day(0, rows=1100))
    corrected = incremental_run(s3, "r5", "2026-11-05T00:00:00+00:00")
    assert corrected["importModeReason"] == (
        f"1 objects imported before were changed or removed (the first: {PREFIX}d1.csv): a FULL import replaces "
        "the data they gave"
    )

    # The floor: 7 days after the last FULL import (r5, on the 5th).
    put(s3, f"{PREFIX}d6.csv", day(400))
    assert incremental_run(s3, "r6", "2026-11-11T00:00:00+00:00")["importMode"] == "INCREMENTAL"
    put(s3, f"{PREFIX}d7.csv", day(500))
    floor = incremental_run(s3, "r7", "2026-11-12T00:00:00+00:00")
    assert floor["importModeReason"] == "the last FULL import was 7 days ago, and one runs every 7 days"


def test_incremental_falls_back_to_full_past_the_incremental_import_size(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(s3, f"{PREFIX}d1.csv", day(0))
    incremental_run(s3, "r1", "2026-11-01T00:00:00+00:00")
    monkeypatch.setattr(prepare_data, "INCREMENTAL_IMPORT_MAX_BYTES", 100)
    put(s3, f"{PREFIX}d2.csv", day(100))
    big = incremental_run(s3, "r2", "2026-11-02T00:00:00+00:00")
    assert big["importMode"] == "FULL"
    assert big["importModeReason"].endswith("more than the 100 bytes an INCREMENTAL import takes")
    # The record moves only once an import is ACTIVE: before record_import, the last one stands.
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=IMPORTED_KEY)["Body"].read())["objects"] == {
        f"{PREFIX}d1.csv": s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}d1.csv")["ETag"].strip('"'),
        f"{PREFIX}d2.csv": s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}d2.csv")["ETag"].strip('"'),
    }
