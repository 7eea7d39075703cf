"""End-to-end teardown: after real runs, CloudFormation's Delete of the teardown custom resource,
driven through the provider framework's rules (onEvent, then isComplete every interval on the
simulated clock), with the handler code from the cloud assembly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline

ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}"
KINDS = ("campaign", "solution_version", "solution", "event_tracker", "filter", "dataset", "schema", "dataset_group")
RECIPE = "arn:aws:personalize:::recipe/aws-user-personalization-v2"


def personalize() -> Any:
    return boto3.client("personalize", region_name=REGION)


def names_left(pipeline: OfflinePipeline) -> dict[str, list[str]]:
    simulator = pipeline.account.personalize
    left = {kind: sorted(r["name"] for r in simulator.resources_of(kind)) for kind in KINDS}
    return {kind: found for kind, found in left.items() if found}


def operations(pipeline: OfflinePipeline, since: int = 0) -> list[str]:
    return [name for name, _ in pipeline.account.personalize.calls[since:]]


def changes(pipeline: OfflinePipeline, since: int = 0) -> list[tuple[str, dict[str, Any]]]:
    return [(name, p) for name, p in pipeline.account.personalize.calls[since:] if name.startswith(("Delete", "Stop"))]


def schedule(pipeline: OfflinePipeline) -> dict[str, Any]:
    return pipeline.scheduler().get_schedule(Name=pipeline.schedule_name)  # type: ignore[no-any-return]


def add_foreign_dataset_groups(pipeline: OfflinePipeline) -> None:
    """Another pipeline's group, and one whose name merely starts with ours, each with a solution."""
    for name in ("films", "movielens-v2"):
        personalize().create_dataset_group(name=name)
    pipeline.account.clock.advance(120)
    for name in ("films", "movielens-v2"):
        personalize().create_solution(
            name=f"{name}-solution", datasetGroupArn=f"{ARN}:dataset-group/{name}", recipeArn=RECIPE
        )


def test_destroy_after_a_run_deletes_everything_of_the_pipeline_in_dependency_order(
    pipeline: OfflinePipeline,
) -> None:
    assert pipeline.start_execution(name="week-1").status == "SUCCEEDED"
    group_arn = f"{ARN}:dataset-group/movielens"
    personalize().create_event_tracker(name="movielens-clicks", datasetGroupArn=group_arn)
    personalize().create_filter(
        name="movielens-unseen",
        datasetGroupArn=group_arn,
        filterExpression='EXCLUDE ItemID WHERE Interactions.event_type IN ("watch")',
    )
    add_foreign_dataset_groups(pipeline)
    calls_before = len(pipeline.account.personalize.calls)

    outcome = pipeline.destroy()

    assert (outcome.status, outcome.reason) == ("SUCCESS", "SUCCESS")
    assert names_left(pipeline) == {
        "dataset_group": ["films", "movielens-v2"],
        "solution": ["films-solution", "movielens-v2-solution"],
    }
    deleted = changes(pipeline, calls_before)
    assert [name for name, _ in deleted] == [
        "DeleteCampaign",
        "DeleteSolution",
        "DeleteEventTracker",
        "DeleteFilter",  # the run's exclusion filter (filters in the config) ...
        "DeleteFilter",  # ... and the one made by hand, named after the pipeline
        "DeleteDataset",
        "DeleteSchema",
        "DeleteDatasetGroup",
    ]
    assert deleted[0][1] == {"campaignArn": f"{ARN}:campaign/movielens-campaign"}
    assert deleted[-1][1] == {"datasetGroupArn": group_arn}
    # One pass per stage, each awaiting the deletion before it (60 s each in the simulator): campaign,
    # solution, tracker and filter, dataset, schema, dataset group, then the pass that finds nothing.
    assert outcome.is_complete_calls == 7
    assert outcome.finished - outcome.started < timedelta(minutes=55)


def test_destroy_disables_the_schedule_keeping_its_settings(pipeline: OfflinePipeline) -> None:
    before = schedule(pipeline)

    pipeline.destroy()

    after = schedule(pipeline)
    assert (before["State"], after["State"]) == ("ENABLED", "DISABLED")
    for setting in ("ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target", "Description"):
        assert after[setting] == before[setting], setting


def test_a_second_destroy_is_a_no_op(pipeline: OfflinePipeline) -> None:
    pipeline.start_execution(name="week-1")
    assert pipeline.destroy().status == "SUCCESS"
    calls_before = len(pipeline.account.personalize.calls)
    sfn_calls_before = len(pipeline.account.step_functions.calls)

    again = pipeline.destroy()

    assert again.status == "SUCCESS"
    assert again.is_complete_calls == 1
    assert changes(pipeline, calls_before) == []
    assert set(operations(pipeline, calls_before)) <= {"ListDatasetGroups", "ListSchemas"}
    assert [name for name, _ in pipeline.account.step_functions.calls[sfn_calls_before:]] == ["ListExecutions"]
    assert schedule(pipeline)["State"] == "DISABLED"


def test_a_resource_stuck_deleting_fails_the_teardown_with_its_name_before_the_framework_times_out(
    pipeline: OfflinePipeline,
) -> None:
    pipeline.start_execution(name="week-1")
    pipeline.account.personalize.stick_deleting("campaign")

    outcome = pipeline.destroy()

    assert outcome.status == "FAILED"
    assert outcome.reason == (
        "Teardown of Personalize pipeline 'movielens' did not finish within 55 minutes: campaign "
        f"'movielens-campaign' ({ARN}:campaign/movielens-campaign) is still DELETE IN_PROGRESS. Look at it in "
        "the Personalize console, then run cdk destroy again: the teardown resumes where it stopped."
    )
    # Our message, not the framework's "Operation timed out", and within CloudFormation's hour.
    assert timedelta(minutes=55) <= outcome.finished - outcome.started < timedelta(minutes=60)
    assert "DeleteSolution" not in operations(pipeline)


def test_a_run_in_progress_is_stopped_and_the_schedule_disabled_before_anything_is_deleted(
    pipeline: OfflinePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.start_execution(name="week-1")
    # Week 2 is running: its Start training step has started a solution version.
    # (It started a while ago: ListExecutions may not list a run started seconds before the
    # deletion, register sfn.list-executions.eventual-consistency.)
    running = pipeline.mark_running("week-2", start_date=pipeline.account.clock.now() - timedelta(minutes=30))
    training = personalize().create_solution_version(
        solutionArn=f"{ARN}:solution/movielens-solution", trainingMode="FULL", name="movielens-train-week-2"
    )["solutionVersionArn"]
    simulator = pipeline.account.personalize
    state_at_first_change: dict[str, str] = {}
    answer = simulator.handle

    def watching(operation_name: str, params: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if operation_name.startswith(("Delete", "Stop")) and not state_at_first_change:
            state_at_first_change.update(execution=running["status"], schedule=schedule(pipeline)["State"])
        return answer(operation_name, params, **kwargs)

    monkeypatch.setattr(simulator, "handle", watching)

    outcome = pipeline.destroy()

    assert outcome.status == "SUCCESS", outcome.reason
    assert state_at_first_change == {"execution": "ABORTED", "schedule": "DISABLED"}
    stops = [(n, p) for n, p in pipeline.account.step_functions.calls if n == "StopExecution"]
    assert stops == [
        (
            "StopExecution",
            {
                "executionArn": running["executionArn"],
                "error": "StackDeleted",
                "cause": "The CloudFormation stack of the pipeline is being deleted",
            },
        )
    ]
    assert ("StopSolutionVersionCreation", {"solutionVersionArn": training}) in changes(pipeline)
    assert names_left(pipeline) == {}


def test_a_resource_the_pipeline_did_not_create_stops_the_teardown_after_everything_else_it_can_delete(
    pipeline: OfflinePipeline,
) -> None:
    pipeline.start_execution(name="week-1")
    group_arn = f"{ARN}:dataset-group/movielens"
    expression = 'EXCLUDE ItemID WHERE Interactions.event_type IN ("watch")'
    personalize().create_filter(name="my-filter", datasetGroupArn=group_arn, filterExpression=expression)
    personalize().create_filter(name="movielens-mine", datasetGroupArn=group_arn, filterExpression=expression)

    outcome = pipeline.destroy()

    assert outcome.status == "FAILED"
    assert outcome.reason.startswith(
        f"Teardown of Personalize pipeline 'movielens' stopped: filter 'my-filter' ({ARN}:filter/my-filter) was not "
        "created by this pipeline"
    )
    assert outcome.reason.endswith("Delete it yourself, then run cdk destroy again.")
    # The billed and dependent resources are gone; the group waits for the foreign filter.
    assert names_left(pipeline) == {
        "filter": ["my-filter"],
        "dataset": ["movielens-interactions"],
        "schema": ["movielens-interactions"],
        "dataset_group": ["movielens"],
    }
