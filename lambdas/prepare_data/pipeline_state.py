"""The pipeline-state record: what the last successful run trained on and deployed.

One small JSON object in the data bucket. The data preparation reads it to skip a run whose
raw data has not changed since the model now serving was trained; the workflow's last step
writes it. Kept in S3 beside the data, so it lives and dies with the data it describes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Mapping

from botocore.exceptions import ClientError

STATE_VERSION = 1


def data_fingerprint(raw_etag: str, fmt: str, min_rating: float) -> str:
    """Content fingerprint of the training data a run would produce, known before converting it.

    S3's ETag is derived from the object's bytes (MD5, or MD5 of part MD5s for multipart
    uploads), so re-uploading the same file gives the same ETag while any changed byte gives
    another; format and threshold are part of it because they change what is imported.
    """
    text = f"{raw_etag.strip(chr(34))}|{fmt}|{min_rating:g}"
    return hashlib.sha256(text.encode()).hexdigest()


def read_state(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """The record, or {} before the first successful run."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return {}
        raise
    return json.loads(body)


def last_fingerprint(state: Mapping[str, Any]) -> str | None:
    return state.get("lastSuccessfulRun", {}).get("dataFingerprint")


def write_state(s3: Any, bucket: str, key: str, last_successful_run: Mapping[str, Any]) -> dict[str, Any]:
    state = {
        "version": STATE_VERSION,
        "lastSuccessfulRun": {**last_successful_run, "recordedAt": datetime.now(timezone.utc).isoformat()},
    }
    s3.put_object(
        Bucket=bucket, Key=key, Body=json.dumps(state, indent=2).encode(), ContentType="application/json"
    )
    return state
