"""The workflow's Lambda functions, each with its own role holding only the actions it calls."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contract.events import METRIC_NAMESPACE
from contract.functions import (
    COMPLETE_DELETION_REQUESTS,
    DEPLOY_CAMPAIGN,
    ENSURE_DATASET,
    ENSURE_DATASET_GROUP,
    ENSURE_FILTERS,
    ENSURE_SOLUTION,
    EVALUATE_VERSION,
    LOOK_FOR_ANOTHER_RUN,
    PREPARE_DATA,
    PUBLISH_BATCH_OUTPUT,
    READ_GLUE_OUTPUT,
    RECORD_IMPORT,
    RECORD_RUN,
    SMOKE_TEST,
    START_BATCH_INFERENCE,
    START_DATA_DELETION,
    START_IMPORT,
    START_TRAINING,
    VALIDATE_BATCH_OUTPUT,
    FunctionSpec,
    workflow_functions,
)
from contract.layout import (
    BATCH_INPUT_PREFIX,
    DELETION_REQUESTS_PREFIX,
    IMPORTED_OBJECTS_KEY,
    MANIFEST_KEY,
    STATE_KEY,
    TRAINING_PREFIX,
)
from stacks.config import DeploymentConfig
from stacks.contract_layer import contract_layer
from stacks.nag_acknowledgements import acknowledge_reviewed_wildcards
from stacks.personalize_access import PersonalizeArns

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
RUNTIME = lambda_.Runtime.PYTHON_3_14
# Why a function role holds statements on "*" (cdk-nag AwsSolutions-IAM5 acknowledgement).
TRACING_REASON = (
    "X-Ray PutTraceSegments and PutTelemetryRecords (active tracing) support no resource-level permissions."
)
LIST_REASON = "Personalize List operations support no resource-level permissions; the step finds its resources by name."
METRICS_REASON = (
    "CloudWatch PutMetricData supports no resource-level permissions; the grant is limited to the pipeline's "
    "own namespace by the cloudwatch:namespace condition."
)


def allow(actions: list[str], resources: list[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=actions, resources=resources)


def pass_to_personalize(role: iam.IRole) -> iam.PolicyStatement:
    """Passing the role Personalize assumes, to Personalize only (an import job, a dataset group with a key)."""
    return iam.PolicyStatement(
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
    )


def put_metric_data_statement() -> iam.PolicyStatement:
    """PutMetricData, which names no resource, for the pipeline's own namespace only."""
    return iam.PolicyStatement(
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
    )


class WorkflowFunctions(Construct):
    """One function per workflow step; ``functions[key]`` by :class:`contract.functions.FunctionSpec` key."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        raw_key: str,
        items_key: str | None = None,
        personalize_arns: PersonalizeArns,
        personalize_role: iam.IRole,
        log_retention: logs.RetentionDays,
        wildcard_reasons: Mapping[str, str],
        deployment: DeploymentConfig | None = None,
        functions: tuple[FunctionSpec, ...] | None = None,
        batch_role: iam.IRole | None = None,
        batch_input_arn: str | None = None,
        batch_output_arn: str | None = None,
        ranking: bool = False,
        manifest_keys: list[str] | None = None,
        incremental: bool = False,
        prepare_memory_mb: int = PREPARE_DATA.memory_mb,
    ) -> None:
        """``functions``: the steps to deploy (PipelineConfig.functions), by default those of
        ``deployment``. With batch output (``deployment``), ``batch_role`` is the role the batch jobs use and
        ``batch_input_arn``/``batch_output_arn`` the objects they read and write. ``ranking``: a solution's
        smoke test asks GetPersonalizedRanking. ``manifest_keys``: each batch solution's manifest (the
        single solution's MANIFEST_KEY by default). ``prepare_memory_mb``: data.lambdaMemoryMb."""
        super().__init__(scope, construct_id)
        deployment = deployment or DeploymentConfig()
        arns = personalize_arns
        self._wildcard_reasons = wildcard_reasons
        # List* calls of Personalize support no resource-level permissions (Service
        # Authorization Reference), so they are the only statements on "*".
        statements: dict[str, list[iam.PolicyStatement]] = {
            # states:ListExecutions on the state machine: a policy of its own (RetrainingStateMachine).
            LOOK_FOR_ANOTHER_RUN.key: [],
            PREPARE_DATA.key: [
                allow(
                    ["s3:GetObject"],
                    [
                        bucket.arn_for_objects(f"{raw_key}*" if raw_key.endswith("/") else raw_key),
                        *([bucket.arn_for_objects(items_key)] if items_key is not None else []),
                        bucket.arn_for_objects(STATE_KEY),
                        *([bucket.arn_for_objects(IMPORTED_OBJECTS_KEY)] if incremental else []),
                    ],
                ),
                # Without ListBucket, S3 answers a missing raw file with AccessDenied instead of
                # NoSuchKey, and the run could not say "upload your data here". No s3:prefix
                # condition: a GetObject request carries no prefix, so it would never match.
                allow(["s3:ListBucket"], [bucket.bucket_arn]),
                allow(["s3:PutObject", "s3:AbortMultipartUpload"], [bucket.arn_for_objects(f"{TRAINING_PREFIX}*")]),
                # Users' deletion requests: read by every run (their users stay out of the training file).
                allow(["s3:GetObject"], [bucket.arn_for_objects(f"{DELETION_REQUESTS_PREFIX}*")]),
            ],
            # The Glue job's counts and part files (training/<run>/), and its users file copied to
            # the batch job's input (batch-input/<run>/users.json).
            READ_GLUE_OUTPUT.key: [
                allow(["s3:GetObject"], [bucket.arn_for_objects(f"{TRAINING_PREFIX}*")]),
                allow(["s3:ListBucket"], [bucket.bucket_arn]),
                *(
                    [allow(["s3:PutObject"], [bucket.arn_for_objects(f"{BATCH_INPUT_PREFIX}*")])]
                    if deployment.batch_job and deployment.batch.users_key is None
                    else []
                ),
            ],
            # data.importMode INCREMENTAL: this run's listing (training/<run>/) copied over the record.
            RECORD_IMPORT.key: [
                allow(["s3:GetObject"], [bucket.arn_for_objects(f"{TRAINING_PREFIX}*")]),
                allow(["s3:PutObject"], [bucket.arn_for_objects(IMPORTED_OBJECTS_KEY)]),
            ],
            START_DATA_DELETION.key: [
                allow(["personalize:ListDataDeletionJobs"], ["*"]),
                # Authorized against the job and its dataset group (register iam.resource-types).
                allow(["personalize:CreateDataDeletionJob"], [arns.deletion_jobs, arns.dataset_group]),
                pass_to_personalize(personalize_role),
            ],
            # Moves honoured requests under completed/ (a copy, then the delete); ListBucket so that a
            # request moved already by a retry is NoSuchKey, not AccessDenied.
            COMPLETE_DELETION_REQUESTS.key: [
                allow(
                    ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    [bucket.arn_for_objects(f"{DELETION_REQUESTS_PREFIX}*")],
                ),
                allow(["s3:ListBucket"], [bucket.bucket_arn]),
            ],
            ENSURE_DATASET_GROUP.key: [
                allow(["personalize:ListDatasetGroups"], ["*"]),
                # Delete: a CREATE FAILED dataset group is replaced, not left to block every run.
                # Describe: an existing group's KMS key is checked against encryption.kmsKey.
                allow(
                    [
                        "personalize:CreateDatasetGroup",
                        "personalize:DeleteDatasetGroup",
                        "personalize:DescribeDatasetGroup",
                    ],
                    [arns.dataset_group],
                ),
            ],
            ENSURE_DATASET.key: [
                allow(["personalize:ListSchemas", "personalize:ListDatasets"], ["*"]),
                allow(
                    ["personalize:CreateSchema", "personalize:DescribeSchema"],
                    [arns.schema, *([arns.items_schemas] if items_key is not None else [])],
                ),
                # The reference authorizes CreateDataset against the dataset and its dataset group,
                # not the schema (register iam.resource-types). UpdateDataset moves an existing
                # dataset to a newer schema.
                allow(
                    ["personalize:CreateDataset", "personalize:DescribeDataset"], [arns.datasets, arns.dataset_group]
                ),
                allow(["personalize:UpdateDataset"], [arns.datasets]),
                allow(["personalize:DeleteDataset"], [arns.datasets]),
            ],
            START_IMPORT.key: [
                allow(["personalize:ListDatasetImportJobs"], ["*"]),
                allow(
                    ["personalize:CreateDatasetImportJob"],
                    [
                        arns.import_jobs,
                        *([arns.items_import_jobs] if items_key is not None else []),
                        arns.datasets,
                    ],
                ),
                # Whether the dataset is moving to a newer schema (no import meanwhile).
                allow(["personalize:DescribeDataset"], [arns.datasets]),
                pass_to_personalize(personalize_role),
            ],
            ENSURE_SOLUTION.key: [
                allow(["personalize:ListSolutions"], ["*"]),
                allow(
                    ["personalize:CreateSolution", "personalize:DescribeSolution"],
                    [*arns.solutions, arns.dataset_group, *arns.recipes],
                ),
                allow(["personalize:DeleteSolution"], arns.solutions),
            ],
            START_TRAINING.key: [
                allow(["personalize:ListSolutionVersions"], ["*"]),
                allow(
                    ["personalize:CreateSolutionVersion", "personalize:DescribeSolutionVersion"],
                    [*arns.solutions, *arns.solution_versions],
                ),
            ],
            EVALUATE_VERSION.key: [
                allow(["personalize:ListCampaigns"], ["*"]),
                allow(["personalize:DescribeCampaign"], arns.campaigns),
                # The Service Authorization Reference authorizes it against the solution resource type,
                # which has no version type; both forms of the ARN are granted (register
                # iam.personalize.solution-version-actions).
                allow(["personalize:GetSolutionMetrics"], [*arns.solutions, *arns.solution_versions]),
            ],
            DEPLOY_CAMPAIGN.key: [
                allow(["personalize:ListCampaigns"], ["*"]),
                # CreateCampaign is also authorized against the solution of the version it deploys
                # (register iam.resource-types); which ARN IAM checks for it is not documented.
                allow(
                    ["personalize:CreateCampaign", "personalize:UpdateCampaign", "personalize:DescribeCampaign"],
                    [*arns.campaigns, *arns.solutions, *arns.solution_versions],
                ),
                allow(["personalize:DeleteCampaign"], arns.campaigns),
            ],
            # DescribeFilter: the filter it asks through must be ACTIVE (GetRecommendations' documentation).
            SMOKE_TEST.key: [
                allow(["personalize:GetRecommendations"], arns.campaigns),
                *([allow(["personalize:GetPersonalizedRanking"], arns.campaigns)] if ranking else []),
                allow(["personalize:DescribeFilter"], [arns.config_filters]),
            ],
            ENSURE_FILTERS.key: [
                allow(["personalize:ListFilters", "personalize:ListDatasets"], ["*"]),
                # CreateFilter is authorized against the filter and its dataset group (register
                # iam.resource-types); only filters named <pipeline>-filter-... are replaced or removed.
                allow(["personalize:CreateFilter"], [arns.config_filters, arns.dataset_group]),
                allow(["personalize:DescribeFilter", "personalize:DeleteFilter"], [arns.config_filters]),
            ],
            # Read-modify-write of the state record; ListBucket so that the first run's missing
            # record is NoSuchKey rather than AccessDenied.
            RECORD_RUN.key: [
                allow(["s3:GetObject", "s3:PutObject"], [bucket.arn_for_objects(STATE_KEY)]),
                allow(["s3:ListBucket"], [bucket.bucket_arn]),
                # Stage durations and the deployed model's metric, for the dashboard.
                put_metric_data_statement(),
            ],
        }
        if deployment.batch_job:
            if batch_role is None or batch_input_arn is None or batch_output_arn is None:
                raise ValueError("a deployment to batch needs the batch role and its input and output objects")
            manifests = [bucket.arn_for_objects(key) for key in (manifest_keys or [MANIFEST_KEY])]
            statements[PREPARE_DATA.key] += [
                # The users file it writes (or the configured one it checks), and the manifest it
                # reads the served version from.
                allow(
                    ["s3:PutObject", "s3:GetObject"] if deployment.batch.users_key is None else ["s3:GetObject"],
                    [batch_input_arn],
                ),
                allow(["s3:GetObject"], manifests),
            ]
            statements[START_BATCH_INFERENCE.key] = [
                allow(["personalize:ListBatchInferenceJobs"], ["*"]),
                # Authorized against the job and the solution of the version it runs (register
                # iam.resource-types); both forms of the version's ARN, as for CreateCampaign.
                allow(
                    ["personalize:CreateBatchInferenceJob"],
                    [arns.batch_jobs, *arns.solutions, *arns.solution_versions],
                ),
                pass_to_personalize(batch_role),
                # deployment.batch.filter: the filter must be ACTIVE before the job uses it.
                *([allow(["personalize:DescribeFilter"], [arns.config_filters])] if deployment.batch.filter else []),
            ]
            statements[VALIDATE_BATCH_OUTPUT.key] = [
                allow(["s3:GetObject"], [batch_input_arn, batch_output_arn]),
                allow(["s3:ListBucket"], [bucket.bucket_arn]),
            ]
            statements[PUBLISH_BATCH_OUTPUT.key] = [
                allow(["s3:GetObject", "s3:PutObject"], manifests),
                allow(["s3:ListBucket"], [bucket.bucket_arn]),
            ]
        self.functions: dict[str, lambda_.Function] = {}
        for function in functions or workflow_functions(campaign=deployment.campaign, batch=deployment.batch_job):
            if function.key == PREPARE_DATA.key:
                function = dataclasses.replace(function, memory_mb=prepare_memory_mb)  # data.lambdaMemoryMb
            self.functions[function.key] = least_privilege_function(
                self,
                function,
                statements[function.key],
                log_retention=log_retention,
                wildcard_reasons=self._wildcard_reasons,
            )

    def role_of(self, spec: FunctionSpec) -> iam.IRole:
        """The role of ``spec``'s function (every function here has its own)."""
        role = self.functions[spec.key].role
        if role is None:
            raise ValueError(f"function {spec.key} has no role")
        return role


def least_privilege_function(
    scope: Construct,
    function: FunctionSpec,
    statements: list[iam.PolicyStatement],
    *,
    log_retention: logs.RetentionDays,
    wildcard_reasons: Mapping[str, str],
) -> lambda_.Function:
    """A Python function deployed from its lambdas/ folder as it is, with a role of its own.

    The role holds ``statements`` and the right to write to the function's own log group,
    nothing else. Its wildcard resources are acknowledged to cdk-nag with the reasons in
    ``wildcard_reasons`` (ARN -> why); "*" is explained here (X-Ray, and List calls if any).
    """
    log_group = logs.LogGroup(
        scope, f"{function.key}Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
    )
    role = iam.Role(
        scope,
        f"{function.key}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Runs the {function.key} step of the Personalize retraining workflow",
    )
    for statement in statements:
        role.add_to_policy(statement)
    # Instead of the AWSLambdaBasicExecutionRole managed policy (logs:* on every group).
    role.add_to_policy(allow(["logs:CreateLogStream", "logs:PutLogEvents"], [log_group.log_group_arn]))
    created = lambda_.Function(
        scope,
        function.key,
        description=function.description,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        code=lambda_.Code.from_asset(str(LAMBDAS_DIR / function.code_folder), exclude=["__pycache__", "*.pyc"]),
        handler=function.handler,
        role=role,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        # Adds xray:PutTraceSegments/PutTelemetryRecords on "*": X-Ray has no resource-level permissions.
        tracing=lambda_.Tracing.ACTIVE,
        memory_size=function.memory_mb,
        timeout=Duration.seconds(function.timeout_seconds),
        layers=[contract_layer(scope, RUNTIME)],
    )
    on_any_resource = {action for statement in statements if "*" in statement.resources for action in statement.actions}
    any_resource_reason = TRACING_REASON
    if any(action.startswith("personalize:List") for action in on_any_resource):
        any_resource_reason += f" {LIST_REASON}"
    if "cloudwatch:PutMetricData" in on_any_resource:
        any_resource_reason += f" {METRICS_REASON}"
    acknowledge_reviewed_wildcards(role, {**wildcard_reasons, "*": any_resource_reason})
    return created


def provider_framework_role(
    scope: Construct, construct_id: str, log_group: logs.ILogGroup, *, purpose: str
) -> iam.Role:
    """A role for a function of CDK's custom-resource provider framework: it writes to its log group, nothing else.

    Instead of the AWSLambdaBasicExecutionRole managed policy (logs:* everywhere) the framework
    would otherwise attach; the framework adds its own lambda:InvokeFunction grants.
    """
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Runs CDK's custom resource provider framework for {purpose}",
    )
    role.add_to_policy(allow(["logs:CreateLogStream", "logs:PutLogEvents"], [log_group.log_group_arn]))
    return role
