"""When the schedule's first run comes: a custom resource that computes its StartDate at deploy time.

Register scheduler.rate.first-invocation: a rate schedule without a StartDate invokes its target
as soon as it is created, so right after `cdk deploy`, before anyone uploaded data. Synth cannot
write "one period from now" into the template (it must stay deterministic), so CloudFormation
asks this function on every deployment that creates or changes the schedule's settings.

Register scheduler.start-date.not-in-past: a StartDate in the past may be refused by
UpdateSchedule, so a configured start that has passed moves on by whole periods (keeping its
phase: a Monday 06:00 start stays on Mondays at 06:00).

Standard library only: the folder is deployed as it is, without bundling.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from contract.logs import log_operation
from contract.runtime import Dependencies
from contract.schedule import rate_period

logger = logging.getLogger()
logger.setLevel(logging.INFO)

PHYSICAL_ID = "schedule-start"
# CloudFormation applies the schedule a little after this function answers.
MARGIN = timedelta(minutes=5)
DEPENDENCIES = Dependencies("schedule_start")


class InvalidEventError(ValueError):
    """CloudFormation sent properties this function cannot use."""


def period_of(expression: str) -> timedelta:
    period = rate_period(expression)
    if period is None:
        raise InvalidEventError(f"property 'Expression' must be a rate() expression; got {expression!r}")
    return period


def first_run(expression: str, configured: str | None, now: datetime) -> datetime:
    """The schedule's StartDate: one period from now, or the configured start (moved past now by whole periods)."""
    period = period_of(expression)
    if not configured:
        # Rounded up to the whole minute: a schedule's times are minutes.
        start = (now + period).replace(second=0, microsecond=0)
        return start if start == now + period else start + timedelta(minutes=1)
    try:
        start = datetime.fromisoformat(configured.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidEventError(
            f"property 'ConfiguredStartDate' must be an ISO-8601 time; got {configured!r}"
        ) from None
    earliest = now + MARGIN
    if start < earliest:
        start += period * math.ceil((earliest - start) / period)
    return start


@DEPENDENCIES.entry_point
def on_event(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """The provider framework's onEvent: Create and Update answer the StartDate; Delete has nothing to undo."""
    request = event.get("RequestType")
    if request == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", PHYSICAL_ID)}
    if request not in ("Create", "Update"):
        raise InvalidEventError(f"RequestType must be Create, Update or Delete; got {request!r}")
    properties = event.get("ResourceProperties", {})
    expression = properties.get("Expression")
    if not isinstance(expression, str):
        raise InvalidEventError(f"property 'Expression' must be a string; got {expression!r}")
    start = first_run(expression, properties.get("ConfiguredStartDate") or None, DEPENDENCIES.now())
    text = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    log_operation(logger, "schedule_start", request=request, startDate=text)
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": {"StartDate": text}}
