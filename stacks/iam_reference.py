"""Every IAM action the stack grants, with the resource types the Service Authorization Reference gives.

Source: the Service Authorization Reference, "Actions, resources, and condition keys for <service>"
(https://docs.aws.amazon.com/service-authorization/latest/reference/), one page per service:
Amazon Personalize, AWS Step Functions, Amazon S3, Amazon SNS, Amazon EventBridge, Amazon
EventBridge Scheduler, AWS Lambda, Amazon CloudWatch, Amazon CloudWatch Logs, AWS X-Ray, IAM, AWS KMS,
AWS Glue.
Register entry ``iam.resource-types`` in docs/aws-behaviour.md.

An action with no resource type accepts only ``Resource: "*"``. An action with required types
(``*`` in the reference) needs a grant on an ARN of each of them: CreateDataset is authorized
against the dataset *and* its dataset group. tests/infra/test_iam_resource_types.py checks
every Allow statement of the template against this table, so a new action cannot be granted
without a row here. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Resource type -> ARN format, as the reference writes it.
ARN_FORMATS: dict[str, str] = {
    "personalize:datasetGroup": "arn:${Partition}:personalize:${Region}:${Account}:dataset-group/${ResourceId}",
    "personalize:dataset": "arn:${Partition}:personalize:${Region}:${Account}:dataset/${ResourceId}",
    "personalize:datasetImportJob": "arn:${Partition}:personalize:${Region}:${Account}:dataset-import-job/${ResourceId}",
    "personalize:schema": "arn:${Partition}:personalize:${Region}:${Account}:schema/${ResourceId}",
    "personalize:solution": "arn:${Partition}:personalize:${Region}:${Account}:solution/${ResourceId}",
    "personalize:campaign": "arn:${Partition}:personalize:${Region}:${Account}:campaign/${ResourceId}",
    "personalize:batchInferenceJob": "arn:${Partition}:personalize:${Region}:${Account}:batch-inference-job/${ResourceId}",
    "personalize:eventTracker": "arn:${Partition}:personalize:${Region}:${Account}:event-tracker/${ResourceId}",
    "personalize:filter": "arn:${Partition}:personalize:${Region}:${Account}:filter/${ResourceId}",
    "personalize:dataDeletionJob": "arn:${Partition}:personalize:${Region}:${Account}:data-deletion-job/${ResourceId}",
    "personalize:recipe": "arn:${Partition}:personalize:::recipe/${ResourceId}",
    "states:stateMachine": "arn:${Partition}:states:${Region}:${Account}:stateMachine:${StateMachineName}",
    "states:execution": "arn:${Partition}:states:${Region}:${Account}:execution:${StateMachineName}:${ExecutionId}",
    "s3:bucket": "arn:${Partition}:s3:::${BucketName}",
    "s3:object": "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
    "sns:topic": "arn:${Partition}:sns:${Region}:${Account}:${TopicName}",
    "events:event-bus": "arn:${Partition}:events:${Region}:${Account}:event-bus/${EventBusName}",
    "scheduler:schedule": "arn:${Partition}:scheduler:${Region}:${Account}:schedule/${GroupName}/${ScheduleName}",
    "lambda:function": "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}",
    "lambda:function alias": "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}:${Alias}",
    "logs:log-group": "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}",
    "logs:log-stream": "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
    "iam:role": "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
    "kms:key": "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}",
    "glue:job": "arn:${Partition}:glue:${Region}:${Account}:job/${JobName}",
}


@dataclass(frozen=True)
class ActionReference:
    """What the reference says of one action: its resource types, and which of them are required."""

    resource_types: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    @property
    def any_resource_only(self) -> bool:
        return not self.resource_types


def _required(*types: str) -> ActionReference:
    return ActionReference(types, types)


NONE = ActionReference()

ACTIONS: dict[str, ActionReference] = {
    # --- Amazon Personalize
    # --- AWS Key Management Service (encryption.kmsKey)
    "kms:Decrypt": _required("kms:key"),
    "kms:GenerateDataKey": _required("kms:key"),
    "kms:DescribeKey": _required("kms:key"),
    "kms:ListGrants": _required("kms:key"),
    "personalize:CreateDatasetGroup": _required("personalize:datasetGroup"),
    "personalize:DeleteDatasetGroup": _required("personalize:datasetGroup"),
    "personalize:DescribeDatasetGroup": _required("personalize:datasetGroup"),
    "personalize:ListDatasetGroups": NONE,
    "personalize:CreateSchema": _required("personalize:schema"),
    "personalize:DescribeSchema": _required("personalize:schema"),
    "personalize:DeleteSchema": _required("personalize:schema"),
    "personalize:ListSchemas": NONE,
    "personalize:CreateDataset": _required("personalize:dataset", "personalize:datasetGroup"),
    "personalize:DescribeDataset": _required("personalize:dataset"),
    "personalize:DeleteDataset": _required("personalize:dataset"),
    "personalize:UpdateDataset": _required("personalize:dataset"),
    "personalize:ListDatasets": NONE,
    "personalize:CreateDatasetImportJob": _required("personalize:dataset", "personalize:datasetImportJob"),
    "personalize:DescribeDatasetImportJob": _required("personalize:datasetImportJob"),
    "personalize:ListDatasetImportJobs": NONE,
    # The reference lists the recipe as a resource of CreateSolution (not required).
    "personalize:CreateSolution": ActionReference(
        ("personalize:datasetGroup", "personalize:solution", "personalize:recipe"),
        ("personalize:datasetGroup", "personalize:solution"),
    ),
    "personalize:DescribeSolution": _required("personalize:solution"),
    "personalize:DeleteSolution": _required("personalize:solution"),
    "personalize:ListSolutions": NONE,
    "personalize:CreateSolutionVersion": _required("personalize:solution"),
    # No solution-version resource type exists: these three are authorized against the solution.
    "personalize:DescribeSolutionVersion": _required("personalize:solution"),
    "personalize:StopSolutionVersionCreation": _required("personalize:solution"),
    "personalize:GetSolutionMetrics": _required("personalize:solution"),
    "personalize:ListSolutionVersions": NONE,
    "personalize:CreateCampaign": _required("personalize:campaign", "personalize:solution"),
    "personalize:DescribeCampaign": _required("personalize:campaign"),
    "personalize:UpdateCampaign": _required("personalize:campaign"),
    "personalize:DeleteCampaign": _required("personalize:campaign"),
    "personalize:ListCampaigns": NONE,
    "personalize:GetRecommendations": _required("personalize:campaign"),
    # A deployment to batch (register personalize.batch.permissions): the job and the solution it runs.
    "personalize:CreateBatchInferenceJob": _required("personalize:batchInferenceJob", "personalize:solution"),
    "personalize:DescribeBatchInferenceJob": _required("personalize:batchInferenceJob"),
    "personalize:ListBatchInferenceJobs": NONE,
    "personalize:ListEventTrackers": NONE,
    "personalize:DeleteEventTracker": _required("personalize:eventTracker"),
    "personalize:ListFilters": NONE,
    "personalize:CreateFilter": _required("personalize:datasetGroup", "personalize:filter"),
    "personalize:DescribeFilter": _required("personalize:filter"),
    "personalize:DeleteFilter": _required("personalize:filter"),
    # Users' deletion requests (data.deletion): the job and the dataset group it deletes from.
    "personalize:CreateDataDeletionJob": _required("personalize:dataDeletionJob", "personalize:datasetGroup"),
    "personalize:DescribeDataDeletionJob": _required("personalize:dataDeletionJob"),
    "personalize:ListDataDeletionJobs": NONE,
    # --- AWS Step Functions
    "states:ListExecutions": _required("states:stateMachine"),
    "states:StartExecution": _required("states:stateMachine"),
    "states:StopExecution": _required("states:execution"),
    # --- Amazon S3
    "s3:GetObject": _required("s3:object"),
    "s3:PutObject": _required("s3:object"),
    "s3:AbortMultipartUpload": _required("s3:object"),
    "s3:DeleteObject": _required("s3:object"),
    "s3:ListBucket": _required("s3:bucket"),
    "s3:GetBucket*": _required("s3:bucket"),
    # CDK's grantRead of an object (the Glue job's script): GetObject, GetObjectAcl, GetObjectVersion...
    "s3:GetObject*": _required("s3:object"),
    "s3:List*": ActionReference(("s3:bucket", "s3:object")),
    "s3:PutBucketPolicy": _required("s3:bucket"),
    "s3:DeleteObject*": _required("s3:object"),
    # --- messaging and scheduling
    "sns:Publish": _required("sns:topic"),
    "events:PutEvents": _required("events:event-bus"),
    "scheduler:GetSchedule": _required("scheduler:schedule"),
    "scheduler:UpdateSchedule": _required("scheduler:schedule"),
    # --- AWS Lambda (an unqualified or a qualified function ARN)
    "lambda:InvokeFunction": ActionReference(("lambda:function", "lambda:function alias"), ("lambda:function",)),
    "lambda:GetFunction": ActionReference(("lambda:function", "lambda:function alias"), ("lambda:function",)),
    # --- IAM
    "iam:PassRole": _required("iam:role"),
    # --- observability
    "cloudwatch:PutMetricData": NONE,
    # The .sync Glue integration (register sfn.glue.sync), on the pipeline's one job.
    "glue:StartJobRun": _required("glue:job"),
    "glue:GetJobRun": _required("glue:job"),
    "glue:GetJobRuns": _required("glue:job"),
    "glue:BatchStopJobRun": _required("glue:job"),
    "logs:CreateLogStream": ActionReference(("logs:log-group", "logs:log-stream"), ("logs:log-group",)),
    "logs:PutLogEvents": ActionReference(("logs:log-group", "logs:log-stream"), ("logs:log-group",)),
    # Vended log delivery (CDK grants these for the state machine's logs): no resource types.
    "logs:CreateLogDelivery": NONE,
    "logs:GetLogDelivery": NONE,
    "logs:UpdateLogDelivery": NONE,
    "logs:DeleteLogDelivery": NONE,
    "logs:ListLogDeliveries": NONE,
    "logs:PutResourcePolicy": NONE,
    "logs:DescribeResourcePolicies": NONE,
    "logs:DescribeLogGroups": NONE,
    "xray:PutTraceSegments": NONE,
    "xray:PutTelemetryRecords": NONE,
    "xray:GetSamplingRules": NONE,
    "xray:GetSamplingTargets": NONE,
}


def arn_pattern(resource_type: str) -> re.Pattern[str]:
    """The ARN format as a regular expression: each ``${Variable}`` is any non-empty text."""
    parts = re.split(r"\$\{[A-Za-z]+\}", ARN_FORMATS[resource_type])
    return re.compile(".+".join(re.escape(part) for part in parts))


def resource_types_of(action: str, arn: str) -> list[str]:
    """The resource types of ``action`` whose ARN format ``arn`` (possibly with wildcards) has."""
    reference = ACTIONS[action]
    return [kind for kind in reference.resource_types if arn_pattern(kind).fullmatch(arn)]
