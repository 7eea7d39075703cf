"""CloudFormation plus CDK's custom-resource provider framework, offline, for one custom resource.

What is real: the template (which functions the framework calls, the waiter's retry interval
and attempt count), the user handlers' code from the cloud assembly, and the framework's
rules as aws-cdk-lib 2.275 implements them (runtime/framework.js): ``onEvent`` once, its
result merged into the event; then ``isComplete`` at once and again every interval while it
returns false, at most ``MaxAttempts`` retries; a handler error fails the resource with the
error message as the reason; running out of attempts fails it with "Operation timed out".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulator.clock import SimulatedClock
from simulator.cloud_assembly import LambdaFunction, SynthesizedPipeline
from simulator.interpreter import TaskFailure

Invoke = Callable[[LambdaFunction, dict[str, Any]], Any]
FRAMEWORK_TIMEOUT_REASON = "Operation timed out"


@dataclass(frozen=True)
class ProviderSettings:
    """What the template says about a custom resource's provider (is_complete: None for onEvent alone)."""

    on_event: LambdaFunction
    is_complete: LambdaFunction | None
    interval_seconds: int
    max_attempts: int


@dataclass
class CustomResourceOutcome:
    """The response CloudFormation receives for one lifecycle event."""

    status: str  # SUCCESS or FAILED
    reason: str
    physical_resource_id: str
    is_complete_calls: int
    started: datetime
    finished: datetime


def provider_settings(synthesized: SynthesizedPipeline, logical_id: str) -> ProviderSettings:
    """Follow ServiceToken to the framework's onEvent function, its user handlers and its waiter."""
    resources = synthesized.template["Resources"]
    framework_id = resources[logical_id]["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    variables = resources[framework_id]["Properties"]["Environment"]["Variables"]
    on_event = synthesized.functions[variables["USER_ON_EVENT_FUNCTION_ARN"]["Fn::GetAtt"][0]]
    if "USER_IS_COMPLETE_FUNCTION_ARN" not in variables:
        return ProviderSettings(on_event=on_event, is_complete=None, interval_seconds=0, max_attempts=0)
    waiter_id = variables["WAITER_STATE_MACHINE_ARN"]["Ref"]
    definition = json.loads(_join_without_tokens(resources[waiter_id]["Properties"]["DefinitionString"]))
    (retry,) = definition["States"]["framework-isComplete-task"]["Retry"]
    return ProviderSettings(
        on_event=on_event,
        is_complete=synthesized.functions[variables["USER_IS_COMPLETE_FUNCTION_ARN"]["Fn::GetAtt"][0]],
        interval_seconds=int(retry["IntervalSeconds"]),
        max_attempts=int(retry["MaxAttempts"]),
    )


def _join_without_tokens(value: Any) -> str:
    """The waiter's definition is a Fn::Join of text and function ARNs; the ARNs are not needed."""
    separator, parts = value["Fn::Join"]
    return str(separator).join(part if isinstance(part, str) else "offline" for part in parts)


class OfflineCustomResource:
    """Sends Create, Update and Delete events for one custom resource the way CloudFormation would."""

    def __init__(
        self,
        synthesized: SynthesizedPipeline,
        logical_id: str,
        *,
        clock: SimulatedClock,
        properties: dict[str, Any],
        invoke: Invoke,
    ) -> None:
        self.settings = provider_settings(synthesized, logical_id)
        self.logical_id = logical_id
        self.resource_type = synthesized.template["Resources"][logical_id]["Type"]
        self.clock = clock
        self.properties = properties
        self.invoke = invoke
        self.physical_resource_id: str | None = None
        # The attributes onEvent returned (Fn::GetAtt of the resource reads them).
        self.data: dict[str, Any] = {}
        self.history: list[CustomResourceOutcome] = []

    def create(self) -> CustomResourceOutcome:
        return self._send("Create")

    def delete(self) -> CustomResourceOutcome:
        if self.physical_resource_id is None:
            raise RuntimeError("the custom resource was never created")
        return self._send("Delete")

    def update(self, properties: dict[str, Any]) -> CustomResourceOutcome:
        """A stack update that changed the resource's properties (OldResourceProperties: the ones before)."""
        if self.physical_resource_id is None:
            raise RuntimeError("the custom resource was never created")
        old, self.properties = self.properties, properties
        outcome = self._send("Update", old_properties=old)
        if outcome.status != "SUCCESS":
            self.properties = old  # CloudFormation rolls the stack back to the old properties
        return outcome

    def _send(self, request_type: str, old_properties: dict[str, Any] | None = None) -> CustomResourceOutcome:
        started = self.clock.now()
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": self.properties["ServiceToken"],
            "ResponseURL": "https://cloudformation-custom-resource-response.offline/",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/PersonalizePipeline/offline",
            "RequestId": f"offline-{request_type.lower()}-{len(self.history) + 1}",
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "ResourceProperties": self.properties,
        }
        if self.physical_resource_id is not None:
            event["PhysicalResourceId"] = self.physical_resource_id
        if old_properties is not None:
            event["OldResourceProperties"] = old_properties
        calls = 0
        try:
            result = self.invoke(self.settings.on_event, event) or {}
            physical_id = result.get("PhysicalResourceId") or event.get("PhysicalResourceId") or event["RequestId"]
            if request_type == "Delete" and physical_id != self.physical_resource_id:
                raise _Failed(f'DELETE: cannot change the physical resource ID from "{self.physical_resource_id}"')
            waiter_input = {**event, **result, "PhysicalResourceId": physical_id}
            while self.settings.is_complete is not None:
                calls += 1
                if self.invoke(self.settings.is_complete, waiter_input).get("IsComplete"):
                    break
                if calls > self.settings.max_attempts:
                    raise _Failed(FRAMEWORK_TIMEOUT_REASON)
                self.clock.advance(self.settings.interval_seconds)
        except TaskFailure as failure:
            return self._record("FAILED", json.loads(failure.cause)["errorMessage"], calls, started)
        except _Failed as failure:
            return self._record("FAILED", str(failure), calls, started)
        self.physical_resource_id = physical_id
        self.data = dict(result.get("Data") or {})
        return self._record("SUCCESS", "SUCCESS", calls, started)

    def _record(self, status: str, reason: str, calls: int, started: datetime) -> CustomResourceOutcome:
        outcome = CustomResourceOutcome(
            status, reason, self.physical_resource_id or "", calls, started, self.clock.now()
        )
        self.history.append(outcome)
        return outcome


class _Failed(Exception):
    """The framework itself fails the event."""
