"""Step Functions' execution API for the offline state machine.

The interpreter runs each execution to its end. What it did is recorded here, in the shapes
of the Step Functions API, and answered through the same operations a boto3 client calls:
ListExecutions and StopExecution (the workflow's own ``aws-sdk:sfn`` task, the teardown
handler), StartExecution, DescribeExecution and GetExecutionHistory (the command-line tool,
``python -m pipelinectl``). Every request and answer is checked against botocore's model.

An execution started through StartExecution runs on a thread of its own (see
:meth:`simulator.offline.OfflinePipeline.start_from_api`), so a caller can follow its history
while it runs, as it would follow one in AWS.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import botocore.session

from simulator.clock import SimulatedClock
from simulator.interpreter import ExecutionEvent, ExecutionResult
from simulator.service_model import SimulatedServiceError, check_response, validate_request

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
HISTORY_EVENT_TYPES = frozenset(MODEL.shape_for("HistoryEventType").enum)
RUNNING = "RUNNING"
ABORTED = "ABORTED"
OPERATIONS = (
    "ListExecutions",
    "StopExecution",
    "StartExecution",
    "DescribeExecution",
    "GetExecutionHistory",
    "DescribeStateMachine",
)
HISTORY_PAGE_DEFAULT = 100
# The library's execution-level events and the history event type Step Functions records.
EXECUTION_EVENT_TYPES = {
    "ExecutionStarted": "ExecutionStarted",
    "ExecutionSucceeded": "ExecutionSucceeded",
    "ExecutionFailed": "ExecutionFailed",
    "ExecutionAborted": "ExecutionAborted",
    "ExecutionTimeout": "ExecutionTimedOut",
}
# Starts an execution named ``name`` with ``input`` (a JSON string); returns its record.
Starter = Callable[[str, str], dict[str, Any]]


class StepFunctionsExecutions:
    """The executions of one Standard state machine."""

    def __init__(self, clock: SimulatedClock, state_machine_arn: str, *, listing_lag_seconds: float = 5) -> None:
        self.clock = clock
        self.state_machine_arn = state_machine_arn
        self.executions: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.starter: Starter | None = None
        # What DescribeStateMachine answers: the deployed definition (set by the offline pipeline).
        self.state_machine: dict[str, Any] | None = None
        self._details: dict[str, dict[str, Any]] = {}
        # How long a new execution stays out of ListExecutions (assumed; see _list_executions).
        self.listing_lag = timedelta(seconds=listing_lag_seconds)
        self._lock = threading.Lock()

    def mark_running(
        self, name: str, *, start_date: datetime | None = None, execution_input: Any = None
    ) -> dict[str, Any]:
        """Record an execution as RUNNING; :meth:`finish` (or the caller) sets its end."""
        with self._lock:
            execution = {
                "executionArn": f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}",
                "stateMachineArn": self.state_machine_arn,
                "name": name,
                "status": RUNNING,
                "startDate": start_date or self.clock.now(),
            }
            self.executions.append(execution)
            self._details[execution["executionArn"]] = {"input": json.dumps(execution_input), "history": []}
            return execution

    def record_event(self, execution_arn: str, event: ExecutionEvent, state_types: Mapping[str, str]) -> None:
        """Append the history event Step Functions would record for one interpreter event."""
        with self._lock:
            history = self._details[execution_arn]["history"]
            converted = history_event(event, state_types, len(history) + 1)
            if converted is not None:
                history.append(converted)

    def finish(self, execution: dict[str, Any], result: ExecutionResult) -> None:
        with self._lock:
            execution.update(status=result.status, stopDate=result.stop_time)
            details = self._details[execution["executionArn"]]
            if result.status == "SUCCEEDED":
                details["output"] = json.dumps(result.output)
            else:
                details.update(error=result.error or "", cause=result.cause or "")

    def handle(self, operation_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one call with the API's member names, or raise the service's error."""
        self.calls.append((operation_name, params))
        if operation_name not in OPERATIONS:
            raise SimulatedServiceError("UnknownOperationException", f"stepfunctions.{operation_name} is not simulated")
        operation = MODEL.operation_model(operation_name)
        try:
            validate_request(operation, params)
        except SimulatedServiceError as error:
            raise SimulatedServiceError("ValidationException", error.message) from None
        if operation_name == "StartExecution":
            response = self._start(params)
        else:
            with self._lock:
                response = getattr(self, f"_{_snake(operation_name)}")(params)
        check_response(operation.output_shape, response)
        return response

    def _require_state_machine(self, arn: str) -> None:
        if arn != self.state_machine_arn:
            raise SimulatedServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")

    def _execution(self, arn: str) -> dict[str, Any]:
        execution = next((e for e in self.executions if e["executionArn"] == arn), None)
        if execution is None:
            raise SimulatedServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return execution

    def _list_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        """Most recent first; an execution younger than the listing lag is not listed yet.

        Register sfn.list-executions.eventual-consistency: "This operation is eventually
        consistent. The results are best effort and may not reflect very recent updates and
        changes." (botocore stepfunctions model, ListExecutions). The lag is assumed.
        """
        self._require_state_machine(params["stateMachineArn"])
        now = self.clock.now()
        visible = [e for e in self.executions if e["startDate"] + self.listing_lag <= now]
        matching = [dict(e) for e in reversed(visible) if params.get("statusFilter") in (None, e["status"])]
        start = int(params.get("nextToken") or 0)
        size = params.get("maxResults") or 100
        response: dict[str, Any] = {"executions": matching[start : start + size]}
        if start + size < len(matching):
            response["nextToken"] = str(start + size)
        return response

    def _stop_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        execution = self._execution(params["executionArn"])
        if execution["status"] == RUNNING:
            execution.update(status=ABORTED, stopDate=self.clock.now())
        return {"stopDate": execution["stopDate"]}

    def _start(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require_state_machine(params["stateMachineArn"])
        if self.starter is None:
            raise SimulatedServiceError("UnknownOperationException", "no offline pipeline starts executions here")
        name = params.get("name") or str(uuid.uuid4())
        with self._lock:
            if any(e["name"] == name for e in self.executions):
                raise SimulatedServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{name}'")
        execution = self.starter(name, params.get("input", "{}"))
        return {"executionArn": execution["executionArn"], "startDate": execution["startDate"]}

    def _describe_state_machine(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require_state_machine(params["stateMachineArn"])
        if self.state_machine is None:
            raise SimulatedServiceError(
                "StateMachineDoesNotExist", f"State Machine Does Not Exist: '{self.state_machine_arn}'"
            )
        return dict(self.state_machine)

    def _describe_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        execution = self._execution(params["executionArn"])
        details = self._details.get(execution["executionArn"], {})
        described = {**execution, **{k: v for k, v in details.items() if k != "history"}}
        return {key: value for key, value in described.items() if value is not None}

    def _get_execution_history(self, params: dict[str, Any]) -> dict[str, Any]:
        execution = self._execution(params["executionArn"])
        history = list(self._details.get(execution["executionArn"], {}).get("history", []))
        if params.get("reverseOrder"):
            history.reverse()
        start = int(params.get("nextToken") or 0)
        size = params.get("maxResults") or HISTORY_PAGE_DEFAULT
        page = history[start : start + size]
        if params.get("includeExecutionData") is False:
            page = [_without_data(event) for event in page]
        response: dict[str, Any] = {"events": page}
        if start + size < len(history):
            response["nextToken"] = str(start + size)
        return response


class StepFunctionsAccount:
    """An account's Step Functions: the state machines of every stack deployed into it (several
    pipelines: one each), each call answered by the state machine it names or whose execution it names."""

    def __init__(self, first: StepFunctionsExecutions) -> None:
        self.machines: dict[str, StepFunctionsExecutions] = {first.state_machine_arn: first}

    def add(self, state_machine_arn: str) -> StepFunctionsExecutions:
        first = next(iter(self.machines.values()))
        machine = StepFunctionsExecutions(
            first.clock, state_machine_arn, listing_lag_seconds=first.listing_lag.total_seconds()
        )
        self.machines[state_machine_arn] = machine
        return machine

    def handle(self, operation_name: str, params: dict[str, Any]) -> dict[str, Any]:
        arn = params.get("stateMachineArn")
        if arn is None and isinstance(params.get("executionArn"), str):
            execution = params["executionArn"]
            arn = next(
                (a for a in self.machines if execution.startswith(a.replace(":stateMachine:", ":execution:") + ":")),
                None,
            )
            if arn is None:
                raise SimulatedServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{execution}'")
        machine = self.machines.get(str(arn)) if arn is not None else next(iter(self.machines.values()))
        if machine is None:
            raise SimulatedServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return machine.handle(operation_name, params)


def history_event(event: ExecutionEvent, state_types: Mapping[str, str], event_id: int) -> dict[str, Any] | None:
    """The Step Functions history event for one interpreter event, or None if AWS records none.

    AWS names state events by state type (``TaskStateEntered``) and keeps inputs and outputs as
    JSON text; a failed Task attempt is ``TaskFailed``. Retries and catches have no event of
    their own in AWS (a retry shows as the task being scheduled again), so none is made here.
    """
    raw = event.event
    kind = event.type
    converted: dict[str, Any] = {"timestamp": event.time, "id": event_id, "previousEventId": event_id - 1}
    if kind in EXECUTION_EVENT_TYPES:
        converted["type"] = EXECUTION_EVENT_TYPES[kind]
        if kind == "ExecutionStarted":
            converted["executionStartedEventDetails"] = {"input": json.dumps(raw.get("input"))}
        elif kind == "ExecutionSucceeded":
            converted["executionSucceededEventDetails"] = {"output": json.dumps(raw.get("output"))}
        elif kind == "ExecutionFailed":
            converted["executionFailedEventDetails"] = {
                "error": str(raw.get("Error", "")),
                "cause": _text(raw.get("Cause")),
            }
        return converted
    state = raw.get("state") if isinstance(raw.get("state"), dict) else {}
    name = state.get("name", "")
    state_type = state_types.get(name, state.get("type", "Task"))
    if kind == "StateEntered":
        converted["type"] = f"{state_type}StateEntered"
        converted["stateEnteredEventDetails"] = {"name": name, "input": json.dumps(state.get("input"))}
    elif kind == "StateExited":
        converted["type"] = f"{state_type}StateExited"
        converted["stateExitedEventDetails"] = {"name": name, "output": json.dumps(state.get("output"))}
    elif kind == "StateFailed" and state_type == "Task":
        converted["type"] = "TaskFailed"
        converted["taskFailedEventDetails"] = {
            "resourceType": "lambda",
            "resource": name,
            "error": str(raw.get("Error", "")),
            "cause": _text(raw.get("Cause")),
        }
    else:
        return None
    if converted["type"] not in HISTORY_EVENT_TYPES:  # a Fail state has no Exited event
        return None
    return converted


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    """includeExecutionData=false: inputs and outputs left out."""
    stripped = {}
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in ("input", "output")}
        stripped[key] = value
    return stripped


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
