"""The teardown handler's boundary: lifecycle events other than Delete, and the events it rejects.

What a Delete does to an account is tested end to end in tests/e2e/test_teardown.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import teardown

from contract.names import PersonalizeNames

PROPERTIES = {
    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:framework",
    "PipelineName": "movielens",
    "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Retraining",
    "ScheduleName": "Retraining-Schedule",
    "ScheduleGroupName": "default",
    "GiveUpAfterSeconds": "3300",
    "Names": PersonalizeNames("movielens").as_properties(),
}


def event(request_type: str, **changes: Any) -> dict[str, Any]:
    return {"RequestType": request_type, "ResourceProperties": dict(PROPERTIES), **changes}


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_touch_nothing_and_keep_one_physical_id(request_type: str) -> None:
    # No client exists yet: any AWS call would need one.
    assert teardown.on_event(event(request_type, PhysicalResourceId="personalize-teardown")) == {
        "PhysicalResourceId": "personalize-teardown"
    }
    assert teardown.is_complete(event(request_type)) == {"IsComplete": True}


@pytest.mark.parametrize(
    ("bad_event", "message"),
    [
        ({"RequestType": "Remove"}, "RequestType must be Create, Update or Delete; got 'Remove'"),
        ({"RequestType": "Delete"}, "the event has no ResourceProperties object"),
        (event("Delete", ResourceProperties={**PROPERTIES, "PipelineName": ""}), "ResourceProperties.PipelineName"),
        (
            event("Delete", ResourceProperties={**PROPERTIES, "GiveUpAfterSeconds": "55m"}),
            "GiveUpAfterSeconds must be whole seconds; got '55m'",
        ),
        (
            event("Delete", ResourceProperties={**PROPERTIES, "Names": {**PROPERTIES["Names"], "Campaign": ""}}),
            "ResourceProperties.Names.Campaign must be a non-empty string",
        ),
        (event("Delete"), "TeardownDeadline (set by on_event) is missing from the event"),
    ],
    ids=["request-type", "no-properties", "empty-name", "bad-seconds", "empty-resource-name", "no-deadline"],
)
def test_is_complete_rejects_an_event_it_cannot_act_on(bad_event: dict[str, Any], message: str) -> None:
    with pytest.raises(teardown.InvalidEventError, match=re.escape(message)):
        teardown.is_complete(bad_event)


@pytest.mark.parametrize("name", ["movielens", "films_2-eu", "a"])
def test_the_handler_deletes_the_names_the_stack_sends_and_derives_none(name: str) -> None:
    names = PersonalizeNames(name)
    properties = {**PROPERTIES, "PipelineName": name, "Names": names.as_properties()}
    pipeline = teardown.Pipeline.from_event(event("Delete", ResourceProperties=properties))

    assert (
        pipeline.dataset_group,
        pipeline.interactions_schema,
        pipeline.interactions_dataset,
        pipeline.solution,
        pipeline.campaign,
        pipeline.owned_prefix,
    ) == (
        names.dataset_group,
        names.interactions_schema,
        names.interactions_dataset,
        names.solution,
        names.campaign,
        names.owned_prefix,
    )
