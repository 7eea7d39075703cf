"""One customer-managed KMS key over the whole data path (config ``encryption.kmsKey``).

With a key, the data bucket (SSE-KMS with a bucket key), the dataset group, the notification
topic, every log group, the state machine's execution data and the functions' environment
variables are encrypted with it. :class:`PipelineKey` creates the key (rotation on) or imports
an existing one; :class:`EncryptWithKey` is the aspect that puts it on every log group, topic
and function of the stack, so that a construct added later cannot be forgotten.

A created key's policy gets :func:`service_statements`: what each AWS service needs to use the
key on this stack's behalf, each statement scoped to this account and, where the service sends
one, to this stack's resources (encryption context or source ARN). The stack's own roles get
the key through their IAM policies (the key policy's default statement lets IAM decide). An imported key's policy is
the user's: synth writes the same statements to ``cdk.out`` (``key_policy_document``) and the
README says to add them.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Aws, CfnResource, Duration, IAspect, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from stacks.config import EncryptionConfig

# A created key costs $1 a month plus its requests (register kms.pricing); the bucket key keeps
# S3's requests to KMS few. The longest waiting period KMS allows before it deletes a key (7 to 30 days).
PENDING_WINDOW_DAYS = 30
# What Personalize needs of the key for a dataset group created with it and for SSE-KMS training
# files: in the key policy all five, in the role's IAM policy all but CreateGrant (register
# kms.pipeline-key.services, Personalize developer guide).
PERSONALIZE_KEY_POLICY_ACTIONS = [
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:ListGrants",
]
PERSONALIZE_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ListGrants"]
# Reading and writing SSE-KMS objects (a multipart upload decrypts the parts it assembles).
S3_READ_WRITE_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


class PipelineKey(Construct):
    """The pipeline's key: created here, or the existing key the config names."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EncryptionConfig, destroy_on_delete: bool
    ) -> None:
        super().__init__(scope, construct_id)
        self.created = config.creates_key
        self.key: kms.IKey
        if config.creates_key:
            stack = Stack.of(self)
            self.key = kms.Key(
                self,
                "Key",
                description=f"Encrypts the data of the Personalize pipeline stack {stack.stack_name}",
                enable_key_rotation=True,
                # Kept with the data it protects: deleting it would make retained data unreadable.
                removal_policy=RemovalPolicy.DESTROY if destroy_on_delete else RemovalPolicy.RETAIN,
                pending_window=Duration.days(PENDING_WINDOW_DAYS),
            )
        else:
            arn = config.imported_key_arn
            assert arn is not None
            self.key = kms.Key.from_key_arn(self, "Key", arn)

    @property
    def key_arn(self) -> str:
        return self.key.key_arn

    def add_service_statements(self, statements: list[iam.PolicyStatement]) -> None:
        """Put the services' statements on a created key's policy (an imported key's is the user's)."""
        if self.created:
            for statement in statements:
                self.key.add_to_resource_policy(statement)


def service_statements(stack: Stack) -> list[iam.PolicyStatement]:
    """What each service needs of the key (register kms.pipeline-key.services), each statement's
    Sid saying what for. The stack's own roles get the key through their IAM policies."""
    account, region, partition = Aws.ACCOUNT_ID, Aws.REGION, Aws.PARTITION
    return [
        # CloudWatch Logs encrypts each log group's events with the key; the encryption context
        # names the log group, so the grant covers only this stack's log groups: those
        # CloudFormation names <stack>-<logical id>-<suffix>, the state machine's under
        # /aws/vendedlogs/states/<stack>-, and the Glue job's under /aws-glue/jobs/<stack>-.
        iam.PolicyStatement(
            sid="CloudWatchLogsEncryptsThisStacksLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": [
                        f"arn:{partition}:logs:{region}:{account}:log-group:{stack.stack_name}-*",
                        f"arn:{partition}:logs:{region}:{account}:log-group:/aws/vendedlogs/states/{stack.stack_name}-*",
                        f"arn:{partition}:logs:{region}:{account}:log-group:/aws-glue/jobs/{stack.stack_name}-*",
                    ]
                }
            },
        ),
        # Personalize uses the key for the dataset group created with it. The guide's example also
        # names the role Personalize assumes; here the role gets the key through its IAM policy
        # (the key policy's default statement lets IAM decide), because a key policy that names
        # a role created in the same deployment can be refused while the role propagates, and an
        # existing key's policy could not name it before the first deploy.
        iam.PolicyStatement(
            sid="PersonalizeUsesTheKeyForTheDatasetGroup",
            principals=[iam.ServicePrincipal("personalize.amazonaws.com")],
            actions=PERSONALIZE_KEY_POLICY_ACTIONS,
            resources=["*"],
        ),
        # EventBridge rules and CloudWatch alarms publish to the encrypted topic: SNS asks KMS for a
        # data key on their behalf (the AWS-managed SNS key's policy cannot be changed to allow
        # them). Who may publish is the topic policy's decision: alarms only from this stack,
        # EventBridge without conditions (CDK's SNS target writes it so).
        iam.PolicyStatement(
            sid="EventBridgeAndCloudWatchPublishToTheEncryptedTopic",
            principals=[iam.ServicePrincipal("events.amazonaws.com"), iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        ),
    ]


def key_policy_document(stack: Stack, statements: list[iam.PolicyStatement]) -> dict[str, Any]:
    """The statements as key-policy JSON a user can paste: the account, region and partition are
    written ``<account>``, ``<region>``, ``<partition>`` (the stack is environment-agnostic)."""
    resolved = stack.resolve(iam.PolicyDocument(statements=statements).to_json())
    return dict(_with_placeholders(resolved))


_PSEUDO = {"AWS::AccountId": "<account>", "AWS::Region": "<region>", "AWS::Partition": "<partition>"}


def _with_placeholders(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in _PSEUDO:
        return _PSEUDO[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_with_placeholders(part)) for part in parts)
    if isinstance(value, dict):
        return {key: _with_placeholders(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_placeholders(item) for item in value]
    return value


@jsii.implements(IAspect)
class EncryptWithKey:
    """Sets the key on every log group, SNS topic and Lambda function of the scope it is added to.

    Lambda decrypts a function's environment through a grant it creates on the key when the
    function is deployed: the function's role needs nothing (register kms.pipeline-key.services).
    """

    def __init__(self, key: kms.IKey) -> None:
        self.key = key

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup):
            node.kms_key_id = self.key.key_arn
        elif isinstance(node, sns.CfnTopic):
            node.kms_master_key_id = self.key.key_arn
        elif isinstance(node, lambda_.CfnFunction):
            node.kms_key_arn = self.key.key_arn
        elif isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function":
            # CDK's own provider functions (the bucket's auto-delete) are plain CfnResources.
            node.add_property_override("KmsKeyArn", self.key.key_arn)
