"""The schedule's first run, computed at deploy time (lambdas/schedule_start, register scheduler.rate.first-invocation)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import schedule_start

NOW = datetime(2026, 12, 1, 14, 3, 27, tzinfo=UTC)


def event(request: str = "Create", **properties: str) -> dict[str, object]:
    return {
        "RequestType": request,
        "PhysicalResourceId": schedule_start.PHYSICAL_ID,
        "ResourceProperties": {"Expression": "rate(7 days)", "ConfiguredStartDate": "", **properties},
    }


def on_event(request: dict[str, Any]) -> dict[str, Any]:
    """The handler as deployed at NOW (the clock handed in, as the offline runtime does)."""
    return schedule_start.on_event(request, clock=lambda: NOW)


def test_without_a_configured_start_the_first_run_is_one_period_after_the_deployment() -> None:
    assert on_event(event()) == {
        "PhysicalResourceId": "schedule-start",
        "Data": {"StartDate": "2026-12-08T14:04:00Z"},
    }


def test_a_change_of_the_schedule_starts_the_period_again() -> None:
    answer = on_event(event("Update", Expression="rate(12 hours)"))

    assert answer["Data"] == {"StartDate": "2026-12-02T02:04:00Z"}


def test_a_configured_start_in_the_future_is_kept() -> None:
    answer = on_event(event(ConfiguredStartDate="2027-01-04T06:00:00Z"))

    assert answer["Data"] == {"StartDate": "2027-01-04T06:00:00Z"}


def test_a_configured_start_that_has_passed_moves_on_by_whole_periods_keeping_its_weekday_and_time() -> None:
    """UpdateSchedule may refuse a StartDate in the past (register scheduler.start-date.not-in-past)."""
    answer = on_event(event(ConfiguredStartDate="2026-11-02T06:00:00Z"))  # a Monday

    assert answer["Data"] == {"StartDate": "2026-12-07T06:00:00Z"}  # the next Monday, 06:00


def test_delete_has_nothing_to_undo() -> None:
    assert on_event(event("Delete")) == {"PhysicalResourceId": "schedule-start"}


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"Expression": "cron(0 3 ? * MON *)"}, "property 'Expression' must be a rate() expression"),
        ({"ConfiguredStartDate": "next monday"}, "property 'ConfiguredStartDate' must be an ISO-8601 time"),
    ],
)
def test_bad_properties_fail_the_deployment_with_the_property_named(properties: dict[str, str], message: str) -> None:
    with pytest.raises(schedule_start.InvalidEventError, match=message.replace("(", r"\(").replace(")", r"\)")):
        on_event(event(**properties))
