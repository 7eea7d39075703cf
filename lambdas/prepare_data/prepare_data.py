"""Lambda: convert raw MovieLens ratings in S3 into Personalize's interactions CSV.

Thin handler -> event validation -> S3 adapter (injected client) -> pure converter
(movielens.py). The raw data is one object or every object under a prefix (gzip or not). The
output is streamed: a file-like reader over the converter's generator is handed to
``upload_fileobj``, so memory stays bounded by the multipart chunk size whatever the input
size, and nothing touches /tmp. Above ``data.engine``'s threshold the conversion is handed to the
Glue job instead (``glue_output`` reads its counts back); with ``data.importMode`` INCREMENTAL
only the objects new since the last import are converted (``record_import`` records them once
the import is ACTIVE). docs/data-at-scale.md describes both.

Exception class names become Step Functions error names (``RawDataNotFoundError``,
``NoUsableRowsError``, ``InvalidEventError``); their messages say what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from deletions import DeletionRequestInvalidError, DeletionRequests, complete, read_requests, users_csv
from movielens import (
    FORMATS,
    MAX_TRACKED_USERS,
    MIN_INTERACTIONS,
    ConversionStats,
    NoUsableRowsError,
    conversion_warnings,
    convert_objects,
)
from movies import ITEMS_FORMATS, ItemStats, NoUsableItemsError, convert_items
from parallel_convert import ConversionWorkers, worker_count

from contract.batch_output import read_manifest, users_file_lines
from contract.engines import (
    ENGINES,
    GLUE_THRESHOLD_BYTES,
    INCREMENTAL_IMPORT_MAX_BYTES,
    describe_size,
    input_bytes,
)
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
from contract.s3_json import read_json, write_json
from contract.timestamps import parse_time

__all__ = [
    "BatchUsersNotFoundError",
    "DeletionRequestInvalidError",
    "GlueOutputMissingError",
    "InvalidEventError",
    "ItemsNotFoundError",
    "NoUsableItemsError",
    "NoUsableRowsError",
    "PrepareRequest",
    "RawDataNotFoundError",
    "RawDataUnreadableError",
    "TooManyUsersForBatchError",
    "glue_output",
    "handler",
    "parse_event",
    "plan_import",
    "prepare",
    "record_import",
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
    """There is no raw ratings object where the pipeline expects one (or none under its prefix)."""


class GlueOutputMissingError(Exception):
    """The Glue job succeeded but its counts, part files or users file are not where they go."""


class RawDataUnreadableError(Exception):
    """A raw object cannot be read as it says: a ``.gz`` object that is not gzip, or is cut short."""


@dataclass(frozen=True)
class RawObject:
    """One raw ratings object as listed before the conversion (its ETag pins what is read)."""

    key: str
    size: int
    etag: str
    version_id: str | None = None

    @property
    def gzipped(self) -> bool:
        return self.key.endswith(".gz")


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
class IncrementalInput:
    """data.importMode INCREMENTAL: where the imported objects are recorded, and the FULL import floor."""

    imported_key: str
    full_every_days: int


@dataclass(frozen=True)
class ImportPlan:
    """This run's interactions import: its mode, why, the objects it converts, and when the last FULL was."""

    mode: str
    reason: str
    objects: list[RawObject]
    last_full_import_at: str


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
    engine: str = "lambda"
    # data.engine auto: above this many bytes to read, the Glue job converts.
    engine_threshold_bytes: int = GLUE_THRESHOLD_BYTES
    incremental: IncrementalInput | None = None

    @property
    def raw_uri(self) -> str:
        return f"s3://{self.bucket}/{self.raw_key}"

    @property
    def raw_is_prefix(self) -> bool:
        """rawKey ending in '/' names a folder of many objects (daily drops, part files)."""
        return self.raw_key.endswith("/")

    @property
    def run_folder(self) -> str:
        """The run's folder, where the output goes (training/<run>/)."""
        folder, _, _ = self.output_key.rpartition("/")
        return f"{folder}/" if folder else ""

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
    engine = event.get("engine", "lambda")
    if engine not in ENGINES:
        raise InvalidEventError(f"field 'engine' must be one of {', '.join(ENGINES)}; got {engine!r}")
    threshold = event.get("engineThresholdBytes", GLUE_THRESHOLD_BYTES)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise InvalidEventError(f"field 'engineThresholdBytes' must be a positive integer; got {threshold!r}")
    if output_key.startswith(raw_key) and raw_key.endswith("/"):
        raise InvalidEventError(
            f"field 'outputKey' must not be under the raw prefix {raw_key!r}: it would be read back"
        )
    incremental = _incremental_input(event["incremental"]) if "incremental" in event else None
    return PrepareRequest(
        bucket,
        raw_key,
        fmt,
        min_rating,
        output_key,
        state_key,
        planning,
        batch,
        items,
        deletion,
        engine,
        threshold,
        incremental,
    )


def _incremental_input(value: Any) -> IncrementalInput:
    if not isinstance(value, Mapping):
        raise InvalidEventError(
            f"field 'incremental' must be an object with importedKey and fullEveryDays; got {value!r}"
        )
    days = value.get("fullEveryDays")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidEventError(f"field 'incremental.fullEveryDays' must be an integer >= 1; got {days!r}")
    return IncrementalInput(required_str(value, "importedKey", "the S3 key of the imported-objects record"), days)


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


def list_raw(s3: Any, request: PrepareRequest) -> list[RawObject]:
    """The raw objects a run reads: the one object, or every object under the prefix (in key order,
    folder markers left out). S3 writes an object whole, so one still being uploaded is simply
    not listed yet (register s3.strong-consistency); an empty prefix is no data."""
    if not request.raw_is_prefix:
        try:
            head = s3.head_object(Bucket=request.bucket, Key=request.raw_key)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND_CODES:
                raise RawDataNotFoundError(
                    f"no raw ratings object at {request.raw_uri} ({code}): upload the MovieLens "
                    f"ratings file there first, e.g. with `{UPLOADER_HINT}`"
                ) from error
            raise
        return [RawObject(request.raw_key, int(head["ContentLength"]), _etag(head), head.get("VersionId"))]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=request.bucket, Prefix=request.raw_key)
    objects = [
        RawObject(item["Key"], int(item["Size"]), _etag(item))
        for page in pages
        for item in page.get("Contents", [])
        if not item["Key"].endswith("/")
    ]
    if not objects:
        raise RawDataNotFoundError(
            f"no raw ratings objects under {request.raw_uri}: upload the ratings files there (any number of "
            f"them, gzip-compressed or not), e.g. with `{UPLOADER_HINT}`"
        )
    return objects


def _etag(response: Mapping[str, Any]) -> str:
    return str(response.get("ETag", "")).strip('"')


def listing_fingerprint(objects: list[RawObject]) -> str:
    """What the change detection compares for a prefix: every object's key, size and ETag. One
    object keeps its own ETag, as before prefixes existed, so a deployed pipeline does not retrain."""
    if len(objects) == 1:
        return objects[0].etag
    listing = "\n".join(f"{o.key}\t{o.size}\t{o.etag}" for o in objects)
    return "listing:" + hashlib.sha256(listing.encode()).hexdigest()


def gunzip(chunks: Iterator[bytes], source: str, limit: int = READ_CHUNK_BYTES) -> Iterator[bytes]:
    """Decompress a gzip stream (several members, as `cat a.gz b.gz` makes, too) in pieces of at
    most ``limit`` bytes, so a small object that inflates a lot never fills memory."""
    inflater = zlib.decompressobj(wbits=31)
    started = False
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if inflater.eof:
                    inflater = zlib.decompressobj(wbits=31)
                started = True
                out = inflater.decompress(data, limit)
                if out:
                    yield out
                data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
        if started and not inflater.eof:
            raise RawDataUnreadableError(f"{source} ends in the middle of its gzip data: upload it again")
    except zlib.error as error:
        raise RawDataUnreadableError(
            f"{source} is named .gz but is not gzip data ({error}): compress it with gzip, or drop the .gz suffix"
        ) from None


def _object_chunks(s3: Any, bucket: str, raw: RawObject) -> Iterator[bytes]:
    """One object's bytes as listed (IfMatch: a replaced object fails the run instead of mixing)."""
    body = s3.get_object(Bucket=bucket, Key=raw.key, IfMatch=f'"{raw.etag}"')["Body"]
    try:
        chunks = body.iter_chunks(READ_CHUNK_BYTES)
        yield from gunzip(chunks, f"s3://{bucket}/{raw.key}") if raw.gzipped else chunks
    finally:
        body.close()


def _source(request: PrepareRequest, objects: list[RawObject]) -> str:
    if request.raw_is_prefix:
        return f"{request.raw_uri} ({len(objects)} objects)"
    return request.raw_uri


def prepare(request: PrepareRequest, s3: Any) -> dict[str, Any]:
    """Stream raw -> converter -> multipart upload and return the counts for the workflow.

    When the converter finds no usable row it raises inside the upload; s3transfer then
    never completes a PutObject or CompleteMultipartUpload (and aborts a started multipart
    upload), so no partial output object is left behind and a previous output is kept.
    """
    state = read_state(s3, request.bucket, request.state_key) if request.state_key else {}
    try:
        objects = list_raw(s3, request)
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
    fingerprint = data_fingerprint(
        listing_fingerprint(objects),
        request.fmt,
        request.min_rating,
        items_etag=str(items_head.get("ETag", "")) if items_head is not None else None,
        deleted_users=deletion.fingerprint(),
    )
    if request.state_key and _trained_on(state, request.planning, fingerprint):
        return {"unchanged": True, "noData": False, "dataFingerprint": fingerprint, "raw": request.raw_uri}
    now = request.planning.run_started_at if request.planning is not None else DEPENDENCIES.now()
    imports = plan_import(s3, request, objects, now) if request.incremental is not None else None
    converted = imports.objects if imports is not None else objects
    engine, reason = choose_engine(request.engine, converted, request.engine_threshold_bytes)
    stats: ConversionStats | None = None
    if engine == "lambda":
        stats = _convert(s3, request, converted, deletion)
        if imports is not None and imports.mode == "INCREMENTAL" and stats.rows_written < MIN_INTERACTIONS:
            # Register personalize.import.quotas: every import job takes at least 1,000 interactions.
            imports = ImportPlan(
                "FULL",
                f"the new objects hold {stats.rows_written} interactions, fewer than the {MIN_INTERACTIONS:,} an "
                "import job takes: a FULL import of every object",
                objects,
                now.isoformat(),
            )
            converted = objects
            engine, reason = choose_engine(request.engine, converted, request.engine_threshold_bytes)
            stats = _convert(s3, request, converted, deletion) if engine == "lambda" else None
    result: dict[str, Any] = {"unchanged": False, "noData": False, "dataFingerprint": fingerprint}
    if stats is not None:
        result.update(_result(request, objects, stats))
    else:
        result.update(_glue_handoff(s3, request, converted, deletion))
    result.update(rawObjects=len(objects), rawBytes=sum(o.size for o in objects), engine=engine, engineReason=reason)
    if imports is not None and request.incremental is not None:
        result.update(_record_listing(s3, request, objects, converted, imports))
    if request.items is not None:
        result["items"] = _prepare_items(s3, request, request.items, items_head)
    if request.deletion is not None:
        result["deletion"] = _prepare_deletion(s3, request, request.deletion, deletion, stats)
    if request.batch is not None:
        result["batch"] = _prepare_batch(s3, request, request.batch, stats)
    if request.planning is not None:
        result["plan"] = _plan(state, request.planning, fingerprint)
    return result


def _convert(s3: Any, request: PrepareRequest, objects: list[RawObject], deletion: DeletionRequests) -> ConversionStats:
    """The Lambda engine: every object streamed through the converter into the one training file,
    on as many processes as the function's memory buys vCPUs (parallel_convert.py)."""
    stats = ConversionStats()
    excluded = frozenset(user.encode() for user in deletion.excluded_users)
    count = conversion_workers(objects)
    # Forked here, in the one thread, before the upload starts its threads (ConversionWorkers).
    workers = ConversionWorkers(count, request.fmt, request.min_rating, excluded) if count > 1 else None
    with workers or contextlib.nullcontext():
        lines = convert_objects(
            (_object_chunks(s3, request.bucket, o) for o in objects),
            request.fmt,
            request.min_rating,
            stats,
            source=_source(request, objects),
            excluded_users=excluded,
            workers=workers or 1,
        )
        upload_stream(s3, request.bucket, request.output_key, lines, "text/csv")
        if workers is not None:
            workers.count_users(stats)  # after the upload: it holds no part in memory any more
    return stats


def conversion_workers(objects: list[RawObject]) -> int:
    """Worker processes for this input: one per vCPU's worth of the function's memory, to the
    nearest (the runtime's AWS_LAMBDA_FUNCTION_MEMORY_SIZE; register lambda.memory-cpu), and one
    for an input of at most one read chunk, which a second process could not share."""
    if input_bytes([(o.key, o.size) for o in objects]) <= READ_CHUNK_BYTES:
        return 1
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    return worker_count(int(memory) if memory.isdigit() else None)


def plan_import(s3: Any, request: PrepareRequest, objects: list[RawObject], now: datetime) -> ImportPlan:
    """data.importMode INCREMENTAL: import only the objects that are new since the last import, unless
    a FULL import is due (register personalize.import.incremental): the first import, an object
    imported before that changed or went away, the FULL floor, no new object, or more new data than
    an INCREMENTAL import takes."""
    assert request.incremental is not None
    record = read_json(s3, request.bucket, request.incremental.imported_key)
    every = request.incremental.full_every_days

    def full(reason: str) -> ImportPlan:
        return ImportPlan("FULL", reason, objects, now.isoformat())

    if not record or not isinstance(record.get("objects"), Mapping):
        return full("the first import into the dataset is FULL")
    imported: Mapping[str, Any] = record["objects"]
    current = {o.key: o.etag for o in objects}
    changed = sorted(key for key, etag in imported.items() if current.get(key) != etag)
    if changed:
        return full(
            f"{len(changed)} objects imported before were changed or removed (the first: {changed[0]}): a FULL "
            "import replaces the data they gave"
        )
    try:
        last_full = parse_time(record.get("lastFullImportAt"))
    except ValueError:
        return full("the record of imported objects does not say when the last FULL import was")
    age = (now - last_full).days
    if age >= every:
        return full(f"the last FULL import was {age} days ago, and one runs every {every} days")
    new = [o for o in objects if o.key not in imported]
    if not new:
        return full("no new objects since the last import (the movie file or deletion requests changed)")
    size = input_bytes([(o.key, o.size) for o in new])
    if size > INCREMENTAL_IMPORT_MAX_BYTES:
        return full(
            f"the {len(new)} new objects hold {describe_size(size)}, more than the "
            f"{describe_size(INCREMENTAL_IMPORT_MAX_BYTES)} an INCREMENTAL import takes"
        )
    return ImportPlan(
        "INCREMENTAL",
        f"{len(new)} new objects since the last import ({describe_size(size)}); the last FULL import was {age} days ago",
        new,
        last_full.isoformat(),
    )


def _record_listing(
    s3: Any, request: PrepareRequest, objects: list[RawObject], converted: list[RawObject], imports: ImportPlan
) -> dict[str, Any]:
    """What the dataset will hold once this run's import is ACTIVE; record_import makes it the record."""
    key = f"{request.run_folder}imported-objects.json"
    write_json(
        s3,
        request.bucket,
        key,
        {"objects": {o.key: o.etag for o in objects}, "lastFullImportAt": imports.last_full_import_at},
    )
    return {
        "importMode": imports.mode,
        "importModeReason": imports.reason,
        "rawObjectsConverted": len(converted),
        "importedObjectsKey": key,
    }


def choose_engine(setting: str, objects: list[RawObject], threshold: int = GLUE_THRESHOLD_BYTES) -> tuple[str, str]:
    """``data.engine``: lambda or glue as configured, or for auto by the input's size (contract/engines.py)."""
    size = input_bytes([(o.key, o.size) for o in objects])
    described = f"{describe_size(size)} to read"
    if setting != "auto":
        return setting, f"data.engine is {setting} ({described})"
    if size > threshold:
        return "glue", f"{described}, above the {describe_size(threshold)} data.engine auto gives one Lambda"
    return "lambda", f"{described}, within the {describe_size(threshold)} data.engine auto gives one Lambda"


def glue_keys(run_folder: str) -> dict[str, str]:
    """Where the Glue job's inputs and outputs of one run go, all under the run's folder."""
    return {
        "objects": f"{run_folder}raw-objects.txt",
        "excludedUsers": f"{run_folder}excluded-users.txt",
        "output": f"{run_folder}interactions/",
        "stats": f"{run_folder}glue-stats/",
        "users": f"{run_folder}glue-users/",
    }


def _glue_handoff(
    s3: Any, request: PrepareRequest, objects: list[RawObject], deletion: DeletionRequests
) -> dict[str, Any]:
    """Write what the Glue job reads (the objects to convert, the users to leave out) and say how to start it."""
    keys = glue_keys(request.run_folder)
    s3.put_object(
        Bucket=request.bucket,
        Key=keys["objects"],
        Body="".join(f"{o.key}\n" for o in objects).encode(),
        ContentType="text/plain",
    )
    excluded = sorted(deletion.excluded_users)
    if excluded:
        s3.put_object(
            Bucket=request.bucket,
            Key=keys["excludedUsers"],
            Body="".join(f"{user}\n" for user in excluded).encode(),
            ContentType="text/plain",
        )
    generate_users = request.batch is not None and request.batch.generate
    return {
        "interactionsUri": f"s3://{request.bucket}/{keys['output']}",
        "glue": {
            # Also the job's default --data_root: a run's arguments replace the defaults (register glue.job-run).
            "arguments": {
                "--data_root": f"s3://{request.bucket}",
                "--objects_key": keys["objects"],
                "--format": request.fmt,
                "--min_rating": f"{request.min_rating:g}",
                "--output_prefix": keys["output"],
                "--stats_prefix": keys["stats"],
                "--excluded_users_key": keys["excludedUsers"] if excluded else "",
                "--users_prefix": keys["users"] if generate_users else "",
            },
            "statsPrefix": keys["stats"],
            "usersPrefix": keys["users"] if generate_users else None,
        },
    }


def _prepare_deletion(
    s3: Any, request: PrepareRequest, spec: DeletionInput, deletion: DeletionRequests, stats: ConversionStats | None
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
        # The Glue engine's count comes with its job's counts (glue_output).
        "rowsLeftOut": stats.rows_of_deleted_users if stats is not None else None,
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


def _prepare_batch(
    s3: Any, request: PrepareRequest, batch: BatchInput, stats: ConversionStats | None
) -> dict[str, Any]:
    """The users file for this run's batch job (every user of the training data, unless one is
    configured) and the version whose output the manifest names now (the quality gate's baseline).
    With the Glue engine the job writes the users, and glue_output puts them in place."""
    users: int | None = None
    if batch.generate and stats is not None:
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


def _result(request: PrepareRequest, objects: list[RawObject], stats: ConversionStats) -> dict[str, Any]:
    """The state output: counts, hash for change detection, and the raw object's identity."""
    single = objects[0] if not request.raw_is_prefix else None
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
        "workers": stats.workers,
        "rawVersionId": single.version_id if single is not None else None,
        "rawETag": single.etag if single is not None else None,
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
def record_import(event: Any, context: Any = None) -> dict[str, Any]:
    """Once this run's interactions import is ACTIVE: its listing becomes the record of the objects the
    dataset holds (data.importMode INCREMENTAL). Safe to repeat."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event must be an object with bucket, listingKey and importedKey")
    bucket = required_str(event, "bucket", "the data bucket")
    listing = required_str(event, "listingKey", "this run's training/<run>/imported-objects.json")
    imported = required_str(event, "importedKey", "the record's key")
    s3 = DEPENDENCIES.client("s3")
    s3.copy_object(
        Bucket=bucket,
        Key=imported,
        CopySource={"Bucket": bucket, "Key": listing},
        ContentType="application/json",
        MetadataDirective="REPLACE",
    )
    result = {"importedKey": imported, "from": listing}
    _log_event("record_import", **result)
    return result


@DEPENDENCIES.entry_point
def glue_output(event: Any, context: Any = None) -> dict[str, Any]:
    """After the Glue job: its counts into the run's data, as the Lambda engine reports them, and
    with batch output the users it wrote moved to the batch job's input key."""
    if not isinstance(event, Mapping) or not isinstance(event.get("data"), Mapping):
        raise InvalidEventError("event must be an object with bucket, data (the prepare step's output) and jobRun")
    bucket = required_str(event, "bucket", "the data bucket")
    data = dict(event["data"])
    glue = data.get("glue")
    if not isinstance(glue, Mapping) or not isinstance(glue.get("statsPrefix"), str):
        raise InvalidEventError("field 'data.glue' must be the prepare step's Glue hand-off, with statsPrefix")
    job_run: Mapping[str, Any] = event["jobRun"] if isinstance(event.get("jobRun"), Mapping) else {}
    s3 = DEPENDENCIES.client("s3")
    counts = _glue_counts(s3, bucket, glue["statsPrefix"])
    output_prefix = str(data["interactionsUri"]).removeprefix(f"s3://{bucket}/")
    parts = [o for o in _listed(s3, bucket, output_prefix) if o["Key"].endswith(".csv")]
    if not parts:
        raise GlueOutputMissingError(f"the Glue job wrote no part file under s3://{bucket}/{output_prefix}")
    data.update(
        rowsRead=counts["rowsRead"],
        rowsWritten=counts["rowsWritten"],
        rowsBelowThreshold=counts["rowsBelowThreshold"],
        rowsMalformed=counts["rowsMalformed"],
        malformedLineNumbers=[],
        users=counts["users"],
        usersWithTwoOrMoreInteractions=counts["usersWithTwoOrMoreInteractions"],
        bytesWritten=sum(int(o["Size"]) for o in parts),
        sha256=None,
        warnings=conversion_warnings(
            counts["rowsWritten"], counts["usersWithTwoOrMoreInteractions"], False, counts["rowsMalformed"], []
        ),
        glue={
            **glue,
            "jobRunId": job_run.get("Id"),
            "executionTimeSeconds": job_run.get("ExecutionTime"),
            "outputFiles": len(parts),
        },
    )
    if isinstance(data.get("deletion"), Mapping):
        data["deletion"] = {**data["deletion"], "rowsLeftOut": counts["rowsOfDeletedUsers"]}
    if isinstance(data.get("batch"), Mapping) and glue.get("usersPrefix"):
        data["batch"] = _place_glue_users(s3, bucket, data["batch"], str(glue["usersPrefix"]), counts["users"])
    _log_event("glue_output", **{k: v for k, v in data.items() if k not in ("plan", "items", "batch")})
    return data


def _listed(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Objects under a prefix, without the checksum and marker files a Hadoop file system may add."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [
        item
        for page in pages
        for item in page.get("Contents", [])
        if not item["Key"].rpartition("/")[2].startswith(("_", "."))
    ]


def _glue_counts(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    listed = _listed(s3, bucket, prefix)
    if not listed:
        raise GlueOutputMissingError(f"the Glue job wrote no counts under s3://{bucket}/{prefix}")
    body = s3.get_object(Bucket=bucket, Key=listed[0]["Key"])["Body"].read().decode()
    counts = json.loads(body.splitlines()[0])
    if not isinstance(counts, dict) or not all(isinstance(counts.get(k), int) for k in _GLUE_COUNTS):
        raise GlueOutputMissingError(f"s3://{bucket}/{listed[0]['Key']} does not hold the job's counts: {body[:200]!r}")
    return counts


_GLUE_COUNTS: Final = (
    "rowsRead",
    "rowsWritten",
    "rowsBelowThreshold",
    "rowsMalformed",
    "rowsOfDeletedUsers",
    "users",
    "usersWithTwoOrMoreInteractions",
)


def _place_glue_users(s3: Any, bucket: str, batch: Mapping[str, Any], prefix: str, users: int) -> dict[str, Any]:
    """The job's one users file becomes the batch job's input (a server-side copy, within its quota)."""
    files = [o for o in _listed(s3, bucket, prefix) if o["Key"].endswith(".json")]
    if len(files) != 1:
        raise GlueOutputMissingError(f"the Glue job should write one users file under s3://{bucket}/{prefix}")
    if int(files[0]["Size"]) > BATCH_INPUT_MAX_BYTES:
        raise TooManyUsersForBatchError(
            f"the users of this run's training data make a {int(files[0]['Size']):,}-byte users file; a batch "
            f"inference job reads at most {BATCH_INPUT_MAX_BYTES:,} (1 GB): set deployment.batch.usersKey to a "
            "file of the users to recommend for"
        )
    s3.copy_object(
        Bucket=bucket,
        Key=batch["inputKey"],
        CopySource={"Bucket": bucket, "Key": files[0]["Key"]},
        ContentType="application/x-ndjson",
        MetadataDirective="REPLACE",
    )
    placed = {**batch, "usersWritten": users}
    if isinstance(batch.get("solutions"), Mapping):
        placed["solutions"] = {name: {**view, "usersWritten": users} for name, view in batch["solutions"].items()}
    return placed


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
