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


def test_create_touches_nothing_and_keeps_one_physical_id() -> None:
    # No client exists yet: any AWS call would need one. (An update deletes the solutions the config
    # no longer names: tests/e2e/test_solutions.py.)
    assert teardown.on_event(event("Create")) == {"PhysicalResourceId": "personalize-teardown"}
    assert teardown.is_complete(event("Create")) == {"IsComplete": True}


def test_a_solution_is_the_pipelines_when_it_has_a_name_the_pipeline_gives_or_gave() -> None:
    names = PersonalizeNames("movielens").as_properties(("picks", "similar"))
    pipeline = teardown.Pipeline.from_event(event("Delete", ResourceProperties={**PROPERTIES, "Names": names}))

    assert pipeline.kept_solutions == ("movielens-solution-picks", "movielens-solution-similar")
    assert [
        pipeline.is_solution(name)
        for name in ("movielens-solution", "movielens-solution-ranking", "movielens-solution-X", "movielens-sol")
    ] == [True, True, False, False]
    assert pipeline.is_campaign("movielens-campaign-old") and not pipeline.is_campaign("other-campaign")


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
