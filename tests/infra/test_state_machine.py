"""The state machine and its schedule (stacks/state_machine.py): exactly the emitted definition, its role, logs, tracing, and the schedule.

Expected values are written out here, not read back from the code under test.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    HANDLERS,
    LOG_DELIVERY_ACTIONS,
    STATE_MACHINE_PERSONALIZE_ACTIONS,
    STATE_MACHINE_XRAY_ACTIONS,
    Statement,
    as_list,
    bucket_id,
    encrypted,
    execution_key_statements,
    function_ids,
    function_role_id,
    only_resource,
    personalize_service_role_id,
    resources_of_type,
    role_actions,
    role_statements,
    state_machine_role_id,
    substitution_target,
    task_resources,
    trust_principals,
    workflow_state_machine,
)

# --- state machine --------------------------------------------------------------------------


def test_state_machine_deploys_exactly_the_emitted_definition(pipeline: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(pipeline)

    assert state_machine["DefinitionString"] == pipeline.definition_text


def test_every_definition_placeholder_has_a_substitution(pipeline: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(pipeline)
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", pipeline.definition_text))

    assert set(state_machine["DefinitionSubstitutions"]) == placeholders
    key = {"PipelineKeyArn"} if encrypted(pipeline) else set()
    glue = {"PrepareInteractionsJobName"}  # data.engine auto: the Glue job
    assert placeholders == {"DataBucketName", "PersonalizeRoleArn"} | key | glue | {
        f"{step}FunctionArn" for step in HANDLERS
    }


def test_substitutions_point_at_the_bucket_and_the_personalize_role(pipeline: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(pipeline)
    substitutions = state_machine["DefinitionSubstitutions"]

    assert substitutions["DataBucketName"] == {"Ref": bucket_id(pipeline)}
    assert substitution_target(substitutions, "PersonalizeRoleArn") == personalize_service_role_id(pipeline)


def test_state_machine_is_traced(pipeline: SynthesizedPipeline) -> None:
    pipeline.template.has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"TracingConfiguration": {"Enabled": True}}
    )


def test_state_machine_log_level_follows_the_config(variations_pipeline: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(variations_pipeline)

    assert state_machine["LoggingConfiguration"]["Level"] == "ERROR"


def test_state_machine_logs_all_events_to_its_log_group(pipeline: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(pipeline)
    logging = state_machine["LoggingConfiguration"]
    (destination,) = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]

    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", True)
    assert pipeline.resources[log_group_id]["Type"] == "AWS::Logs::LogGroup"


def test_the_state_machine_logs_under_vendedlogs(pipeline: SynthesizedPipeline) -> None:
    """Register sfn.logs.vendedlogs-prefix: the CloudWatch Logs resource policy stays small."""
    _, state_machine = workflow_state_machine(pipeline)
    log_group_id = state_machine["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"][
        "Fn::GetAtt"
    ][0]

    assert (
        pipeline.resources[log_group_id]["Properties"]["LogGroupName"]
        == "/aws/vendedlogs/states/PersonalizePipeline-retraining"
    )


def test_state_machine_role_invokes_exactly_the_workflow_functions(pipeline: SynthesizedPipeline) -> None:
    statements = role_statements(pipeline, state_machine_role_id(pipeline))
    invocable = {r for s in statements if s.actions == {"lambda:InvokeFunction"} for r in s.resources}

    assert invocable == {
        arn for fid in function_ids(pipeline).values() for arn in (f"${{{fid}.Arn}}", f"${{{fid}.Arn}}:*")
    }


def test_state_machine_role_holds_only_invoke_describe_events_logging_and_tracing(
    pipeline: SynthesizedPipeline,
) -> None:
    # Listing executions is the guard function's (register sfn.list-executions.eventual-consistency).
    expected = {"lambda:InvokeFunction", "events:PutEvents"} | STATE_MACHINE_PERSONALIZE_ACTIONS
    expected |= LOG_DELIVERY_ACTIONS | STATE_MACHINE_XRAY_ACTIONS
    # The .sync Glue integration (register sfn.glue.sync), on the job only (checked below).
    expected |= {"glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"}
    if encrypted(pipeline):  # its execution data, under the key (added by CDK, scoped by encryption context)
        expected |= {"kms:Decrypt", "kms:GenerateDataKey"}

    assert role_actions(pipeline, state_machine_role_id(pipeline)) == expected


def test_state_machine_puts_only_its_own_outcome_events_on_the_default_bus(pipeline: SynthesizedPipeline) -> None:
    statements = role_statements(pipeline, state_machine_role_id(pipeline))

    assert [s for s in statements if "events:PutEvents" in s.actions] == [
        Statement(
            "Allow",
            frozenset({"events:PutEvents"}),
            frozenset({"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"}),
            {
                "StringEquals": {
                    "events:source": "personalize-retraining",
                    "events:detail-type": "Retraining run finished",
                }
            },
            None,
        )
    ]


def test_every_outcome_event_the_definition_puts_is_one_the_role_may_put(pipeline: SynthesizedPipeline) -> None:
    states = json.loads(pipeline.definition_text)["States"]
    entries = [
        entry
        for state in states.values()
        if state.get("Resource") == "arn:aws:states:::events:putEvents"
        for entry in state["Parameters"]["Entries"]
    ]

    assert len(entries) == 6
    assert {(e["Source"], e["DetailType"], e.get("EventBusName", "default")) for e in entries} == {
        ("personalize-retraining", "Retraining run finished", "default")
    }


def test_the_guard_may_list_only_this_state_machines_executions(pipeline: SynthesizedPipeline) -> None:
    statements = role_statements(pipeline, function_role_id(pipeline, "LookForAnotherRun"))
    listing = [s for s in statements if "states:ListExecutions" in s.actions]

    assert len(listing) == 1
    assert listing[0].actions == {"states:ListExecutions"}
    machine_id, _ = workflow_state_machine(pipeline)
    assert listing[0].resources == {f"${{{machine_id}}}"}


def test_the_schedule_waits_for_every_policy_a_run_needs(pipeline: SynthesizedPipeline) -> None:
    """Its first run must not be denied at "Look for another run" (issue 10, item 2)."""
    schedule_id, _ = only_resource(pipeline, "AWS::Scheduler::Schedule")
    machine_id, _ = workflow_state_machine(pipeline)
    run_roles = {state_machine_role_id(pipeline)} | {function_role_id(pipeline, step) for step in HANDLERS}
    needed = {
        pid
        for pid, policy in resources_of_type(pipeline, "AWS::IAM::Policy").items()
        if any({"Ref": role} in policy["Properties"]["Roles"] for role in run_roles)
    }

    assert needed <= dependencies(pipeline, schedule_id)
    assert machine_id in dependencies(pipeline, schedule_id)


def dependencies(pipeline: SynthesizedPipeline, resource_id: str) -> set[str]:
    """Every resource CloudFormation creates before ``resource_id``: DependsOn, Ref and GetAtt, transitively."""

    def direct(rid: str) -> set[str]:
        resource = pipeline.resources[rid]
        found = set(as_list(resource.get("DependsOn", [])))

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                if "Ref" in value and value["Ref"] in pipeline.resources:
                    found.add(value["Ref"])
                if "Fn::GetAtt" in value:
                    found.add(value["Fn::GetAtt"][0])
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(resource.get("Properties", {}))
        return found

    seen: set[str] = set()
    todo = [resource_id]
    while todo:
        for dependency in direct(todo.pop()) - seen:
            seen.add(dependency)
            todo.append(dependency)
    return seen


def test_state_machine_role_covers_every_service_call_in_the_definition(pipeline: SynthesizedPipeline) -> None:
    sdk_prefix = "arn:aws:states:::aws-sdk:personalize:"
    called = {
        "personalize:" + resource.removeprefix(sdk_prefix)[0].upper() + resource.removeprefix(sdk_prefix)[1:]
        for resource in task_resources(json.loads(pipeline.definition_text))
        if resource.startswith(sdk_prefix)
    }
    granted = role_actions(pipeline, state_machine_role_id(pipeline))

    assert called == STATE_MACHINE_PERSONALIZE_ACTIONS
    assert called <= granted


def test_every_lambda_task_invokes_a_function_of_the_stack(pipeline: SynthesizedPipeline) -> None:
    lambda_tasks = {
        resource for resource in task_resources(json.loads(pipeline.definition_text)) if resource.startswith("${")
    }

    assert lambda_tasks == {f"${{{step}FunctionArn}}" for step in HANDLERS}


def test_deployed_definition_carries_configured_names_and_data(custom_pipeline: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(custom_pipeline)
    states = json.loads(state_machine["DefinitionString"])["States"]

    assert states["Deploy campaign"]["Parameters"]["name"] == "films-campaign"
    assert states["Prepare data"]["Parameters"]["rawKey"] == "raw/ml-latest-small/ratings.csv"
    assert states["Prepare data"]["Parameters"]["format"] == "ratings-csv"


def test_deployed_definition_carries_the_campaign_capacity(variations_pipeline: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(variations_pipeline)
    states = json.loads(state_machine["DefinitionString"])["States"]

    assert states["Deploy campaign"]["Parameters"]["name"] == "movielens-campaign"
    assert states["Deploy campaign"]["Parameters"]["minProvisionedTPS"] == 3


# --- schedule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("synthesized", "expression", "time_zone", "state"),
    [
        ("default_pipeline", "rate(7 days)", "UTC", "ENABLED"),
        ("custom_pipeline", "cron(0 3 ? * MON *)", "Europe/Berlin", "DISABLED"),
    ],
    ids=["default", "custom"],
)
def test_schedule_follows_the_config(
    request: pytest.FixtureRequest, synthesized: str, expression: str, time_zone: str, state: str
) -> None:
    pipeline: SynthesizedPipeline = request.getfixturevalue(synthesized)
    _, schedule = only_resource(pipeline, "AWS::Scheduler::Schedule")

    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"], schedule["State"]) == (
        expression,
        time_zone,
        state,
    )


def test_schedule_starts_the_state_machine(pipeline: SynthesizedPipeline) -> None:
    state_machine_id, _ = workflow_state_machine(pipeline)
    _, schedule = only_resource(pipeline, "AWS::Scheduler::Schedule")
    target = schedule["Target"]

    assert target["Arn"] == {"Ref": state_machine_id}
    assert json.loads(target["Input"]) == {"trigger": "schedule"}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}


def test_schedule_role_may_only_start_this_state_machine(pipeline: SynthesizedPipeline) -> None:
    state_machine_id, _ = workflow_state_machine(pipeline)
    _, schedule = only_resource(pipeline, "AWS::Scheduler::Schedule")
    role_id = schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]

    assert trust_principals(pipeline.resources[role_id]) == [{"Service": "scheduler.amazonaws.com"}]
    assert role_statements(pipeline, role_id) == [
        Statement("Allow", frozenset({"states:StartExecution"}), frozenset({f"${{{state_machine_id}}}"}), {}, None),
        *execution_key_statements(pipeline, state_machine_id),
    ]
