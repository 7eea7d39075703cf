"""Unit tests of the prepare_data Lambda: pure converter and handler against moto S3.

All data is generated here (MovieLens itself may not be redistributed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambdas" / "prepare_data"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

import movielens  # noqa: E402
import prepare_data  # noqa: E402
from movielens import ConversionStats, NoUsableRowsError, convert, iter_lines  # noqa: E402
from prepare_data import InvalidEventError, RawDataNotFoundError  # noqa: E402

from contract.run_record import data_fingerprint  # noqa: E402

BUCKET = "pipeline-data-bucket"
RAW_KEY = "raw/ml-100k/u.data"
OUT_KEY = "prepared/interactions.csv"
HEADER = b"USER_ID,ITEM_ID,TIMESTAMP\n"


def u_data(rows: list[tuple[Any, Any, Any, Any]]) -> bytes:
    """Rows in the ml-100k u.data layout (tab-separated, no header)."""
    return b"".join(b"%s\t%s\t%s\t%s\n" % tuple(str(v).encode() for v in row) for row in rows)


def ratings_csv(rows: list[tuple[Any, Any, Any, Any]]) -> bytes:
    """Rows in the ratings.csv layout of newer MovieLens releases (with header)."""
    body = b"".join(b"%s,%s,%s,%s\n" % tuple(str(v).encode() for v in row) for row in rows)
    return b"userId,movieId,rating,timestamp\n" + body


def run(data: bytes, fmt: str, min_rating: float, chunk: int = 7) -> tuple[bytes, ConversionStats]:
    """Convert in small chunks, so lines straddle chunk boundaries."""
    stats = ConversionStats()
    chunks = (data[i : i + chunk] for i in range(0, len(data), chunk))
    return b"".join(convert(chunks, fmt, min_rating, stats)), stats


def event(**overrides: Any) -> dict[str, Any]:
    base = {"bucket": BUCKET, "rawKey": RAW_KEY, "format": "ml-100k", "minRating": 4, "outputKey": OUT_KEY}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def keys(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


# --- pure converter ------------------------------------------------------------------------


def test_ml100k_threshold_keeps_exact_rows_and_bytes() -> None:
    data = u_data(
        [
            (1, 10, 5, 881250949),
            (1, 11, 3, 881250950),
            (2, 10, 4, 891717742),
            (3, 12, 1, 878887116),
            (2, 13, 4, 886397596),
        ]
    )
    out, stats = run(data, "ml-100k", 4)
    assert out == HEADER + b"1,10,881250949\n2,10,891717742\n2,13,886397596\n"
    assert (stats.rows_read, stats.rows_written, stats.rows_below_threshold, stats.rows_malformed) == (5, 3, 2, 0)
    assert stats.users == 2 and stats.users_with_two_or_more == 1
    assert stats.sha256 == hashlib.sha256(out).hexdigest()
    assert stats.bytes_written == len(out)


def test_ratings_csv_half_stars_threshold_and_header_skipped() -> None:
    data = ratings_csv(
        [(1, 31, 2.5, 1260759144), (1, 1029, 3.5, 1260759179), (7, 1061, 3.0, 1260759182), (7, 1129, 4.5, 1260759185)]
    )
    out, stats = run(data, "ratings-csv", 3.5)
    assert out == HEADER + b"1,1029,1260759179\n7,1129,1260759185\n"
    assert (stats.rows_read, stats.rows_written, stats.rows_below_threshold) == (4, 2, 2)


def test_crlf_bom_header_and_missing_final_newline() -> None:
    data = b"\xef\xbb\xbfuserId,movieId,rating,timestamp\r\n1,2,4.0,100\r\n3,4,5.0,200"
    out, stats = run(data, "ratings-csv", 4, chunk=3)
    assert out == HEADER + b"1,2,100\n3,4,200\n"
    assert stats.rows_malformed == 0


def test_malformed_rows_are_counted_with_line_numbers() -> None:
    lines = [
        b"1\t10\t5\t100",  # 1 ok
        b"1\t10\t5",  # 2 too few fields
        b"\t10\t5\t100",  # 3 empty user id
        b"2\t11\tfive\t100",  # 4 non-numeric rating
        b"2\t11\t4\tyesterday",  # 5 non-numeric timestamp
        b"2\t11\t4\t100\textra",  # 6 too many fields
        b"",  # 7 blank line in the middle: skipped, not a row
        b"2,11,4,100",  # 8 wrong delimiter
        b"3\t12\tinf\t-5",  # 9 not a finite rating, negative timestamp
        b"3\t12\t4\t100",  # 10 ok
        b"",  # trailing blank lines are not rows
        b"",
    ]
    out, stats = run(b"\n".join(lines), "ml-100k", 4)
    assert out == HEADER + b"1,10,100\n3,12,100\n"
    for bad in (
        b"1\t2\tnan\t1",
        b"1\t2\tinf\t1",
        b"1\t2\t-inf\t1",
        b"1\t2\t5\t-1",
        b"u 1\t2\t5\t1",
        b"u,1\t2\t5\t1",
        b"1\t2\t5\t1.5",
    ):
        _, bad_stats = run(b"1\t1\t5\t1\n" + bad, "ml-100k", 4)
        assert bad_stats.malformed_line_numbers == [2], bad
    assert stats.rows_read == 9
    assert stats.rows_malformed == 7
    assert stats.malformed_line_numbers == [2, 3, 4, 5, 6]  # only the first five
    assert stats.rows_read == stats.rows_written + stats.rows_below_threshold + stats.rows_malformed
    assert any("7 malformed rows" in w for w in stats.warnings())


def test_contract_blank_lines_and_repeated_headers_are_not_rows() -> None:
    # Files under a prefix each start with a header; a concatenation of them repeats it.
    data = b"userId,movieId,rating,timestamp\n1,2,4.0,100\n\n   \nUSERID, movieId ,Rating,timestamp\r\n3,4,5,200\n"
    out, stats = run(data, "ratings-csv", 4, chunk=5)
    assert out == HEADER + b"1,2,100\n3,4,200\n"
    assert (stats.rows_read, stats.rows_written, stats.rows_malformed) == (2, 2, 0)


@pytest.mark.parametrize(
    ("rating", "timestamp", "written"),
    [
        (b"4", b"100", b"100"),
        (b" 4.5 ", b" 0100 ", b"100"),  # spaces around numbers; a leading zero is dropped
        (b".5e1", b"0", b"0"),
        (b"+4.", b"9223372036854775807", b"9223372036854775807"),
        (b"4_5", b"100", None),  # Python's float() reads 45.0; it is not a decimal number
        (b"inf", b"100", None),
        (b"1e999", b"100", None),  # overflows to infinity
        (b"4", b"9223372036854775808", None),  # past a long
        (b"4", b"+100", None),
        (b"4", b"-0", None),
        (b"4" + b"0" * 70, b"1", None),  # longer than 64 bytes
    ],
)
def test_contract_numbers(rating: bytes, timestamp: bytes, written: bytes | None) -> None:
    data = b"1\t2\t%s\t%s\n" % (rating, timestamp)
    if written is None:
        with pytest.raises(NoUsableRowsError, match="1 malformed"):
            run(data, "ml-100k", 0.5)
        return
    out, _ = run(data, "ml-100k", 0.5)
    assert out == HEADER + b"1,2," + written + b"\n"


def _line_by_line(
    data: bytes, fmt: str, min_rating: float, excluded: frozenset[bytes]
) -> tuple[bytes, tuple[int, ...]]:
    """The contract applied one line at a time (the converter's slow path alone)."""
    stats = ConversionStats()
    rows = movielens._RowConverter(b"\t" if fmt == "ml-100k" else b",", fmt != "ml-100k", min_rating, stats, excluded)
    kept = [row for row in map(rows._slow_line, data.split(b"\n")) if row is not None]
    stats.users_seen(row.partition(b",")[0] for row in kept)
    stats.rows_written += len(kept)
    out = b"".join(kept)
    counts = (stats.rows_read, stats.rows_written, stats.rows_below_threshold, stats.rows_malformed)
    return HEADER + out, (*counts, stats.rows_of_deleted_users, stats.users or 0, stats.users_with_two_or_more or 0)


@pytest.mark.parametrize("fmt", ["ml-100k", "ratings-csv"])
@pytest.mark.parametrize("excluded", [frozenset(), frozenset({b"7", b"12"})])
def test_the_fast_loop_equals_the_line_by_line_contract(fmt: str, excluded: frozenset[bytes]) -> None:
    delimiter = "\t" if fmt == "ml-100k" else ","
    ratings = ["0.5", "1", "3.5", "4", "4.0", "4.5", "5"]
    lines = [
        delimiter.join((str(n % 17), f"0{n % 23}" if n % 5 else str(n), ratings[n % 7], str(10_000 + n)))
        for n in range(3000)
    ]
    lines[1500] = "x"  # one malformed line
    lines[1700] = delimiter.join(("5", "6", "4", "9" * 19))  # a timestamp past a long
    lines[1800] = delimiter.join(("5", "6", "4", "1" * 19))  # 19 digits, within a long
    data = ("\n".join(lines) + "\n").encode()
    for chunk in (64, 4096, len(data)):
        stats = ConversionStats()
        pieces = (data[i : i + chunk] for i in range(0, len(data), chunk))
        out = b"".join(convert(pieces, fmt, 4, stats, excluded_users=excluded))
        counts = (stats.rows_read, stats.rows_written, stats.rows_below_threshold, stats.rows_malformed)
        got = (*counts, stats.rows_of_deleted_users, stats.users or 0, stats.users_with_two_or_more or 0)
        assert (out, got) == _line_by_line(data, fmt, 4, excluded), chunk
        assert stats.malformed_line_numbers == [1501, 1701]


def test_overlong_line_is_malformed_without_buffering_it() -> None:
    data = b"1\t10\t5\t100\n" + b"9" * 100_000 + b"\n2\t20\t5\t200\n"
    out, stats = run(data, "ml-100k", 1, chunk=1000)
    assert out == HEADER + b"1,10,100\n2,20,200\n"
    assert stats.malformed_line_numbers == [2]


def test_iter_lines_caps_line_length() -> None:
    lines = list(iter_lines([b"ab", b"cdefgh", b"ij\nk"], max_line=4))
    assert lines == [b"abcde", b"k"]


def test_wrong_format_reports_counts_in_message() -> None:
    data = u_data([(1, 10, 5, 100), (2, 20, 4, 200)])
    with pytest.raises(NoUsableRowsError) as caught:
        run(data, "ratings-csv", 4)
    message = str(caught.value)
    assert "2 rows read, 2 malformed (first at line 1), 0 below minRating 4" in message
    assert "'ratings-csv'" in message


def test_all_below_threshold_suggests_lowering_min_rating() -> None:
    with pytest.raises(NoUsableRowsError, match=r"2 below minRating 4.5\. Lower minRating"):
        run(u_data([(1, 10, 1, 100), (2, 20, 4, 200)]), "ml-100k", 4.5)


def test_warnings_below_personalize_minimums() -> None:
    _, stats = run(u_data([(1, 10, 5, 100)]), "ml-100k", 4)
    warnings = stats.warnings()
    assert any("needs at least 1000" in w for w in warnings)
    assert any("needs at least 25" in w for w in warnings)
    rows = [(user, item, 5, 1000 + item) for user in range(30) for item in range(34)]
    _, stats = run(u_data(rows), "ml-100k", 4, chunk=4096)
    assert stats.rows_written == 1020 and stats.warnings() == []


def test_user_tracking_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(movielens, "MAX_TRACKED_USERS", 2)
    _, stats = run(u_data([(u, 1, 5, 1) for u in range(3)]), "ml-100k", 4)
    assert stats.users is None and stats.users_with_two_or_more is None
    assert any("distinct users" in w for w in stats.warnings())


# --- event validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"bucket": _DROP}, "field 'bucket' is missing"),
        ({"rawKey": ""}, "field 'rawKey' must be a non-empty string"),
        ({"format": "ml-1m"}, "field 'format' must be one of ml-100k, ratings-csv; got 'ml-1m'"),
        ({"format": 3}, "field 'format' must be a non-empty string"),
        ({"minRating": "4"}, "field 'minRating' must be a number such as 4 or 3.5; got '4'"),
        ({"minRating": True}, "field 'minRating' must be a number"),
        ({"minRating": float("inf")}, "field 'minRating' must be a number"),
        ({"minRating": _DROP}, "field 'minRating' is missing"),
        ({"outputKey": None}, "field 'outputKey' must be a non-empty string"),
        ({"outputKey": RAW_KEY}, "must differ from 'rawKey'"),
    ],
)
def test_invalid_event_names_field(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        prepare_data.handler(event(**overrides), s3=object())
    assert expected in str(caught.value)


def test_event_must_be_an_object() -> None:
    with pytest.raises(InvalidEventError, match="must be a JSON object"):
        prepare_data.handler(["not", "a", "dict"], s3=object())


# --- handler against S3 --------------------------------------------------------------------


def test_handler_writes_interactions_and_reports(s3: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=u_data([(1, 10, 5, 100), (2, 20, 2, 200), (3, 30, 4, 300)]) + b"\n")
    result = prepare_data.handler(event(), s3=s3)
    written = s3.get_object(Bucket=BUCKET, Key=OUT_KEY)
    body = written["Body"].read()
    assert body == HEADER + b"1,10,100\n3,30,300\n"
    assert written["ContentType"] == "text/csv"
    head = s3.head_object(Bucket=BUCKET, Key=RAW_KEY)
    assert result == {
        "unchanged": False,
        "noData": False,
        "dataFingerprint": result["dataFingerprint"],
        "interactionsUri": f"s3://{BUCKET}/{OUT_KEY}",
        "rowsRead": 3,
        "rowsWritten": 2,
        "rowsBelowThreshold": 1,
        "rowsMalformed": 0,
        "malformedLineNumbers": [],
        "users": 2,
        "usersWithTwoOrMoreInteractions": 0,
        "bytesWritten": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "workers": 1,
        "rawVersionId": None,
        "rawETag": head["ETag"].strip('"'),
        "warnings": result["warnings"],
        "rawObjects": 1,
        "rawBytes": head["ContentLength"],
        "engine": "lambda",
        "engineReason": "data.engine is lambda (34 bytes to read)",
    }
    assert len(result["warnings"]) == 2
    # One structured record: its fields are attributes of the record (top-level keys in Lambda's JSON format).
    (record,) = caplog.records
    assert (record.getMessage(), record.operation, record.status, record.rowsWritten) == (
        "prepare_data",
        "prepare_data",
        "ok",
        2,
    )


def test_handler_reports_version_id_on_versioned_bucket(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=ratings_csv([(1, 1, 4.5, 1)]))
    result = prepare_data.handler(event(format="ratings-csv"), s3=s3)
    assert result["rawVersionId"] == put["VersionId"]


def test_wrong_delimiter_fails_and_leaves_no_output(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=b"1,10,5,100\n2,20,4,200\n3,30,4,300\n")
    with pytest.raises(NoUsableRowsError) as caught:
        prepare_data.handler(event(), s3=s3)
    assert str(caught.value).startswith(
        f"s3://{BUCKET}/{RAW_KEY} has no usable rows: 3 rows read, 3 malformed (first at line 1), 0 below minRating 4."
    )
    assert keys(s3) == [RAW_KEY]
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_failed_run_keeps_previous_output(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=OUT_KEY, Body=b"previous")
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=b"")
    with pytest.raises(NoUsableRowsError, match=r"0 rows read.*The object is empty"):
        prepare_data.handler(event(), s3=s3)
    assert s3.get_object(Bucket=BUCKET, Key=OUT_KEY)["Body"].read() == b"previous"


def test_missing_raw_object_names_uri_and_uploader(s3: Any) -> None:
    with pytest.raises(RawDataNotFoundError) as caught:
        prepare_data.handler(event(), s3=s3)
    assert f"s3://{BUCKET}/{RAW_KEY}" in str(caught.value)
    assert "python tools/upload_movielens.py --stack-name" in str(caught.value)


def test_missing_bucket_is_raw_data_not_found(s3: Any) -> None:
    with pytest.raises(RawDataNotFoundError, match="s3://no-such-bucket-here/"):
        prepare_data.handler(event(bucket="no-such-bucket-here"), s3=s3)


def test_no_raw_object_before_the_first_training_is_nothing_to_do(s3: Any) -> None:
    """Right after cdk deploy, the schedule may fire before anyone uploaded ratings."""
    result = prepare_data.handler(event(stateKey=STATE_KEY), s3=s3)

    assert result["noData"] is True and result["unchanged"] is False
    assert result["reason"] == (
        f"no data uploaded yet to s3://{BUCKET}/{RAW_KEY}: upload the ratings there "
        "(`python tools/upload_movielens.py --stack-name <your stack name>`)"
    )
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="training/")["KeyCount"] == 0


def test_no_raw_object_after_a_training_is_a_failure(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=STATE_KEY, Body=json.dumps({"lastTraining": {"dataFingerprint": "f1"}}).encode())

    with pytest.raises(RawDataNotFoundError, match=f"no raw ratings object at s3://{BUCKET}/{RAW_KEY}"):
        prepare_data.handler(event(stateKey=STATE_KEY), s3=s3)


class _FailingBody:
    """Wraps a StreamingBody and fails after some chunks, like a dropped connection.

    ``ready``, if given, is awaited (up to 10 s) before failing: the upload's worker threads then
    have started what the test looks for, whatever the machine's load.
    """

    def __init__(self, body: Any, chunks_before_failure: int, ready: Callable[[], bool] | None = None) -> None:
        self._body, self._left, self._ready = body, chunks_before_failure, ready

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        for chunk in self._body.iter_chunks(size):
            if self._left == 0:
                deadline = time.monotonic() + 10
                while self._ready is not None and not self._ready() and time.monotonic() < deadline:
                    time.sleep(0.01)
                raise ConnectionResetError("simulated drop")
            self._left -= 1
            yield chunk

    def close(self) -> None:
        self._body.close()


class _ClientWithFailingBody:
    def __init__(self, s3: Any, chunks_before_failure: int, ready: Callable[[], bool] | None = None) -> None:
        self._s3, self._n, self._ready = s3, chunks_before_failure, ready

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        response = self._s3.get_object(**kwargs)
        response["Body"] = _FailingBody(response["Body"], self._n, self._ready)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_stream_failure_mid_multipart_aborts_upload(s3: Any) -> None:
    # ~7 MiB of output: more than one 5 MiB part, so the multipart path is taken.
    rows = b"12345\t67890\t5\t1000000000\n" * 300_000
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=rows)
    calls: list[str] = []
    # The drop comes once the multipart upload exists (it is created on a worker thread).
    client = _ClientWithFailingBody(s3, chunks_before_failure=6, ready=lambda: "CreateMultipartUpload" in calls)
    s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    small_parts = prepare_data._transfer_config()
    small_parts.multipart_threshold = small_parts.multipart_chunksize = 5 * 1024 * 1024
    original = prepare_data.TRANSFER_CONFIG
    prepare_data.TRANSFER_CONFIG = small_parts
    try:
        with pytest.raises(ConnectionResetError):
            prepare_data.handler(event(), s3=client)
    finally:
        prepare_data.TRANSFER_CONFIG = original
    assert {"CreateMultipartUpload", "AbortMultipartUpload"} <= set(calls)
    assert "CompleteMultipartUpload" not in calls
    assert keys(s3) == [RAW_KEY]
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_fingerprint_follows_content_format_and_threshold() -> None:
    base = data_fingerprint('"53db7c79f9fdfd02185b31ec3cd34ff8"', "ml-100k", 4.0)
    assert base == data_fingerprint("53db7c79f9fdfd02185b31ec3cd34ff8", "ml-100k", 4)
    assert base != data_fingerprint("63db7c79f9fdfd02185b31ec3cd34ff8", "ml-100k", 4.0)
    assert base != data_fingerprint("53db7c79f9fdfd02185b31ec3cd34ff8", "ratings-csv", 4.0)
    assert base != data_fingerprint("53db7c79f9fdfd02185b31ec3cd34ff8", "ml-100k", 3.5)


# --- planning and recording a run -----------------------------------------------------------

STATE_KEY = "state/pipeline-state.json"
PLAN = {
    "trainingMode": "UPDATE",
    "fullRetrainEveryDays": 7,
    "runStartedAt": "2026-03-10T06:00:00Z",
    "polling": {"SolutionVersion": {"intervalSeconds": 300, "maxChecks": 288}},
}


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (
            {**PLAN, "trainingMode": "AUTOTRAIN"},
            "field 'plan.trainingMode' must be one of FULL, UPDATE; got 'AUTOTRAIN'",
        ),
        ({**PLAN, "fullRetrainEveryDays": 0}, "field 'plan.fullRetrainEveryDays' must be an integer >= 1; got 0"),
        ({**PLAN, "runStartedAt": "last tuesday"}, "field 'plan.runStartedAt' must be an ISO-8601 time"),
        ({**PLAN, "polling": {"SolutionVersion": {"intervalSeconds": 0, "maxChecks": 1}}}, "field 'plan.polling'"),
        ("UPDATE", "field 'plan' must be an object"),
    ],
)
def test_invalid_plan_names_field(plan: Any, expected: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        prepare_data.handler(event(stateKey=STATE_KEY, plan=plan), s3=object())
    assert expected in str(caught.value)


def test_a_plan_needs_the_state_record() -> None:
    with pytest.raises(InvalidEventError, match="field 'plan' needs 'stateKey'"):
        prepare_data.handler(event(plan=PLAN), s3=object())


def test_first_run_plans_full_training_and_configured_waits(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=u_data([(1, 10, 5, 100)]))

    result = prepare_data.handler(event(stateKey=STATE_KEY, plan=PLAN), s3=s3)

    assert result["plan"] == {
        "trainingMode": "FULL",
        "trainingModeReason": "no FULL-trained model is deployed yet; UPDATE needs one to build on",
        "waits": {"SolutionVersion": {"firstSeconds": 300, "intervalSeconds": 300}},
    }


# --- the movie file (items dataset) -------------------------------------------------------------

ITEMS_KEY = "raw/ml-100k/u.item"
ITEMS_OUT = "training/run-1/items.csv"
U_ITEM = (
    "1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join("1" if i == 5 else "0" for i in range(19)) + "\n"
).encode()


def items_event(required: bool = False) -> dict[str, Any]:
    return event(
        stateKey="state/pipeline-state.json",
        items={"key": ITEMS_KEY, "format": "u.item", "outputKey": ITEMS_OUT, "required": required},
    )


def test_the_movie_file_is_converted_beside_the_ratings_and_counted(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=u_data([(1, 1, 5, 10)]))
    s3.put_object(Bucket=BUCKET, Key=ITEMS_KEY, Body=U_ITEM)

    result = prepare_data.handler(items_event(), s3=s3)

    items = result["items"]
    assert items["itemsUri"] == f"s3://{BUCKET}/{ITEMS_OUT}"
    assert (items["rowsRead"], items["itemsWritten"], items["rowsMalformed"]) == (1, 1, 0)
    body = s3.get_object(Bucket=BUCKET, Key=ITEMS_OUT)["Body"].read()
    assert body == b"ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP\n1,Comedy,1995,788918400\n"


def test_a_changed_movie_file_alone_is_new_data(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=u_data([(1, 1, 5, 10)]))
    s3.put_object(Bucket=BUCKET, Key=ITEMS_KEY, Body=U_ITEM)
    first = prepare_data.handler(items_event(), s3=s3)["dataFingerprint"]
    s3.put_object(Bucket=BUCKET, Key=ITEMS_KEY, Body=U_ITEM.replace(b"Toy Story", b"Toy Story!"))

    second = prepare_data.handler(items_event(), s3=s3)["dataFingerprint"]

    assert first != second
    without_items = prepare_data.handler(event(stateKey="state/pipeline-state.json"), s3=s3)["dataFingerprint"]
    assert without_items not in (first, second)


def test_without_a_movie_file_the_run_imports_ratings_only_unless_one_is_required(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=u_data([(1, 1, 5, 10)]))

    result = prepare_data.handler(items_event(), s3=s3)

    assert result["items"] == {
        "itemsUri": None,
        "reason": f"no movie file at s3://{BUCKET}/{ITEMS_KEY}: the run imports ratings only",
    }
    with pytest.raises(prepare_data.ItemsNotFoundError, match=f"no movie file at s3://{BUCKET}/{ITEMS_KEY} "):
        prepare_data.handler(items_event(required=True), s3=s3)
