"""Parts of the command-line tool that the offline sessions cannot reach: stack states AWS has
and the simulator never shows, schedule arithmetic, and the progress bar of a running wait."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from pipelinectl.errors import StackNotFound, StackNotReady
from pipelinectl.run_view import RunView
from pipelinectl.schedule import next_run
from pipelinectl.stack import find_stack
from pipelinectl.workflow_graph import build_graph

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
OUTPUTS = [
    {"OutputKey": key, "OutputValue": value}
    for key, value in {
        "DataBucketName": "bucket",
        "RawDataKey": "raw/ml-100k/u.data",
        "StateMachineArn": "arn:aws:states:eu-west-1:111122223333:stateMachine:Retraining",
        "ScheduleName": "schedule",
        "PipelineName": "movielens",
    }.items()
]


def stack(status: str, outputs: list[dict[str, str]] = OUTPUTS, name: str = "PersonalizePipeline") -> dict[str, Any]:
    return {"StackName": name, "StackStatus": status, "CreationTime": START, "Outputs": outputs}


@pytest.fixture
def cloudformation() -> Any:
    return boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_a_deployed_stack_gives_the_pipeline_its_resources(cloudformation: Any) -> None:
    with Stubber(cloudformation) as stubber:
        stubber.add_response(
            "describe_stacks", {"Stacks": [stack("UPDATE_COMPLETE")]}, {"StackName": "PersonalizePipeline"}
        )
        found = find_stack(cloudformation, "PersonalizePipeline", "eu-west-1")

    assert (found.bucket, found.state_machine_arn, found.names.campaign) == (
        "bucket",
        "arn:aws:states:eu-west-1:111122223333:stateMachine:Retraining",
        "movielens-campaign",
    )


def test_a_stack_that_is_nowhere_is_not_deployed(cloudformation: Any) -> None:
    with Stubber(cloudformation) as stubber:
        stubber.add_client_error(
            "describe_stacks", "ValidationError", "Stack with id PersonalizePipeline does not exist"
        )
        stubber.add_response("describe_stacks", {"Stacks": [stack("CREATE_COMPLETE", [], name="SomethingElse")]}, {})
        with pytest.raises(StackNotFound) as error:
            find_stack(cloudformation, "PersonalizePipeline", "eu-west-1")

    assert str(error.value) == (
        "stack PersonalizePipeline is not deployed in eu-west-1: deploy it (make deploy), or pass --region/--profile "
        "for where it is, or --offline to try the tool against the simulator"
    )


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("CREATE_IN_PROGRESS", "stack PersonalizePipeline is CREATE_IN_PROGRESS: wait until the deployment finishes"),
        ("ROLLBACK_COMPLETE", "stack PersonalizePipeline is ROLLBACK_COMPLETE, not deployed: see its events"),
        ("DELETE_FAILED", "stack PersonalizePipeline is DELETE_FAILED, not deployed: see its events"),
    ],
)
def test_a_stack_that_is_not_ready_says_what_to_wait_for_or_fix(cloudformation: Any, status: str, message: str) -> None:
    with Stubber(cloudformation) as stubber:
        stubber.add_response("describe_stacks", {"Stacks": [stack(status)]})
        with pytest.raises(StackNotReady) as error:
            find_stack(cloudformation, "PersonalizePipeline", "eu-west-1")

    assert str(error.value).startswith(message)


def test_another_stack_under_the_name_is_not_taken_for_the_pipeline(cloudformation: Any) -> None:
    with Stubber(cloudformation) as stubber:
        stubber.add_response("describe_stacks", {"Stacks": [stack("CREATE_COMPLETE", OUTPUTS[:2])]})
        with pytest.raises(StackNotFound) as error:
            find_stack(cloudformation, "PersonalizePipeline", "eu-west-1")

    assert "has no output StateMachineArn, ScheduleName, PipelineName: it is not this pipeline's stack" in str(
        error.value
    )


@pytest.mark.parametrize(
    ("expression", "zone", "now", "expected"),
    [
        ("rate(7 days)", "UTC", START + timedelta(days=8), START + timedelta(days=14)),
        ("rate(7 days)", "UTC", START - timedelta(hours=1), START),
        ("rate(1 hour)", "UTC", START + timedelta(minutes=30), START + timedelta(hours=1)),
        ("cron(0 3 ? * MON *)", "UTC", START, datetime(2026, 1, 12, 3, 0, tzinfo=UTC)),
        ("cron(0 3 ? * MON *)", "Europe/Berlin", START, datetime(2026, 1, 12, 2, 0, tzinfo=UTC)),
        ("cron(0/30 8-9 1 * ? *)", "UTC", START, datetime(2026, 2, 1, 8, 0, tzinfo=UTC)),
        ("cron(15 10 ? * 6L 2026)", "UTC", START, None),
    ],
)
def test_next_run(expression: str, zone: str, now: datetime, expected: datetime | None) -> None:
    assert next_run(expression, zone, START, now) == expected


def _event(event_id: int, kind: str, at: datetime, **details: Any) -> dict[str, Any]:
    return {"id": event_id, "type": kind, "timestamp": at, **details}


def test_a_running_training_shows_a_progress_bar_against_the_learned_duration() -> None:
    definition = {
        "StartAt": "Start training",
        "States": {
            "Start training": {"Type": "Task", "Resource": "x", "Next": "Check solution version"},
            "Check solution version": {"Type": "Task", "Resource": "y", "Next": "Solution version ready?"},
            "Solution version ready?": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.s", "StringEquals": "ACTIVE", "Next": "Done"},
                    {"Variable": "$.c", "NumericGreaterThanEquals": 288, "Next": "Done"},
                ],
                "Default": "Wait for solution version",
            },
            "Wait for solution version": {"Type": "Wait", "Seconds": 1, "Next": "Check solution version"},
            "Done": {"Type": "Succeed"},
        },
    }
    view = RunView(build_graph(definition), expected_seconds={"SolutionVersion.FULL": 7200})
    view.training_mode = "FULL"
    poll = {"poll": {"SolutionVersion": {"SolutionVersion": {"Status": "CREATE IN_PROGRESS"}}}}
    events = [
        _event(1, "ExecutionStarted", START),
        _event(2, "TaskStateEntered", START, stateEnteredEventDetails={"name": "Start training"}),
        _event(3, "TaskStateEntered", START, stateEnteredEventDetails={"name": "Check solution version"}),
        _event(
            4,
            "TaskStateExited",
            START,
            stateExitedEventDetails={"name": "Check solution version", "output": json.dumps(poll)},
        ),
    ]
    for event in events:
        view.apply(event)
    out = io.StringIO()

    Console(file=out, width=160).print(view.render(START + timedelta(hours=1)))

    text = out.getvalue()
    assert "Wait until solution version is ACTIVE │ CREATE IN_PROGRESS │ 1:00:00 │" in text
    assert "50% of ~2:00:00 (last time); check 1 of at most 288" in text
    assert "Still running after 1:00:00." in text


def test_a_batch_only_run_ends_naming_its_published_output_and_what_keeps_serving() -> None:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    view = RunView(build_graph(definition), in_service="the published batch output")
    view.started, view.stopped, view.status = START, START + timedelta(hours=2), "SUCCEEDED"
    view.output = {
        "outcome": "succeeded",
        "solutionVersionArn": "arn:aws:personalize:us-east-1:111122223333:solution/films-solution/ebe96ce7",
        "batchOutput": {"bucket": "data", "outputPrefix": "recommendations/week-1/", "users": 1200},
    }

    succeeded = [line.plain for line in view.summary_lines(START)]
    view.status, view.error, view.cause, view.output = "FAILED", "BatchOutputInvalidError", "2 lines carry an error", {}
    failed = [line.plain for line in view.summary_lines(START)]

    assert succeeded == [
        "Outcome: succeeded after 2:00:00",
        "  batch recommendations of solution version ebe96ce7 published: s3://data/recommendations/week-1/ "
        "(1,200 users), named by recommendations/latest.json",
    ]
    assert failed[-1] == "  The published batch output keeps serving the previous version."


@pytest.mark.parametrize(
    ("output", "note"),
    [
        ({"campaignAction": "updated"}, "campaign updated"),
        ({"batchOutput": {"runName": "r"}}, "batch output published"),
        ({"campaignAction": "created", "batchOutput": {"runName": "r"}}, "campaign created, batch output published"),
    ],
    ids=["campaign", "batch", "both"],
)
def test_history_notes_what_a_succeeded_run_deployed(output: dict[str, Any], note: str) -> None:
    from pipelinectl.runs import Run

    run = Run(
        arn="arn:aws:states:us-east-1:1:execution:m:r",
        name="r",
        status="SUCCEEDED",
        start=START,
        stop=START,
        output={"outcome": "succeeded", **output},
        error=None,
        cause=None,
    )
    assert run.note == note


def test_a_rollback_waits_for_the_update_to_its_version_not_a_stale_answer() -> None:
    """Register personalize.campaign-update.stale-read: the previous update, ACTIVE, is not this one."""
    from pipelinectl.campaign import ServedCampaign, switch_version

    personalize = boto3.client("personalize", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    arn = "arn:aws:personalize:us-east-1:111122223333:campaign/movielens-campaign"
    old, new = (f"arn:aws:personalize:us-east-1:111122223333:solution/movielens-solution/{v}" for v in ("old1", "new1"))

    def described(update_version: str, status: str) -> dict[str, Any]:
        update = {"solutionVersionArn": update_version, "status": status}
        return {"campaign": {"campaignArn": arn, "minProvisionedTPS": 1, "latestCampaignUpdate": update}}

    waits: list[float] = []
    with Stubber(personalize) as stub:
        stub.add_response("describe_campaign", described(old, "ACTIVE"), {"campaignArn": arn})
        stub.add_response(
            "update_campaign",
            {"campaignArn": arn},
            {
                "campaignArn": arn,
                "solutionVersionArn": new,
                "minProvisionedTPS": 1,
                "campaignConfig": {"syncWithLatestSolutionVersion": False},
            },
        )
        stub.add_response("describe_campaign", described(old, "ACTIVE"), {"campaignArn": arn})  # stale
        stub.add_response("describe_campaign", described(new, "CREATE IN_PROGRESS"), {"campaignArn": arn})
        stub.add_response("describe_campaign", described(new, "ACTIVE"), {"campaignArn": arn})
        campaign = ServedCampaign(
            arn=arn, name="movielens-campaign", status="ACTIVE", solution_version_arn=old, since=START, update=None
        )

        update = switch_version(personalize, campaign, new, waits.append)

    assert (update["solutionVersionArn"], update["status"]) == (new, "ACTIVE")
    assert len(waits) == 3


def test_a_run_from_before_the_config_listed_solutions_belongs_only_to_the_solution_that_kept_its_names() -> None:
    from datetime import UTC, datetime

    from pipelinectl.runs import Run

    version = "arn:aws:personalize:us-east-1:123456789012:solution/movielens-solution/f1b96eaa"
    single = Run(
        "week-1",
        "arn:run",
        "SUCCEEDED",
        datetime(2026, 1, 5, tzinfo=UTC),
        None,
        {
            "outcome": "succeeded",
            "solutionVersionArn": version,
        },
        None,
        None,
    )

    assert single.of_solution("picks", "movielens-solution") is single  # picks kept the names (legacyNames)
    other = single.of_solution("similar", "movielens-solution-similar")
    assert (other.outcome, other.solution_version_arn) == ("skipped", None)
    assert other.output["reason"] == "solution similar took no part in this run"
