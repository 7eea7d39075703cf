"""Data deletion jobs: users' interactions removed from the dataset group's data.

Register personalize.data-deletion: the input is a CSV with a single USER_ID column (at most
100 MB in all), at most 5 jobs PENDING per dataset group, statuses PENDING > IN_PROGRESS >
COMPLETED or FAILED, and ``numDeleted`` counts the records a COMPLETED job deleted. The job reads
its input through ``roleArn`` as an import does; models forget the users once a new solution
version is trained.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from botocore.exceptions import ClientError

from simulator.personalize.core import invalid_input, operation
from simulator.personalize.lifecycle import Interactions, Resource
from simulator.service_model import SimulatedServiceError

MAX_INPUT_BYTES = 100 * 1024**2
MAX_PENDING_JOBS = 5
# The model's DataDeletionJob.status words: PENDING > IN_PROGRESS > COMPLETED -or- FAILED.
DELETION_STATUS_WORDS = {
    "CREATE PENDING": "PENDING",
    "CREATE IN_PROGRESS": "IN_PROGRESS",
    "ACTIVE": "COMPLETED",
    "CREATE FAILED": "FAILED",
}


class DeletionOperations:
    """Operations of data deletion jobs; mixed into PersonalizeSimulator (core state in PersonalizeCore)."""

    @operation("personalize", "CreateDataDeletionJob")
    def _create_data_deletion_job(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        self._require_active(group, "Dataset group")
        location = p["dataSource"].get("dataLocation", "")
        if not location.startswith("s3://"):
            raise invalid_input(f"Data location {location!r} must be an S3 path (s3://bucket/key)")
        pending = [job for job in self._children(group.arn, "deletion_job") if self._status(job) == "CREATE PENDING"]
        if len(pending) >= MAX_PENDING_JOBS:
            raise SimulatedServiceError(
                "LimitExceededException",
                f"A dataset group can have at most {MAX_PENDING_JOBS} data deletion jobs with a status of PENDING",
            )
        self._require_unique_name("deletion_job", p["jobName"], "Data deletion job")
        arn = self._arn(f"data-deletion-job/{p['jobName']}")
        life = self._life(self.durations.deletion_job, "deletion_job")
        users, problem = self._read_deletion_input(location)
        denied = self.s3_access_denied(p["roleArn"], location) if self.s3_access_denied else None
        problem = denied or problem
        if problem and not life.failure:
            life.failure = problem
        attrs = {"dataSource": {"dataLocation": location}, "roleArn": p["roleArn"], "datasetGroupArn": group.arn}
        self._add("deletion_job", arn, p["jobName"], life, attrs, group.arn)
        self._deletions[arn] = sorted(users) if not life.failure else []
        return {"dataDeletionJobArn": arn}

    def _read_deletion_input(self, location: str) -> tuple[set[str], str | None]:
        """The user ids of the input file(s): a CSV with a single USER_ID column."""
        if self.s3_reader is None:
            return set(), None
        bucket, _, key = location.removeprefix("s3://").partition("/")
        try:
            keys = [k for k in self._keys_at(bucket, key) if k.endswith(".csv")]
            blobs = [self.s3_reader(bucket, k) for k in keys]
        except (OSError, LookupError, ClientError) as exc:
            return set(), f"Failed to read input data from {location}: {type(exc).__name__}"
        if not blobs:
            return set(), f"No input data files found at {location}"
        if sum(len(blob) for blob in blobs) > MAX_INPUT_BYTES:
            return set(), f"Input data at {location} exceeds the maximum size of 100 MB"
        users: set[str] = set()
        for blob in blobs:
            rows = list(csv.reader(io.StringIO(blob.decode("utf-8", errors="replace"))))
            if not rows or [h.strip().upper() for h in rows[0]] != ["USER_ID"]:
                return set(), "Input CSV must have a single USER_ID column"
            users |= {row[0] for row in rows[1:] if row}
        return users, None

    def _view_deletion_job(self, res: Resource) -> dict[str, Any]:
        body = self._stamp(res, {"jobName": res.name, "dataDeletionJobArn": res.arn, **res.attrs})
        body["status"] = DELETION_STATUS_WORDS.get(body["status"], body["status"])
        if body["status"] == "COMPLETED":
            body["numDeleted"] = self._delete_users_data(res)
        return body

    def _delete_users_data(self, res: Resource) -> int:
        """Remove the job's users from the group's imported interactions, once; the records deleted."""
        if "numDeleted" in res.attrs:
            return int(res.attrs["numDeleted"])
        users = set(self._deletions.get(res.arn, []))
        deleted = 0
        for dataset in self._children(str(res.parent), "dataset"):
            for job in self._children(dataset.arn, "import_job"):
                rows = self._imports[job.arn].rows
                if rows is None:
                    continue
                kept = [row for row in rows if row[0] not in users]
                deleted += len(rows) - len(kept)
                self._imports[job.arn] = Interactions(kept)
        res.attrs["numDeleted"] = deleted
        return deleted

    @operation("personalize", "DescribeDataDeletionJob")
    def _describe_data_deletion_job(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["dataDeletionJobArn"], "deletion_job", "data deletion job")
        return {"dataDeletionJob": self._view_deletion_job(res)}

    @operation("personalize", "ListDataDeletionJobs")
    def _list_data_deletion_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("deletion_job", p, "dataDeletionJobs", "DataDeletionJobSummary", p.get("datasetGroupArn"))
