"""Fine-grained assertions on the synthesized CloudFormation template.

The properties asserted here are the ones a reviewer relies on before deploying: the data
bucket is private, encrypted and TLS-only; Personalize can read only the training prefix of
this account's bucket; every role holds only the actions its code calls, scoped to this
pipeline's resources; the state machine deploys exactly the emitted definition, traced and
logged; the schedule follows the config. Expected values are written out here, not read back
from the code under test.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    FUNCTION_LOG_ACTIONS,
    FUNCTION_XRAY_ACTIONS,
    HANDLER_ACTIONS,
    HANDLERS,
    LAMBDA_RUNTIME,
    LOG_DELIVERY_ACTIONS,
    LOG_RETENTION_DAYS,
    PASSED_TO_PERSONALIZE,
    PASSED_TO_SCHEDULER,
    PERSONALIZE_PRINCIPAL,
    SOURCE_ACCOUNT,
    STATE_MACHINE_PERSONALIZE_ACTIONS,
    STATE_MACHINE_XRAY_ACTIONS,
    Json,
    Statement,
    all_policy_statements,
    allowed_personalize_resources,
    as_list,
    bucket_id,
    function_ids,
    function_role_id,
    only_resource,
    personalize_service_role_id,
    provider_framework_function_ids,
    render,
    resources_of_type,
    role_actions,
    role_statements,
    schedule_start_function_ids,
    state_machine_role_id,
    substitution_target,
    task_resources,
    teardown_function_ids,
    trust_principals,
    workflow_state_machine,
)

# --- data bucket ----------------------------------------------------------------------------


def test_stack_has_exactly_one_data_bucket(pipeline: SynthesizedPipeline) -> None:
    pipeline.template.resource_count_is("AWS::S3::Bucket", 1)


def test_data_bucket_is_encrypted_with_s3_managed_keys(pipeline: SynthesizedPipeline) -> None:
    pipeline.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": Match.object_equals(
                {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
            )
        },
    )


def test_data_bucket_is_versioned(pipeline: SynthesizedPipeline) -> None:
    pipeline.template.has_resource_properties("AWS::S3::Bucket", {"VersioningConfiguration": {"Status": "Enabled"}})


def test_data_bucket_blocks_all_public_access(pipeline: SynthesizedPipeline) -> None:
    pipeline.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": Match.object_equals(
                {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                }
            )
        },
    )


def test_data_bucket_disables_acls(pipeline: SynthesizedPipeline) -> None:
    pipeline.template.has_resource_properties(
        "AWS::S3::Bucket", {"OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}
    )


def test_data_bucket_survives_stack_deletion(pipeline: SynthesizedPipeline) -> None:
    pipeline.template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})


def test_only_training_files_expire(pipeline: SynthesizedPipeline) -> None:
    _, bucket = only_resource(pipeline, "AWS::S3::Bucket")
    expiring = [rule for rule in bucket["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in rule]

    assert [(rule["Prefix"], rule["ExpirationInDays"]) for rule in expiring] == [("training/", 90)]


def bucket_policy_statements(pipeline: SynthesizedPipeline) -> list[Statement]:
    _, policy = only_resource(pipeline, "AWS::S3::BucketPolicy")
    assert policy["Bucket"] == {"Ref": bucket_id(pipeline)}
    return [Statement.parse(s) for s in policy["PolicyDocument"]["Statement"]]


def test_bucket_policy_denies_requests_without_tls(pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(pipeline)
    deny_insecure = Statement(
        effect="Deny",
        actions=frozenset({"s3:*"}),
        resources=frozenset({f"${{{bucket}.Arn}}", f"${{{bucket}.Arn}}/*"}),
        conditions={"Bool": {"aws:SecureTransport": "false"}},
        principal={"AWS": "*"},
    )

    assert deny_insecure in bucket_policy_statements(pipeline)


def test_personalize_principal_reads_only_training_prefix_of_this_account(pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(pipeline)
    personalize_statements = [
        s for s in bucket_policy_statements(pipeline) if s.principal == {"Service": PERSONALIZE_PRINCIPAL}
    ]

    assert sorted(personalize_statements, key=lambda s: sorted(s.actions)) == [
        Statement(
            effect="Allow",
            actions=frozenset({"s3:GetObject"}),
            resources=frozenset({f"${{{bucket}.Arn}}/training/*"}),
            conditions=SOURCE_ACCOUNT,
            principal={"Service": PERSONALIZE_PRINCIPAL},
        ),
        Statement(
            effect="Allow",
            actions=frozenset({"s3:ListBucket"}),
            resources=frozenset({f"${{{bucket}.Arn}}"}),
            # As the Personalize developer guide writes it: no s3:prefix (register personalize.s3-access.policy).
            conditions=SOURCE_ACCOUNT,
            principal={"Service": PERSONALIZE_PRINCIPAL},
        ),
    ]


def test_bucket_policy_allows_no_other_principal(pipeline: SynthesizedPipeline) -> None:
    allowed_principals = [s.principal for s in bucket_policy_statements(pipeline) if s.effect == "Allow"]

    assert allowed_principals == [{"Service": PERSONALIZE_PRINCIPAL}] * 2


# --- the role Personalize assumes -----------------------------------------------------------


def test_personalize_role_trusts_only_personalize_in_this_account(pipeline: SynthesizedPipeline) -> None:
    role_id = personalize_service_role_id(pipeline)

    assert pipeline.resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Condition": SOURCE_ACCOUNT,
            "Effect": "Allow",
            "Principal": {"Service": PERSONALIZE_PRINCIPAL},
        }
    ]


def test_personalize_role_reads_only_training_prefix(pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(pipeline)
    statements = role_statements(pipeline, personalize_service_role_id(pipeline))

    assert sorted(statements, key=lambda s: sorted(s.actions)) == [
        Statement("Allow", frozenset({"s3:GetObject"}), frozenset({f"${{{bucket}.Arn}}/training/*"}), {}, None),
        Statement("Allow", frozenset({"s3:ListBucket"}), frozenset({f"${{{bucket}.Arn}}"}), {}, None),
    ]


# --- Lambda functions -----------------------------------------------------------------------


def test_state_machine_invokes_each_function_once(pipeline: SynthesizedPipeline) -> None:
    ids = function_ids(pipeline)

    others = provider_framework_function_ids(pipeline) | teardown_function_ids(pipeline)
    others |= {heartbeat_function_id(pipeline)} | schedule_start_function_ids(pipeline)

    assert len(set(ids.values())) == len(HANDLERS)
    assert set(ids.values()) == set(resources_of_type(pipeline, "AWS::Lambda::Function")) - others


@pytest.mark.parametrize("step", HANDLERS)
def test_function_runs_its_handler_on_python_3_14(pipeline: SynthesizedPipeline, step: str) -> None:
    function = pipeline.resources[function_ids(pipeline)[step]]["Properties"]

    assert (function["Handler"], function["Runtime"]) == (HANDLERS[step], LAMBDA_RUNTIME)


@pytest.mark.parametrize("step", HANDLERS)
def test_function_handler_exists_in_the_code_it_deploys(default_pipeline: SynthesizedPipeline, step: str) -> None:
    function = default_pipeline.resources[function_ids(default_pipeline)[step]]["Properties"]
    asset_hash = function["Code"]["S3Key"].removesuffix(".zip")
    module_name, function_name = function["Handler"].rsplit(".", 1)
    module = default_pipeline.outdir / f"asset.{asset_hash}" / f"{module_name}.py"

    tree = ast.parse(module.read_text())

    assert function_name in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_function_runtime_is_python_3_12_or_newer(pipeline: SynthesizedPipeline) -> None:
    # The provider framework's functions are CDK's own Node.js code; ours are all Python.
    framework = provider_framework_function_ids(pipeline)
    runtimes = {
        f["Properties"]["Runtime"]
        for rid, f in resources_of_type(pipeline, "AWS::Lambda::Function").items()
        if rid not in framework
    }

    for runtime in runtimes:
        major, minor = (int(part) for part in runtime.removeprefix("python").split("."))
        assert (major, minor) >= (3, 12), runtime


def test_each_function_has_its_own_role_trusting_only_lambda(pipeline: SynthesizedPipeline) -> None:
    role_ids = [function_role_id(pipeline, step) for step in HANDLERS]

    assert len(set(role_ids)) == len(HANDLERS)
    for role_id in role_ids:
        assert trust_principals(pipeline.resources[role_id]) == [{"Service": "lambda.amazonaws.com"}]


@pytest.mark.parametrize("step", HANDLERS)
def test_function_traces_and_logs_json_to_its_own_log_group(pipeline: SynthesizedPipeline, step: str) -> None:
    function = pipeline.resources[function_ids(pipeline)[step]]["Properties"]
    log_group_id = function["LoggingConfig"]["LogGroup"]["Ref"]

    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert pipeline.resources[log_group_id]["Type"] == "AWS::Logs::LogGroup"
    assert Statement(
        "Allow", FUNCTION_LOG_ACTIONS, frozenset({f"${{{log_group_id}.Arn}}"}), {}, None
    ) in role_statements(pipeline, function_role_id(pipeline, step))


@pytest.mark.parametrize("step", HANDLERS)
def test_function_role_holds_exactly_the_actions_its_handler_calls(pipeline: SynthesizedPipeline, step: str) -> None:
    expected = HANDLER_ACTIONS[step] | FUNCTION_LOG_ACTIONS | FUNCTION_XRAY_ACTIONS

    assert role_actions(pipeline, function_role_id(pipeline, step)) == expected


@pytest.mark.parametrize("step", HANDLERS)
def test_function_role_uses_any_resource_only_for_list_xray_and_own_metrics(
    pipeline: SynthesizedPipeline, step: str
) -> None:
    for statement in role_statements(pipeline, function_role_id(pipeline, step)):
        if "*" in statement.resources:
            for action in statement.actions:
                if action == "cloudwatch:PutMetricData":
                    assert statement.conditions == {"StringEquals": {"cloudwatch:namespace": "PersonalizePipeline"}}
                    continue
                assert action.startswith("personalize:List") or action in FUNCTION_XRAY_ACTIONS, action


def test_prepare_step_reads_only_the_configured_raw_key_and_the_state_record(pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(pipeline)
    statements = role_statements(pipeline, function_role_id(pipeline, "PrepareData"))
    readable = {resource for s in statements if "s3:GetObject" in s.actions for resource in s.resources}

    assert readable == {
        f"${{{bucket}.Arn}}/{pipeline.config.data.raw_key}",
        f"${{{bucket}.Arn}}/state/pipeline-state.json",
    }


def test_record_step_reads_and_writes_only_the_state_record(pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(pipeline)
    statements = role_statements(pipeline, function_role_id(pipeline, "RecordRun"))
    writable = {resource for s in statements if "s3:PutObject" in s.actions for resource in s.resources}
    readable = {resource for s in statements if "s3:GetObject" in s.actions for resource in s.resources}

    assert writable == readable == {f"${{{bucket}.Arn}}/state/pipeline-state.json"}


def test_quality_gate_reads_metrics_of_this_solutions_versions_only(pipeline: SynthesizedPipeline) -> None:
    statements = role_statements(pipeline, function_role_id(pipeline, "EvaluateVersion"))
    metrics = {
        resource for s in statements if "personalize:GetSolutionMetrics" in s.actions for resource in s.resources
    }
    described = {
        resource for s in statements if "personalize:DescribeCampaign" in s.actions for resource in s.resources
    }
    prefix = "arn:${AWS::Partition}:personalize:${AWS::Region}:${AWS::AccountId}"
    name = pipeline.config.pipeline_name

    # Authorized against the solution type (register iam.personalize.solution-version-actions).
    assert metrics == {f"{prefix}:solution/{name}-solution", f"{prefix}:solution/{name}-solution/*"}
    assert described == {f"{prefix}:campaign/{name}-campaign"}


def test_prepare_step_may_list_the_bucket_to_tell_a_missing_raw_file(pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(pipeline)
    statements = role_statements(pipeline, function_role_id(pipeline, "PrepareData"))
    listable = {resource for s in statements if "s3:ListBucket" in s.actions for resource in s.resources}

    assert listable == {f"${{{bucket}.Arn}}"}


def test_prepare_step_writes_only_under_training_prefix(pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(pipeline)
    statements = role_statements(pipeline, function_role_id(pipeline, "PrepareData"))
    writable = {resource for s in statements if "s3:PutObject" in s.actions for resource in s.resources}

    assert writable == {f"${{{bucket}.Arn}}/training/*"}


def test_pass_role_is_granted_once_for_the_personalize_role_to_personalize(pipeline: SynthesizedPipeline) -> None:
    pass_role_grants = [
        (rid, s)
        for rid, s in all_policy_statements(pipeline)
        if "iam:PassRole" in s.actions and s.conditions == PASSED_TO_PERSONALIZE
    ]

    assert pass_role_grants == [
        (
            function_role_id(pipeline, "StartImport"),
            Statement(
                "Allow",
                frozenset({"iam:PassRole"}),
                frozenset({f"${{{personalize_service_role_id(pipeline)}.Arn}}"}),
                PASSED_TO_PERSONALIZE,
                None,
            ),
        )
    ]


def test_pass_role_goes_only_to_personalize_and_to_the_scheduler(pipeline: SynthesizedPipeline) -> None:
    conditions = [s.conditions for _, s in all_policy_statements(pipeline) if "iam:PassRole" in s.actions]

    assert conditions == [PASSED_TO_PERSONALIZE, PASSED_TO_SCHEDULER] or conditions == [
        PASSED_TO_SCHEDULER,
        PASSED_TO_PERSONALIZE,
    ]


def test_personalize_permissions_name_only_this_pipelines_resources(pipeline: SynthesizedPipeline) -> None:
    allowed = allowed_personalize_resources(pipeline) | {"*"}
    for _, statement in all_policy_statements(pipeline):
        if any(action.startswith("personalize:") for action in statement.actions):
            assert statement.resources <= allowed, statement


# --- IAM across the stack (rules for every policy document: test_security_gates.py) ---------


def test_log_delivery_actions_are_only_on_the_state_machine_role(pipeline: SynthesizedPipeline) -> None:
    holders = {rid for rid, s in all_policy_statements(pipeline) if s.actions & LOG_DELIVERY_ACTIONS}

    assert holders == {state_machine_role_id(pipeline)}


@pytest.mark.parametrize("step", HANDLERS)
def test_function_role_carries_no_managed_policy(pipeline: SynthesizedPipeline, step: str) -> None:
    assert "ManagedPolicyArns" not in pipeline.resources[function_role_id(pipeline, step)]["Properties"]


# --- state machine --------------------------------------------------------------------------


def test_state_machine_deploys_exactly_the_emitted_definition(pipeline: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(pipeline)

    assert state_machine["DefinitionString"] == pipeline.definition_text


def test_every_definition_placeholder_has_a_substitution(pipeline: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(pipeline)
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", pipeline.definition_text))

    assert set(state_machine["DefinitionSubstitutions"]) == placeholders
    assert placeholders == {"DataBucketName", "PersonalizeRoleArn"} | {f"{step}FunctionArn" for step in HANDLERS}


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


def test_deployed_definition_carries_configured_names_and_capacity(custom_pipeline: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(custom_pipeline)
    states = json.loads(state_machine["DefinitionString"])["States"]

    assert states["Deploy campaign"]["Parameters"]["name"] == "films-campaign"
    assert states["Deploy campaign"]["Parameters"]["minProvisionedTPS"] == 3
    assert states["Prepare data"]["Parameters"]["rawKey"] == "raw/ml-latest-small/ratings.csv"
    assert states["Prepare data"]["Parameters"]["format"] == "ratings-csv"


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
        Statement("Allow", frozenset({"states:StartExecution"}), frozenset({f"${{{state_machine_id}}}"}), {}, None)
    ]


# --- logs and outputs -----------------------------------------------------------------------


def test_every_log_group_has_a_retention(pipeline: SynthesizedPipeline) -> None:
    log_groups = resources_of_type(pipeline, "AWS::Logs::LogGroup")

    # One per workflow function, one for the state machine, one per teardown function, one for
    # the teardown provider's framework functions, one for the retraining-age heartbeat, and for
    # a rate() schedule one for the start-date function and one for its provider.
    start_date = 2 if pipeline.config.schedule.is_rate else 0
    assert len(log_groups) == len(HANDLERS) + 1 + 2 + 1 + 1 + start_date
    assert {rid: lg["Properties"].get("RetentionInDays") for rid, lg in log_groups.items()} == {
        rid: LOG_RETENTION_DAYS for rid in log_groups
    }


def test_outputs_tell_where_to_upload_and_what_to_start(pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(pipeline)
    state_machine_id, _ = workflow_state_machine(pipeline)
    raw_key = pipeline.config.data.raw_key
    outputs = pipeline.template_json["Outputs"]

    assert outputs["DataBucketName"]["Value"] == {"Ref": bucket}
    assert outputs["RawDataKey"]["Value"] == raw_key
    assert render(outputs["RawDataUri"]["Value"]) == f"s3://${{{bucket}}}/{raw_key}"
    assert outputs["StateMachineArn"]["Value"] == {"Ref": state_machine_id}


def test_custom_outputs_name_the_configured_pipeline_and_raw_key(custom_pipeline: SynthesizedPipeline) -> None:
    custom_pipeline.template.has_output("PipelineName", {"Value": "films"})
    custom_pipeline.template.has_output("RawDataKey", {"Value": "raw/ml-latest-small/ratings.csv"})


# --- notifications --------------------------------------------------------------------------


def notification_topic_id(pipeline: SynthesizedPipeline) -> str:
    return only_resource(pipeline, "AWS::SNS::Topic")[0]


def test_the_topic_accepts_only_tls_publishing(pipeline: SynthesizedPipeline) -> None:
    topic = notification_topic_id(pipeline)
    _, policy = only_resource(pipeline, "AWS::SNS::TopicPolicy")
    statements = [Statement.parse(s) for s in policy["PolicyDocument"]["Statement"]]

    assert policy["Topics"] == [{"Ref": topic}]
    assert (
        Statement(
            "Deny",
            frozenset({"sns:Publish"}),
            frozenset({f"${{{topic}}}"}),
            {"Bool": {"aws:SecureTransport": "false"}},
            "*",
        )
        in statements
    )


def test_eventbridge_and_this_stacks_alarms_may_publish_to_the_topic(pipeline: SynthesizedPipeline) -> None:
    """The topic policy replaces SNS's default policy (register sns.topic-policy.alarm-publish)."""
    topic = notification_topic_id(pipeline)
    _, policy = only_resource(pipeline, "AWS::SNS::TopicPolicy")
    allowed = {json.dumps(s["Principal"]): s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"}
    alarms = set(resources_of_type(pipeline, "AWS::CloudWatch::Alarm"))

    assert set(allowed) == {'{"Service": "events.amazonaws.com"}', '{"Service": "cloudwatch.amazonaws.com"}'}
    events_statement = allowed['{"Service": "events.amazonaws.com"}']
    assert (events_statement["Action"], events_statement["Resource"]) == ("sns:Publish", {"Ref": topic})
    assert "Condition" not in events_statement
    alarms_statement = allowed['{"Service": "cloudwatch.amazonaws.com"}']
    assert (alarms_statement["Action"], alarms_statement["Resource"]) == ("sns:Publish", {"Ref": topic})
    condition = alarms_statement["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert {arn["Fn::GetAtt"][0] for arn in condition["ArnLike"]["aws:SourceArn"]} == alarms
    assert {arn["Fn::GetAtt"][1] for arn in condition["ArnLike"]["aws:SourceArn"]} == {"Arn"}
    assert len(alarms) == 3


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


def test_one_rule_per_outcome_routes_this_pipelines_events_to_the_topic(pipeline: SynthesizedPipeline) -> None:
    topic = notification_topic_id(pipeline)
    state_machine_id, _ = workflow_state_machine(pipeline)
    rules = {
        rid: r
        for rid, r in resources_of_type(pipeline, "AWS::Events::Rule").items()
        if "EventPattern" in r["Properties"]
    }
    patterns = {}
    for rule in rules.values():
        properties = rule["Properties"]
        assert properties["State"] == "ENABLED"
        assert "EventBusName" not in properties  # the default bus, where the workflow puts its events
        assert [target["Arn"] for target in properties["Targets"]] == [{"Ref": topic}]
        pattern = properties["EventPattern"]
        patterns[pattern["detail"]["outcome"][0]] = pattern

    assert set(patterns) == {"succeeded", "failed", "skipped", "rejected"}
    for outcome, pattern in patterns.items():
        assert pattern == {
            "source": ["personalize-retraining"],
            "detail-type": ["Retraining run finished"],
            "resources": [{"Ref": state_machine_id}],
            "detail": {"pipelineName": [pipeline.config.pipeline_name], "outcome": [outcome]},
        }


def test_no_email_subscription_unless_configured(pipeline: SynthesizedPipeline) -> None:
    pipeline.template.resource_count_is("AWS::SNS::Subscription", 0)


def test_the_configured_email_is_subscribed_to_the_topic(variations_pipeline: SynthesizedPipeline) -> None:
    with_email = variations_pipeline
    _, subscription = only_resource(with_email, "AWS::SNS::Subscription")

    assert subscription == {
        "Protocol": "email",
        "TopicArn": {"Ref": notification_topic_id(with_email)},
        "Endpoint": "ml-ops@example.com",
    }


def test_outputs_name_the_notification_topic(pipeline: SynthesizedPipeline) -> None:
    assert pipeline.template_json["Outputs"]["NotificationTopicArn"]["Value"] == {
        "Ref": notification_topic_id(pipeline)
    }


# --- alarms and dashboard -------------------------------------------------------------------


def alarms(pipeline: SynthesizedPipeline) -> dict[str, Json]:
    """Alarm properties by metric name."""
    found = {}
    for alarm in resources_of_type(pipeline, "AWS::CloudWatch::Alarm").values():
        found[alarm["Properties"]["MetricName"]] = alarm["Properties"]
    assert len(found) == 3, sorted(found)
    return found


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut"])
def test_a_failed_or_timed_out_execution_alarms_within_five_minutes(pipeline: SynthesizedPipeline, metric: str) -> None:
    state_machine_id, _ = workflow_state_machine(pipeline)
    alarm = alarms(pipeline)[metric]

    assert {key: alarm[key] for key in alarm if key not in ("AlarmDescription", "AlarmActions")} == {
        "Namespace": "AWS/States",
        "MetricName": metric,
        "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": state_machine_id}}],
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }
    assert alarm["AlarmActions"] == [{"Ref": only_resource(pipeline, "AWS::SNS::Topic")[0]}]
    assert "docs/runbook.md" in alarm["AlarmDescription"]


@pytest.mark.parametrize(
    ("synthesized", "threshold_hours"),
    # rate(7 days) and cron(0 3 ? * MON *) both allow a week between runs, plus a day.
    [("default_pipeline", 192), ("custom_pipeline", 192)],
    ids=["default", "custom"],
)
def test_no_recent_retraining_alarms_when_the_schedule_is_overdue_or_the_heartbeat_is_silent(
    request: pytest.FixtureRequest, synthesized: str, threshold_hours: int
) -> None:
    pipeline: SynthesizedPipeline = request.getfixturevalue(synthesized)
    alarm = alarms(pipeline)["HoursSinceLastRetraining"]
    topic = {"Ref": only_resource(pipeline, "AWS::SNS::Topic")[0]}

    assert {key: alarm[key] for key in alarm if key != "AlarmDescription"} == {
        "Namespace": "PersonalizePipeline",
        "MetricName": "HoursSinceLastRetraining",
        "Dimensions": [{"Name": "PipelineName", "Value": pipeline.config.pipeline_name}],
        "Statistic": "Maximum",
        "Period": 3600,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": threshold_hours,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "breaching",
        "AlarmActions": [topic],
        "OKActions": [topic],
    }


def test_the_staleness_threshold_follows_the_schedule(variations_pipeline: SynthesizedPipeline) -> None:
    daily = variations_pipeline

    assert alarms(daily)["HoursSinceLastRetraining"]["Threshold"] == 48


def heartbeat_function_id(pipeline: SynthesizedPipeline) -> str:
    (function_id,) = [
        rid
        for rid, function in resources_of_type(pipeline, "AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == "run_record.report_retraining_age"
    ]
    return function_id


def test_an_hourly_heartbeat_reports_the_age_of_the_last_retraining(pipeline: SynthesizedPipeline) -> None:
    function_id = heartbeat_function_id(pipeline)
    (rule,) = [
        r["Properties"]
        for r in resources_of_type(pipeline, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    (target,) = rule["Targets"]

    assert rule["ScheduleExpression"] == "rate(1 hour)"
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    # The input is JSON text with the bucket's name joined in at deploy time.
    text = render(target["Input"]).replace(f"${{{bucket_id(pipeline)}}}", "<bucket>")
    assert json.loads(text) == {
        "bucket": "<bucket>",
        "stateKey": "state/pipeline-state.json",
        "metricNamespace": "PersonalizePipeline",
        "pipelineName": pipeline.config.pipeline_name,
    }


def test_the_heartbeat_reads_only_the_state_record_and_puts_only_its_metric(pipeline: SynthesizedPipeline) -> None:
    function = pipeline.resources[heartbeat_function_id(pipeline)]["Properties"]
    role_id = function["Role"]["Fn::GetAtt"][0]
    bucket = bucket_id(pipeline)
    statements = role_statements(pipeline, role_id)

    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert (
        role_actions(pipeline, role_id)
        == {"s3:GetObject", "s3:ListBucket", "cloudwatch:PutMetricData"} | FUNCTION_LOG_ACTIONS | FUNCTION_XRAY_ACTIONS
    )
    readable = {r for s in statements if "s3:GetObject" in s.actions for r in s.resources}
    assert readable == {f"${{{bucket}.Arn}}/state/pipeline-state.json"}


def test_the_dashboard_shows_outcomes_stage_durations_and_the_deployed_models_metric(
    pipeline: SynthesizedPipeline,
) -> None:
    _, dashboard = only_resource(pipeline, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"])

    for expected in (
        "MatchedEvents",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "StageDuration",
        "SolutionVersion.FULL",
        "DatasetImportJob",
        "CampaignUpdate",
        "DeployedModelMetric",
        pipeline.config.quality_gate.metric,
        "HoursSinceLastRetraining",
    ):
        assert expected in body, expected
