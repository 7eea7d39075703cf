"""The teardown custom resource, its provider, its IAM, and the data bucket's retention switch."""

from __future__ import annotations

import json

from contract.names import PersonalizeNames
from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    PASSED_TO_SCHEDULER,
    Json,
    Statement,
    execution_key_statements,
    only_resource,
    personalize_arn,
    provider_framework_function_ids,
    render,
    resources_of_type,
    role_statements,
    workflow_state_machine,
)

LOG_ACTIONS = frozenset({"logs:CreateLogStream", "logs:PutLogEvents"})
XRAY_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})


def teardown_resource(pipeline: SynthesizedPipeline) -> tuple[str, Json]:
    logical_id, _ = only_resource(pipeline, "Custom::PersonalizeTeardown")
    return logical_id, pipeline.resources[logical_id]


def framework_function(pipeline: SynthesizedPipeline) -> Json:
    _, resource = teardown_resource(pipeline)
    framework_id = resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    function: Json = pipeline.resources[framework_id]["Properties"]
    return function


def user_function_id(pipeline: SynthesizedPipeline, variable: str) -> str:
    function_id: str = framework_function(pipeline)["Environment"]["Variables"][variable]["Fn::GetAtt"][0]
    return function_id


def role_of(pipeline: SynthesizedPipeline, function_id: str) -> str:
    role_id: str = pipeline.resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    return role_id


def own_statements(pipeline: SynthesizedPipeline, function_id: str) -> list[Statement]:
    """The function role's statements other than its log group and X-Ray."""
    return [
        s
        for s in role_statements(pipeline, role_of(pipeline, function_id))
        if s.actions not in (LOG_ACTIONS, XRAY_ACTIONS)
    ]


def test_the_teardown_resource_names_the_pipeline_state_machine_and_schedule(pipeline: SynthesizedPipeline) -> None:
    _, resource = teardown_resource(pipeline)
    state_machine_id, _ = workflow_state_machine(pipeline)
    schedule_id, _ = only_resource(pipeline, "AWS::Scheduler::Schedule")

    names = PersonalizeNames(pipeline.config.pipeline_name)

    assert {k: v for k, v in resource["Properties"].items() if k != "ServiceToken"} == {
        "PipelineName": pipeline.config.pipeline_name,
        "StateMachineArn": {"Ref": state_machine_id},
        "ScheduleName": {"Ref": schedule_id},
        "ScheduleGroupName": "default",
        "GiveUpAfterSeconds": "3300",
        # The names it deletes come from the one naming scheme; the handler derives none.
        "Names": names.as_properties(),
    }


def test_the_teardown_resource_is_deleted_before_what_it_needs(pipeline: SynthesizedPipeline) -> None:
    _, resource = teardown_resource(pipeline)
    state_machine_id, _ = workflow_state_machine(pipeline)
    schedule_id, _ = only_resource(pipeline, "AWS::Scheduler::Schedule")
    needed = {state_machine_id, schedule_id}
    for variable in ("USER_ON_EVENT_FUNCTION_ARN", "USER_IS_COMPLETE_FUNCTION_ARN"):
        function_id = user_function_id(pipeline, variable)
        role_id = role_of(pipeline, function_id)
        policy_ids = {
            pid
            for pid, policy in resources_of_type(pipeline, "AWS::IAM::Policy").items()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
        }
        needed |= {function_id, role_id} | policy_ids

    assert needed <= set(resource["DependsOn"])


def test_the_provider_calls_our_handlers_and_awaits_deletions_for_an_hour(pipeline: SynthesizedPipeline) -> None:
    variables = framework_function(pipeline)["Environment"]["Variables"]
    waiter_id = variables["WAITER_STATE_MACHINE_ARN"]["Ref"]
    definition = json.loads(render(pipeline.resources[waiter_id]["Properties"]["DefinitionString"]))
    (retry,) = definition["States"]["framework-isComplete-task"]["Retry"]
    handlers = {
        pipeline.resources[user_function_id(pipeline, v)]["Properties"]["Handler"]
        for v in ("USER_ON_EVENT_FUNCTION_ARN", "USER_IS_COMPLETE_FUNCTION_ARN")
    }

    assert handlers == {"teardown.on_event", "teardown.is_complete"}
    assert (retry["IntervalSeconds"], retry["MaxAttempts"], retry["BackoffRate"]) == (60, 60, 1)
    # The handler's own deadline (3300 s) comes before the framework's and CloudFormation's hour.
    assert 3300 + 5 * 60 <= retry["IntervalSeconds"] * retry["MaxAttempts"]


def test_the_provider_framework_logs_with_a_retention(pipeline: SynthesizedPipeline) -> None:
    log_group_id = framework_function(pipeline)["LoggingConfig"]["LogGroup"]["Ref"]

    assert pipeline.resources[log_group_id]["Properties"]["RetentionInDays"] == 90
    # onEvent, isComplete and onTimeout of the teardown, and onEvent of the schedule's start date
    # (a rate() schedule only).
    assert len(provider_framework_function_ids(pipeline)) == (4 if pipeline.config.schedule.is_rate else 3)


def test_pausing_may_only_disable_this_schedule_and_stop_this_state_machine(pipeline: SynthesizedPipeline) -> None:
    state_machine_id, _ = workflow_state_machine(pipeline)
    schedule_id, schedule = only_resource(pipeline, "AWS::Scheduler::Schedule")
    schedule_role_id = schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]
    executions = (
        f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:${{{state_machine_id}.Name}}:*"
    )

    assert sorted(
        own_statements(pipeline, user_function_id(pipeline, "USER_ON_EVENT_FUNCTION_ARN")), key=str
    ) == sorted(
        [
            Statement(
                "Allow",
                frozenset({"scheduler:GetSchedule", "scheduler:UpdateSchedule"}),
                frozenset({f"${{{schedule_id}.Arn}}"}),
                {},
                None,
            ),
            Statement(
                "Allow",
                frozenset({"iam:PassRole"}),
                frozenset({f"${{{schedule_role_id}.Arn}}"}),
                PASSED_TO_SCHEDULER,
                None,
            ),
            Statement("Allow", frozenset({"states:ListExecutions"}), frozenset({f"${{{state_machine_id}}}"}), {}, None),
            Statement("Allow", frozenset({"states:StopExecution"}), frozenset({executions}), {}, None),
            *execution_key_statements(pipeline, state_machine_id),
        ],
        key=str,
    )


def test_deleting_may_only_touch_this_pipelines_personalize_resources(pipeline: SynthesizedPipeline) -> None:
    name = pipeline.config.pipeline_name
    statements = own_statements(pipeline, user_function_id(pipeline, "USER_IS_COMPLETE_FUNCTION_ARN"))
    by_action = {action: s.resources for s in statements for action in s.actions}

    assert by_action == {
        **{
            f"personalize:List{kind}": frozenset({"*"})
            for kind in (
                "DatasetGroups",
                "Campaigns",
                "Solutions",
                "SolutionVersions",
                "EventTrackers",
                "Filters",
                "Datasets",
                "Schemas",
            )
        },
        # Every solution and campaign the config names or named before (a removed one must not keep
        # billing): {name}-solution, {name}-solution-<solution>, their versions, and their campaigns.
        "personalize:DeleteCampaign": frozenset({personalize_arn(f"campaign/{name}-campaign*")}),
        # Authorized against the solution type (register iam.personalize.solution-version-actions).
        "personalize:StopSolutionVersionCreation": frozenset({personalize_arn(f"solution/{name}-solution*")}),
        "personalize:DeleteSolution": frozenset({personalize_arn(f"solution/{name}-solution*")}),
        "personalize:DeleteEventTracker": frozenset({personalize_arn("event-tracker/*")}),
        "personalize:DeleteFilter": frozenset({personalize_arn(f"filter/{name}-*")}),
        "personalize:DeleteDataset": frozenset({personalize_arn(f"dataset/{name}/*")}),
        "personalize:DeleteSchema": frozenset(
            {personalize_arn(f"schema/{name}-interactions"), personalize_arn(f"schema/{name}-items-*")}
        ),
        "personalize:DeleteDatasetGroup": frozenset({personalize_arn(f"dataset-group/{name}")}),
    }
