"""The workflow definition built with the Data Science SDK."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contract.events import EVENT_DETAIL_TYPE, EVENT_SOURCE, OUTCOME_DETAIL_KEYS
from contract.readiness import IMPORT_READY, READINESS_CHECKS
from stacks.config import PipelineConfig, load_config
from stacks.workflow import build_workflow_definition, render_definition

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return build_workflow_definition(PipelineConfig())


def test_definition_is_deterministic() -> None:
    assert render_definition(build_workflow_definition(PipelineConfig())) == render_definition(
        build_workflow_definition(PipelineConfig())
    )


def test_the_stages_run_in_the_documented_order(definition: dict[str, Any]) -> None:
    tasks = [
        name
        for name, state in definition["States"].items()
        if state["Type"] == "Task" and state["Resource"].startswith("${")
    ]
    assert definition["StartAt"] == "Run input has a trigger?"
    assert definition["States"]["Run trigger is text?"]["Choices"] == [
        {"Variable": "$.trigger", "IsString": True, "Next": "Look for another run"}
    ]
    assert definition["States"]["Another run in progress?"]["Default"] == "Prepare data"
    # data.engine auto: the Glue job when the data preparation handed the conversion over.
    assert definition["States"]["New data?"]["Default"] == "Which engine?"
    assert definition["States"]["Which engine?"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.data.engine", "StringEquals": "glue", "Next": "Convert with Glue"}],
        "Default": "Plan waits",
    }
    glue = definition["States"]["Convert with Glue"]
    assert (glue["Resource"], glue["Parameters"], glue["ResultPath"], glue["Next"]) == (
        "arn:aws:states:::glue:startJobRun.sync",
        {"JobName": "${PrepareInteractionsJobName}", "Arguments.$": "$.data.glue.arguments"},
        "$.glueRun",
        "Read Glue output",
    )
    # The job's 60 minutes, and 15 for Glue to start it.
    assert glue["TimeoutSeconds"] == 75 * 60
    assert glue["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed in prepare data"}
    ]
    assert definition["States"]["Read Glue output"]["Next"] == "Plan waits"
    assert tasks == [
        "Look for another run",
        "Prepare data",
        "Ensure dataset group",
        "Ensure interactions dataset",
        "Ensure items dataset",
        "Start items import",
        "Start dataset import",
        "Start data deletion",
        "Complete deletion requests",
        "Ensure filters",
        "Ensure solution",
        "Start training",
        "Evaluate new version",
        "Record rejected version",
        "Deploy campaign",
        "Smoke test recommendations",
        "Record successful run",
        "Roll back campaign",
        "Read Glue output",
    ]
    assert definition["States"]["Quality gate passed?"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.evaluation.passed", "BooleanEquals": True, "Next": "Deploy campaign"}],
        "Default": "Record rejected version",
    }
    assert definition["States"]["Record rejected version"]["Next"] == "Summarize rejection"
    assert definition["States"]["Summarize rejection"]["Next"] == "Publish rejection"
    assert definition["States"]["Publish rejection"]["Next"] == "Run rejected"


def test_wait_until_active_fragment_is_check_decide_wait_count(definition: dict[str, Any]) -> None:
    states = definition["States"]
    # Register sfn.aws-sdk.error-names: an unmodeled ThrottlingException arrives as the SDK's generic exception.
    throttling = ["Personalize.PersonalizeException", "Personalize.LimitExceededException"]
    assert states["Check dataset import job"] == {
        "Resource": "arn:aws:states:::aws-sdk:personalize:describeDatasetImportJob",
        "Parameters": {"DatasetImportJobArn.$": "$.importJob.arn"},
        "ResultPath": "$.poll.DatasetImportJob",
        "Type": "Task",
        "Next": "Dataset import job ready?",
        "Retry": [{"ErrorEquals": throttling, "IntervalSeconds": 5, "MaxAttempts": 5, "BackoffRate": 2.0}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed in dataset import", "ResultPath": "$.failure"}],
    }
    failed = ["CREATE FAILED", "CREATE STOPPED", "DELETE PENDING", "DELETE IN_PROGRESS"]
    status = "$.poll.DatasetImportJob.DatasetImportJob.Status"
    is_failed = {"Or": [{"Variable": status, "StringEquals": s} for s in failed]}
    assert states["Dataset import job ready?"] == {
        "Type": "Choice",
        "Choices": [
            {"Variable": status, "StringEquals": "ACTIVE", "Next": "Items import started?"},
            {
                "And": [
                    is_failed,
                    {"Variable": "$.poll.DatasetImportJob.DatasetImportJob.FailureReason", "IsPresent": True},
                ],
                "Next": "Dataset import job failed",
            },
            {**is_failed, "Next": "Dataset import job failed without a reason"},
            {
                "Variable": "$.checks.DatasetImportJob.count",
                "NumericGreaterThanEquals": IMPORT_READY.max_checks,
                "Next": "Dataset import job timed out",
            },
        ],
        "Default": "Wait for dataset import job",
    }
    assert states["Wait for dataset import job"] == {
        "SecondsPath": "$.checks.DatasetImportJob.waitSeconds",
        "Type": "Wait",
        "Next": "Count dataset import job check",
    }
    # After the first (planned) wait, every later wait is the planned interval.
    assert states["Count dataset import job check"] == {
        "Parameters": {
            "count.$": "States.MathAdd($.checks.DatasetImportJob.count, 1)",
            "waitSeconds.$": "$.checks.DatasetImportJob.intervalSeconds",
            "intervalSeconds.$": "$.checks.DatasetImportJob.intervalSeconds",
        },
        "ResultPath": "$.checks.DatasetImportJob",
        "Type": "Pass",
        "Next": "Check dataset import job",
    }


def test_every_wait_is_bounded_and_every_counter_starts_at_zero(definition: dict[str, Any]) -> None:
    plan = definition["States"]["Plan waits"]["Parameters"]
    assert plan["checks"] == {
        check.key: {
            "count": 0,
            "waitSeconds.$": f"$.data.plan.waits.{check.key}.firstSeconds",
            "intervalSeconds.$": f"$.data.plan.waits.{check.key}.intervalSeconds",
        }
        for check in READINESS_CHECKS
    } | {"CampaignRollback": {"count": 0, "waitSeconds": 60, "intervalSeconds": 60}}
    # The planner gets each check's configured interval and bound.
    polling = definition["States"]["Prepare data"]["Parameters"]["plan"]["polling"]
    assert polling == {
        check.key: {"intervalSeconds": check.interval_seconds, "maxChecks": check.max_checks}
        for check in READINESS_CHECKS
    }
    for check in READINESS_CHECKS:
        bound = check.interval_seconds * check.max_checks
        assert 0 < bound <= 24 * 3600, check.stage


def test_campaign_update_waits_on_latest_campaign_update_not_status(definition: dict[str, Any]) -> None:
    choices = definition["States"]["Campaign update ready?"]["Choices"]
    assert choices[0] == {
        "Variable": "$.poll.CampaignUpdate.Campaign.LatestCampaignUpdate.Status",
        "StringEquals": "ACTIVE",
        "Next": "Smoke test recommendations",
    }
    assert definition["States"]["Campaign created or updated?"]["Choices"] == [
        {"Variable": "$.campaign.action", "StringEquals": "updated", "Next": "Check campaign update"}
    ]


def test_every_task_failure_names_its_stage_publishes_the_failure_and_then_fails(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["Run failed"] == {
        "Comment": "Every failure ends here with the real cause; the campaign keeps its previous version.",
        "ErrorPath": "$.failure.Error",
        "CausePath": "$.failure.Cause",
        "Type": "Fail",
    }
    stages = {}
    # A smoke test that finds no items first puts the previous version back (after an update).
    smoke_catches = states["Smoke test recommendations"]["Catch"]
    assert smoke_catches[0] == {
        "ErrorEquals": ["SmokeTestFailedError"],
        "Next": "Roll back the campaign?",
        "ResultPath": "$.failure",
    }
    assert states["Roll back the campaign?"]["Default"] == "Failed in smoke test"
    assert states["Roll back campaign"]["Parameters"]["solutionVersionArn.$"] == "$.campaign.previousSolutionVersionArn"
    assert states["Campaign rollback ready?"]["Choices"][0]["Next"] == "Failed in smoke test"
    for name, state in states.items():
        if state["Type"] == "Task" and name != "Publish failure":
            catch = state["Catch"][-1]
            assert len(state["Catch"]) == (2 if name == "Smoke test recommendations" else 1), name
            assert (catch["ErrorEquals"], catch["ResultPath"]) == (["States.ALL"], "$.failure"), name
            assert catch["Next"].startswith("Failed in "), name
            stages[name] = catch["Next"].removeprefix("Failed in ")
    # A stage is a step and its wait: a failed import job is reported where its import started.
    assert stages["Start dataset import"] == stages["Check dataset import job"] == "dataset import"
    assert stages["Start training"] == stages["Check solution version"] == "training"
    assert stages["Deploy campaign"] == stages["Check campaign"] == stages["Check campaign update"] == "campaign"
    assert stages["Look for another run"] == "look for another run"
    assert stages["Publish success"] == stages["Publish skip: no new data"] == "notification"
    for stage in set(stages.values()):
        assert states[f"Failed in {stage}"] == {
            "Parameters": {"Error.$": "$.failure.Error", "Cause.$": "$.failure.Cause", "Stage": stage},
            "ResultPath": "$.failure",
            "Type": "Pass",
            "Next": "Publish failure",
        }
    assert states["Publish failure"]["Next"] == "Run failed"
    # The failure stays the cause even when its event cannot be published.
    assert states["Publish failure"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "Next": "Run failed", "ResultPath": "$.publishError"}
    ]
    for check in READINESS_CHECKS:
        label = check.stage[0].upper() + check.stage[1:]
        for outcome in ("failed", "timed out", "failed without a reason"):
            assert states[f"{label} {outcome}"]["Next"].startswith("Failed in "), (label, outcome)


def test_each_terminal_state_is_reached_only_through_its_outcome_event(definition: dict[str, Any]) -> None:
    states = definition["States"]
    terminal = {name for name, state in states.items() if state["Type"] in ("Succeed", "Fail")}
    leading_to = {name: sorted(n for n, s in states.items() if s.get("Next") == name) for name in terminal}

    assert leading_to == {
        "Run succeeded": ["Publish success"],
        "Run rejected": ["Publish rejection"],
        "Run skipped": ["Publish skip: another run", "Publish skip: no data yet", "Publish skip: no new data"],
        "Run failed": ["Publish failure"],
    }
    for publisher in [name for names in leading_to.values() for name in names]:
        state = states[publisher]
        (entry,) = state["Parameters"]["Entries"]
        assert state["Resource"] == "arn:aws:states:::events:putEvents"
        assert (entry["Source"], entry["DetailType"]) == (EVENT_SOURCE, EVENT_DETAIL_TYPE)
        assert "EventBusName" not in entry  # the account's default bus, which the rule watches
        # The state passes through unchanged: the execution's output is the run's summary.
        assert state["ResultPath"] is None
        assert state["Retry"] == [
            {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}
        ]


def test_every_outcome_event_has_the_same_keys(definition: dict[str, Any]) -> None:
    states = definition["States"]

    def detail(name: str) -> dict[str, Any]:
        return states[name]["Parameters"]["Entries"][0]["Detail"]

    keys = {
        name: {key.removesuffix(".$") for key in detail(name)}
        for name in (
            "Publish success",
            "Publish rejection",
            "Publish skip: another run",
            "Publish skip: no new data",
            "Publish failure",
        )
    }
    assert set(map(frozenset, keys.values())) == {OUTCOME_DETAIL_KEYS}
    assert detail("Publish success") == {
        "pipelineName": "movielens",
        "runName.$": "$$.Execution.Name",
        "executionArn.$": "$$.Execution.Id",
        "runStartedAt.$": "$$.Execution.StartTime",
        "outcome": "succeeded",
        "reason.$": "$.evaluation.reason",
        "failedStage": None,
        "error": None,
        "cause": None,
        "metrics": {
            "metric.$": "$.evaluation.metric",
            "trained.$": "$.evaluation.candidate",
            "served.$": "$.evaluation.current",
            "minimum.$": "$.evaluation.minimum",
        },
        "solutionVersionArn.$": "$.solutionVersionArn",
        "campaignArn.$": "$.campaignArn",
        # The deletion requests this run honoured ({"requests": [], "job": null} when none).
        "deletionRequests.$": "$.deletionRequests",
    }
    failure = detail("Publish failure")
    assert (failure["outcome"], failure["failedStage.$"], failure["error.$"], failure["cause.$"]) == (
        "failed",
        "$.failure.Stage",
        "$.failure.Error",
        "$.failure.Cause",
    )
    assert (failure["metrics"], failure["solutionVersionArn"], failure["campaignArn"]) == (None, None, None)
    assert failure["deletionRequests"] is None


def test_lambda_tasks_use_one_placeholder_per_function(definition: dict[str, Any]) -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", json.dumps(definition)))
    assert placeholders == {f.placeholder for f in PipelineConfig().functions} | {
        "DataBucketName",
        "PersonalizeRoleArn",
        "PrepareInteractionsJobName",
    }


def test_config_values_reach_the_steps() -> None:
    config = load_config(
        {
            "pipelineName": "films",
            "campaignMinProvisionedTps": 3,
            "smokeTestUserId": "42",
            "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization",
            "data": {"rawKey": "raw/ratings.csv", "format": "ratings-csv", "minRating": 3.5},
            "training": {"mode": "UPDATE", "fullRetrainEveryDays": 10},
            "qualityGate": {"metric": "precision_at_25", "maxRelativeRegression": 0.1, "minimum": 0.05},
        }
    )
    states = build_workflow_definition(config)["States"]
    assert states["Prepare data"]["Parameters"] == {
        "bucket": "${DataBucketName}",
        "rawKey": "raw/ratings.csv",
        "format": "ratings-csv",
        "minRating": 3.5,
        "engine": "auto",
        "engineThresholdBytes": 4 * 1024**3,
        "outputKey.$": "States.Format('training/{}/interactions.csv', $$.Execution.Name)",
        "stateKey": "state/pipeline-state.json",
        "plan": {
            "trainingMode": "UPDATE",
            "fullRetrainEveryDays": 10,
            "runStartedAt.$": "$$.Execution.StartTime",
            "polling": {
                check.key: {"intervalSeconds": check.interval_seconds, "maxChecks": check.max_checks}
                for check in READINESS_CHECKS
            },
        },
        # Users' deletion requests: read from deletion-requests/, this run's job input written here.
        "deletion": {
            "prefix": "deletion-requests/",
            "completedPrefix": "deletion-requests/completed/",
            "inputKey.$": "States.Format('training/{}/deletions.csv', $$.Execution.Name)",
        },
        # The movie file of ratings.csv's releases, beside it (data.itemsKey null), used when there.
        "items": {
            "key": "raw/movies.csv",
            "format": "movies.csv",
            "outputKey.$": "States.Format('training/{}/items.csv', $$.Execution.Name)",
            "required": False,
        },
    }
    assert states["Start training"]["Parameters"]["trainingMode.$"] == "$.data.plan.trainingMode"
    assert states["Evaluate new version"]["Parameters"] == {
        "solutionVersionArn.$": "$.solutionVersion.arn",
        "solutionArn.$": "$.solution.arn",
        "campaignName": "films-campaign",
        "metric": "precision_at_25",
        "maxRelativeRegression": 0.1,
        "minimum": 0.05,
    }
    assert states["Ensure dataset group"]["Parameters"] == {"name": "films"}
    assert (
        states["Ensure solution"]["Parameters"]["recipeArn"] == "arn:aws:personalize:::recipe/aws-user-personalization"
    )
    assert states["Deploy campaign"]["Parameters"]["name"] == "films-campaign"
    assert states["Deploy campaign"]["Parameters"]["minProvisionedTPS"] == 3
    assert states["Smoke test recommendations"]["Parameters"]["userId"] == "42"


def _asl_validator(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "node_modules/.bin/asl-validator"), "--json-path", str(path)], capture_output=True, text=True
    )


def test_asl_validator_accepts_the_definition(tmp_path: Path, definition: dict[str, Any]) -> None:
    path = tmp_path / "definition.json"
    path.write_text(render_definition(definition))
    completed = _asl_validator(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr

    broken = json.loads(json.dumps(definition))
    broken["States"]["Prepare data"]["Next"] = "No such state"
    path.write_text(render_definition(broken))
    assert _asl_validator(path).returncode != 0


def test_the_run_times_out_only_after_every_stage_could_have_timed_out(definition: dict[str, Any]) -> None:
    waits = {c.key: 2 * c.interval_seconds * c.max_checks for c in READINESS_CHECKS}
    longest = sum(waits.values()) - min(waits["Campaign"], waits["CampaignUpdate"])

    rollback = 60 * 180  # putting the previous version back after a failed smoke test
    # The items dataset's and the items import's waits come after the others', so they add up, and
    # so does the data deletion job's (up to a day, checked every 5 minutes: 2 x 24 h).
    assert definition["TimeoutSeconds"] == longest + rollback + 3600 == 132 * 3600 + 2400


def test_a_campaign_update_counts_only_once_the_answer_names_this_runs_version(definition: dict[str, Any]) -> None:
    """Register personalize.campaign-update.stale-read: a stale answer is not ready, not failed."""
    states = definition["States"]
    for stage, key, expected in (
        ("campaign update", "CampaignUpdate", "$.solutionVersion.arn"),
        ("campaign rollback", "CampaignRollback", "$.campaign.previousSolutionVersionArn"),
    ):
        label = stage[0].upper() + stage[1:]
        version = f"$.poll.{key}.Campaign.LatestCampaignUpdate.SolutionVersionArn"
        assert states[f"Check {stage}"]["Next"] == f"{label} visible?"
        assert states[f"{label} visible?"] == {
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": version, "IsPresent": True}, "Next": f"{label} not visible yet"},
                {"Variable": version, "StringEqualsPath": expected, "Next": f"{label} ready?"},
            ],
            "Default": f"{label} not visible yet",
        }
        assert states[f"{label} not visible yet"] == {
            "Type": "Choice",
            "Choices": [
                {"Variable": f"$.checks.{key}.count", "NumericGreaterThanEquals": 180, "Next": f"{label} never visible"}
            ],
            "Default": f"Wait for {stage}",
        }
    # Waits on a resource's own status have no such step.
    assert states["Check campaign"]["Next"] == "Campaign ready?"


def test_the_guard_decides_on_arns_and_start_times(definition: dict[str, Any]) -> None:
    """Register sfn.list-executions.eventual-consistency: no count of RUNNING executions."""
    states = definition["States"]
    guard = states["Look for another run"]

    assert guard["Resource"] == "${LookForAnotherRunFunctionArn}"
    assert guard["Parameters"] == {
        "stateMachineArn.$": "$$.StateMachine.Id",
        "executionArn.$": "$$.Execution.Id",
        "executionStartTime.$": "$$.Execution.StartTime",
    }
    assert states["Another run in progress?"] == {
        "Type": "Choice",
        "Choices": [
            {
                "Variable": "$.running.anotherRunInProgress",
                "BooleanEquals": True,
                "Next": "Skip: another run in progress",
            }
        ],
        "Default": "Prepare data",
    }


def test_a_run_before_any_upload_is_skipped_before_the_change_check(definition: dict[str, Any]) -> None:
    assert definition["States"]["New data?"]["Choices"][0] == {
        "Variable": "$.data.noData",
        "BooleanEquals": True,
        "Next": "Skip: no data yet",
    }
    assert definition["States"]["Skip: no data yet"]["Next"] == "Publish skip: no data yet"
    assert definition["States"]["Publish skip: no data yet"]["Next"] == "Run skipped"


def test_without_items_the_run_imports_ratings_only_and_with_them_both_imports_run_at_once() -> None:
    ratings_only = build_workflow_definition(load_config({"data": {"useItems": "off"}}))["States"]
    assert "items" not in ratings_only["Prepare data"]["Parameters"]
    assert not [name for name in ratings_only if "items" in name.lower()]
    assert ratings_only["Dataset ready?"]["Choices"][0]["Next"] == "Start dataset import"

    states = build_workflow_definition(load_config({"data": {"useItems": "required"}}))["States"]
    assert states["Prepare data"]["Parameters"]["items"]["required"] is True
    # Without a movie file in this run (auto), straight to the ratings import; else the items
    # dataset, its import, then the ratings import, and the items import is awaited after it.
    assert states["Movie file in this run?"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.data.items.itemsUri", "IsNull": True, "Next": "Start dataset import"}],
        "Default": "Ensure items dataset",
    }
    assert states["Items dataset ready?"]["Choices"][0]["Next"] == "Start items import"
    assert states["Start items import"]["Next"] == "Start dataset import"
    assert states["Start items import"]["Parameters"]["dataLocation.$"] == "$.data.items.itemsUri"
    assert states["Start items import"]["Parameters"]["jobNamePrefix"] == "movielens-items"
    assert states["Items import started?"]["Default"] == "Check items import job"
    assert states["Items import job ready?"]["Choices"][0]["Next"] == "Deletion requests?"
