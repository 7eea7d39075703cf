"""The workflow's functions (stacks/lambda_functions.py): runtime, handler, logs, tracing, and a role holding exactly the actions its code calls.

Expected values are written out here, not read back from the code under test.
"""

from __future__ import annotations

import ast

import pytest

from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    FUNCTION_LOG_ACTIONS,
    FUNCTION_XRAY_ACTIONS,
    HANDLERS,
    LAMBDA_RUNTIME,
    LOG_DELIVERY_ACTIONS,
    PASSED_TO_PERSONALIZE,
    PASSED_TO_SCHEDULER,
    Statement,
    all_policy_statements,
    allowed_personalize_resources,
    bucket_id,
    encrypted,
    expected_handler_actions,
    function_ids,
    function_role_id,
    heartbeat_function_id,
    personalize_service_role_id,
    provider_framework_function_ids,
    resources_of_type,
    role_actions,
    role_statements,
    schedule_start_function_ids,
    state_machine_role_id,
    teardown_function_ids,
    trust_principals,
)

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
    expected = expected_handler_actions(pipeline, step) | FUNCTION_LOG_ACTIONS | FUNCTION_XRAY_ACTIONS

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
    data = pipeline.config.data

    assert readable == {
        f"${{{bucket}.Arn}}/{data.raw_key}",
        # The movie file beside the ratings (data.itemsKey null), unless data.useItems is off.
        *([f"${{{bucket}.Arn}}/{data.items_object_key}"] if data.uses_items else []),
        # Users' deletion requests, whose users every run leaves out.
        f"${{{bucket}.Arn}}/deletion-requests/*",
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

    # StartImport and StartDataDeletion hand Personalize its role for the job; with a key, the
    # dataset group is created with it too.
    passers = ["StartImport", "StartDataDeletion", *(["EnsureDatasetGroup"] if encrypted(pipeline) else [])]
    assert sorted(pass_role_grants, key=lambda grant: grant[0]) == [
        (
            function_role_id(pipeline, step),
            Statement(
                "Allow",
                frozenset({"iam:PassRole"}),
                frozenset({f"${{{personalize_service_role_id(pipeline)}.Arn}}"}),
                PASSED_TO_PERSONALIZE,
                None,
            ),
        )
        for step in sorted(passers, key=lambda step: function_role_id(pipeline, step))
    ]


def test_pass_role_goes_only_to_personalize_and_to_the_scheduler(pipeline: SynthesizedPipeline) -> None:
    conditions = [s.conditions for _, s in all_policy_statements(pipeline) if "iam:PassRole" in s.actions]
    to_personalize = 3 if encrypted(pipeline) else 2  # imports, deletion jobs, and the dataset group with a key

    assert sorted(map(str, conditions)) == sorted(
        map(str, [PASSED_TO_SCHEDULER] + [PASSED_TO_PERSONALIZE] * to_personalize)
    )


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


def test_prepare_step_memory_is_what_any_account_may_set_unless_configured(
    default_pipeline: SynthesizedPipeline, variations_pipeline: SynthesizedPipeline
) -> None:
    """Register lambda.memory-new-accounts: 3,008 MB (1.7 vCPUs' worth, two converter processes) by
    default; data.lambdaMemoryMb 3538 (VARIATIONS_BLOCK) gives two full vCPUs."""
    memory = []
    for synthesized in (default_pipeline, variations_pipeline):
        function = synthesized.resources[function_ids(synthesized)["PrepareData"]]["Properties"]
        memory.append((function["MemorySize"], function["Timeout"]))

    assert memory == [(3008, 900), (3538, 900)]
