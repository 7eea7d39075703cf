"""Lambda: check a batch inference job's output, then make it the one consumers read.

- ``validate_batch_output``, after the job is ACTIVE: reads the whole output and its input
  (contract/batch_output.py); every input user must have a line and no line may carry an error.
  A bad output fails the run with :class:`BatchOutputInvalidError` and is never published.
- ``publish_batch_output``, once every target of the run is deployed: replaces
  ``recommendations/latest.json`` with a manifest naming this run's output, keeping the replaced
  one in its history for a rollback.

Exception class names become Step Functions error names; their messages say what is wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from contract.batch_output import (
    BatchInputInvalidError,
    BatchOutputInvalidError,
    published_manifest,
    read_manifest,
    validate_output,
    write_manifest,
)
from contract.event_fields import InvalidEventError, require_object, required_str
from contract.logs import log_operation
from contract.runtime import Dependencies

__all__ = ["BatchInputInvalidError", "BatchOutputInvalidError", "publish_batch_output", "validate_batch_output"]

logger = logging.getLogger()
logger.setLevel(logging.INFO)

DEPENDENCIES = Dependencies("batch_output")


def _positive_int(event: Mapping[str, Any], name: str) -> int:
    value = event.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidEventError(f"field {name!r} must be a positive integer; got {value!r}")
    return value


def _prefix(event: Mapping[str, Any], name: str) -> str:
    value = required_str(event, name, "an S3 key prefix ending in '/'")
    if not value.endswith("/"):
        raise InvalidEventError(f"field {name!r} must end in '/'; got {value!r}")
    return value


@DEPENDENCIES.entry_point
def validate_batch_output(event: Any, context: Any = None) -> dict[str, Any]:
    """Counts of a complete, error-free output; raises BatchOutputInvalidError otherwise."""
    event = require_object(event, " with bucket, inputKey, outputPrefix and numResults")
    bucket = required_str(event, "bucket", "an S3 bucket name")
    input_key = required_str(event, "inputKey", "the S3 key of the job's users file")
    output_prefix = _prefix(event, "outputPrefix")
    num_results = _positive_int(event, "numResults")
    try:
        result = validate_output(
            DEPENDENCIES.client("s3"),
            bucket,
            input_key=input_key,
            output_prefix=output_prefix,
            num_results=num_results,
        )
    except (BatchOutputInvalidError, BatchInputInvalidError) as error:
        log_operation(logger, "validate_batch_output", status="invalid", reason=str(error))
        raise
    log_operation(logger, "validate_batch_output", status="ok", **result)
    return result


@DEPENDENCIES.entry_point
def publish_batch_output(event: Any, context: Any = None) -> dict[str, Any]:
    """Replace the manifest with one naming this run's validated output; returns the new manifest."""
    event = require_object(event, " with bucket, manifestKey, runName, solutionVersionArn, job and output")
    bucket = required_str(event, "bucket", "an S3 bucket name")
    key = required_str(event, "manifestKey", "the S3 key of the manifest")
    output = event.get("output")
    if not isinstance(output, Mapping) or not isinstance(output.get("outputPrefix"), str):
        raise InvalidEventError(f"field 'output' must be the validation step's result; got {output!r}")
    entry = {
        "runName": required_str(event, "runName", "the execution name"),
        "solutionVersionArn": required_str(event, "solutionVersionArn", "the version that made the output"),
        "batchInferenceJobArn": required_str(event, "batchInferenceJobArn", "the job that wrote the output"),
        "bucket": bucket,
        "inputKey": required_str(event, "inputKey", "the S3 key of the job's users file"),
        **{k: output[k] for k in ("outputPrefix", "outputKeys", "users", "recommendations", "numResults")},
        "usersWithFewerItems": output.get("usersWithFewerItems", 0),
    }
    s3 = DEPENDENCIES.client("s3")
    manifest = published_manifest(
        read_manifest(s3, bucket, key), entry, published_at=DEPENDENCIES.now().isoformat(timespec="seconds")
    )
    write_manifest(s3, bucket, key, manifest)
    log_operation(logger, "publish_batch_output", manifest=f"s3://{bucket}/{key}", **entry)
    return {k: v for k, v in manifest.items() if k != "history"}
