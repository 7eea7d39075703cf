"""Look for another run (lambdas/run_guard): decided on ARNs and start times, not on a count.

Register sfn.list-executions.eventual-consistency: a listing may lack this run, or show it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import run_guard
from botocore.stub import Stubber

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:PersonalizePipeline"
EXECUTION = MACHINE.replace(":stateMachine:", ":execution:")
T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


def execution(name: str, started: datetime) -> dict[str, Any]:
    return {
        "executionArn": f"{EXECUTION}:{name}",
        "stateMachineArn": MACHINE,
        "name": name,
        "status": "RUNNING",
        "startDate": started,
    }


@pytest.mark.parametrize(
    ("listed", "earlier"),
    [
        ([], []),  # not even this run is listed yet
        ([execution("me", T0)], []),  # only this run
        ([execution("other", T0 - timedelta(minutes=5))], ["other"]),  # this run not listed, an earlier one is
        ([execution("me", T0), execution("other", T0 - timedelta(minutes=5))], ["other"]),
        ([execution("me", T0), execution("later", T0 + timedelta(seconds=1))], []),  # the later one steps aside
        ([execution("me", T0), execution("a-same-time", T0)], ["a-same-time"]),  # a tie goes to the smaller ARN
        ([execution("me", T0), execution("z-same-time", T0)], []),
    ],
)
def test_only_an_earlier_running_execution_makes_this_run_step_aside(
    listed: list[dict[str, Any]], earlier: list[str]
) -> None:
    assert run_guard.earlier_runs(f"{EXECUTION}:me", T0, listed) == [f"{EXECUTION}:{name}" for name in earlier]


def test_the_handler_lists_every_page_of_running_executions() -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    first_page = {"executions": [execution("me", T0)], "nextToken": "page-2"}
    second_page = {"executions": [execution("other", T0 - timedelta(hours=1))]}
    with Stubber(client) as stub:
        stub.add_response("list_executions", first_page, {"stateMachineArn": MACHINE, "statusFilter": "RUNNING"})
        stub.add_response(
            "list_executions",
            second_page,
            {"stateMachineArn": MACHINE, "statusFilter": "RUNNING", "nextToken": "page-2"},
        )

        result = run_guard.handler(
            {
                "stateMachineArn": MACHINE,
                "executionArn": f"{EXECUTION}:me",
                "executionStartTime": "2026-01-05T06:00:00.000Z",
            },
            stepfunctions=client,
        )

    assert result == {
        "anotherRunInProgress": True,
        "earlierRunningExecutionArns": [f"{EXECUTION}:other"],
        "listedItself": True,
        "runningListed": 2,
    }


def test_throttling_reaches_the_state_machine_under_its_own_name() -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_client_error("list_executions", "ThrottlingException", "Rate exceeded")

        with pytest.raises(run_guard.ThrottlingException):
            run_guard.handler(
                {
                    "stateMachineArn": MACHINE,
                    "executionArn": f"{EXECUTION}:me",
                    "executionStartTime": "2026-01-05T06:00:00Z",
                },
                stepfunctions=client,
            )


@pytest.mark.parametrize("missing", ["stateMachineArn", "executionArn", "executionStartTime"])
def test_a_malformed_event_names_the_field(missing: str) -> None:
    event = {
        "stateMachineArn": MACHINE,
        "executionArn": f"{EXECUTION}:me",
        "executionStartTime": "2026-01-05T06:00:00Z",
    }
    del event[missing]

    with pytest.raises(run_guard.InvalidEventError, match=f"event field '{missing}' must be a non-empty string"):
        run_guard.handler(event, stepfunctions=object())
