"""An honest, offline simulator of the Amazon Personalize control plane and runtime.

Why it exists: the retraining workflow waits hours on real Personalize jobs; offline
end-to-end runs need the same request/response shapes, status progressions, error codes
and ordering rules, driven by a simulated clock instead of wall time.

Everything is computed lazily from the clock when a resource is described: there are no
threads. Requests and responses are checked against botocore's own service models, so a
call the real service would reject is rejected here too, and a response carrying a field
the model does not know is a bug in the simulator (it raises ``SimulatorBug``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import ServiceModel

from simulator.clock import SimulatedClock
from simulator.service_model import SimulatedServiceError, check_response, validate_request

S3Reader = Callable[[str, str], bytes]
S3Lister = Callable[[str, str], list[str]]

REQUIRED_INTERACTION_FIELDS = ("USER_ID", "ITEM_ID", "TIMESTAMP")
# Register personalize.update-training.recipes.
UPDATE_CAPABLE_RECIPES = frozenset({"aws-user-personalization", "aws-hrnn-coldstart"})
KNOWN_RECIPES = frozenset(
    {
        "aws-user-personalization",
        "aws-user-personalization-v2",
        "aws-hrnn",
        "aws-hrnn-coldstart",
        "aws-hrnn-metadata",
        "aws-personalized-ranking",
        "aws-personalized-ranking-v2",
        "aws-popularity-count",
        "aws-trending-now",
        "aws-sims",
        "aws-similar-items",
        "aws-semantic-similarity",
        "aws-next-best-action",
    }
)
RECIPE_ARN = re.compile(r"arn:aws:personalize:::recipe/([a-z0-9-]+)")
IN_FLIGHT = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS", "CREATE STOPPING"})
FAILABLE_KINDS = frozenset(
    {"dataset_group", "dataset", "import_job", "solution", "solution_version", "campaign", "campaign_update"}
)
MIN_TRAINING_USERS = 25
_DESCRIBE_SHAPES = {
    "dataset_group": "DatasetGroup",
    "schema": "DatasetSchema",
    "dataset": "Dataset",
    "import_job": "DatasetImportJob",
    "solution": "Solution",
    "solution_version": "SolutionVersion",
    "campaign": "Campaign",
    "event_tracker": "EventTracker",
    "filter": "Filter",
}

_SESSION = botocore.session.get_session()
_MODELS: dict[str, ServiceModel] = {
    "personalize": _SESSION.get_service_model("personalize"),
    "personalize-runtime": _SESSION.get_service_model("personalize-runtime"),
}


def _invalid(message: str) -> SimulatedServiceError:
    return SimulatedServiceError("InvalidInputException", message)


def _not_found(message: str) -> SimulatedServiceError:
    return SimulatedServiceError("ResourceNotFoundException", message)


def _in_use(message: str) -> SimulatedServiceError:
    return SimulatedServiceError("ResourceInUseException", message)


@dataclass(frozen=True)
class StageDurations:
    """Seconds each stage takes; defaults are in the range the real service shows."""

    dataset_group: float = 60
    dataset: float = 60
    schema: float = 0
    import_job: float = 900
    solution: float = 60
    solution_version: float = 7200
    solution_version_update: float = 1800
    campaign: float = 600
    campaign_update: float = 600
    delete: float = 60
    stop: float = 60
    event_tracker: float = 60
    filter: float = 60


# --------------------------------------------------------------------------- lifecycle


@dataclass
class _Lifecycle:
    """Status timeline of one resource, evaluated against the clock on demand (register personalize.status-sequences)."""

    created: datetime
    duration: float
    failure: str | None = None
    stop_duration: float = 60
    delete_duration: float = 60
    stopped: datetime | None = None
    deleted: datetime | None = None
    stuck_deleting: bool = False

    def events(self) -> list[tuple[datetime, str]]:
        end = self.created + timedelta(seconds=self.duration)
        timeline = [(self.created, "CREATE PENDING")]
        if self.duration > 1:
            timeline.append((self.created + timedelta(seconds=1), "CREATE IN_PROGRESS"))
        timeline.append((end, "CREATE FAILED" if self.failure else "ACTIVE"))
        if self.stopped is not None:
            timeline = [event for event in timeline if event[0] <= self.stopped]
            timeline += [
                (self.stopped, "CREATE STOPPING"),
                (self.stopped + timedelta(seconds=self.stop_duration), "CREATE STOPPED"),
            ]
        if self.deleted is not None:
            timeline = [event for event in timeline if event[0] <= self.deleted]
            timeline += [
                (self.deleted, "DELETE PENDING"),
                (self.deleted + timedelta(seconds=1), "DELETE IN_PROGRESS"),
            ]
        return timeline

    def state(self, now: datetime) -> tuple[str, datetime]:
        """Current status and the time it was entered."""
        current = self.events()[0]
        for event in self.events():
            if event[0] <= now:
                current = event
        return current[1], current[0]

    def status(self, now: datetime) -> str:
        return self.state(now)[0]

    def finished_at(self) -> datetime:
        return self.created + timedelta(seconds=self.duration)

    def gone(self, now: datetime) -> bool:
        if self.deleted is None or self.stuck_deleting:
            return False
        return now >= self.deleted + timedelta(seconds=self.delete_duration)


@dataclass
class _Resource:
    kind: str
    arn: str
    name: str
    life: _Lifecycle
    attrs: dict[str, Any]
    parent: str | None = None


@dataclass
class _CampaignUpdate:
    solution_version_arn: str
    min_tps: int
    config: dict[str, Any]
    life: _Lifecycle
    # Before this moment DescribeCampaign does not show the update yet (a stale read).
    visible_at: datetime


@dataclass
class _Model:
    """What a solution version learned: per-user history and global popularity."""

    seen: dict[str, set[str]] = field(default_factory=dict)
    popularity: Counter[str] = field(default_factory=Counter)


@dataclass
class _Interactions:
    rows: list[tuple[str, str, int]] | None  # None: imported without an S3 reader


# --------------------------------------------------------------------------- simulator

_OPERATIONS: dict[tuple[str, str], str] = {}


def _op(service: str, *names: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    def register(method: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        for name in names:
            _OPERATIONS[(service, name)] = method.__name__
        return method

    return register


class PersonalizeSimulator:
    """In-memory Personalize: control plane resources plus GetRecommendations."""

    def __init__(
        self,
        clock: SimulatedClock,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        durations: StageDurations = StageDurations(),
        s3_reader: S3Reader | None = None,
        s3_lister: S3Lister | None = None,
        min_training_interactions: int = 1000,
        max_concurrent_trainings: int = 20,
        max_dataset_groups: int = 5,
        campaign_update_read_lag_seconds: float = 5,
    ) -> None:
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.durations = durations
        self.s3_reader = s3_reader
        self.s3_lister = s3_lister
        # Register personalize.quotas: training minimums, 5 active dataset groups and 20 trainings
        # in progress per region (the defaults; both quotas are adjustable).
        self.min_training_interactions = min_training_interactions
        self.max_concurrent_trainings = max_concurrent_trainings
        self.max_dataset_groups = max_dataset_groups
        # Register personalize.campaign-update.stale-read (assumed): for a few seconds after
        # UpdateCampaign, DescribeCampaign still shows the campaign as it was.
        self.campaign_update_read_lag_seconds = campaign_update_read_lag_seconds
        # Register personalize.s3-access.policy: before reading an import's data, Personalize
        # lists the bucket and gets the object through the role in roleArn, and the bucket policy
        # must let it in as well. The harness answers with a failure reason, or None if allowed.
        self.s3_access_denied: Callable[[str, str], str | None] | None = None
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._resources: dict[str, _Resource] = {}
        self._updates: dict[str, list[_CampaignUpdate]] = {}
        self._imports: dict[str, _Interactions] = {}
        self._models: dict[str, _Model] = {}
        self._metrics: dict[str, dict[str, float]] = {}
        self._autotrain_due: dict[str, datetime] = {}
        self._empty_models_next = 0
        # Scheduled automatic trainings that did not start (solution busy, no data), for reports.
        self.autotraining_skipped: list[tuple[str, datetime]] = []
        self._next_metrics: list[dict[str, float]] = []
        self._failures: dict[str, list[str]] = {}
        self._throttles: dict[str, list[str]] = {}
        self._sticky: set[str] = set()
        self._counter = 0
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- test controls

    def fail_next(self, resource_kind: str, reason: str) -> None:
        """The next created resource of this kind ends in CREATE FAILED with ``reason``."""
        if resource_kind not in FAILABLE_KINDS:
            raise ValueError(f"unknown resource kind {resource_kind!r}; use one of {sorted(FAILABLE_KINDS)}")
        self._failures.setdefault(resource_kind, []).append(reason)

    def throttle(self, operation_name: str, times: int = 1, code: str = "ThrottlingException") -> None:
        """The next ``times`` calls of the operation fail with ``code`` before doing anything."""
        self._throttles.setdefault(operation_name, []).extend([code] * times)

    def train_empty_model_next(self) -> None:
        """The next solution version trains to ACTIVE but recommends nothing (itemList [])."""
        self._empty_models_next += 1

    def clear_faults(self) -> None:
        """Forget injected failures and throttles not yet used (the service recovered)."""
        self._failures.clear()
        self._throttles.clear()
        self._empty_models_next = 0

    def stick_deleting(self, kind: str) -> None:
        """Resources of this kind deleted from now on stay DELETE IN_PROGRESS forever."""
        self._sticky.add(kind)

    def set_metrics(self, solution_version_arn: str | None, metrics: dict[str, float]) -> None:
        """Fix GetSolutionMetrics for a version; ``None`` applies to the next created version."""
        if solution_version_arn is None:
            self._next_metrics.append(dict(metrics))
        else:
            self._metrics[solution_version_arn] = dict(metrics)

    def resources_of(self, kind: str) -> list[dict[str, Any]]:
        """Live resources of a kind (as Describe reports them), oldest first."""
        with self._lock:
            self._purge()
            self._autotrain()
            return [self._describe(res) for res in self._live(kind)]

    def status_of(self, arn: str) -> str:
        """Status of a resource, without recording a call."""
        with self._lock:
            self._purge()
            return self._get_any(arn).life.status(self.clock.now())

    # ----------------------------------------------------------------- dispatch

    def handle(self, operation_name: str, params: dict[str, Any], *, service: str = "personalize") -> dict[str, Any]:
        """Answer one API call exactly as the service would (or raise SimulatedServiceError)."""
        with self._lock:
            self.calls.append((operation_name, params))
            method_name = _OPERATIONS.get((service, operation_name))
            if method_name is None:
                raise SimulatedServiceError("UnknownOperationException", f"{service}.{operation_name} is not simulated")
            queued = self._throttles.get(operation_name)
            if queued:
                raise SimulatedServiceError(queued.pop(0), "Rate exceeded")
            operation = _MODELS[service].operation_model(operation_name)
            validate_request(operation, params)
            self._purge()
            self._autotrain()
            response: dict[str, Any] = getattr(self, method_name)(params)
            check_response(operation.output_shape, response)
            return response

    # ----------------------------------------------------------------- helpers

    def _now(self) -> datetime:
        return self.clock.now()

    def _arn(self, resource: str) -> str:
        return f"arn:aws:personalize:{self.region}:{self.account_id}:{resource}"

    def _token(self, *parts: str) -> str:
        self._counter += 1
        return hashlib.sha256("/".join((*parts, str(self._counter))).encode()).hexdigest()

    def _life(self, duration: float, kind: str | None) -> _Lifecycle:
        failures = self._failures.get(kind or "", [])
        return _Lifecycle(
            created=self._now(),
            duration=duration,
            failure=failures.pop(0) if failures else None,
            stop_duration=self.durations.stop,
            delete_duration=self.durations.delete,
        )

    def _live(self, kind: str) -> list[_Resource]:
        return [res for res in self._resources.values() if res.kind == kind]

    def _children(self, parent_arn: str, kind: str) -> list[_Resource]:
        return [res for res in self._live(kind) if res.parent == parent_arn]

    def _get_any(self, arn: str) -> _Resource:
        res = self._resources.get(arn)
        if res is None:
            raise _not_found(f"Could not find resource {arn}")
        return res

    def _get(self, arn: str, kind: str, label: str) -> _Resource:
        res = self._resources.get(arn)
        if res is None or res.kind != kind:
            raise _not_found(f"Could not find {label} {arn}")
        return res

    def _status(self, res: _Resource) -> str:
        return res.life.status(self._now())

    def _require_active(self, res: _Resource, label: str) -> None:
        status = self._status(res)
        if status != "ACTIVE":
            raise _in_use(f"{label} {res.arn} is not in ACTIVE state (current status: {status})")

    def _require_unique_name(self, kind: str, name: str, label: str) -> None:
        if any(res.name == name for res in self._live(kind)):
            raise SimulatedServiceError("ResourceAlreadyExistsException", f"{label} {name} already exists")

    def _add(
        self, kind: str, arn: str, name: str, life: _Lifecycle, attrs: dict[str, Any], parent: str | None = None
    ) -> _Resource:
        if arn in self._resources:
            raise SimulatedServiceError("ResourceAlreadyExistsException", f"Resource {arn} already exists")
        res = _Resource(kind, arn, name, life, attrs, parent)
        self._resources[arn] = res
        return res

    def _start_delete(self, res: _Resource) -> None:
        status = self._status(res)
        if status.startswith("DELETE"):
            raise _in_use(f"Resource {res.arn} is already being deleted")
        if status in IN_FLIGHT:
            raise _in_use(f"Resource {res.arn} cannot be deleted while in {status} state")
        res.life.deleted = self._now()
        res.life.stuck_deleting = res.kind in self._sticky

    def _purge(self) -> None:
        """Drop resources whose deletion finished, with the children that die with them."""
        now = self._now()
        for arn in [arn for arn, res in self._resources.items() if res.life.gone(now)]:
            self._drop(arn)

    def _drop(self, arn: str) -> None:
        self._resources.pop(arn, None)
        self._updates.pop(arn, None)
        for child in [res for res in self._resources.values() if res.parent == arn]:
            self._drop(child.arn)

    @staticmethod
    def _page(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
        start = int(params.get("nextToken") or 0)
        size = int(params.get("maxResults") or 100)
        page: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            page["nextToken"] = str(start + size)
        return page

    def _list(
        self, kind: str, params: dict[str, Any], key: str, summary: str, parent: str | None = None
    ) -> dict[str, Any]:
        shape = _MODELS["personalize"].shape_for(summary)
        found = [res for res in self._live(kind) if parent is None or res.parent == parent]
        found.sort(key=lambda res: res.life.created, reverse=True)
        items = [{k: v for k, v in self._describe(res).items() if k in shape.members} for res in found]
        return self._page(items, params, key)

    def _stamp(self, res: _Resource, body: dict[str, Any], *, with_status: bool = True) -> dict[str, Any]:
        """Add times, status and (where the model has the member) the failure reason."""
        status, since = res.life.state(self._now())
        body["creationDateTime"] = res.life.created
        body["lastUpdatedDateTime"] = since
        if with_status:
            body["status"] = status
            shape = _MODELS["personalize"].shape_for(_DESCRIBE_SHAPES[res.kind])
            if status == "CREATE FAILED" and "failureReason" in shape.members:
                body["failureReason"] = res.life.failure
        return body

    def _describe(self, res: _Resource) -> dict[str, Any]:
        return getattr(self, f"_view_{res.kind}")(res)

    # ----------------------------------------------------------------- dataset groups

    @_op("personalize", "CreateDatasetGroup")
    def _create_dataset_group(self, p: dict[str, Any]) -> dict[str, Any]:
        self._require_unique_name("dataset_group", p["name"], "Dataset group")
        if len(self._live("dataset_group")) >= self.max_dataset_groups:
            raise SimulatedServiceError("LimitExceededException", "Exceeded the maximum number of dataset groups")
        arn = self._arn(f"dataset-group/{p['name']}")
        attrs = {k: p[k] for k in ("roleArn", "kmsKeyArn", "domain") if k in p}
        self._add("dataset_group", arn, p["name"], self._life(self.durations.dataset_group, "dataset_group"), attrs)
        out = {"datasetGroupArn": arn}
        if "domain" in p:
            out["domain"] = p["domain"]
        return out

    def _view_dataset_group(self, res: _Resource) -> dict[str, Any]:
        return self._stamp(res, {"name": res.name, "datasetGroupArn": res.arn, **res.attrs})

    @_op("personalize", "DescribeDatasetGroup")
    def _describe_dataset_group(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        return {"datasetGroup": self._view_dataset_group(res)}

    @_op("personalize", "ListDatasetGroups")
    def _list_dataset_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("dataset_group", p, "datasetGroups", "DatasetGroupSummary")

    @_op("personalize", "DeleteDatasetGroup")
    def _delete_dataset_group(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        for kind, label in (
            ("dataset", "datasets"),
            ("solution", "solutions"),
            ("event_tracker", "event trackers"),
            ("filter", "filters"),
        ):
            if self._children(res.arn, kind):
                raise _in_use(f"Dataset group {res.arn} still has {label}; delete them first")
        self._start_delete(res)
        return {}

    # ----------------------------------------------------------------- schemas

    @_op("personalize", "CreateSchema")
    def _create_schema(self, p: dict[str, Any]) -> dict[str, Any]:
        fields = _parse_schema(p["schema"])
        self._require_unique_name("schema", p["name"], "Schema")
        arn = self._arn(f"schema/{p['name']}")
        attrs = {"schema": p["schema"], "fields": fields, **({"domain": p["domain"]} if "domain" in p else {})}
        self._add("schema", arn, p["name"], self._life(self.durations.schema, None), attrs)
        return {"schemaArn": arn}

    def _view_schema(self, res: _Resource) -> dict[str, Any]:
        body = {"name": res.name, "schemaArn": res.arn, "schema": res.attrs["schema"]}
        if "domain" in res.attrs:
            body["domain"] = res.attrs["domain"]
        return self._stamp(res, body, with_status=False)

    @_op("personalize", "DescribeSchema")
    def _describe_schema(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"schema": self._view_schema(self._get(p["schemaArn"], "schema", "schema"))}

    @_op("personalize", "ListSchemas")
    def _list_schemas(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("schema", p, "schemas", "DatasetSchemaSummary")

    @_op("personalize", "DeleteSchema")
    def _delete_schema(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["schemaArn"], "schema", "schema")
        if any(ds.attrs["schemaArn"] == res.arn for ds in self._live("dataset")):
            raise _in_use(f"Schema {res.arn} is used by a dataset")
        self._drop(res.arn)
        return {}

    # ----------------------------------------------------------------- datasets

    @_op("personalize", "CreateDataset")
    def _create_dataset(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        schema = self._get(p["schemaArn"], "schema", "schema")
        dataset_type = p["datasetType"].upper()
        if dataset_type not in ("INTERACTIONS", "ITEMS", "USERS", "ACTIONS", "ACTION_INTERACTIONS"):
            raise _invalid(f"Invalid dataset type {p['datasetType']}")
        if dataset_type == "INTERACTIONS":
            missing = [f for f in REQUIRED_INTERACTION_FIELDS if f not in schema.attrs["fields"]]
            if missing:
                raise _invalid(f"Schema {schema.arn} is missing required fields for INTERACTIONS: {missing}")
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

    def _view_dataset(self, res: _Resource) -> dict[str, Any]:
        body = self._stamp(res, {"name": res.name, "datasetArn": res.arn, "datasetGroupArn": res.parent, **res.attrs})
        # Register personalize.last-updated-moves (assumed): a dataset's LastUpdatedDateTime also
        # moves when data is imported into it, so on a reused dataset it is not its creation's end.
        imported = [
            job.life.finished_at() for job in self._children(res.arn, "import_job") if self._status(job) == "ACTIVE"
        ]
        if body["status"] == "ACTIVE" and imported:
            body["lastUpdatedDateTime"] = max([body["lastUpdatedDateTime"], *imported])
        return body

    @_op("personalize", "DescribeDataset")
    def _describe_dataset(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"dataset": self._view_dataset(self._get(p["datasetArn"], "dataset", "dataset"))}

    @_op("personalize", "ListDatasets")
    def _list_datasets(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("dataset", p, "datasets", "DatasetSummary", p.get("datasetGroupArn"))

    @_op("personalize", "DeleteDataset")
    def _delete_dataset(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["datasetArn"], "dataset", "dataset")
        busy = [job for job in self._children(res.arn, "import_job") if self._status(job) in IN_FLIGHT]
        if busy:
            raise _in_use(f"Dataset {res.arn} has an import job in progress: {busy[0].arn}")
        self._start_delete(res)
        return {}

    # ----------------------------------------------------------------- import jobs

    @_op("personalize", "CreateDatasetImportJob")
    def _create_import_job(self, p: dict[str, Any]) -> dict[str, Any]:
        dataset = self._get(p["datasetArn"], "dataset", "dataset")
        location = p["dataSource"].get("dataLocation", "")
        if not location.startswith("s3://"):
            raise _invalid(f"Data location {location!r} must be an S3 path (s3://bucket/key)")
        self._require_active(dataset, "Dataset")
        if any(self._status(job) in IN_FLIGHT for job in self._children(dataset.arn, "import_job")):
            raise _in_use(f"Dataset {dataset.arn} already has an import job in progress")
        self._require_unique_name("import_job", p["jobName"], "Dataset import job")
        arn = self._arn(f"dataset-import-job/{p['jobName']}")
        life = self._life(self.durations.import_job, "import_job")
        rows, problem = self._read_interactions(location)
        denied = self.s3_access_denied(p.get("roleArn", ""), location) if self.s3_access_denied else None
        problem = denied or problem
        if problem and not life.failure:
            life.failure = problem
        attrs = {
            "dataSource": {"dataLocation": location},
            "importMode": p.get("importMode", "FULL"),
            "publishAttributionMetricsToS3": p.get("publishAttributionMetricsToS3", False),
            **({"roleArn": p["roleArn"]} if "roleArn" in p else {}),
        }
        self._add("import_job", arn, p["jobName"], life, attrs, dataset.arn)
        self._imports[arn] = _Interactions(rows)
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

    def _keys_at(self, bucket: str, key: str) -> list[str]:
        if not key.endswith("/"):
            return [key]
        if self.s3_lister is None:
            raise FileNotFoundError(f"listing s3://{bucket}/{key} needs an s3_lister")
        return sorted(k for k in self.s3_lister(bucket, key) if not k.endswith("/"))

    def _view_import_job(self, res: _Resource) -> dict[str, Any]:
        body = {"jobName": res.name, "datasetImportJobArn": res.arn, "datasetArn": res.parent, **res.attrs}
        return self._stamp(res, body)

    @_op("personalize", "DescribeDatasetImportJob")
    def _describe_import_job(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["datasetImportJobArn"], "import_job", "dataset import job")
        return {"datasetImportJob": self._view_import_job(res)}

    @_op("personalize", "ListDatasetImportJobs")
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

    # ----------------------------------------------------------------- solutions

    @_op("personalize", "CreateSolution")
    def _create_solution(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        recipe = p.get("recipeArn")
        if recipe is not None:
            _recipe_name(recipe)
        self._require_active(group, "Dataset group")
        self._require_unique_name("solution", p["name"], "Solution")
        arn = self._arn(f"solution/{p['name']}")
        attrs: dict[str, Any] = {
            "performHPO": p.get("performHPO", False),
            "performAutoML": p.get("performAutoML", False),
            "performAutoTraining": p.get("performAutoTraining", True),
            "performIncrementalUpdate": p.get("performIncrementalUpdate", False),
        }
        attrs.update({k: p[k] for k in ("recipeArn", "eventType", "solutionConfig") if k in p})
        self._add("solution", arn, p["name"], self._life(self.durations.solution, "solution"), attrs, group.arn)
        return {"solutionArn": arn}

    def _view_solution(self, res: _Resource) -> dict[str, Any]:
        body = {"name": res.name, "solutionArn": res.arn, "datasetGroupArn": res.parent, **res.attrs}
        body = self._stamp(res, body)
        versions = sorted(self._children(res.arn, "solution_version"), key=lambda v: v.life.created)
        if versions:
            latest = self._view_solution_version(versions[-1])
            shape = _MODELS["personalize"].shape_for("SolutionVersionSummary")
            body["latestSolutionVersion"] = {k: v for k, v in latest.items() if k in shape.members}
        return body

    @_op("personalize", "DescribeSolution")
    def _describe_solution(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"solution": self._view_solution(self._get(p["solutionArn"], "solution", "solution"))}

    @_op("personalize", "ListSolutions")
    def _list_solutions(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("solution", p, "solutions", "SolutionSummary", p.get("datasetGroupArn"))

    @_op("personalize", "DeleteSolution")
    def _delete_solution(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["solutionArn"], "solution", "solution")
        versions = self._children(res.arn, "solution_version")
        served = {arn for c in self._live("campaign") for arn in self._campaign_versions(c)}
        if any(v.arn in served for v in versions):
            raise _in_use(f"Solution {res.arn} has a version deployed in a campaign; delete the campaign first")
        if any(self._status(v) in IN_FLIGHT for v in versions):
            raise _in_use(f"Solution {res.arn} has a solution version in progress; stop it first")
        self._start_delete(res)
        return {}

    # ----------------------------------------------------------------- solution versions

    @_op("personalize", "CreateSolutionVersion")
    def _create_solution_version(self, p: dict[str, Any]) -> dict[str, Any]:
        solution = self._get(p["solutionArn"], "solution", "solution")
        mode = p.get("trainingMode", "FULL")
        return {"solutionVersionArn": self._start_training(solution, mode, p.get("name")).arn}

    def _start_training(
        self, solution: _Resource, mode: str, name: str | None, at: datetime | None = None
    ) -> _Resource:
        recipe = _recipe_name(solution.attrs["recipeArn"]) if "recipeArn" in solution.attrs else None
        if mode == "UPDATE" and recipe not in UPDATE_CAPABLE_RECIPES:
            raise _invalid(
                f"trainingMode UPDATE is only supported for the aws-user-personalization and aws-hrnn-coldstart recipes, not {recipe}"
            )
        if mode == "UPDATE" and not any(
            self._status(v) == "ACTIVE" for v in self._children(solution.arn, "solution_version")
        ):
            raise _invalid("trainingMode UPDATE requires an existing ACTIVE solution version trained with FULL")
        self._require_active(solution, "Solution")
        if any(self._status(v) in IN_FLIGHT for v in self._children(solution.arn, "solution_version")):
            raise _in_use(f"Solution {solution.arn} already has a solution version in progress")
        training = [v for v in self._live("solution_version") if self._status(v) in IN_FLIGHT]
        if len(training) >= self.max_concurrent_trainings:
            raise SimulatedServiceError("LimitExceededException", "Exceeded the maximum number of concurrent trainings")
        arn = f"{solution.arn}/{self._token(solution.arn)[:8]}"
        duration = self.durations.solution_version_update if mode == "UPDATE" else self.durations.solution_version
        life = self._life(duration, "solution_version")
        if at is not None:
            life.created = at
        model, problem = self._train(solution.parent or "", life.created)
        if self._empty_models_next and mode != "AUTOTRAIN":
            self._empty_models_next -= 1
            model = _Model()
        if problem and not life.failure:
            life.failure = problem
        attrs = {"trainingMode": mode, **({"versionName": name} if name else {})}
        version = self._add("solution_version", arn, solution.name, life, attrs, solution.arn)
        self._models[arn] = model
        if self._next_metrics:
            self._metrics.setdefault(arn, self._next_metrics.pop(0))
        return version

    def _train(self, group_arn: str, at: datetime) -> tuple[_Model, str | None]:
        """Snapshot the data a version trains on; enforce the service's minimums on real data."""
        if not self._has_active_import(group_arn):
            return _Model(), "No data found in the dataset group: import interactions before training"
        rows = self._group_data(group_arn, at)
        if rows is None:
            return _Model(), None
        users = {user for user, _, _ in rows}
        if len(rows) < self.min_training_interactions or len(users) < MIN_TRAINING_USERS:
            return _Model(), (
                f"Insufficient data for training: {len(rows)} interactions from {len(users)} users; at least "
                f"{self.min_training_interactions} interactions from {MIN_TRAINING_USERS} users are required"
            )
        model = _Model()
        for user, item, _ in rows:
            model.seen.setdefault(user, set()).add(item)
            model.popularity[item] += 1
        return model, None

    def _view_solution_version(self, res: _Resource) -> dict[str, Any]:
        """Billed trainingHours equal the wall time here (register personalize.solution-version.training-hours)."""
        solution = self._resources.get(res.parent or "")
        inherited = {}
        if solution is not None:
            keys = (
                "performHPO",
                "performAutoML",
                "performIncrementalUpdate",
                "recipeArn",
                "eventType",
                "solutionConfig",
            )
            inherited = {k: solution.attrs[k] for k in keys if k in solution.attrs}
            inherited["datasetGroupArn"] = solution.parent
        body: dict[str, Any] = {
            "name": res.attrs.get("versionName", res.name),
            "solutionVersionArn": res.arn,
            "solutionArn": res.parent,
            **inherited,
            "trainingMode": res.attrs["trainingMode"],
            "trainingType": "AUTOMATIC" if res.attrs["trainingMode"] == "AUTOTRAIN" else "MANUAL",
        }
        body = self._stamp(res, body)
        if body["status"] == "ACTIVE":
            body["trainingHours"] = round(res.life.duration / 3600, 3)
        return body

    @_op("personalize", "DescribeSolutionVersion")
    def _describe_solution_version(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["solutionVersionArn"], "solution_version", "solution version")
        return {"solutionVersion": self._view_solution_version(res)}

    @_op("personalize", "ListSolutionVersions")
    def _list_solution_versions(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("solution_version", p, "solutionVersions", "SolutionVersionSummary", p.get("solutionArn"))

    @_op("personalize", "StopSolutionVersionCreation")
    def _stop_solution_version(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["solutionVersionArn"], "solution_version", "solution version")
        status = self._status(res)
        if status not in ("CREATE PENDING", "CREATE IN_PROGRESS"):
            raise _in_use(f"Solution version {res.arn} cannot be stopped in {status} state")
        res.life.stopped = self._now()
        return {}

    @_op("personalize", "GetSolutionMetrics")
    def _get_solution_metrics(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["solutionVersionArn"], "solution_version", "solution version")
        self._require_active(res, "Solution version")
        return {"solutionVersionArn": res.arn, "metrics": self._metrics.get(res.arn) or _default_metrics(res.arn)}

    def _autotrain(self) -> None:
        """Emulate performAutoTraining: a version within an hour of the solution, then on schedule.

        Register personalize.auto-training.

        Each slot of the schedule (solution ACTIVE + 1 h, then every schedulingExpression) is
        handled once: a version starts at the slot unless the solution is busy training then,
        in which case that slot is skipped, as the service skips a training it cannot start.
        """
        now = self._now()
        for solution in self._live("solution"):
            if not solution.attrs["performAutoTraining"] or self._status(solution) != "ACTIVE":
                continue
            interval = timedelta(days=_autotraining_days(solution.attrs.get("solutionConfig", {})))
            due = self._autotrain_due.setdefault(solution.arn, solution.life.finished_at() + timedelta(hours=1))
            while due <= now:
                busy = any(v.life.status(due) in IN_FLIGHT for v in self._children(solution.arn, "solution_version"))
                if not busy and self._has_active_import(solution.parent or ""):
                    try:
                        self._start_training(solution, "AUTOTRAIN", None, at=due)
                    except SimulatedServiceError:
                        self.autotraining_skipped.append((solution.arn, due))
                else:
                    self.autotraining_skipped.append((solution.arn, due))
                due += interval
                self._autotrain_due[solution.arn] = due

    # ----------------------------------------------------------------- campaigns

    @_op("personalize", "CreateCampaign")
    def _create_campaign(self, p: dict[str, Any]) -> dict[str, Any]:
        version = self._get(p["solutionVersionArn"], "solution_version", "solution version")
        self._require_active(version, "Solution version")
        self._require_unique_name("campaign", p["name"], "Campaign")
        arn = self._arn(f"campaign/{p['name']}")
        attrs = {
            "solutionVersionArn": version.arn,
            "minProvisionedTPS": p.get("minProvisionedTPS", 1),
            "campaignConfig": p.get("campaignConfig", {}),
        }
        self._add("campaign", arn, p["name"], self._life(self.durations.campaign, "campaign"), attrs, version.parent)
        return {"campaignArn": arn}

    def _served(self, res: _Resource) -> dict[str, Any]:
        """What the campaign serves now: creation settings overlaid by every finished update."""
        served = dict(res.attrs)
        now = self._now()
        for update in self._updates.get(res.arn, []):
            if update.life.status(now) == "ACTIVE":
                served.update(
                    solutionVersionArn=update.solution_version_arn,
                    minProvisionedTPS=update.min_tps,
                    campaignConfig=update.config,
                )
        return served

    def _campaign_versions(self, res: _Resource) -> set[str]:
        return {res.attrs["solutionVersionArn"], *(u.solution_version_arn for u in self._updates.get(res.arn, []))}

    def _view_campaign(self, res: _Resource, *, consistent: bool = False) -> dict[str, Any]:
        """DescribeCampaign's campaign; ``consistent``: the service's own view, without the read lag."""
        now = self._now()
        body = self._stamp(res, {"name": res.name, "campaignArn": res.arn, **self._served(res)})
        updates = [u for u in self._updates.get(res.arn, []) if consistent or u.visible_at <= now]
        if not updates:
            return body
        latest = updates[-1]
        status, since = latest.life.state(now)
        summary: dict[str, Any] = {
            "solutionVersionArn": latest.solution_version_arn,
            "minProvisionedTPS": latest.min_tps,
            "campaignConfig": latest.config,
            "status": status,
            "creationDateTime": latest.life.created,
            "lastUpdatedDateTime": since,
        }
        if status == "CREATE FAILED":
            summary["failureReason"] = latest.life.failure
        body["latestCampaignUpdate"] = summary
        if body["status"] == "CREATE FAILED" and any(u.life.status(now) == "ACTIVE" for u in updates):
            body["status"] = "ACTIVE"
            body.pop("failureReason", None)
        finished = [u.life.finished_at() for u in updates if u.life.status(now) in ("ACTIVE", "CREATE FAILED")]
        body["lastUpdatedDateTime"] = max([body["lastUpdatedDateTime"], *finished])
        return body

    def _campaign_status(self, res: _Resource) -> str:
        """The service's own view (no read lag): what UpdateCampaign and DeleteCampaign check."""
        return str(self._view_campaign(res, consistent=True)["status"])

    @_op("personalize", "DescribeCampaign")
    def _describe_campaign(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"campaign": self._view_campaign(self._get(p["campaignArn"], "campaign", "campaign"))}

    @_op("personalize", "ListCampaigns")
    def _list_campaigns(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("campaign", p, "campaigns", "CampaignSummary", p.get("solutionArn"))

    @_op("personalize", "UpdateCampaign")
    def _update_campaign(self, p: dict[str, Any]) -> dict[str, Any]:
        """Register personalize.campaign-update.status: ACTIVE or CREATE FAILED only, the old version served meanwhile."""
        res = self._get(p["campaignArn"], "campaign", "campaign")
        status = self._campaign_status(res)
        if status not in ("ACTIVE", "CREATE FAILED"):
            raise _in_use(f"Campaign {res.arn} must be ACTIVE or CREATE FAILED to update (current status: {status})")
        updates = self._updates.setdefault(res.arn, [])
        if updates and updates[-1].life.status(self._now()) in IN_FLIGHT:
            raise _in_use(f"Campaign {res.arn} has an update in progress")
        served = self._served(res)
        version_arn = p.get("solutionVersionArn", served["solutionVersionArn"])
        version = self._get(version_arn, "solution_version", "solution version")
        self._require_active(version, "Solution version")
        update = _CampaignUpdate(
            solution_version_arn=version_arn,
            min_tps=p.get("minProvisionedTPS", served["minProvisionedTPS"]),
            config=p.get("campaignConfig", served["campaignConfig"]),
            life=self._life(self.durations.campaign_update, "campaign_update"),
            visible_at=self._now() + timedelta(seconds=self.campaign_update_read_lag_seconds),
        )
        updates.append(update)
        return {"campaignArn": res.arn}

    @_op("personalize", "DeleteCampaign")
    def _delete_campaign(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["campaignArn"], "campaign", "campaign")
        updates = self._updates.get(res.arn, [])
        if updates and updates[-1].life.status(self._now()) in IN_FLIGHT:
            raise _in_use(f"Campaign {res.arn} has an update in progress")
        self._start_delete(res)
        return {}

    # ----------------------------------------------------------------- event trackers and filters

    @_op("personalize", "CreateEventTracker")
    def _create_event_tracker(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        self._require_active(group, "Dataset group")
        if self._children(group.arn, "event_tracker"):
            raise SimulatedServiceError("LimitExceededException", "A dataset group can have only one event tracker")
        token = self._token(group.arn)
        arn = self._arn(f"event-tracker/{token[:8]}")
        tracking_id = f"{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}-{token[20:32]}"
        attrs = {"trackingId": tracking_id, "accountId": self.account_id}
        self._add("event_tracker", arn, p["name"], self._life(self.durations.event_tracker, None), attrs, group.arn)
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    def _view_event_tracker(self, res: _Resource) -> dict[str, Any]:
        body = {"name": res.name, "eventTrackerArn": res.arn, "datasetGroupArn": res.parent, **res.attrs}
        return self._stamp(res, body)

    @_op("personalize", "DescribeEventTracker")
    def _describe_event_tracker(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["eventTrackerArn"], "event_tracker", "event tracker")
        return {"eventTracker": self._view_event_tracker(res)}

    @_op("personalize", "ListEventTrackers")
    def _list_event_trackers(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("event_tracker", p, "eventTrackers", "EventTrackerSummary", p.get("datasetGroupArn"))

    @_op("personalize", "DeleteEventTracker")
    def _delete_event_tracker(self, p: dict[str, Any]) -> dict[str, Any]:
        self._start_delete(self._get(p["eventTrackerArn"], "event_tracker", "event tracker"))
        return {}

    @_op("personalize", "CreateFilter")
    def _create_filter(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        self._require_active(group, "Dataset group")
        self._require_unique_name("filter", p["name"], "Filter")
        arn = self._arn(f"filter/{p['name']}")
        attrs = {"filterExpression": p["filterExpression"]}
        self._add("filter", arn, p["name"], self._life(self.durations.filter, None), attrs, group.arn)
        return {"filterArn": arn}

    def _view_filter(self, res: _Resource) -> dict[str, Any]:
        body = {"name": res.name, "filterArn": res.arn, "datasetGroupArn": res.parent, **res.attrs}
        return self._stamp(res, body)

    @_op("personalize", "DescribeFilter")
    def _describe_filter(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"filter": self._view_filter(self._get(p["filterArn"], "filter", "filter"))}

    @_op("personalize", "ListFilters")
    def _list_filters(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("filter", p, "Filters", "FilterSummary", p.get("datasetGroupArn"))

    @_op("personalize", "DeleteFilter")
    def _delete_filter(self, p: dict[str, Any]) -> dict[str, Any]:
        self._start_delete(self._get(p["filterArn"], "filter", "filter"))
        return {}

    # ----------------------------------------------------------------- runtime

    @_op("personalize-runtime", "GetRecommendations")
    def _get_recommendations(self, p: dict[str, Any]) -> dict[str, Any]:
        """A user the version never saw gets popular items (register personalize.get-recommendations.unknown-user)."""
        if "campaignArn" not in p:
            raise _invalid("This simulator serves campaigns only: campaignArn is required")
        campaign = self._resources.get(p["campaignArn"])
        if campaign is None or campaign.kind != "campaign":
            raise _not_found(f"Campaign {p['campaignArn']} does not exist")
        status = self._campaign_status(campaign)
        if status != "ACTIVE":
            raise _not_found(f"Campaign {campaign.arn} is not active (current status: {status})")
        if "userId" not in p and "itemId" not in p:
            raise _invalid("userId or itemId is required")
        model = self._models.get(self._served(campaign)["solutionVersionArn"], _Model())
        exclude = set(model.seen.get(p.get("userId", ""), set())) | ({p["itemId"]} if "itemId" in p else set())
        items = _rank(model.popularity, exclude, p.get("numResults", 25))
        request_id = self._token(campaign.arn, p.get("userId", ""))
        return {"itemList": items, "recommendationId": f"RID-{request_id[:8]}-{request_id[8:12]}-{request_id[12:24]}"}


# --------------------------------------------------------------------------- pure helpers


def _parse_schema(text: str) -> list[str]:
    """Accept an Avro-like record schema and return its field names."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _invalid(f"Schema is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(doc, dict) or doc.get("type") != "record":
        raise _invalid('Invalid Avro schema: the top-level type must be "record"')
    if not isinstance(doc.get("name"), str):
        raise _invalid('Invalid Avro schema: a record needs a "name"')
    fields = doc.get("fields")
    if not isinstance(fields, list) or not fields:
        raise _invalid('Invalid Avro schema: "fields" must be a non-empty list')
    names = []
    for entry in fields:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or "type" not in entry:
            raise _invalid(f"Invalid Avro schema: every field needs a name and a type, got {entry!r}")
        names.append(entry["name"])
    return names


def _recipe_name(recipe_arn: str) -> str:
    match = RECIPE_ARN.fullmatch(recipe_arn)
    if match is None:
        raise _invalid(f"Invalid recipe ARN {recipe_arn}: expected arn:aws:personalize:::recipe/<name>")
    if match.group(1) not in KNOWN_RECIPES:
        raise _not_found(f"Recipe {recipe_arn} does not exist")
    return match.group(1)


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


def _rank(popularity: Counter[str], exclude: set[str], limit: int) -> list[dict[str, Any]]:
    """Most-interacted items first, ties by item id: deterministic like a trained model."""
    total = sum(popularity.values()) or 1
    ranked = sorted((item for item in popularity if item not in exclude), key=lambda i: (-popularity[i], i))
    return [{"itemId": item, "score": round(popularity[item] / total, 7)} for item in ranked[:limit]]


def _default_metrics(arn: str) -> dict[str, float]:
    """Plausible, stable metrics: a level per solution, within 1% from one version to the next.

    Retraining the same recipe on a little more data moves offline metrics little, so by
    default a new version neither clearly beats nor clearly loses to the last one; tests that
    need a better or worse version say so with ``set_metrics``.
    """
    solution_arn = arn.rsplit("/", 1)[0]
    level = hashlib.sha256(solution_arn.encode()).digest()
    jitter = hashlib.sha256(arn.encode()).digest()

    def span(index: int, low: float, high: float) -> float:
        base = low + (high - low) * level[index] / 255
        return round(base * (1 + 0.01 * (jitter[index] / 127.5 - 1)), 4)

    return {
        "coverage": span(0, 0.05, 0.3),
        "mean_reciprocal_rank_at_25": span(1, 0.05, 0.25),
        "normalized_discounted_cumulative_gain_at_5": span(2, 0.05, 0.25),
        "normalized_discounted_cumulative_gain_at_10": span(3, 0.08, 0.3),
        "normalized_discounted_cumulative_gain_at_25": span(4, 0.1, 0.35),
        "precision_at_5": span(5, 0.02, 0.15),
        "precision_at_10": span(6, 0.02, 0.12),
        "precision_at_25": span(7, 0.01, 0.1),
    }


def _autotraining_days(solution_config: dict[str, Any]) -> int:
    expression = solution_config.get("autoTrainingConfig", {}).get("schedulingExpression", "rate(7 days)")
    match = re.fullmatch(r"rate\((\d+) days?\)", expression)
    return int(match.group(1)) if match else 7


def iter_operations(service: str = "personalize") -> Iterable[str]:
    """Operation names the simulator answers for a service (used by coverage tests)."""
    return sorted(op for svc, op in _OPERATIONS if svc == service)
