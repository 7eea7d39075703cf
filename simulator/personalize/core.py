"""An honest, offline simulator of the Amazon Personalize control plane and runtime: the core.

Why it exists: the retraining workflow waits hours on real Personalize jobs; offline
end-to-end runs need the same request/response shapes, status progressions, error codes
and ordering rules, driven by a simulated clock instead of wall time.

Everything is computed lazily from the clock when a resource is described: there are no
threads. Requests and responses are checked against botocore's own service models, so a
call the real service would reject is rejected here too, and a response carrying a field
the model does not know is a bug in the simulator (it raises ``SimulatorBug``).
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import botocore.session
from botocore.model import ServiceModel

from simulator.clock import SimulatedClock
from simulator.personalize.lifecycle import (
    CampaignUpdate,
    Interactions,
    Lifecycle,
    Model,
    Resource,
    StageDurations,
)
from simulator.service_model import SimulatedServiceError, check_response, validate_request

S3Reader = Callable[[str, str], bytes]
S3Lister = Callable[[str, str], list[str]]
S3Writer = Callable[[str, str, bytes], None]

REQUIRED_INTERACTION_FIELDS = ("USER_ID", "ITEM_ID", "TIMESTAMP")
# Register personalize.items.schema.
REQUIRED_ITEM_FIELDS = ("ITEM_ID",)
# Register personalize.update-training.recipes.
UPDATE_CAPABLE_RECIPES = frozenset({"aws-user-personalization", "aws-hrnn-coldstart"})
# Each recipe's type, as DescribeRecipe answers it (register personalize.recipes.types): the
# developer guide's recipe table and recipe pages. The model's Recipe.recipeType documents three
# values; POPULAR_ITEMS (the table's, for Popularity-Count and Trending-Now) and the types of the
# two newest recipes are the guide's words, not the model's.
RECIPE_TYPES = {
    "aws-user-personalization": "USER_PERSONALIZATION",
    "aws-user-personalization-v2": "USER_PERSONALIZATION",
    "aws-hrnn": "USER_PERSONALIZATION",
    "aws-hrnn-coldstart": "USER_PERSONALIZATION",
    "aws-hrnn-metadata": "USER_PERSONALIZATION",
    "aws-personalized-ranking": "PERSONALIZED_RANKING",
    "aws-personalized-ranking-v2": "PERSONALIZED_RANKING",
    "aws-popularity-count": "POPULAR_ITEMS",
    "aws-trending-now": "POPULAR_ITEMS",
    "aws-sims": "RELATED_ITEMS",
    "aws-similar-items": "RELATED_ITEMS",
    "aws-semantic-similarity": "RELATED_ITEMS",
    "aws-next-best-action": "PERSONALIZED_ACTIONS",
}
KNOWN_RECIPES = frozenset(RECIPE_TYPES)
# GetPersonalizedRanking ranks at most 500 items (the API reference's inputList; the model sets no bound).
RANKING_INPUT_MAX = 500
RECIPE_ARN = re.compile(r"arn:aws:personalize:::recipe/([a-z0-9-]+)")
IN_FLIGHT = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS", "CREATE STOPPING"})
FAILABLE_KINDS = frozenset(
    {
        "dataset_group",
        "dataset",
        "import_job",
        "solution",
        "solution_version",
        "campaign",
        "campaign_update",
        "dataset_update",
        "filter",
        "batch_job",
        "deletion_job",
    }
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
    "batch_job": "BatchInferenceJob",
    "deletion_job": "DataDeletionJob",
}

_SESSION = botocore.session.get_session()
SERVICE_MODELS: dict[str, ServiceModel] = {
    "personalize": _SESSION.get_service_model("personalize"),
    "personalize-runtime": _SESSION.get_service_model("personalize-runtime"),
}


def invalid_input(message: str) -> SimulatedServiceError:
    return SimulatedServiceError("InvalidInputException", message)


def not_found(message: str) -> SimulatedServiceError:
    return SimulatedServiceError("ResourceNotFoundException", message)


def in_use(message: str) -> SimulatedServiceError:
    return SimulatedServiceError("ResourceInUseException", message)


# --------------------------------------------------------------------------- simulator

_OPERATIONS: dict[tuple[str, str], str] = {}


def operation(service: str, *names: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    def register(method: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        for name in names:
            _OPERATIONS[(service, name)] = method.__name__
        return method

    return register


class PersonalizeCore:
    """Resources, lifecycles, faults and dispatch; each resource family adds its operations in its
    own module (datasets.py, training.py, serving.py) as a mixin of :class:`PersonalizeSimulator`."""

    def __init__(
        self,
        clock: SimulatedClock,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        durations: StageDurations | None = None,
        s3_reader: S3Reader | None = None,
        s3_lister: S3Lister | None = None,
        s3_writer: S3Writer | None = None,
        min_training_interactions: int = 1000,
        max_concurrent_trainings: int = 20,
        max_dataset_groups: int = 5,
        campaign_update_read_lag_seconds: float = 5,
    ) -> None:
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.durations = durations or StageDurations()
        self.s3_reader = s3_reader
        self.s3_lister = s3_lister
        self.s3_writer = s3_writer
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
        # The same for a batch inference job: reading its input and writing its output with its role
        # (register personalize.batch.permissions); (roleArn, input path, output path) -> reason or None.
        self.batch_s3_access_denied: Callable[[str, str, str], str | None] | None = None
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._resources: dict[str, Resource] = {}
        self._updates: dict[str, list[CampaignUpdate]] = {}
        self._imports: dict[str, Interactions] = {}
        # UpdateDataset: each dataset's schema replacements, (schemaArn, lifecycle), oldest first.
        self._dataset_updates: dict[str, list[tuple[str, Lifecycle]]] = {}
        # The items each ITEMS import read, by import job (for filters and item metadata, issue 12).
        self._item_rows: dict[str, list[dict[str, Any]]] = {}
        self._models: dict[str, Model] = {}
        self._metrics: dict[str, dict[str, float]] = {}
        self._autotrain_due: dict[str, datetime] = {}
        self._empty_models_next = 0
        self._batch_outputs: dict[str, Any] = {}
        # The user ids each data deletion job removes (register personalize.data-deletion).
        self._deletions: dict[str, list[str]] = {}
        self._batch_errors_next: list[tuple[int, str]] = []
        # Scheduled automatic trainings that did not start (solution busy, no data), for reports.
        self.autotraining_skipped: list[tuple[str, datetime]] = []
        self._next_metrics: list[dict[str, float]] = []
        self._next_metrics_of: dict[str, list[dict[str, float]]] = {}
        self._failures: dict[str, list[str]] = {}
        self._throttles: dict[str, list[str]] = {}
        self._sticky: set[str] = set()
        self._counter = 0
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- snapshots

    # What the service holds: its resources and what they learned, not its wiring (clock, S3,
    # hooks) nor injected faults. A harness restores it into a fresh account to skip a run it has
    # already made once (tests/e2e/test_fault_matrix.py).
    _SNAPSHOT_STATE = (
        "calls",
        "_resources",
        "_updates",
        "_dataset_updates",
        "_imports",
        "_item_rows",
        "_models",
        "_metrics",
        "_autotrain_due",
        "_batch_outputs",
        "_deletions",
        "autotraining_skipped",
        "_counter",
    )

    def export_state(self) -> dict[str, Any]:
        """A deep copy of the service's state (no fault may be pending: it would not be carried)."""
        with self._lock:
            if self._failures or self._throttles or self._empty_models_next or self._batch_errors_next:
                raise ValueError("export_state with injected faults pending: they would be lost")
            return copy.deepcopy({name: getattr(self, name) for name in self._SNAPSHOT_STATE})

    def import_state(self, state: dict[str, Any]) -> None:
        """Replace the service's state with a copy of an exported one."""
        with self._lock:
            for name, value in copy.deepcopy(state).items():
                setattr(self, name, value)

    # ----------------------------------------------------------------- test controls

    def fail_next(self, resource_kind: str, reason: str, *, name: str | None = None) -> None:
        """The next created resource of this kind ends in CREATE FAILED with ``reason``; with ``name``,
        the next one of that name (a solution version's is its solution's)."""
        if resource_kind not in FAILABLE_KINDS:
            raise ValueError(f"unknown resource kind {resource_kind!r}; use one of {sorted(FAILABLE_KINDS)}")
        self._failures.setdefault(resource_kind if name is None else f"{resource_kind}@{name}", []).append(reason)

    def throttle(self, operation_name: str, times: int = 1, code: str = "ThrottlingException") -> None:
        """The next ``times`` calls of the operation fail with ``code`` before doing anything."""
        self._throttles.setdefault(operation_name, []).extend([code] * times)

    def train_empty_model_next(self) -> None:
        """The next solution version trains to ACTIVE but recommends nothing (itemList [])."""
        self._empty_models_next += 1

    def batch_errors_next(self, users: int, error: str) -> None:
        """The next batch inference job writes ``error`` (and no items) on the lines of its first ``users`` users."""
        self._batch_errors_next.append((users, error))

    def clear_faults(self) -> None:
        """Forget injected failures and throttles not yet used (the service recovered)."""
        self._failures.clear()
        self._throttles.clear()
        self._empty_models_next = 0
        self._batch_errors_next.clear()

    def stick_deleting(self, kind: str) -> None:
        """Resources of this kind deleted from now on stay DELETE IN_PROGRESS forever."""
        self._sticky.add(kind)

    def set_metrics(
        self, solution_version_arn: str | None, metrics: dict[str, float], *, solution: str | None = None
    ) -> None:
        """Fix GetSolutionMetrics for a version; ``None`` applies to the next created version (of the
        solution named ``solution``, when given)."""
        if solution is not None:
            self._next_metrics_of.setdefault(solution, []).append(dict(metrics))
        elif solution_version_arn is None:
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
            operation = SERVICE_MODELS[service].operation_model(operation_name)
            validate_request(operation, params)
            self._purge()
            self._autotrain()
            self._write_finished_batch_outputs()
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

    def _life(self, duration: float, kind: str | None, name: str | None = None) -> Lifecycle:
        failures = self._failures.get(f"{kind}@{name}") or self._failures.get(kind or "", [])
        return Lifecycle(
            created=self._now(),
            duration=duration,
            failure=failures.pop(0) if failures else None,
            stop_duration=self.durations.stop,
            delete_duration=self.durations.delete,
        )

    def _live(self, kind: str) -> list[Resource]:
        return [res for res in self._resources.values() if res.kind == kind]

    def _children(self, parent_arn: str, kind: str) -> list[Resource]:
        return [res for res in self._live(kind) if res.parent == parent_arn]

    def _get_any(self, arn: str) -> Resource:
        res = self._resources.get(arn)
        if res is None:
            raise not_found(f"Could not find resource {arn}")
        return res

    def _get(self, arn: str, kind: str, label: str) -> Resource:
        res = self._resources.get(arn)
        if res is None or res.kind != kind:
            raise not_found(f"Could not find {label} {arn}")
        return res

    def _status(self, res: Resource) -> str:
        return res.life.status(self._now())

    def _require_active(self, res: Resource, label: str) -> None:
        status = self._status(res)
        if status != "ACTIVE":
            raise in_use(f"{label} {res.arn} is not in ACTIVE state (current status: {status})")

    def _require_unique_name(self, kind: str, name: str, label: str) -> None:
        if any(res.name == name for res in self._live(kind)):
            raise SimulatedServiceError("ResourceAlreadyExistsException", f"{label} {name} already exists")

    def _add(
        self, kind: str, arn: str, name: str, life: Lifecycle, attrs: dict[str, Any], parent: str | None = None
    ) -> Resource:
        if arn in self._resources:
            raise SimulatedServiceError("ResourceAlreadyExistsException", f"Resource {arn} already exists")
        res = Resource(kind, arn, name, life, attrs, parent)
        self._resources[arn] = res
        return res

    def _start_delete(self, res: Resource) -> None:
        status = self._status(res)
        if status.startswith("DELETE"):
            raise in_use(f"Resource {res.arn} is already being deleted")
        if status in IN_FLIGHT:
            raise in_use(f"Resource {res.arn} cannot be deleted while in {status} state")
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
        self._dataset_updates.pop(arn, None)
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
        shape = SERVICE_MODELS["personalize"].shape_for(summary)
        found = [res for res in self._live(kind) if parent is None or res.parent == parent]
        found.sort(key=lambda res: res.life.created, reverse=True)
        items = [{k: v for k, v in self._describe(res).items() if k in shape.members} for res in found]
        return self._page(items, params, key)

    def _stamp(self, res: Resource, body: dict[str, Any], *, with_status: bool = True) -> dict[str, Any]:
        """Add times, status and (where the model has the member) the failure reason."""
        status, since = res.life.state(self._now())
        body["creationDateTime"] = res.life.created
        body["lastUpdatedDateTime"] = since
        if with_status:
            body["status"] = status
            shape = SERVICE_MODELS["personalize"].shape_for(_DESCRIBE_SHAPES[res.kind])
            if status == "CREATE FAILED" and "failureReason" in shape.members:
                body["failureReason"] = res.life.failure
        return body

    def _describe(self, res: Resource) -> dict[str, Any]:
        return getattr(self, f"_view_{res.kind}")(res)


def iter_operations(service: str = "personalize") -> Iterable[str]:
    """Operation names the simulator answers for a service (used by coverage tests)."""
    return sorted(op for svc, op in _OPERATIONS if svc == service)
