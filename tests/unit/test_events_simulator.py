"""The offline EventBridge bus answers the workflow's putEvents tasks as Step Functions and EventBridge would."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from simulator.events import EventBus, PutEventsTaskError

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Machine:run-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Machine"


@pytest.fixture
def bus() -> EventBus:
    return EventBus(region="us-east-1", account_id="123456789012", clock=lambda: datetime(2026, 1, 5, tzinfo=UTC))


def put(bus: EventBus, **entry: object) -> dict:
    return bus.put_events_task({"Entries": [entry]}, execution_arn=EXECUTION, state_machine_arn=MACHINE)


def test_an_object_detail_is_sent_as_json_and_the_execution_is_named_in_resources(bus: EventBus) -> None:
    response = put(bus, Source="my-app", DetailType="Thing happened", Detail={"a": 1, "b": None})

    assert response == {"Entries": [{"EventId": bus.events[0]["id"]}], "FailedEntryCount": 0}
    assert bus.events == [
        {
            "version": "0",
            "id": bus.events[0]["id"],
            "detail-type": "Thing happened",
            "source": "my-app",
            "account": "123456789012",
            "time": "2026-01-05T00:00:00Z",
            "region": "us-east-1",
            "resources": [EXECUTION, MACHINE],
            "detail": {"a": 1, "b": None},
            "eventBusName": "default",
        }
    ]


def test_a_member_the_model_does_not_have_is_a_validation_error(bus: EventBus) -> None:
    with pytest.raises(Exception, match="unknown parameter 'Detial'"):
        put(bus, Source="my-app", DetailType="x", Detial={})
    assert bus.events == []


def test_a_wrong_type_is_a_validation_error(bus: EventBus) -> None:
    with pytest.raises(PutEventsTaskError) as raised:
        put(bus, Source=7, DetailType="x", Detail={})

    assert raised.value.error == "EventBridge.ValidationException"


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        ({"DetailType": "x", "Detail": {}}, "InvalidArgument"),
        ({"Source": "aws.states", "DetailType": "x", "Detail": {}}, "NotAuthorizedForSourceException"),
        ({"Source": "my-app", "DetailType": "x", "Detail": "[1, 2]"}, "MalformedDetail"),
        ({"Source": "my-app", "DetailType": "x", "Detail": "{not json"}, "MalformedDetail"),
    ],
    ids=["no-source", "aws-source", "detail-not-object", "detail-not-json"],
)
def test_an_entry_the_service_refuses_fails_the_task_with_failed_entry(bus: EventBus, entry: dict, code: str) -> None:
    with pytest.raises(PutEventsTaskError) as raised:
        put(bus, **entry)

    assert raised.value.error == "EventBridge.FailedEntry"
    assert json.loads(raised.value.cause)["Entries"][0]["ErrorCode"] == code
    assert bus.events == []


def test_a_refused_put_fails_as_many_times_as_asked_then_succeeds(bus: EventBus) -> None:
    bus.reject_next("ThrottlingException", times=2)

    for _ in range(2):
        with pytest.raises(PutEventsTaskError):
            put(bus, Source="my-app", DetailType="x", Detail={})
    put(bus, Source="my-app", DetailType="x", Detail={})

    assert len(bus.events) == 1
