"""EventBridge's PutEvents for the workflow's optimized ``events:putEvents`` tasks, offline.

What Step Functions does around the call is done here as well: a ``Detail`` given as a JSON
object is sent as its JSON text, the execution's and the state machine's ARNs are appended
to ``Resources``, and a response with a non-zero ``FailedEntryCount`` fails the task with
``EventBridge.FailedEntry``. The request is validated against botocore's EventBridge model
(member names, types, required members) and then against what the service checks per entry
(source, detail-type and detail present, detail a JSON object, no ``aws.`` source, size).
Accepted events are kept in ``events`` in the shape a rule's target receives them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

from simulator.aws import iso_timestamp, to_api_params

MODEL = botocore.session.get_session().get_service_model("events")
PUT_EVENTS = MODEL.operation_model("PutEvents")
# PutEvents quota: the whole request, entries included, at most 256 KB.
MAX_REQUEST_BYTES = 256 * 1024
DEFAULT_BUS = "default"


class PutEventsTaskError(Exception):
    """The task fails as Step Functions would fail it: ``error`` and ``cause``."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass
class EventBus:
    """The account's event buses as far as the workflow uses them: what was put, in order."""

    region: str
    account_id: str
    clock: Callable[[], datetime]
    events: list[dict[str, Any]] = field(default_factory=list)
    # Called with each accepted event, as EventBridge hands it to the rules (the SNS targets).
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    _rejections: list[str] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def reject_next(self, error_code: str = "InternalFailure", *, times: int = 1) -> None:
        """The next ``times`` entries put fail with ``error_code`` (a throttled or failing bus)."""
        self._rejections.extend([error_code] * times)

    def put_events_task(self, parameters: Any, *, execution_arn: str, state_machine_arn: str) -> dict[str, Any]:
        """Answer one ``arn:aws:states:::events:putEvents`` task with its PascalCase result."""
        if not isinstance(parameters, dict) or not isinstance(parameters.get("Entries"), list):
            raise PutEventsTaskError("States.Runtime", "putEvents needs Parameters with an Entries list")
        entries = [self._as_sent(entry, execution_arn, state_machine_arn) for entry in parameters["Entries"]]
        request = to_api_params(PUT_EVENTS.input_shape, {**parameters, "Entries": entries}, "PutEvents")
        report = ParamValidator().validate(request, PUT_EVENTS.input_shape)
        if report.has_errors():
            raise PutEventsTaskError("EventBridge.ValidationException", report.generate_report())
        if len(json.dumps(request).encode()) > MAX_REQUEST_BYTES:
            raise PutEventsTaskError("EventBridge.ValidationException", "Total size of the entries exceeds 256 KB")
        results = [self._put(entry) for entry in request["Entries"]]
        failed = sum(1 for result in results if "ErrorCode" in result)
        response = {"Entries": results, "FailedEntryCount": failed}
        if failed:
            raise PutEventsTaskError("EventBridge.FailedEntry", json.dumps(response))
        return response

    def _as_sent(self, entry: Any, execution_arn: str, state_machine_arn: str) -> Any:
        if not isinstance(entry, dict):
            return entry
        sent = dict(entry)
        if isinstance(sent.get("Detail"), (dict, list)):
            sent["Detail"] = json.dumps(sent["Detail"], separators=(",", ":"))
        sent["Resources"] = [*sent.get("Resources", []), execution_arn, state_machine_arn]
        return sent

    def _put(self, entry: dict[str, Any]) -> dict[str, Any]:
        problem = _entry_problem(entry)
        if problem is None and self._rejections:
            problem = (self._rejections.pop(0), "The event could not be put (simulated failure)")
        if problem is not None:
            code, message = problem
            return {"ErrorCode": code, "ErrorMessage": message}
        event_id = f"00000000-0000-4000-9000-{next(self._ids):012d}"
        self.events.append(
            {
                "version": "0",
                "id": event_id,
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": self.account_id,
                "time": iso_timestamp(self.clock()),
                "region": self.region,
                "resources": entry["Resources"],
                "detail": json.loads(entry["Detail"]),
                "eventBusName": entry.get("EventBusName", DEFAULT_BUS),
            }
        )
        for listener in self.listeners:
            listener(self.events[-1])
        return {"EventId": event_id}


def _entry_problem(entry: dict[str, Any]) -> tuple[str, str] | None:
    """What EventBridge rejects in one entry (per-entry ErrorCode), or None."""
    for member in ("Source", "DetailType", "Detail"):
        if not entry.get(member):
            return "InvalidArgument", f"Parameter {member} is not valid. Reason: {member} is a required argument."
    if entry["Source"].startswith("aws."):
        return "NotAuthorizedForSourceException", f"Not authorized for the source {entry['Source']}."
    try:
        detail = json.loads(entry["Detail"])
    except json.JSONDecodeError:
        detail = None
    if not isinstance(detail, dict):
        return "MalformedDetail", "Detail is malformed."
    return None
