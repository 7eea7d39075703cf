"""Lambda: convert raw MovieLens ratings in S3 into Personalize's interactions CSV.

Thin handler -> event validation -> S3 adapter (injected client) -> pure converter
(movielens.py). The output is streamed: a file-like reader over the converter's generator
is handed to ``upload_fileobj``, so memory stays bounded by the multipart chunk size
whatever the input size, and nothing touches /tmp.

Exception class names become Step Functions error names (``RawDataNotFoundError``,
``NoUsableRowsError``, ``InvalidEventError``); their messages say what to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from deletions import DeletionRequestInvalidError, DeletionRequests, complete, read_requests, users_csv
from movielens import FORMATS, MAX_TRACKED_USERS, ConversionStats, NoUsableRowsError, convert
from movies import ITEMS_FORMATS, ItemStats, NoUsableItemsError, convert_items

from contract.batch_output import read_manifest, users_file_lines
from contract.event_fields import InvalidEventError, required_number, required_str
from contract.logs import log_operation
from contract.personalize import TRAINING_MODES
from contract.run_record import (
    anything_trained,
    data_fingerprint,
    last_fingerprint,
    plan_training_mode,
    plan_waits,
    read_state,
    solution_record,
)
from contract.runtime import Dependencies
from contract.timestamps import parse_time

__all__ = [
    "BatchUsersNotFoundError",
    "DeletionRequestInvalidError",
    "InvalidEventError",
    "ItemsNotFoundError",
    "NoUsableItemsError",
    "NoUsableRowsError",
    "PrepareRequest",
    "RawDataNotFoundError",
    "TooManyUsersForBatchError",
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
# A batch inference job's input quota (register personalize.batch.request).
BATCH_INPUT_MAX_BYTES: Final = 1024**3
UPLOADER_HINT: Final = "python tools/upload_movielens.py --stack-name <your stack name>"
_NOT_FOUND_CODES: Final = frozenset({"NoSuchKey", "NoSuchBucket", "404"})

DEPENDENCIES = Dependencies("prepare_data")
logger = logging.getLogger()
logger.setLevel(logging.INFO)


class RawDataNotFoundError(Exception):
    """There is no raw ratings object where the pipeline expects one."""


class BatchUsersNotFoundError(Exception):
    """deployment.batch.usersKey names no usable object: missing, over the input quota, or not alone under its key."""


class ItemsNotFoundError(Exception):
    """The movie file is required (data.useItems) but not where the pipeline expects it."""


class TooManyUsersForBatchError(Exception):
    """The training data has more distinct users than the users file can be written for from memory."""


@dataclass(frozen=True)
class ItemsInput:
    """The movie file to convert into the items dataset's CSV, and whether a run needs it."""

    key: str
    fmt: str
    output_key: str
    required: bool


@dataclass(frozen=True)
class DeletionInput:
    """Users' deletion requests: where they are dropped, where honoured ones go, and this run's
    input file for the data deletion job."""

    prefix: str
    completed_prefix: str
    input_key: str


@dataclass(frozen=True)
class BatchInput:
    """A deployment to batch: the manifest to read the served version from, and either the users
    file to write (``input_key``) or the configured one to check (``users_key``)."""

    manifest_key: str
    input_key: str
    generate: bool
    # Several solutions: each batch solution's manifest (``manifest_key`` is then unused).
    manifest_keys: Mapping[str, str] | None = None


@dataclass(frozen=True)
class SolutionPlanning:
    """One solution's part of the plan (several solutions): its mode, its floor and its waits."""

    training_mode: str
    full_retrain_every_days: int
    polling: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class RunPlanning:
    """What the workflow needs decided from the pipeline-state record before it starts work.

    ``solutions`` is set for a config with several solutions: then ``training_mode`` and
    ``full_retrain_every_days`` are None, each solution plans its own, and ``polling`` holds the
    run's shared waits only.
    """

    training_mode: str | None
    full_retrain_every_days: int | None
    run_started_at: datetime
    polling: Mapping[str, Mapping[str, int]]
    solutions: Mapping[str, SolutionPlanning] | None = None


@dataclass(frozen=True)
class PrepareRequest:
    """The validated event."""

    bucket: str
    raw_key: str
    fmt: str
    min_rating: float
    output_key: str
    state_key: str | None = None
    planning: RunPlanning | None = None
    batch: BatchInput | None = None
    items: ItemsInput | None = None
    deletion: DeletionInput | None = None

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
            f"event must be a JSON object with bucket, rawKey, format, minRating, outputKey; got {type(event).__name__}"
        )
    bucket = required_str(event, "bucket", "an S3 bucket name")
    raw_key = required_str(event, "rawKey", "an S3 key such as 'raw/ml-100k/u.data'")
    fmt = required_str(event, "format", f"one of {', '.join(FORMATS)}")
    if fmt not in FORMATS:
        raise InvalidEventError(f"field 'format' must be one of {', '.join(FORMATS)}; got {fmt!r}")
    min_rating = required_number(event, "minRating")
    output_key = required_str(event, "outputKey", "an S3 key such as 'prepared/interactions.csv'")
    if output_key == raw_key:
        raise InvalidEventError(
            f"field 'outputKey' must differ from 'rawKey' ({raw_key!r}): the raw data would be overwritten"
        )
    state_key = event.get("stateKey")
    if state_key is not None and (not isinstance(state_key, str) or not state_key.strip()):
        raise InvalidEventError(f"field 'stateKey' must be a non-empty string when given; got {state_key!r}")
    planning = _planning(event["plan"]) if "plan" in event else None
    if planning is not None and state_key is None:
        raise InvalidEventError("field 'plan' needs 'stateKey': plans are made from the pipeline-state record")
    batch = _batch_input(event["batch"], raw_key, output_key) if "batch" in event else None
    items = _items_input(event["items"], raw_key, output_key) if "items" in event else None
    deletion = _deletion_input(event["deletion"]) if "deletion" in event else None
    return PrepareRequest(bucket, raw_key, fmt, min_rating, output_key, state_key, planning, batch, items, deletion)


def _deletion_input(value: Any) -> DeletionInput:
    if not isinstance(value, Mapping):
        raise InvalidEventError(
            f"field 'deletion' must be an object with prefix, completedPrefix, inputKey; got {value!r}"
        )
    prefix = required_str(value, "prefix", "the S3 prefix of deletion requests, ending in '/'")
    completed = required_str(value, "completedPrefix", "the prefix honoured requests move to, under 'prefix'")
    if not prefix.endswith("/") or not completed.startswith(prefix) or not completed.endswith("/"):
        raise InvalidEventError(
            "fields 'deletion.prefix' and 'deletion.completedPrefix' must be folders, one inside the other"
        )
    return DeletionInput(
        prefix, completed, required_str(value, "inputKey", "an S3 key such as 'training/<run>/deletions.csv'")
    )


def _items_input(value: Any, raw_key: str, output_key: str) -> ItemsInput:
    if not isinstance(value, Mapping):
        raise InvalidEventError(
            f"field 'items' must be an object with key, format, outputKey and required; got {value!r}"
        )
    key = required_str(value, "key", "the S3 key of the movie file")
    fmt = required_str(value, "format", " or ".join(ITEMS_FORMATS))
    if fmt not in ITEMS_FORMATS:
        raise InvalidEventError(f"field 'items.format' must be one of {', '.join(ITEMS_FORMATS)}; got {fmt!r}")
    items_output = required_str(value, "outputKey", "an S3 key such as 'training/<run>/items.csv'")
    if len({key, items_output, raw_key, output_key}) != 4:
        raise InvalidEventError("fields 'items.key' and 'items.outputKey' must differ from each other and the ratings")
    required = value.get("required", False)
    if not isinstance(required, bool):
        raise InvalidEventError(f"field 'items.required' must be true or false; got {required!r}")
    return ItemsInput(key, fmt, items_output, required)


def _batch_input(value: Any, raw_key: str, output_key: str) -> BatchInput:
    if not isinstance(value, Mapping):
        raise InvalidEventError(
            f"field 'batch' must be an object with manifestKey and inputKey or usersKey; got {value!r}"
        )
    if "manifestKeys" in value:
        keys = value["manifestKeys"]
        if not isinstance(keys, Mapping) or not keys or not all(isinstance(k, str) and k for k in keys.values()):
            raise InvalidEventError(f"field 'batch.manifestKeys' must map solutions to manifest keys; got {keys!r}")
        input_key = required_str(value, "inputKey", "the S3 key of the users file to write")
        return BatchInput("", input_key, True, dict(keys))
    manifest_key = required_str(value, "manifestKey", "the S3 key of the batch output manifest")
    if ("inputKey" in value) == ("usersKey" in value):
        raise InvalidEventError(
            "field 'batch' needs exactly one of 'inputKey' (the users file to write) and 'usersKey' (a given one)"
        )
    generate = "inputKey" in value
    key = required_str(value, "inputKey" if generate else "usersKey", "an S3 key")
    if key in (raw_key, output_key):
        raise InvalidEventError(f"field 'batch' names {key!r}, which is the raw or the training file")
    return BatchInput(manifest_key, key, generate)


def _planning(value: Any) -> RunPlanning:
    expected = (
        "an object with trainingMode, fullRetrainEveryDays, runStartedAt and polling "
        "({check: {intervalSeconds, maxChecks}}), or with runStartedAt, polling and solutions "
        "({name: {trainingMode, fullRetrainEveryDays, polling}})"
    )
    if not isinstance(value, Mapping):
        raise InvalidEventError(f"field 'plan' must be {expected}; got {value!r}")
    solutions = None
    if "solutions" in value:
        entries = value["solutions"]
        if not isinstance(entries, Mapping) or not entries:
            raise InvalidEventError(f"field 'plan.solutions' must be {expected}; got {entries!r}")
        solutions = {
            str(name): SolutionPlanning(
                *_mode_and_floor(entry, f"plan.solutions.{name}"), _polling(entry, f"plan.solutions.{name}")
            )
            for name, entry in entries.items()
        }
        mode, days = None, None
    else:
        mode, days = _mode_and_floor(value, "plan")
    try:
        started = parse_time(value.get("runStartedAt"))
    except ValueError:
        raise InvalidEventError(
            f"field 'plan.runStartedAt' must be an ISO-8601 time; got {value.get('runStartedAt')!r}"
        ) from None
    return RunPlanning(mode, days, started, _polling(value, "plan"), solutions)


def _mode_and_floor(value: Any, field: str) -> tuple[str, int]:
    if not isinstance(value, Mapping):
        raise InvalidEventError(f"field '{field}' must be an object with trainingMode and fullRetrainEveryDays")
    mode = value.get("trainingMode")
    if mode not in TRAINING_MODES:
        raise InvalidEventError(
            f"field '{field}.trainingMode' must be one of {', '.join(TRAINING_MODES)}; got {mode!r}"
        )
    days = value.get("fullRetrainEveryDays")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidEventError(f"field '{field}.fullRetrainEveryDays' must be an integer >= 1; got {days!r}")
    return mode, days


def _polling(value: Mapping[str, Any], field: str) -> Mapping[str, Mapping[str, int]]:
    polling = value.get("polling")
    valid_polling = isinstance(polling, Mapping) and all(
        isinstance(settings, Mapping)
        and all(
            isinstance(settings.get(k), int) and not isinstance(settings.get(k), bool) and settings[k] >= 1
            for k in ("intervalSeconds", "maxChecks")
        )
        for settings in polling.values()
    )
    if not valid_polling or not isinstance(polling, Mapping):
        raise InvalidEventError(
            f"field '{field}.polling' must map each check to positive integers "
            f"intervalSeconds and maxChecks; got {polling!r}"
        )
    return polling


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


def upload_stream(s3: Any, bucket: str, key: str, chunks: Iterator[bytes], content_type: str) -> None:
    """Stream generated bytes to S3 in bounded multipart parts (nothing kept, nothing in /tmp).

    If the generator raises, s3transfer completes no upload: a previous object at ``key`` stays.
    """
    s3.upload_fileobj(
        _GeneratorReader(chunks), bucket, key, ExtraArgs={"ContentType": content_type}, Config=TRANSFER_CONFIG
    )


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
    state = read_state(s3, request.bucket, request.state_key) if request.state_key else {}
    try:
        raw = open_raw(s3, request)
    except RawDataNotFoundError as missing:
        # Right after `cdk deploy` nobody has uploaded anything yet: nothing to do, nothing
        # broken. Once a model has been trained, missing data is a failure someone must see.
        if request.state_key is None or anything_trained(state):
            raise
        return {
            "unchanged": False,
            "noData": True,
            "reason": f"no data uploaded yet to {request.raw_uri}: upload the ratings there (`{UPLOADER_HINT}`)",
            "raw": request.raw_uri,
            "detail": str(missing),
        }
    if request.batch is not None and not request.batch.generate:
        _require_users_file(s3, request.bucket, request.batch.input_key)
    items_head = _head_items(s3, request.bucket, request.items) if request.items is not None else None
    deletion = (
        read_requests(s3, request.bucket, request.deletion.prefix, request.deletion.completed_prefix)
        if request.deletion is not None
        else DeletionRequests(())
    )
    body = raw["Body"]
    fingerprint = data_fingerprint(
        str(raw.get("ETag", "")),
        request.fmt,
        request.min_rating,
        items_etag=str(items_head.get("ETag", "")) if items_head is not None else None,
        deleted_users=deletion.fingerprint(),
    )
    if request.state_key and _trained_on(state, request.planning, fingerprint):
        body.close()
        return {"unchanged": True, "noData": False, "dataFingerprint": fingerprint, "raw": request.raw_uri}
    stats = ConversionStats()
    try:
        lines = convert(
            body.iter_chunks(READ_CHUNK_BYTES),
            request.fmt,
            request.min_rating,
            stats,
            source=request.raw_uri,
            excluded_users=frozenset(user.encode() for user in deletion.excluded_users),
        )
        upload_stream(s3, request.bucket, request.output_key, lines, "text/csv")
    finally:
        body.close()
    result = {"unchanged": False, "noData": False, "dataFingerprint": fingerprint, **_result(request, raw, stats)}
    if request.items is not None:
        result["items"] = _prepare_items(s3, request, request.items, items_head)
    if request.deletion is not None:
        result["deletion"] = _prepare_deletion(s3, request, request.deletion, deletion, stats)
    if request.batch is not None:
        result["batch"] = _prepare_batch(s3, request, request.batch, stats)
    if request.planning is not None:
        result["plan"] = _plan(state, request.planning, fingerprint)
    return result


def _prepare_deletion(
    s3: Any, request: PrepareRequest, spec: DeletionInput, deletion: DeletionRequests, stats: ConversionStats
) -> dict[str, Any]:
    """The data deletion job's input for the new requests (none: ``inputUri`` null), and the counts."""
    pending = deletion.pending_users
    if pending:
        s3.put_object(Bucket=request.bucket, Key=spec.input_key, Body=users_csv(pending), ContentType="text/csv")
    return {
        "inputUri": f"s3://{request.bucket}/{spec.input_key}" if pending else None,
        "requests": [{"key": r.key, "users": len(r.users)} for r in deletion.pending],
        "users": len(pending),
        "excludedUsers": len(deletion.excluded_users),
        "rowsLeftOut": stats.rows_of_deleted_users,
    }


def _head_items(s3: Any, bucket: str, items: ItemsInput) -> dict[str, Any] | None:
    """The movie file's HeadObject, or None when there is none and it is not required."""
    try:
        head: dict[str, Any] = s3.head_object(Bucket=bucket, Key=items.key)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code", "")) not in _NOT_FOUND_CODES:
            raise
        if items.required:
            raise ItemsNotFoundError(
                f"no movie file at s3://{bucket}/{items.key} ({items.fmt}), and "
                "data.useItems requires one: upload it beside the ratings (`"
                + UPLOADER_HINT
                + "` does), or set data.useItems to auto"
            ) from error
        return None
    return head


def _prepare_items(
    s3: Any, request: PrepareRequest, items: ItemsInput, head: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Convert the movie file into the items CSV, streamed like the ratings; or say there is none."""
    source = f"s3://{request.bucket}/{items.key}"
    if head is None:
        return {"itemsUri": None, "reason": f"no movie file at {source}: the run imports ratings only"}
    stats = ItemStats()
    body = s3.get_object(Bucket=request.bucket, Key=items.key)["Body"]
    try:
        rows = convert_items(body.iter_chunks(READ_CHUNK_BYTES), items.fmt, stats, source=source)
        upload_stream(s3, request.bucket, items.output_key, rows, "text/csv")
    finally:
        body.close()
    return {
        "itemsUri": f"s3://{request.bucket}/{items.output_key}",
        "source": source,
        "rowsRead": stats.rows_read,
        "itemsWritten": stats.items_written,
        "rowsMalformed": stats.rows_malformed,
        "malformedLineNumbers": list(stats.malformed_line_numbers),
        "withoutGenres": stats.without_genres,
        "withoutYear": stats.without_year,
        "withoutTimestamp": stats.without_timestamp,
        "etag": str(head.get("ETag", "")).strip('"'),
    }


def _require_users_file(s3: Any, bucket: str, key: str) -> None:
    """A configured users file must be there, alone under its key, and within the batch input quota,
    before anything is trained for it (register personalize.batch.request: a job's input path is a
    prefix, and its input is at most 1 GB)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _NOT_FOUND_CODES:
            raise BatchUsersNotFoundError(
                f"no users file at s3://{bucket}/{key} (deployment.batch.usersKey): "
                'upload one {"userId": "..."} JSON object per line there, or set usersKey to null to recommend '
                "for every user of the training data"
            ) from error
        raise
    if int(head.get("ContentLength", 0)) > BATCH_INPUT_MAX_BYTES:
        raise BatchUsersNotFoundError(
            f"the users file s3://{bucket}/{key} has {int(head['ContentLength']):,} bytes; a batch inference job "
            f"reads at most {BATCH_INPUT_MAX_BYTES:,} (1 GB): recommend for fewer users per run"
        )
    sharing = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=3).get("Contents", [])
        if item["Key"] != key
    ]
    if sharing:
        raise BatchUsersNotFoundError(
            f"s3://{bucket}/{sharing[0]} starts with the users file's key {key!r}: a batch inference job reads "
            "every object under its input path as input, so it would read that too. Rename one of them"
        )


def _prepare_batch(s3: Any, request: PrepareRequest, batch: BatchInput, stats: ConversionStats) -> dict[str, Any]:
    """The users file for this run's batch job (every user of the training data, unless one is
    configured) and the version whose output the manifest names now (the quality gate's baseline)."""
    users: int | None = None
    if batch.generate:
        if stats.users_overflowed:
            raise TooManyUsersForBatchError(
                f"{request.raw_uri} has more than {MAX_TRACKED_USERS:,} distinct users, more than the data "
                "preparation keeps in memory to write the batch users file: put the users to recommend for in "
                'a file of {"userId": "..."} lines and set deployment.batch.usersKey to its key'
            )
        upload_stream(s3, request.bucket, batch.input_key, users_file_lines(stats.user_ids()), "application/x-ndjson")
        users = stats.users
    if batch.manifest_keys is not None:
        # Several solutions: each batch solution's view, which its branch takes as $.data.batch.
        served = {name: read_manifest(s3, request.bucket, key) for name, key in batch.manifest_keys.items()}
        return {
            "inputKey": batch.input_key,
            "usersWritten": users,
            "solutions": {
                name: {
                    "inputKey": batch.input_key,
                    "usersWritten": users,
                    "servedSolutionVersionArn": manifest.get("solutionVersionArn") if manifest else None,
                }
                for name, manifest in served.items()
            },
        }
    manifest = read_manifest(s3, request.bucket, batch.manifest_key)
    return {
        "inputKey": batch.input_key,
        "usersWritten": users,
        "servedSolutionVersionArn": manifest.get("solutionVersionArn") if manifest else None,
    }


def _trained_on(state: Mapping[str, Any], planning: RunPlanning | None, fingerprint: str) -> bool:
    """Whether every solution was last trained on exactly this data (then the run has nothing to do)."""
    names = list(planning.solutions) if planning is not None and planning.solutions is not None else [None]
    return all(last_fingerprint(solution_record(state, name)) == fingerprint for name in names)


def _plan(state: Mapping[str, Any], planning: RunPlanning, fingerprint: str) -> dict[str, Any]:
    if planning.solutions is None:
        assert planning.training_mode is not None and planning.full_retrain_every_days is not None
        mode, reason = plan_training_mode(
            state, planning.training_mode, planning.full_retrain_every_days, planning.run_started_at
        )
        return {
            "trainingMode": mode,
            "trainingModeReason": reason,
            "waits": plan_waits(state, planning.polling, mode),
        }
    # Several solutions: the run's shared waits, then each solution's from its own record. A solution
    # already trained on this data (another one is new, or was added to the config) sits this run out.
    solutions = {}
    for name, solution in planning.solutions.items():
        record = solution_record(state, name)
        mode, reason = plan_training_mode(
            record, solution.training_mode, solution.full_retrain_every_days, planning.run_started_at
        )
        solutions[name] = {
            "train": last_fingerprint(record) != fingerprint,
            "trainingMode": mode,
            "trainingModeReason": reason,
            "waits": plan_waits(record, solution.polling, mode),
        }
    return {"waits": plan_waits(state, planning.polling, "FULL"), "solutions": solutions}


def _result(request: PrepareRequest, raw: Mapping[str, Any], stats: ConversionStats) -> dict[str, Any]:
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
    """One structured record per invocation (CloudWatch Logs Insights can query its fields)."""
    line: dict[str, Any] = dict(outcome)
    if request is not None:
        line.update(raw=request.raw_uri, output=request.output_uri, format=request.fmt, minRating=request.min_rating)
    line["durationMs"] = round((time.monotonic() - started) * 1000)
    _log_event("prepare_data", **line)


def _log_event(operation: str, **fields: Any) -> None:
    log_operation(logger, operation, **fields)


@DEPENDENCIES.entry_point
def complete_deletion_requests(event: Any, context: Any = None) -> dict[str, Any]:
    """Once the data deletion job is COMPLETED: move the requests it honoured under
    ``completedPrefix<run>/``, where later runs still read them. Safe to repeat."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event must be an object with bucket, prefix, completedPrefix, runName, requests, job")
    bucket = required_str(event, "bucket", "the data bucket")
    prefix = required_str(event, "prefix", "the deletion requests' prefix")
    completed_prefix = required_str(event, "completedPrefix", "where honoured requests go")
    run = required_str(event, "runName", "the execution name")
    requests = event.get("requests")
    if not isinstance(requests, list) or not all(
        isinstance(r, Mapping) and isinstance(r.get("key"), str) for r in requests
    ):
        raise InvalidEventError(f"field 'requests' must be a list of {{key, users}}; got {requests!r}")
    users = {r["key"]: r.get("users") for r in requests}
    moved = complete(DEPENDENCIES.client("s3"), bucket, users, prefix, completed_prefix, run)
    result = {"requests": [{**m, "users": users[m["key"]]} for m in moved], "job": event.get("job")}
    _log_event("complete_deletion_requests", **result)
    return result


@DEPENDENCIES.entry_point
def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point (tests and the offline simulator may hand in ``s3=``)."""
    started = time.monotonic()
    request: PrepareRequest | None = None
    try:
        request = parse_event(event)
        result = prepare(request, DEPENDENCIES.client("s3"))
    except BaseException as error:
        _log(request, {"status": "error", "errorType": type(error).__name__, "errorMessage": str(error)}, started)
        raise
    _log(request, {"status": "ok", **{k: v for k, v in result.items() if k != "interactionsUri"}}, started)
    return result
