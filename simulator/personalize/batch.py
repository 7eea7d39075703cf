"""Batch inference jobs: a file of recommendations per input line, written to S3 when the job is ACTIVE.

Register personalize.batch.request (the operations, statuses, quotas) and
personalize.batch.input-output (the JSON-lines formats). The job reads its input when it is
created and writes ``<input file name>.out`` under the output path once it is ACTIVE; a missing,
unreadable or malformed input, or one over the size quota, ends it CREATE FAILED with a reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from simulator.personalize.core import IN_FLIGHT, invalid_input, operation
from simulator.personalize.lifecycle import Model, Resource
from simulator.personalize.serving import rank
from simulator.service_model import SimulatedServiceError

# Register personalize.batch.request: the quotas page ("Batch inference jobs").
MAX_INPUT_BYTES = 1024**3
MAX_INPUT_FILES = 1000
MAX_RECORDS_PER_FILE = 50_000_000
MAX_PENDING_JOBS = 5
# The model's BatchInferenceJob.status lists these words, not the CREATE ... ones of other resources.
BATCH_STATUS_WORDS = {"CREATE PENDING": "PENDING", "CREATE IN_PROGRESS": "IN PROGRESS"}
# What the service writes for a line without the field the recipe needs (a user's report quoted
# in register personalize.batch.input-output).
MISSING_USER_ERROR = "User error: Required fields for the provided recipe are userId"


@dataclass
class BatchOutput:
    """What a job will write, decided when it starts: one (key, body) per input file."""

    files: list[tuple[str, bytes]]
    written: bool = False


class BatchOperations:
    """Operations of batch inference jobs; mixed into PersonalizeSimulator (core state in PersonalizeCore)."""

    @operation("personalize", "CreateBatchInferenceJob")
    def _create_batch_inference_job(self, p: dict[str, Any]) -> dict[str, Any]:
        version = self._get(p["solutionVersionArn"], "solution_version", "solution version")
        self._require_active(version, "Solution version")
        self._require_unique_name("batch_job", p["jobName"], "Batch inference job")
        input_path = p["jobInput"]["s3DataSource"]["path"]
        output_path = p["jobOutput"]["s3DataDestination"]["path"]
        for path in (input_path, output_path):
            if not path.startswith("s3://"):
                raise invalid_input(f"{path!r} must be an S3 path (s3://bucket/key)")
        pending = [job for job in self._live("batch_job") if self._status(job) in IN_FLIGHT]
        if len(pending) >= MAX_PENDING_JOBS:
            raise SimulatedServiceError(
                "LimitExceededException",
                f"Exceeded the maximum number of pending or in progress batch inference jobs ({MAX_PENDING_JOBS})",
            )
        arn = self._arn(f"batch-inference-job/{p['jobName']}")
        life = self._life(self.durations.batch_job, "batch_job")
        output, problem = self._batch_output(p, self._models.get(version.arn, Model()))
        denied = (
            self.batch_s3_access_denied(p["roleArn"], input_path, output_path) if self.batch_s3_access_denied else None
        )
        problem = denied or problem
        if problem and not life.failure:
            life.failure = problem
        attrs = {
            "solutionVersionArn": version.arn,
            "numResults": p.get("numResults", 25),
            "jobInput": p["jobInput"],
            "jobOutput": p["jobOutput"],
            "roleArn": p["roleArn"],
            "batchInferenceJobMode": p.get("batchInferenceJobMode", "BATCH_INFERENCE"),
            **{k: p[k] for k in ("filterArn", "batchInferenceJobConfig") if k in p},
        }
        self._add("batch_job", arn, p["jobName"], life, attrs, version.arn)
        self._batch_outputs[arn] = output
        return {"batchInferenceJobArn": arn}

    def _batch_output(self, p: dict[str, Any], model: Model) -> tuple[BatchOutput, str | None]:
        """Read the input now and compute the output the job will write; (output, failureReason)."""
        empty = BatchOutput([])
        if self.s3_reader is None:
            return empty, None
        input_path = p["jobInput"]["s3DataSource"]["path"]
        bucket, _, prefix = input_path.removeprefix("s3://").partition("/")
        out_bucket, _, out_prefix = p["jobOutput"]["s3DataDestination"]["path"].removeprefix("s3://").partition("/")
        try:
            # An input path is a prefix: every object whose key starts with it is input.
            keys = [k for k in self.s3_lister(bucket, prefix) if not k.endswith("/")] if self.s3_lister else [prefix]
            blobs = [(key, self.s3_reader(bucket, key)) for key in sorted(keys)]
        except (OSError, LookupError, ClientError) as exc:
            return empty, f"Failed to read input data from {input_path}: {type(exc).__name__}"
        if not blobs:
            return empty, f"No input data files found at {input_path}"
        if len(blobs) > MAX_INPUT_FILES:
            return empty, f"Input has {len(blobs)} files; the maximum is {MAX_INPUT_FILES}"
        if sum(len(blob) for _, blob in blobs) > MAX_INPUT_BYTES:
            return empty, f"Input data at {input_path} exceeds the maximum size of 1 GB"
        num_results = p.get("numResults", 25)
        errors_next = self._batch_errors_next.pop(0) if self._batch_errors_next else None
        files = []
        keep_for = None
        if "filterArn" in p:
            version = self._get(p["solutionVersionArn"], "solution_version", "solution version")
            group_arn = self._resources[str(version.parent)].parent
            keep_for = self._filter_keep(p["filterArn"], str(group_arn), {})
        for key, blob in blobs:
            lines, problem = _answer(blob, key, model, num_results, keep_for)
            if problem:
                return empty, problem
            if errors_next is not None:
                count, error = errors_next
                for line in lines[:count]:
                    line.update(output={"recommendedItems": []}, error=error)
                errors_next = None
            body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
            files.append((f"{out_prefix}{key.rpartition('/')[2]}.out", body))
        return BatchOutput([(f"{out_bucket}/{key}", body) for key, body in files]), None

    def _write_finished_batch_outputs(self) -> None:
        """A job writes its output as it finishes: here, at the first call after it is ACTIVE."""
        if self.s3_writer is None:
            return
        for arn, output in self._batch_outputs.items():
            job = self._resources.get(arn)
            if output.written or job is None or self._status(job) != "ACTIVE":
                continue
            for location, body in output.files:
                bucket, _, key = location.partition("/")
                self.s3_writer(bucket, key, body)
            output.written = True

    def _view_batch_job(self, res: Resource) -> dict[str, Any]:
        body = self._stamp(res, {"jobName": res.name, "batchInferenceJobArn": res.arn, **res.attrs})
        body["status"] = BATCH_STATUS_WORDS.get(body["status"], body["status"])
        return body

    @operation("personalize", "DescribeBatchInferenceJob")
    def _describe_batch_inference_job(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["batchInferenceJobArn"], "batch_job", "batch inference job")
        return {"batchInferenceJob": self._view_batch_job(res)}

    @operation("personalize", "ListBatchInferenceJobs")
    def _list_batch_inference_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("batch_job", p, "batchInferenceJobs", "BatchInferenceJobSummary", p.get("solutionVersionArn"))


def _answer(
    blob: bytes,
    key: str,
    model: Model,
    num_results: int,
    keep_for: Callable[[str], Callable[[str], bool]] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One output record per input line, or the reason the input cannot be read; ``keep_for``: the
    job's filter, for one user."""
    lines: list[dict[str, Any]] = []
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        return [], f"Input file {key} is not UTF-8 JSON lines"
    records = [line for line in text.splitlines() if line.strip()]
    if len(records) > MAX_RECORDS_PER_FILE:
        return [], f"Input file {key} has more than {MAX_RECORDS_PER_FILE} records"
    for number, line in enumerate(records, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return [], f"Invalid JSON in input file {key} at line {number}"
        if not isinstance(record, dict):
            return [], f"Invalid JSON in input file {key} at line {number}: expected an object"
        user = record.get("userId")
        if not isinstance(user, str) or not user:
            lines.append({"input": record, "output": {"recommendedItems": []}, "error": MISSING_USER_ERROR})
            continue
        keep = keep_for(user) if keep_for is not None else None
        ranked = rank(model.popularity, set(model.seen.get(user, set())), num_results, keep)
        lines.append(
            {
                "input": record,
                "output": {
                    "recommendedItems": [item["itemId"] for item in ranked],
                    "scores": [item["score"] for item in ranked],
                },
                "error": None,
            }
        )
    return lines, None
