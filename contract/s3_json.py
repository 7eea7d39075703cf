"""Small JSON objects in the data bucket (the run record, the batch output manifest): read, write.

The caller's S3 client is passed in; a missing object reads as None. Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The object's JSON, or None when there is no such object."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:
        # botocore's ClientError, read by its error code: the contract does not import botocore.
        response = getattr(error, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    document: dict[str, Any] = json.loads(body)
    return document


def write_json(s3: Any, bucket: str, key: str, document: Mapping[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=2).encode(), ContentType="application/json")
