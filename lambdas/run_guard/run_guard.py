"""Look for another run: is an execution of this state machine that started before this one still running?

Step Functions' ListExecutions is eventually consistent (register
``sfn.list-executions.eventual-consistency``): a listing may not show an execution that has
just started, this one included. Counting RUNNING executions and assuming this one is among
them is therefore wrong both ways: a run that does not see itself yet but sees another goes
on, and two runs that start together and see each other both stop. The decision here rests on
ARNs and start times instead: only a RUNNING execution that started *earlier* than this one
(or at the same instant with a smaller ARN, a tie-break both sides agree on) makes this run
step aside. Two runs that cannot see each other at all still both go on; the "ensure" and
"start" steps are idempotent, and the second import or training fails on ResourceInUse
rather than corrupting anything.

boto3 and the standard library only: the folder is deployed as it is, without bundling.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from contract.logs import log_operation
from contract.runtime import Dependencies
from contract.timestamps import parse_time as contract_parse_time

logger = logging.getLogger()
logger.setLevel(logging.INFO)

DEPENDENCIES = Dependencies("run_guard", config=Config(retries={"mode": "standard", "max_attempts": 5}))


class InvalidEventError(ValueError):
    """The state machine sent an event this step cannot act on."""


class ThrottlingException(RuntimeError):
    """Step Functions still throttled after boto3's retries, under the name the state machine retries.

    stepfunctions' service model has no ThrottlingException, so botocore raises a plain
    ClientError, which would reach Step Functions as ``ClientError``.
    """


def parse_time(value: Any) -> datetime:
    """``$$.Execution.StartTime`` (ISO-8601 with Z) or a datetime from boto3."""
    try:
        return contract_parse_time(value)
    except ValueError:
        raise InvalidEventError(f"not an ISO-8601 time: {value!r}") from None


def earlier_runs(own_arn: str, own_start: datetime, running: Iterable[Mapping[str, Any]]) -> list[str]:
    """ARNs of the RUNNING executions that came before this one, oldest first.

    This execution is recognised by its ARN (whether the listing shows it yet or not); an
    execution that started later is the one that steps aside, not this one.
    """

    def before_this_one(execution: Mapping[str, Any]) -> bool:
        started = parse_time(execution["startDate"])
        return started < own_start or (started == own_start and execution["executionArn"] < own_arn)

    earlier = [e for e in running if e["executionArn"] != own_arn and before_this_one(e)]
    earlier.sort(key=lambda e: (parse_time(e["startDate"]), e["executionArn"]))
    return [e["executionArn"] for e in earlier]


@DEPENDENCIES.entry_point
def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """``{stateMachineArn, executionArn, executionStartTime}`` -> whether an earlier run is in progress."""
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"event must be a JSON object; got {type(event).__name__}")
    fields = {}
    for name in ("stateMachineArn", "executionArn", "executionStartTime"):
        value = event.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidEventError(f"event field '{name}' must be a non-empty string; got {value!r}")
        fields[name] = value
    own_start = parse_time(fields["executionStartTime"])
    sfn = DEPENDENCIES.client("stepfunctions")
    running: list[dict[str, Any]] = []
    try:
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=fields["stateMachineArn"], statusFilter="RUNNING"
        ):
            running.extend(page.get("executions", []))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ThrottlingException":
            raise ThrottlingException(str(error)) from error
        raise
    earlier = earlier_runs(fields["executionArn"], own_start, running)
    result = {
        "anotherRunInProgress": bool(earlier),
        "earlierRunningExecutionArns": earlier,
        # Whether the listing showed this run yet: what an operator reads to judge the lag.
        "listedItself": any(e["executionArn"] == fields["executionArn"] for e in running),
        "runningListed": len(running),
    }
    log_operation(logger, "look_for_another_run", **result)
    return result
