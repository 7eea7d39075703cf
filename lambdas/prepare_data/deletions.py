"""Users' deletion requests: CSV files of user ids in the data bucket, read by every run.

A request is a CSV with a single ``USER_ID`` column (the format of a Personalize data deletion
job's input; register personalize.data-deletion), dropped under ``deletion-requests/``. A run
leaves those users' rows out of its training file, and the workflow starts a data deletion job
for the requests that are new (not yet under ``completed/``); once that job is COMPLETED the
requests are moved under ``completed/<run>/``, where later runs still read them, so the users
stay out of every later training file for as long as their ratings are in the raw data.

Standard library only (and the S3 client handed in).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

# Personalize's own limit on a deletion job's input (register personalize.data-deletion).
MAX_PENDING_BYTES: Final = 100 * 1024 * 1024
MAX_USER_ID_CHARACTERS: Final = 256


class DeletionRequestInvalidError(Exception):
    """A deletion request that cannot be honoured as it is: the message names the file and the fix."""


@dataclass(frozen=True)
class DeletionRequest:
    key: str
    users: frozenset[str]
    pending: bool


@dataclass(frozen=True)
class DeletionRequests:
    """Every request under the prefix: the pending ones and the completed ones."""

    requests: tuple[DeletionRequest, ...]

    @property
    def excluded_users(self) -> frozenset[str]:
        return frozenset(user for request in self.requests for user in request.users)

    @property
    def pending(self) -> tuple[DeletionRequest, ...]:
        return tuple(request for request in self.requests if request.pending)

    @property
    def pending_users(self) -> list[str]:
        return sorted({user for request in self.pending for user in request.users})

    def fingerprint(self) -> str | None:
        """Of the users left out (not of the files, which move once honoured); None without any."""
        users = sorted(self.excluded_users)
        return hashlib.sha256("\n".join(users).encode()).hexdigest() if users else None


def read_requests(s3: Any, bucket: str, prefix: str, completed_prefix: str) -> DeletionRequests:
    """Read every ``.csv`` under ``prefix``; those not under ``completed_prefix`` are pending."""
    requests, pending_bytes = [], 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            key = entry["Key"]
            if not key.lower().endswith(".csv"):
                continue
            pending = not key.startswith(completed_prefix)
            pending_bytes += entry.get("Size", 0) if pending else 0
            if pending_bytes > MAX_PENDING_BYTES:
                raise DeletionRequestInvalidError(
                    f"the new deletion requests under s3://{bucket}/{prefix} are over 100 MB, the limit of one "
                    "Personalize data deletion job: leave the rest for the next run (move some files elsewhere)"
                )
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            requests.append(DeletionRequest(key, parse_request(body, f"s3://{bucket}/{key}"), pending))
    return DeletionRequests(tuple(requests))


def parse_request(body: bytes, source: str) -> frozenset[str]:
    """The user ids of one request: a header ``USER_ID``, then one id per line."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DeletionRequestInvalidError(f"{source} is not UTF-8 text: save it as a UTF-8 CSV") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if not rows or [cell.strip().upper() for cell in rows[0]] != ["USER_ID"]:
        raise DeletionRequestInvalidError(
            f"{source} must be a CSV whose first line is USER_ID, then one user id per line; nothing was deleted "
            "and the file is kept: fix it and the next run honours it"
        )
    users = set()
    for number, row in enumerate(rows[1:], start=2):
        user = row[0].strip()
        if len(row) != 1 or not user or len(user) > MAX_USER_ID_CHARACTERS:
            raise DeletionRequestInvalidError(
                f"{source} line {number}: expected one user id of 1 to {MAX_USER_ID_CHARACTERS} characters, got "
                f"{','.join(row)!r}; nothing was deleted and the file is kept"
            )
        users.add(user)
    return frozenset(users)


def users_csv(users: Iterable[str]) -> bytes:
    """The data deletion job's input: ``USER_ID`` and one id per line."""
    return ("USER_ID\n" + "".join(f"{user}\n" for user in users)).encode()


def complete(
    s3: Any, bucket: str, keys: Iterable[str], prefix: str, completed_prefix: str, run: str
) -> list[dict[str, str]]:
    """Move honoured requests under ``completed_prefix<run>/``; safe to repeat (a moved one is skipped)."""
    moved = []
    for key in keys:
        target = f"{completed_prefix}{run}/{key.removeprefix(prefix)}"
        try:
            s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key})
        except s3.exceptions.NoSuchKey:
            # A retry: moved already (the copy and the delete went through before).
            s3.head_object(Bucket=bucket, Key=target)
        s3.delete_object(Bucket=bucket, Key=key)
        moved.append({"key": key, "movedTo": target})
    return moved
