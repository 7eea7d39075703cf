"""Dataset groups, schemas, datasets and import jobs: the data side of Personalize."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from simulator.personalize.core import (
    IN_FLIGHT,
    REQUIRED_INTERACTION_FIELDS,
    REQUIRED_ITEM_FIELDS,
    in_use,
    invalid_input,
    operation,
)
from simulator.personalize.lifecycle import Interactions, Resource
from simulator.service_model import SimulatedServiceError


class DatasetOperations:
    """Operations of dataset groups, schemas, datasets and import jobs; mixed into PersonalizeSimulator (core state in PersonalizeCore)."""

    # ----------------------------------------------------------------- dataset groups

    @operation("personalize", "CreateDatasetGroup")
    def _create_dataset_group(self, p: dict[str, Any]) -> dict[str, Any]:
        self._require_unique_name("dataset_group", p["name"], "Dataset group")
        if len(self._live("dataset_group")) >= self.max_dataset_groups:
            raise SimulatedServiceError("LimitExceededException", "Exceeded the maximum number of dataset groups")
        # Register personalize.dataset-group.kms: a KMS key needs the role that may use it, and a
        # role is only valid with a key (CreateDatasetGroup's documentation in the service model).
        if "kmsKeyArn" in p and "roleArn" not in p:
            raise invalid_input(
                "If you specify a KMS key, you must also include an IAM role that has permission to access the key"
            )
        if "roleArn" in p and "kmsKeyArn" not in p:
            raise invalid_input("Supplying an IAM role is only valid when also specifying a KMS key")
        arn = self._arn(f"dataset-group/{p['name']}")
        attrs = {k: p[k] for k in ("roleArn", "kmsKeyArn", "domain") if k in p}
        self._add("dataset_group", arn, p["name"], self._life(self.durations.dataset_group, "dataset_group"), attrs)
        out = {"datasetGroupArn": arn}
        if "domain" in p:
            out["domain"] = p["domain"]
        return out

    def _view_dataset_group(self, res: Resource) -> dict[str, Any]:
        return self._stamp(res, {"name": res.name, "datasetGroupArn": res.arn, **res.attrs})

    @operation("personalize", "DescribeDatasetGroup")
    def _describe_dataset_group(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        return {"datasetGroup": self._view_dataset_group(res)}

    @operation("personalize", "ListDatasetGroups")
    def _list_dataset_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("dataset_group", p, "datasetGroups", "DatasetGroupSummary")

    @operation("personalize", "DeleteDatasetGroup")
    def _delete_dataset_group(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        for kind, label in (
            ("dataset", "datasets"),
            ("solution", "solutions"),
            ("event_tracker", "event trackers"),
            ("filter", "filters"),
        ):
            if self._children(res.arn, kind):
                raise in_use(f"Dataset group {res.arn} still has {label}; delete them first")
        self._start_delete(res)
        return {}

    # ----------------------------------------------------------------- schemas

    @operation("personalize", "CreateSchema")
    def _create_schema(self, p: dict[str, Any]) -> dict[str, Any]:
        fields = _parse_schema(p["schema"])
        specs = json.loads(p["schema"])["fields"]
        self._require_unique_name("schema", p["name"], "Schema")
        arn = self._arn(f"schema/{p['name']}")
        attrs = {
            "schema": p["schema"],
            "fields": fields,
            "specs": specs,
            **({"domain": p["domain"]} if "domain" in p else {}),
        }
        self._add("schema", arn, p["name"], self._life(self.durations.schema, None), attrs)
        return {"schemaArn": arn}

    def _view_schema(self, res: Resource) -> dict[str, Any]:
        body = {"name": res.name, "schemaArn": res.arn, "schema": res.attrs["schema"]}
        if "domain" in res.attrs:
            body["domain"] = res.attrs["domain"]
        return self._stamp(res, body, with_status=False)

    @operation("personalize", "DescribeSchema")
    def _describe_schema(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"schema": self._view_schema(self._get(p["schemaArn"], "schema", "schema"))}

    @operation("personalize", "ListSchemas")
    def _list_schemas(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("schema", p, "schemas", "DatasetSchemaSummary")

    @operation("personalize", "DeleteSchema")
    def _delete_schema(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["schemaArn"], "schema", "schema")
        used = {self._dataset_schema(ds) for ds in self._live("dataset")} | {
            arn
            for ds in self._live("dataset")
            for arn, life in self._dataset_updates.get(ds.arn, [])
            if life.status(self._now()) in IN_FLIGHT
        }
        if res.arn in used:
            raise in_use(f"Schema {res.arn} is used by a dataset")
        self._drop(res.arn)
        return {}

    # ----------------------------------------------------------------- datasets

    @operation("personalize", "CreateDataset")
    def _create_dataset(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        schema = self._get(p["schemaArn"], "schema", "schema")
        dataset_type = p["datasetType"].upper()
        if dataset_type not in ("INTERACTIONS", "ITEMS", "USERS", "ACTIONS", "ACTION_INTERACTIONS"):
            raise invalid_input(f"Invalid dataset type {p['datasetType']}")
        required = {"INTERACTIONS": REQUIRED_INTERACTION_FIELDS, "ITEMS": REQUIRED_ITEM_FIELDS}.get(dataset_type, ())
        missing = [f for f in required if f not in schema.attrs["fields"]]
        if missing:
            raise invalid_input(f"Schema {schema.arn} is missing required fields for {dataset_type}: {missing}")
        self._require_active(group, "Dataset group")
        self._require_unique_name("dataset", p["name"], "Dataset")
        arn = self._arn(f"dataset/{group.name}/{dataset_type}")
        if arn in self._resources:
            raise SimulatedServiceError(
                "ResourceAlreadyExistsException", f"Dataset group {group.arn} already has a {dataset_type} dataset"
            )
        attrs = {"datasetType": dataset_type, "schemaArn": schema.arn}
        self._add("dataset", arn, p["name"], self._life(self.durations.dataset, "dataset"), attrs, group.arn)
        return {"datasetArn": arn}

    def _view_dataset(self, res: Resource) -> dict[str, Any]:
        body = self._stamp(res, {"name": res.name, "datasetArn": res.arn, "datasetGroupArn": res.parent, **res.attrs})
        body["schemaArn"] = self._dataset_schema(res)
        updates = self._dataset_updates.get(res.arn)
        if updates:
            schema_arn, life = updates[-1]
            status, since = life.state(self._now())
            body["latestDatasetUpdate"] = {
                "schemaArn": schema_arn,
                "status": status,
                "creationDateTime": life.created,
                "lastUpdatedDateTime": since,
                **({"failureReason": life.failure} if status == "CREATE FAILED" else {}),
            }
        # Register personalize.last-updated-moves (assumed): a dataset's LastUpdatedDateTime also
        # moves when data is imported into it, so on a reused dataset it is not its creation's end.
        imported = [
            job.life.finished_at() for job in self._children(res.arn, "import_job") if self._status(job) == "ACTIVE"
        ]
        if body["status"] == "ACTIVE" and imported:
            body["lastUpdatedDateTime"] = max([body["lastUpdatedDateTime"], *imported])
        return body

    def _dataset_schema(self, res: Resource) -> str:
        """The schema a dataset is on: its creation's, or that of its last finished update."""
        finished = [arn for arn, life in self._dataset_updates.get(res.arn, []) if life.status(self._now()) == "ACTIVE"]
        return finished[-1] if finished else str(res.attrs["schemaArn"])

    def _dataset_updating(self, res: Resource) -> bool:
        return any(life.status(self._now()) in IN_FLIGHT for _, life in self._dataset_updates.get(res.arn, []))

    @operation("personalize", "UpdateDataset")
    def _update_dataset(self, p: dict[str, Any]) -> dict[str, Any]:
        """Register personalize.dataset.update: Items and Users datasets only; every field of the
        current schema kept with its type and attributes; new fields nullable. The update's status
        sequence is not documented: modelled on a campaign update's (assumed)."""
        res = self._get(p["datasetArn"], "dataset", "dataset")
        schema = self._get(p["schemaArn"], "schema", "schema")
        if res.attrs["datasetType"] not in ("ITEMS", "USERS"):
            raise invalid_input(
                f"You can't replace the schema of a {res.attrs['datasetType']} dataset; only Items and Users "
                "datasets can be updated"
            )
        self._require_active(res, "Dataset")
        if self._dataset_updating(res) or any(
            self._status(job) in IN_FLIGHT for job in self._children(res.arn, "import_job")
        ):
            raise in_use(f"Dataset {res.arn} has an update or an import in progress")
        current = {
            spec["name"]: spec for spec in self._get(self._dataset_schema(res), "schema", "schema").attrs["specs"]
        }
        new = {spec["name"]: spec for spec in schema.attrs["specs"]}
        removed = [name for name in current if name not in new]
        if removed:
            raise invalid_input(f"The new schema must keep all fields of the previous schema; missing: {removed}")
        changed = [name for name, spec in current.items() if new[name] != spec]
        if changed:
            raise invalid_input(f"The new schema can't change the data type or attributes of fields: {changed}")
        not_nullable = [
            name
            for name, spec in new.items()
            if name not in current and not (isinstance(spec["type"], list) and "null" in spec["type"])
        ]
        if not_nullable:
            raise invalid_input(f"New fields must support null data: {not_nullable}")
        life = self._life(self.durations.dataset, "dataset_update")
        self._dataset_updates.setdefault(res.arn, []).append((schema.arn, life))
        return {"datasetArn": res.arn}

    @operation("personalize", "DescribeDataset")
    def _describe_dataset(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"dataset": self._view_dataset(self._get(p["datasetArn"], "dataset", "dataset"))}

    @operation("personalize", "ListDatasets")
    def _list_datasets(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("dataset", p, "datasets", "DatasetSummary", p.get("datasetGroupArn"))

    @operation("personalize", "DeleteDataset")
    def _delete_dataset(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["datasetArn"], "dataset", "dataset")
        busy = [job for job in self._children(res.arn, "import_job") if self._status(job) in IN_FLIGHT]
        if busy:
            raise in_use(f"Dataset {res.arn} has an import job in progress: {busy[0].arn}")
        self._start_delete(res)
        return {}

    # ----------------------------------------------------------------- import jobs

    @operation("personalize", "CreateDatasetImportJob")
    def _create_import_job(self, p: dict[str, Any]) -> dict[str, Any]:
        dataset = self._get(p["datasetArn"], "dataset", "dataset")
        location = p["dataSource"].get("dataLocation", "")
        if not location.startswith("s3://"):
            raise invalid_input(f"Data location {location!r} must be an S3 path (s3://bucket/key)")
        self._require_active(dataset, "Dataset")
        # Assumed (register personalize.dataset.update): no import while the schema is being replaced.
        if self._dataset_updating(dataset):
            raise in_use(f"Dataset {dataset.arn} is being updated to a new schema")
        if any(self._status(job) in IN_FLIGHT for job in self._children(dataset.arn, "import_job")):
            raise in_use(f"Dataset {dataset.arn} already has an import job in progress")
        # Register personalize.import.concurrency: 5 pending or in-progress import jobs per region.
        if sum(self._status(job) in IN_FLIGHT for job in self._live("import_job")) >= MAX_PENDING_IMPORTS:
            raise SimulatedServiceError(
                "LimitExceededException",
                f"More than {MAX_PENDING_IMPORTS} resources with PENDING or IN_PROGRESS status. You can have a total "
                f"of {MAX_PENDING_IMPORTS} pending or in progress dataset import jobs per region.",
            )
        self._require_unique_name("import_job", p["jobName"], "Dataset import job")
        mode = p.get("importMode", "FULL")
        # Register personalize.import.incremental: "If you haven't imported bulk records into the dataset
        # previously, you can only specify FULL" (the error code is assumed).
        if mode == "INCREMENTAL" and not any(
            self._status(job) == "ACTIVE" for job in self._children(dataset.arn, "import_job")
        ):
            raise invalid_input(
                f"Dataset {dataset.arn} has no bulk records yet: the first import job must use importMode FULL"
            )
        arn = self._arn(f"dataset-import-job/{p['jobName']}")
        life = self._life(self.durations.import_job, "import_job")
        if dataset.attrs["datasetType"] == "ITEMS":
            schema = self._get(self._dataset_schema(dataset), "schema", "schema")
            items, problem = self._read_items(location, schema.attrs["specs"])
            rows = None
        else:
            items = None
            rows, problem = self._read_interactions(location)
            problem = problem or _interactions_quota_problem(rows, mode)
        denied = self.s3_access_denied(p.get("roleArn", ""), location) if self.s3_access_denied else None
        problem = denied or problem
        if problem and not life.failure:
            life.failure = problem
        attrs = {
            "dataSource": {"dataLocation": location},
            "importMode": mode,
            "publishAttributionMetricsToS3": p.get("publishAttributionMetricsToS3", False),
            **({"roleArn": p["roleArn"]} if "roleArn" in p else {}),
        }
        self._add("import_job", arn, p["jobName"], life, attrs, dataset.arn)
        self._imports[arn] = Interactions(rows)
        if items is not None:
            self._item_rows[arn] = items
        return {"datasetImportJobArn": arn}

    def _read_interactions(self, location: str) -> tuple[list[tuple[str, str, int]] | None, str | None]:
        """Read the CSV the job points at; returns (rows, failureReason)."""
        if self.s3_reader is None:
            return None, None
        bucket, _, key = location[len("s3://") :].partition("/")
        try:
            keys = self._keys_at(bucket, key)
            blobs = [self.s3_reader(bucket, k) for k in keys]
        except (OSError, LookupError, ClientError) as exc:
            return None, (
                f"Failed to read input data from {location}: {type(exc).__name__}. Check that the file exists "
                "and that the role passed in roleArn and the bucket policy allow Personalize to read it."
            )
        if not blobs:
            return None, f"No input data files found at {location}"
        rows: list[tuple[str, str, int]] = []
        for blob in blobs:
            parsed, problem = _parse_interactions_csv(blob)
            if problem:
                return None, problem
            rows += parsed
        return rows, None

    def _read_items(self, location: str, specs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]] | None, str | None]:
        """Read an items CSV against its schema; returns (items, failureReason)."""
        if self.s3_reader is None:
            return None, None
        bucket, _, key = location[len("s3://") :].partition("/")
        try:
            blobs = [self.s3_reader(bucket, k) for k in self._keys_at(bucket, key)]
        except (OSError, LookupError, ClientError) as exc:
            return None, f"Failed to read input data from {location}: {type(exc).__name__}"
        items: list[dict[str, Any]] = []
        for blob in blobs:
            parsed, problem = _parse_items_csv(blob, specs)
            if problem:
                return None, problem
            items += parsed
        return items, None

    def _keys_at(self, bucket: str, key: str) -> list[str]:
        if not key.endswith("/"):
            return [key]
        if self.s3_lister is None:
            raise FileNotFoundError(f"listing s3://{bucket}/{key} needs an s3_lister")
        # Register personalize.import.folder: the folder's first level only, each file with its header.
        return sorted(k for k in self.s3_lister(bucket, key) if "/" not in k[len(key) :])

    def _view_import_job(self, res: Resource) -> dict[str, Any]:
        body = {"jobName": res.name, "datasetImportJobArn": res.arn, "datasetArn": res.parent, **res.attrs}
        return self._stamp(res, body)

    @operation("personalize", "DescribeDatasetImportJob")
    def _describe_import_job(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["datasetImportJobArn"], "import_job", "dataset import job")
        return {"datasetImportJob": self._view_import_job(res)}

    @operation("personalize", "ListDatasetImportJobs")
    def _list_import_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("import_job", p, "datasetImportJobs", "DatasetImportJobSummary", p.get("datasetArn"))

    def _group_data(self, group_arn: str, at: datetime) -> list[tuple[str, str, int]] | None:
        """Interactions of a dataset group as of ``at``; None when nothing real was imported."""
        jobs = [
            job
            for ds in self._children(group_arn, "dataset")
            if ds.attrs["datasetType"] == "INTERACTIONS"
            for job in self._children(ds.arn, "import_job")
            if job.life.status(at) == "ACTIVE"
        ]
        jobs.sort(key=lambda job: job.life.finished_at())
        data: list[tuple[str, str, int]] | None = None
        for job in jobs:
            rows = self._imports[job.arn].rows
            if rows is None:
                continue
            data = rows[:] if job.attrs["importMode"] == "FULL" or data is None else data + rows
        return data

    def _has_active_import(self, group_arn: str) -> bool:
        return any(
            self._status(job) == "ACTIVE"
            for ds in self._children(group_arn, "dataset")
            for job in self._children(ds.arn, "import_job")
        )


def _parse_schema(text: str) -> list[str]:
    """Accept an Avro-like record schema and return its field names."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid_input(f"Schema is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(doc, dict) or doc.get("type") != "record":
        raise invalid_input('Invalid Avro schema: the top-level type must be "record"')
    if not isinstance(doc.get("name"), str):
        raise invalid_input('Invalid Avro schema: a record needs a "name"')
    fields = doc.get("fields")
    if not isinstance(fields, list) or not fields:
        raise invalid_input('Invalid Avro schema: "fields" must be a non-empty list')
    names = []
    for entry in fields:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or "type" not in entry:
            raise invalid_input(f"Invalid Avro schema: every field needs a name and a type, got {entry!r}")
        names.append(entry["name"])
    return names


MAX_PENDING_IMPORTS = 5
# Register personalize.items.schema: ITEM_ID at most 256 characters, a categorical value at most 1,000.
MAX_ITEM_ID_CHARACTERS = 256
MAX_CATEGORICAL_CHARACTERS = 1000


def _parse_items_csv(blob: bytes, specs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """Items rows as dicts, checked against the schema: the header in the schema's field order,
    ITEM_ID present and short enough, empty cells only in nullable fields, numbers that parse,
    categorical values within their length. Returns (items, failureReason)."""
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        return [], "Input data is not valid UTF-8 CSV"
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    names = [spec["name"] for spec in specs]
    if header != names:
        return [], f"Input CSV columns {header} do not match the schema's fields in order: {names}"
    items = []
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(specs):
            return [], f"Malformed row {line_no} in input CSV: {len(row)} values for {len(specs)} fields"
        item: dict[str, Any] = {}
        for spec, value in zip(specs, row, strict=True):
            types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
            if value == "":
                if "null" not in types:
                    return [], f"Row {line_no}: {spec['name']} is empty but the schema does not allow null"
                item[spec["name"]] = None
                continue
            kind = next(t for t in types if t != "null")
            if kind in ("int", "long"):
                try:
                    item[spec["name"]] = int(value)
                except ValueError:
                    return [], f"Row {line_no}: {spec['name']} {value!r} is not a {kind}"
                continue
            if spec.get("categorical") and any(len(v) > MAX_CATEGORICAL_CHARACTERS for v in value.split("|")):
                return (
                    [],
                    f"Row {line_no}: a categorical value of {spec['name']} is over {MAX_CATEGORICAL_CHARACTERS} characters",
                )
            item[spec["name"]] = value
        if not item.get("ITEM_ID") or len(item["ITEM_ID"]) > MAX_ITEM_ID_CHARACTERS:
            return [], f"Row {line_no}: ITEM_ID must be 1 to {MAX_ITEM_ID_CHARACTERS} characters"
        items.append(item)
    return items, None


# Register personalize.import.quotas: per interactions import job, at least 1,000 records; the size
# limits (100 GB FULL, 1 GB INCREMENTAL) are far above what offline runs import.
MIN_IMPORT_RECORDS = 1000


def _interactions_quota_problem(rows: list[tuple[str, str, int]] | None, mode: str) -> str | None:
    """The failureReason of an import below the records minimum (the wording is assumed)."""
    if rows is None or len(rows) >= MIN_IMPORT_RECORDS:
        return None
    return (
        f"The {mode} import has {len(rows)} interaction records; a dataset import job needs at least "
        f"{MIN_IMPORT_RECORDS} interaction records"
    )


def _parse_interactions_csv(blob: bytes) -> tuple[list[tuple[str, str, int]], str | None]:
    """Parse USER_ID, ITEM_ID, TIMESTAMP rows; return (rows, failureReason)."""
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        return [], "Input data is not valid UTF-8 CSV"
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().upper() for h in next(reader, [])]
    missing = [f for f in REQUIRED_INTERACTION_FIELDS if f not in header]
    if missing:
        return [], f"Input CSV is missing the following columns: [{', '.join(missing)}]"
    user_i, item_i, ts_i = (header.index(f) for f in REQUIRED_INTERACTION_FIELDS)
    rows = []
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            rows.append((row[user_i], row[item_i], int(row[ts_i])))
        except (IndexError, ValueError):
            return [], f"Malformed row {line_no} in input CSV: TIMESTAMP must be an integer Unix epoch"
    return rows, None
