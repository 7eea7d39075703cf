"""What the infrastructure tests share: the facts they assert and the ways they read a template.

Every test module of tests/infra imports from here, never from another test module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.infra.conftest import SynthesizedPipeline

Json = dict[str, Any]

PERSONALIZE_PRINCIPAL = "personalize.amazonaws.com"
SOURCE_ACCOUNT = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
PASSED_TO_PERSONALIZE = {"StringEquals": {"iam:PassedToService": PERSONALIZE_PRINCIPAL}}
PASSED_TO_SCHEDULER = {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
LOG_RETENTION_DAYS = 90
LAMBDA_RUNTIME = "python3.14"

# Actions every function role holds besides its own: write to its log group, send traces.
FUNCTION_LOG_ACTIONS = frozenset({"logs:CreateLogStream", "logs:PutLogEvents"})
FUNCTION_XRAY_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})
STATE_MACHINE_XRAY_ACTIONS = FUNCTION_XRAY_ACTIONS | {"xray:GetSamplingRules", "xray:GetSamplingTargets"}
# What Step Functions needs to deliver execution logs (vended log delivery); these APIs support
# no resource-level permissions, so "*" is the only possible resource.
LOG_DELIVERY_ACTIONS = frozenset(
    {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)

# Workflow step (the key of its ``<Step>FunctionArn`` substitution) -> its Lambda handler.
HANDLERS = {
    "LookForAnotherRun": "run_guard.handler",
    "PrepareData": "prepare_data.handler",
    "EnsureDatasetGroup": "personalize_steps.ensure_dataset_group",
    "EnsureDataset": "personalize_steps.ensure_dataset",
    "StartImport": "personalize_steps.start_import",
    "EnsureFilters": "personalize_steps.ensure_filters",
    "StartDataDeletion": "personalize_steps.start_data_deletion",
    "CompleteDeletionRequests": "prepare_data.complete_deletion_requests",
    "EnsureSolution": "personalize_steps.ensure_solution",
    "StartTraining": "personalize_steps.start_training",
    "EvaluateVersion": "personalize_steps.evaluate_version",
    "DeployCampaign": "personalize_steps.deploy_campaign",
    "SmokeTest": "personalize_steps.smoke_test",
    "RecordRun": "run_record.record_run",
    # data.engine auto (the default): after the Glue job, its counts and users file.
    "ReadGlueOutput": "prepare_data.glue_output",
}

# The AWS calls each handler makes (read from lambdas/), as IAM actions.
HANDLER_ACTIONS = {
    # Decides on ARNs and start times (register sfn.list-executions.eventual-consistency).
    "LookForAnotherRun": {"states:ListExecutions"},
    # ListBucket lets S3 answer a missing raw file with NoSuchKey (which the handler turns into
    # "upload your data here") instead of AccessDenied.
    "PrepareData": {"s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:AbortMultipartUpload"},
    # The job's counts and part files; the users file copied into place for a batch job.
    "ReadGlueOutput": {"s3:GetObject", "s3:ListBucket"},
    # Delete*: a CREATE FAILED resource of the pipeline is replaced instead of blocking every run.
    "EnsureDatasetGroup": {
        "personalize:ListDatasetGroups",
        "personalize:CreateDatasetGroup",
        "personalize:DeleteDatasetGroup",
        "personalize:DescribeDatasetGroup",  # an existing group's KMS key
    },
    "EnsureDataset": {
        "personalize:ListSchemas",
        "personalize:CreateSchema",
        "personalize:DescribeSchema",
        "personalize:ListDatasets",
        "personalize:CreateDataset",
        "personalize:DescribeDataset",
        "personalize:DeleteDataset",
        # An existing dataset moves to a newer schema (register personalize.dataset.update).
        "personalize:UpdateDataset",
    },
    # DescribeDataset: no import while the dataset moves to a newer schema.
    "StartImport": {
        "personalize:ListDatasetImportJobs",
        "personalize:CreateDatasetImportJob",
        "personalize:DescribeDataset",
        "iam:PassRole",
    },
    "EnsureSolution": {
        "personalize:ListSolutions",
        "personalize:CreateSolution",
        "personalize:DescribeSolution",
        "personalize:DeleteSolution",
    },
    "StartTraining": {
        "personalize:ListSolutionVersions",
        "personalize:CreateSolutionVersion",
        "personalize:DescribeSolutionVersion",
    },
    "EvaluateVersion": {
        "personalize:ListCampaigns",
        "personalize:DescribeCampaign",
        "personalize:GetSolutionMetrics",
    },
    "DeployCampaign": {
        "personalize:ListCampaigns",
        "personalize:CreateCampaign",
        "personalize:UpdateCampaign",
        "personalize:DescribeCampaign",
        "personalize:DeleteCampaign",
    },
    # DescribeFilter: the filter it asks through must be ACTIVE.
    "SmokeTest": {"personalize:GetRecommendations", "personalize:DescribeFilter"},
    # Users' deletion requests: the job, and the requests moved once it is COMPLETED.
    "StartDataDeletion": {"personalize:ListDataDeletionJobs", "personalize:CreateDataDeletionJob", "iam:PassRole"},
    "CompleteDeletionRequests": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"},
    # Filters named <pipeline>-filter-...: kept as configured; ListDatasets: a filter on a dataset
    # the group does not have yet waits.
    "EnsureFilters": {
        "personalize:ListFilters",
        "personalize:ListDatasets",
        "personalize:CreateFilter",
        "personalize:DescribeFilter",
        "personalize:DeleteFilter",
    },
    # Read-modify-write of the state record; ListBucket as for PrepareData (first run: no record).
    # Stage durations and the deployed model's metric go to CloudWatch for the dashboard.
    "RecordRun": {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "cloudwatch:PutMetricData"},
}

STATE_MACHINE_PERSONALIZE_ACTIONS = {
    "personalize:DescribeDatasetGroup",
    "personalize:DescribeDataset",
    "personalize:DescribeDatasetImportJob",
    "personalize:DescribeSolution",
    "personalize:DescribeSolutionVersion",
    "personalize:DescribeCampaign",
    "personalize:DescribeDataDeletionJob",
}


# --- reading the template -------------------------------------------------------------------


def render(value: Any) -> str:
    """An intrinsic-function value as readable text: ``${Logical.Arn}``, ``${AWS::AccountId}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return "${" + argument + "}"
        if function == "Fn::GetAtt":
            return "${" + ".".join(argument) + "}"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render(part) for part in parts)
        if function == "Fn::Sub" and isinstance(argument, str):
            return argument  # the CDK assets bucket's name: cdk-<qualifier>-assets-${AWS::AccountId}-${AWS::Region}
    raise AssertionError(f"unexpected value in the template: {value!r}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    """One IAM policy statement, normalized (actions and resources as rendered sets)."""

    effect: str
    actions: frozenset[str]
    resources: frozenset[str]
    conditions: Json
    principal: Any

    @classmethod
    def parse(cls, raw: Json) -> Statement:
        return cls(
            effect=raw["Effect"],
            actions=frozenset(as_list(raw["Action"])),
            resources=frozenset(render(r) for r in as_list(raw.get("Resource", []))),
            conditions=raw.get("Condition", {}),
            principal=raw.get("Principal"),
        )


def resources_of_type(pipeline: SynthesizedPipeline, resource_type: str) -> dict[str, Json]:
    return {rid: r for rid, r in pipeline.resources.items() if r["Type"] == resource_type}


def only_resource(pipeline: SynthesizedPipeline, resource_type: str) -> tuple[str, Json]:
    """The logical id and properties of the one resource of ``resource_type``."""
    found = resources_of_type(pipeline, resource_type)
    assert len(found) == 1, f"expected exactly one {resource_type}, found {sorted(found)}"
    ((logical_id, resource),) = found.items()
    return logical_id, resource.get("Properties", {})


def role_statements(pipeline: SynthesizedPipeline, role_id: str) -> list[Statement]:
    """Every statement granted to a role: its attached AWS::IAM::Policy resources and inline policies."""
    statements: list[Statement] = []
    for policy in resources_of_type(pipeline, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += [Statement.parse(s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    for inline in pipeline.resources[role_id]["Properties"].get("Policies", []):
        statements += [Statement.parse(s) for s in inline["PolicyDocument"]["Statement"]]
    return statements


def role_actions(pipeline: SynthesizedPipeline, role_id: str) -> set[str]:
    return {action for statement in role_statements(pipeline, role_id) for action in statement.actions}


def all_policy_statements(pipeline: SynthesizedPipeline) -> Iterator[tuple[str, Statement]]:
    """(role id, statement) for every identity-policy statement in the stack."""
    for role_id in resources_of_type(pipeline, "AWS::IAM::Role"):
        for statement in role_statements(pipeline, role_id):
            yield role_id, statement


def trust_principals(role: Json) -> list[Any]:
    return [s["Principal"] for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]


def personalize_service_role_id(pipeline: SynthesizedPipeline) -> str:
    roles = [
        rid
        for rid, role in resources_of_type(pipeline, "AWS::IAM::Role").items()
        if {"Service": PERSONALIZE_PRINCIPAL} in trust_principals(role)
    ]
    assert len(roles) == 1, roles
    return roles[0]


def workflow_state_machine(pipeline: SynthesizedPipeline) -> tuple[str, Json]:
    """The retraining state machine (its definition is a literal; the teardown provider's waiter is not)."""
    found = {
        rid: r["Properties"]
        for rid, r in resources_of_type(pipeline, "AWS::StepFunctions::StateMachine").items()
        if isinstance(r["Properties"]["DefinitionString"], str)
    }
    assert len(found) == 1, sorted(found)
    ((logical_id, properties),) = found.items()
    return logical_id, properties


def provider_framework_function_ids(pipeline: SynthesizedPipeline) -> set[str]:
    """CDK's own Node.js functions of the custom-resource provider framework."""
    return {
        rid
        for rid, function in resources_of_type(pipeline, "AWS::Lambda::Function").items()
        if function["Properties"].get("Description", "").startswith("AWS CDK resource provider framework")
    }


def schedule_start_function_ids(pipeline: SynthesizedPipeline) -> set[str]:
    """The function that computes the schedule's StartDate at deploy time (rate schedules only)."""
    return {
        rid
        for rid, function in resources_of_type(pipeline, "AWS::Lambda::Function").items()
        if function["Properties"].get("Handler") == "schedule_start.on_event"
    }


def teardown_function_ids(pipeline: SynthesizedPipeline) -> set[str]:
    return {
        rid
        for rid, function in resources_of_type(pipeline, "AWS::Lambda::Function").items()
        if function["Properties"]["Handler"].startswith("teardown.")
    }


def substitution_target(substitutions: Json, placeholder: str) -> str:
    """The logical id that a ``{"Fn::GetAtt": [id, "Arn"]}`` substitution points at."""
    value = substitutions[placeholder]
    assert set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][1] == "Arn", value
    logical_id: str = value["Fn::GetAtt"][0]
    return logical_id


def function_ids(pipeline: SynthesizedPipeline) -> dict[str, str]:
    """Workflow step -> logical id of the function the state machine invokes for it."""
    _, state_machine = workflow_state_machine(pipeline)
    substitutions = state_machine["DefinitionSubstitutions"]
    return {step: substitution_target(substitutions, f"{step}FunctionArn") for step in HANDLERS}


def function_role_id(pipeline: SynthesizedPipeline, step: str) -> str:
    role = pipeline.resources[function_ids(pipeline)[step]]["Properties"]["Role"]
    assert set(role) == {"Fn::GetAtt"} and role["Fn::GetAtt"][1] == "Arn", role
    role_id: str = role["Fn::GetAtt"][0]
    return role_id


def state_machine_role_id(pipeline: SynthesizedPipeline) -> str:
    _, state_machine = workflow_state_machine(pipeline)
    role_id: str = state_machine["RoleArn"]["Fn::GetAtt"][0]
    return role_id


def bucket_id(pipeline: SynthesizedPipeline) -> str:
    return only_resource(pipeline, "AWS::S3::Bucket")[0]


def task_resources(definition: Json) -> Iterator[str]:
    """The Resource of every Task state, at any depth of the definition."""
    for state in definition["States"].values():
        if state["Type"] == "Task":
            yield state["Resource"]
        for branch in state.get("Branches", []) + ([state["Iterator"]] if "Iterator" in state else []):
            yield from task_resources(branch)


def personalize_arn(resource: str) -> str:
    return f"arn:${{AWS::Partition}}:personalize:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"


def allowed_personalize_resources(pipeline: SynthesizedPipeline) -> set[str]:
    """Every Personalize ARN this pipeline may touch: its own names, and the configured recipe."""
    name = pipeline.config.pipeline_name
    return {
        personalize_arn(f"dataset-group/{name}"),
        personalize_arn(f"schema/{name}-interactions"),
        # Items schemas carry a hash of their fields; items import jobs have their own prefix.
        personalize_arn(f"schema/{name}-items-*"),
        personalize_arn(f"dataset/{name}/*"),
        personalize_arn(f"dataset-import-job/{name}-import-*"),
        personalize_arn(f"dataset-import-job/{name}-items-*"),
        personalize_arn(f"data-deletion-job/{name}-delete-*"),
        personalize_arn(f"solution/{name}-solution"),
        personalize_arn(f"solution/{name}-solution/*"),
        personalize_arn(f"campaign/{name}-campaign"),
        # The teardown deletes every solution and campaign the config names or named before.
        personalize_arn(f"solution/{name}-solution*"),
        personalize_arn(f"campaign/{name}-campaign*"),
        # The teardown deletes event trackers and filters named <pipeline>-… in the dataset group;
        # a tracker's ARN carries an id, not its name, so no narrower pattern exists for it.
        personalize_arn(f"filter/{name}-*"),
        # The filters the config names, which the workflow creates, replaces and removes.
        personalize_arn(f"filter/{name}-filter-*"),
        personalize_arn("event-tracker/*"),
        pipeline.config.recipe_arn,
    }


def notification_topic_id(pipeline: SynthesizedPipeline) -> str:
    return only_resource(pipeline, "AWS::SNS::Topic")[0]


def heartbeat_function_id(pipeline: SynthesizedPipeline) -> str:
    (function_id,) = [
        rid
        for rid, function in resources_of_type(pipeline, "AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == "run_record.report_retraining_age"
    ]
    return function_id


# With encryption.kmsKey, what each role holds besides its handler's calls: the functions that
# read and write SSE-KMS objects, and the dataset group step, which creates the group with the key
# (passing the Personalize role).
KEY_ACTIONS = {
    "PrepareData": {"kms:Decrypt", "kms:GenerateDataKey"},
    "RecordRun": {"kms:Decrypt", "kms:GenerateDataKey"},
    "CompleteDeletionRequests": {"kms:Decrypt", "kms:GenerateDataKey"},
    "ReadGlueOutput": {"kms:Decrypt", "kms:GenerateDataKey"},
    "EnsureDatasetGroup": {"iam:PassRole"},
}
PERSONALIZE_ROLE_KEY_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ListGrants"}


def encrypted(pipeline: SynthesizedPipeline) -> bool:
    """Whether the config names or creates a customer-managed key."""
    return pipeline.config.encryption.kms_key is not None


def expected_handler_actions(pipeline: SynthesizedPipeline, step: str) -> set[str]:
    """The step's handler calls, plus what the key adds in an encrypted pipeline."""
    return HANDLER_ACTIONS[step] | (KEY_ACTIONS.get(step, set()) if encrypted(pipeline) else set())


def execution_key_statements(pipeline: SynthesizedPipeline, state_machine_id: str) -> list[Statement]:
    """With a key: the grant a caller that starts or stops executions holds, on the key, for this
    state machine's encryption context only (none without a key)."""
    if not encrypted(pipeline):
        return []
    key = pipeline.config.encryption.imported_key_arn or "${EncryptionKey3A692D6E.Arn}"
    context = {"StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": {"Ref": state_machine_id}}}
    return [Statement("Allow", frozenset({"kms:Decrypt", "kms:GenerateDataKey"}), frozenset({key}), context, None)]
