"""Batch recommendations: the users file a batch inference job reads, the output it writes, and the
manifest that tells consumers which output is current.

A deployment to ``batch`` (``deployment.targets``) runs one batch inference job per promoted
version. Its output lands in ``recommendations/<run>/``; only after a validation step has read
all of it is ``recommendations/latest.json`` (the manifest) replaced. Consumers read the manifest
and then the output it names, so they never see a half-written or failed run.

Formats (register personalize.batch.input-output): the input is JSON lines, one
``{"userId": "..."}`` per line; the job writes ``<input file name>.out`` under the output path,
one JSON object per input line with ``input``, ``output`` (``recommendedItems`` and ``scores``)
and ``error`` (null, or why that line has no recommendations).

The data preparation (users file), the validation and publication steps (lambdas/batch_output)
and the operator CLI (status, recommend, rollback) all use this module. Reads and writes take the
caller's S3 client.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from contract.s3_json import read_json, write_json

MANIFEST_VERSION = 1
# How many earlier outputs the manifest remembers, newest first: what rollback can go back to.
MANIFEST_HISTORY = 5
# Examples kept of each kind of problem, so an error message names some without growing unbounded.
MAX_EXAMPLES = 5
OUTPUT_SUFFIX = ".out"
# Read size of boto3's StreamingBody.iter_lines: memory per object read stays about one chunk.
LINE_CHUNK_BYTES = 1024 * 1024


class BatchOutputInvalidError(Exception):
    """The batch job's output is missing users, has error lines or cannot be read: not published."""


class BatchInputInvalidError(Exception):
    """The users file is not the JSON lines a batch inference job reads."""


def users_file_lines(user_ids: Iterable[bytes | str]) -> Iterator[bytes]:
    """The batch input for these users: one ``{"userId": ...}`` JSON object per line."""
    for user in user_ids:
        text = user.decode() if isinstance(user, bytes) else user
        yield json.dumps({"userId": text}, separators=(",", ":")).encode() + b"\n"


def output_key(output_prefix: str, input_key: str) -> str:
    """Where the job writes its output for ``input_key``: ``<prefix><input file name>.out``."""
    return f"{output_prefix}{input_key.rpartition('/')[2]}{OUTPUT_SUFFIX}"


def _user_hash(user: str) -> int:
    return int.from_bytes(hashlib.blake2b(user.encode(), digest_size=8).digest(), "big")


def read_user_hashes(lines: Iterable[bytes], source: str) -> array[int]:
    """The users of a batch input file, as sorted 64-bit hashes (8 bytes a user, whatever the id length).

    Sorting goes through a list of Python ints for a moment; with the output's hashes as well,
    validating peaks at about 64 bytes a user (tracemalloc: 61 MiB for 1 million users), so some
    5 million users fit the validation function's 512 MB with room to spare.
    """
    hashes: array[int] = array("Q")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise BatchInputInvalidError(f"{source} line {number} is not JSON: {line[:80]!r}") from None
        user = record.get("userId") if isinstance(record, dict) else None
        if not isinstance(user, str) or not user:
            raise BatchInputInvalidError(f'{source} line {number} has no "userId" text: {line[:80]!r}')
        hashes.append(_user_hash(user))
    return array("Q", sorted(hashes))


@dataclass
class OutputCheck:
    """What the validation found in a batch job's output (filled line by line)."""

    expected_results: int
    lines: int = 0
    recommendations: int = 0
    error_lines: int = 0
    error_examples: list[str] = field(default_factory=list)
    malformed_lines: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    short_lines: int = 0
    short_examples: list[str] = field(default_factory=list)
    _users: array[int] = field(default_factory=lambda: array("Q"))

    def add(self, line: bytes, where: str) -> None:
        if not line.strip():
            return
        self.lines += 1
        try:
            record = json.loads(line)
            user = record["input"]["userId"]
            error = record.get("error")
            output = record.get("output") or {}
            items = output.get("recommendedItems") if error is None else []
            if not isinstance(user, str) or not isinstance(items, list):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            self.malformed_lines += 1
            _example(self.malformed_examples, f"{where}: {line[:120]!r}")
            return
        self._users.append(_user_hash(user))
        if error is not None:
            self.error_lines += 1
            _example(self.error_examples, f"user {user}: {error}")
            return
        self.recommendations += len(items)
        if len(items) < self.expected_results:
            self.short_lines += 1
            _example(self.short_examples, f"user {user}: {len(items)} items")

    def compare_users(self, expected: array[int]) -> tuple[int, int]:
        """(input users with no output line, output lines for users not in the input or repeated)."""
        got = sorted(self._users)
        missing = extra = 0
        i = j = 0
        while i < len(expected) and j < len(got):
            if expected[i] == got[j]:
                i += 1
                j += 1
            elif expected[i] < got[j]:
                missing += 1
                i += 1
            else:
                extra += 1
                j += 1
        return missing + (len(expected) - i), extra + (len(got) - j)


def _example(examples: list[str], text: str) -> None:
    if len(examples) < MAX_EXAMPLES:
        examples.append(text)


def validate_output(s3: Any, bucket: str, *, input_key: str, output_prefix: str, num_results: int) -> dict[str, Any]:
    """Read the whole output of a batch job and check it against its input; the counts, or
    :class:`BatchOutputInvalidError` naming what is wrong.

    Every input user must have exactly one output line, and no line may carry an error. A user
    with fewer than ``num_results`` items is counted (``usersWithFewerItems``), not refused:
    Personalize returns fewer when fewer items remain to recommend (register
    personalize.batch.input-output).
    """
    source = f"s3://{bucket}/{input_key}"
    expected = read_user_hashes(
        s3.get_object(Bucket=bucket, Key=input_key)["Body"].iter_lines(LINE_CHUNK_BYTES), source
    )
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=output_prefix)
        for item in page.get("Contents", [])
        if item["Key"].endswith(OUTPUT_SUFFIX)
    ]
    where = f"s3://{bucket}/{output_prefix}"
    if not keys:
        raise BatchOutputInvalidError(f"the batch job wrote no {OUTPUT_SUFFIX} file under {where}")
    check = OutputCheck(num_results)
    for key in sorted(keys):
        for number, line in enumerate(
            s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines(LINE_CHUNK_BYTES), start=1
        ):
            check.add(line, f"{key.rpartition('/')[2]} line {number}")
    missing, extra = check.compare_users(expected)
    problems = []
    if check.error_lines:
        problems.append(f"{check.error_lines} lines carry an error ({'; '.join(check.error_examples)})")
    if check.malformed_lines:
        problems.append(
            f"{check.malformed_lines} lines are not batch output records ({'; '.join(check.malformed_examples)})"
        )
    if missing:
        problems.append(f"{missing} of the {len(expected)} input users have no output line")
    if extra:
        problems.append(f"{extra} output lines are for users not in the input, or repeat a user")
    if problems:
        raise BatchOutputInvalidError(
            f"batch output {where} was not published: " + "; ".join(problems) + f" (input {source})"
        )
    return {
        "outputPrefix": output_prefix,
        "outputKeys": sorted(keys),
        "users": len(expected),
        "recommendations": check.recommendations,
        "numResults": num_results,
        "usersWithFewerItems": check.short_lines,
        "fewerItemsExamples": check.short_examples,
    }


# --- the manifest --------------------------------------------------------------------------------


def read_manifest(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The current manifest, or None before the first published output."""
    return read_json(s3, bucket, key)


def write_manifest(s3: Any, bucket: str, key: str, manifest: Mapping[str, Any]) -> None:
    write_json(s3, bucket, key, manifest)


def _entry(manifest: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k not in ("version", "history", "rolledBackFrom")}


def published_manifest(
    current: Mapping[str, Any] | None, output: Mapping[str, Any], *, published_at: str
) -> dict[str, Any]:
    """The manifest after publishing ``output`` (run, version, prefix, counts): the replaced one
    goes to the head of ``history``."""
    history = [_entry(current), *current.get("history", [])] if current else []
    return {
        "version": MANIFEST_VERSION,
        **dict(output),
        "publishedAt": published_at,
        "history": history[:MANIFEST_HISTORY],
    }


def rolled_back_manifest(current: Mapping[str, Any], *, rolled_back_at: str) -> dict[str, Any]:
    """The manifest pointing at the output published before the current one; ValueError if none is left."""
    history = list(current.get("history", []))
    if not history:
        raise ValueError("the manifest remembers no earlier batch output to roll back to")
    previous, *older = history
    return {
        "version": MANIFEST_VERSION,
        **previous,
        "publishedAt": rolled_back_at,
        "rolledBackFrom": _entry(current),
        "history": older,
    }
