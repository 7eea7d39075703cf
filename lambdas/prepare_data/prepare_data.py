"""Lambda: convert raw MovieLens ratings in S3 into Personalize's interactions CSV.

Thin handler -> event validation -> S3 adapter (injected client) -> pure converter
(movielens.py). The output is streamed: a file-like reader over the converter's generator
is handed to ``upload_fileobj``, so memory stays bounded by the multipart chunk size
whatever the input size, and nothing touches /tmp.

Exception class names become Step Functions error names (``RawDataNotFoundError``,
``NoUsableRowsError``, ``InvalidEventError``); their messages say what to do.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from movielens import FORMATS, ConversionStats, NoUsableRowsError, convert
from pipeline_state import data_fingerprint, last_fingerprint, read_state, write_state

__all__ = [
    "InvalidEventError",
    "NoUsableRowsError",
    "PrepareRequest",
    "RawDataNotFoundError",
    "handler",
    "parse_event",
    "prepare",
]

MIB: Final = 1024 * 1024
READ_CHUNK_BYTES: Final = 1 * MIB
# Peak memory of the upload is about (max_concurrency + max_in_memory_upload_chunks)
# * multipart_chunksize: ~32 MiB here. 8 MiB parts allow inputs up to 80 GB (10,000 parts).


def _transfer_config() -> TransferConfig:
    """Bounded-memory multipart settings (classic transfer client: CRT is not in Lambda)."""
    config = TransferConfig(
        multipart_threshold=8 * MIB,
        multipart_chunksize=8 * MIB,
        max_concurrency=2,
        preferred_transfer_client="classic",
    )
    # Not a constructor argument of boto3's TransferConfig; s3transfer reads the attribute.
    # It bounds how many parts of a non-seekable stream are buffered (default 10 = 80 MiB).
    config.max_in_memory_upload_chunks = 2
    return config


TRANSFER_CONFIG: Final = _transfer_config()
UPLOADER_HINT: Final = "python tools/upload_movielens.py --stack-name <your stack name>"
_NOT_FOUND_CODES: Final = frozenset({"NoSuchKey", "NoSuchBucket", "404"})

_s3_client: Any = None


class InvalidEventError(Exception):
    """The state machine passed an event this function cannot work with."""


class RawDataNotFoundError(Exception):
    """There is no raw ratings object where the pipeline expects one."""


@dataclass(frozen=True)
class PrepareRequest:
    """The validated event."""

    bucket: str
    raw_key: str
    fmt: str
    min_rating: float
    output_key: str
    state_key: str | None = None

    @property
    def raw_uri(self) -> str:
        return f"s3://{self.bucket}/{self.raw_key}"

    @property
    def output_uri(self) -> str:
        return f"s3://{self.bucket}/{self.output_key}"


def parse_event(event: Any) -> PrepareRequest:
    """Validate the event at the boundary; every message names the field and what is expected."""
    if not isinstance(event, Mapping):
        raise InvalidEventError(
            f"event must be a JSON object with bucket, rawKey, format, minRating, outputKey; "
            f"got {type(event).__name__}"
        )
    bucket = _required_str(event, "bucket", "an S3 bucket name")
    raw_key = _required_str(event, "rawKey", "an S3 key such as 'raw/ml-100k/u.data'")
    fmt = _required_str(event, "format", f"one of {', '.join(FORMATS)}")
    if fmt not in FORMATS:
        raise InvalidEventError(f"field 'format' must be one of {', '.join(FORMATS)}; got {fmt!r}")
    min_rating = _required_number(event, "minRating")
    output_key = _required_str(event, "outputKey", "an S3 key such as 'prepared/interactions.csv'")
    if output_key == raw_key:
        raise InvalidEventError(
            f"field 'outputKey' must differ from 'rawKey' ({raw_key!r}): the raw data would be "
            "overwritten"
        )
    state_key = event.get("stateKey")
    if state_key is not None and (not isinstance(state_key, str) or not state_key.strip()):
        raise InvalidEventError(f"field 'stateKey' must be a non-empty string when given; got {state_key!r}")
    return PrepareRequest(bucket, raw_key, fmt, min_rating, output_key, state_key)


def _required_str(event: Mapping[str, Any], name: str, expected: str) -> str:
    """A present, non-blank string field."""
    if name not in event:
        raise InvalidEventError(f"field {name!r} is missing: expected {expected}")
    value = event[name]
    if not isinstance(value, str) or not value.strip():
        raise InvalidEventError(
            f"field {name!r} must be a non-empty string ({expected}); got {value!r}"
        )
    return value


def _required_number(event: Mapping[str, Any], name: str) -> float:
    """A present, finite JSON number (booleans are not numbers here)."""
    expected = "a number such as 4 or 3.5"
    if name not in event:
        raise InvalidEventError(f"field {name!r} is missing: expected {expected}")
    value = event[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidEventError(f"field {name!r} must be {expected}; got {value!r}")
    return float(value)


class _GeneratorReader:
    """Minimal read-only file object over a generator of byte strings.

    Deliberately not seekable, so s3transfer takes its streaming path: it reads one part at
    a time and only ever holds a bounded number of parts.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._exhausted = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` bytes (everything left when size < 0); b"" at the end."""
        while not self._exhausted and (size < 0 or len(self._buffer) < size):
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                self._exhausted = True
        if size < 0 or size >= len(self._buffer):
            data, self._buffer = bytes(self._buffer), bytearray()
        else:
            with memoryview(self._buffer) as view:
                data = bytes(view[:size])  # one copy, no intermediate bytearray
            del self._buffer[:size]
        return data


def get_s3_client() -> Any:
    """Create the default S3 client once per execution environment (cold start only)."""
    global _s3_client
    if _s3_client is None:
        _s3_client = boto3.client("s3")
    return _s3_client


def open_raw(s3: Any, request: PrepareRequest) -> dict[str, Any]:
    """GetObject on the raw key, turning 'not there' into an actionable error."""
    try:
        return s3.get_object(Bucket=request.bucket, Key=request.raw_key)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _NOT_FOUND_CODES:
            raise RawDataNotFoundError(
                f"no raw ratings object at {request.raw_uri} ({code}): upload the MovieLens "
                f"ratings file there first, e.g. with `{UPLOADER_HINT}`"
            ) from error
        raise


def prepare(request: PrepareRequest, s3: Any) -> dict[str, Any]:
    """Stream raw -> converter -> multipart upload and return the counts for the workflow.

    When the converter finds no usable row it raises inside the upload; s3transfer then
    never completes a PutObject or CompleteMultipartUpload (and aborts a started multipart
    upload), so no partial output object is left behind and a previous output is kept.
    """
    raw = open_raw(s3, request)
    body = raw["Body"]
    fingerprint = data_fingerprint(str(raw.get("ETag", "")), request.fmt, request.min_rating)
    if request.state_key and last_fingerprint(read_state(s3, request.bucket, request.state_key)) == fingerprint:
        body.close()
        return {"unchanged": True, "dataFingerprint": fingerprint, "raw": request.raw_uri}
    stats = ConversionStats()
    try:
        lines = convert(
            body.iter_chunks(READ_CHUNK_BYTES),
            request.fmt,
            request.min_rating,
            stats,
            source=request.raw_uri,
        )
        s3.upload_fileobj(
            _GeneratorReader(lines),
            request.bucket,
            request.output_key,
            ExtraArgs={"ContentType": "text/csv"},
            Config=TRANSFER_CONFIG,
        )
    finally:
        body.close()
    return {"unchanged": False, "dataFingerprint": fingerprint, **_result(request, raw, stats)}


def _result(request: PrepareRequest, raw: Mapping[str, Any], stats: ConversionStats) -> dict:
    """The state output: counts, hash for change detection, and the raw object's identity."""
    return {
        "interactionsUri": request.output_uri,
        "rowsRead": stats.rows_read,
        "rowsWritten": stats.rows_written,
        "rowsBelowThreshold": stats.rows_below_threshold,
        "rowsMalformed": stats.rows_malformed,
        "malformedLineNumbers": list(stats.malformed_line_numbers),
        "users": stats.users,
        "usersWithTwoOrMoreInteractions": stats.users_with_two_or_more,
        "bytesWritten": stats.bytes_written,
        "sha256": stats.sha256,
        "rawVersionId": raw.get("VersionId"),
        "rawETag": str(raw.get("ETag", "")).strip('"'),
        "warnings": stats.warnings(),
    }


def _log(request: PrepareRequest | None, outcome: Mapping[str, Any], started: float) -> None:
    """One structured JSON line per invocation (CloudWatch Logs Insights can query it)."""
    line: dict[str, Any] = {"function": "prepare_data", **outcome}
    if request is not None:
        line.update(raw=request.raw_uri, output=request.output_uri, format=request.fmt,
                    minRating=request.min_rating)
    line["durationMs"] = round((time.monotonic() - started) * 1000)
    print(json.dumps(line, default=str))


def handler(event: Any, context: Any = None, *, s3: Any = None) -> dict[str, Any]:
    """Lambda entry point; ``s3`` can be injected by tests and the offline simulator."""
    started = time.monotonic()
    request: PrepareRequest | None = None
    try:
        request = parse_event(event)
        result = prepare(request, s3 if s3 is not None else get_s3_client())
    except BaseException as error:
        _log(request, {"status": "error", "errorType": type(error).__name__,
                       "errorMessage": str(error)}, started)
        raise
    _log(request, {"status": "ok", **{k: v for k, v in result.items() if k != "interactionsUri"}},
         started)
    return result


def record_run(event: Any, context: Any = None, *, s3: Any = None) -> dict[str, Any]:
    """Last step of a successful run: remember what the deployed model was trained on."""
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"event must be a JSON object; got {type(event).__name__}")
    fields = ("bucket", "stateKey", "dataFingerprint", "executionName", "datasetImportJobArn",
              "solutionVersionArn", "campaignArn")
    values = {name: _required_str(event, name, "a non-empty string") for name in fields}
    bucket, key = values.pop("bucket"), values.pop("stateKey")
    state = write_state(s3 if s3 is not None else get_s3_client(), bucket, key, values)
    print(json.dumps({"function": "record_run", "status": "ok", "state": f"s3://{bucket}/{key}", **state}))
    return state["lastSuccessfulRun"]
