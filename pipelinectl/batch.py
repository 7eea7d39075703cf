"""The pipeline's batch output: which run's recommendations consumers read, a user's line, rollback.

Everything comes from the manifest (``recommendations/latest.json``, contract/batch_output.py)
and the output files it names; nothing here reads a run folder the manifest does not name.
"""

from __future__ import annotations

import json
from typing import Any

from contract.batch_output import read_manifest, rolled_back_manifest, write_manifest
from contract.layout import manifest_key
from pipelinectl.errors import BatchOutputNotPublished, NothingToRollBack, UnknownUser
from pipelinectl.stack import PipelineStack


def published_output(s3: Any, stack: PipelineStack, solution: str | None = None) -> dict[str, Any]:
    """The manifest (of ``solution``, with several), or BatchOutputNotPublished before the first validated output."""
    key = manifest_key(solution)
    manifest = read_manifest(s3, stack.bucket, key)
    if manifest is None:
        raise BatchOutputNotPublished(
            f"no batch output published yet (s3://{stack.bucket}/{key} does not exist): the first "
            "successful run publishes it (`python -m pipelinectl run --wait`)"
        )
    return manifest


def recommendations_of(s3: Any, manifest: dict[str, Any], user: str) -> list[str]:
    """The items the published output holds for ``user`` (streamed: outputs can be large)."""
    for key in manifest.get("outputKeys", []):
        body = s3.get_object(Bucket=manifest["bucket"], Key=key)["Body"]
        for line in body.iter_lines():
            if f'"{user}"'.encode() not in line:
                continue
            record = json.loads(line)
            if record.get("input", {}).get("userId") == user:
                return [str(item) for item in (record.get("output") or {}).get("recommendedItems", [])]
    raise UnknownUser(
        f"user {user} is not in the batch output of run {manifest['runName']} "
        f"({manifest['users']} users, input s3://{manifest['bucket']}/{manifest['inputKey']}): pick a user id "
        "from that input, or set deployment.batch.usersKey to a file that lists the user"
    )


def roll_back_output(
    s3: Any, stack: PipelineStack, manifest: dict[str, Any], now: str, solution: str | None = None
) -> dict[str, Any]:
    """Point the manifest at the output it named before; returns the new manifest."""
    try:
        rolled = rolled_back_manifest(manifest, rolled_back_at=now)
    except ValueError:
        raise NothingToRollBack(
            f"the manifest names the output of run {manifest['runName']} and remembers none before it: "
            "nothing to roll back to"
        ) from None
    write_manifest(s3, stack.bucket, manifest_key(solution), rolled)
    return rolled
