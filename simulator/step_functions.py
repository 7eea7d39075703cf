"""Step Functions' execution API for the offline state machine: ListExecutions and StopExecution.

The interpreter runs one execution at a time, to its end. Which other executions exist (one
started by hand, one in progress when the stack is deleted) is recorded here, and both the
workflow's own ``aws-sdk:sfn`` task and boto3 clients (the teardown handler) see them through
the same operations, validated against botocore's Step Functions model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import botocore.session

from simulator.personalize import SimulatedClock, SimulatedServiceError, check_response, validate_request

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
RUNNING = "RUNNING"
ABORTED = "ABORTED"


class StepFunctionsExecutions:
    """The executions of one Standard state machine."""

    def __init__(self, clock: SimulatedClock, state_machine_arn: str) -> None:
        self.clock = clock
        self.state_machine_arn = state_machine_arn
        self.executions: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def mark_running(self, name: str, *, start_date: datetime | None = None) -> dict[str, Any]:
        """Record an execution as RUNNING; the caller sets its end (status, stopDate) when it has one."""
        execution = {
            "executionArn": f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}",
            "stateMachineArn": self.state_machine_arn,
            "name": name,
            "status": RUNNING,
            "startDate": start_date or self.clock.now(),
        }
        self.executions.append(execution)
        return execution

    def handle(self, operation_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one call with the API's member names, or raise the service's error."""
        self.calls.append((operation_name, params))
        if operation_name not in ("ListExecutions", "StopExecution"):
            raise SimulatedServiceError("UnknownOperationException", f"stepfunctions.{operation_name} is not simulated")
        operation = MODEL.operation_model(operation_name)
        try:
            validate_request(operation, params)
        except SimulatedServiceError as error:
            raise SimulatedServiceError("ValidationException", error.message) from None
        response = self._list(params) if operation_name == "ListExecutions" else self._stop(params)
        check_response(operation.output_shape, response)
        return response

    def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["stateMachineArn"] != self.state_machine_arn:
            raise SimulatedServiceError(
                "StateMachineDoesNotExist", f"State Machine Does Not Exist: '{params['stateMachineArn']}'"
            )
        matching = [dict(e) for e in reversed(self.executions) if params.get("statusFilter") in (None, e["status"])]
        return {"executions": matching[: params.get("maxResults") or 100]}

    def _stop(self, params: dict[str, Any]) -> dict[str, Any]:
        execution = next((e for e in self.executions if e["executionArn"] == params["executionArn"]), None)
        if execution is None:
            raise SimulatedServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{params['executionArn']}'")
        if execution["status"] == RUNNING:
            execution.update(status=ABORTED, stopDate=self.clock.now())
        return {"stopDate": execution["stopDate"]}
