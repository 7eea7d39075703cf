"""The data bucket: raw ratings in, Personalize-ready training files out."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contract.layout import BATCH_INPUT_PREFIX, DELETION_REQUESTS_PREFIX, TRAINING_PREFIX
from stacks.nag_acknowledgements import acknowledge_finding

PERSONALIZE_PRINCIPAL = "personalize.amazonaws.com"


class DataBucket(Construct):
    """Encrypted, TLS-only, private, versioned bucket that Personalize may read training files from.

    Personalize reads imports with its service role *and* needs the bucket policy to let the
    service principal in; both are limited to the training prefix and to this account.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        training_file_retention: Duration,
        destroy_on_delete: bool = False,
        encryption_key: kms.IKey | None = None,
        expire_batch_input: bool = False,
    ) -> None:
        """``destroy_on_delete``: `cdk destroy` empties and deletes the bucket; by default it is kept.
        ``encryption_key``: SSE-KMS with that key and an S3 bucket key (fewer KMS requests), instead
        of S3-managed keys. ``expire_batch_input``: the users files of batch jobs expire like training files."""
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=True if encryption_key else None,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            removal_policy=RemovalPolicy.DESTROY if destroy_on_delete else RemovalPolicy.RETAIN,
            # Deleting a bucket needs it empty: every object version goes first.
            auto_delete_objects=destroy_on_delete,
            lifecycle_rules=[
                # Each run writes its own training file; after the import it is only history.
                s3.LifecycleRule(
                    id="ExpireTrainingFiles",
                    prefix=TRAINING_PREFIX,
                    expiration=training_file_retention,
                    noncurrent_version_expiration=Duration.days(7),
                ),
                *(
                    [
                        s3.LifecycleRule(
                            id="ExpireBatchInput",
                            prefix=BATCH_INPUT_PREFIX,
                            expiration=training_file_retention,
                            noncurrent_version_expiration=Duration.days(7),
                        )
                    ]
                    if expire_batch_input
                    else []
                ),
                s3.LifecycleRule(id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
        )
        acknowledge_finding(
            self.bucket.node.default_child,
            "AwsSolutions-S1",
            "No server access logs: they would need a second bucket, retained like this one. Every "
            "principal that may read or write here is this stack's own (its Lambda steps and Personalize, "
            "limited to training/); enable CloudTrail S3 data events where object-level audit is required.",
        )
        self.training_objects_arn = self.bucket.arn_for_objects(f"{TRAINING_PREFIX}*")
        # Policies that name training/* say why (cdk-nag AwsSolutions-IAM5 acknowledgement).
        self.deletion_requests_arn = self.bucket.arn_for_objects(f"{DELETION_REQUESTS_PREFIX}*")
        self.wildcard_reasons = {
            self.training_objects_arn: "Each run writes its training file under training/{execution name}/, "
            "a key known only at run time; the wildcard stays inside the training/ prefix of this bucket.",
            self.deletion_requests_arn: "Users' deletion requests are files the operator drops under "
            "deletion-requests/ with names of their choosing; the wildcard stays inside that prefix.",
        }
        self._let_personalize("PersonalizeReadsTrainingFiles", "s3:GetObject", self.training_objects_arn)
        # No s3:prefix condition: the policies of the Personalize developer guide ("Giving Amazon
        # Personalize access to Amazon S3 resources") have none, and what Personalize lists is not
        # documented (register personalize.s3-access.policy). GetObject stays on training/.
        self._let_personalize("PersonalizeListsBucket", "s3:ListBucket", self.bucket.bucket_arn)

    def _let_personalize(self, sid: str, action: str, resource: str) -> None:
        """A bucket-policy statement for the Personalize service principal, within this account."""
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(PERSONALIZE_PRINCIPAL)],
                actions=[action],
                resources=[resource],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )

    def allow_batch_jobs(self, *, input_objects_arn: str, output_objects_arn: str) -> None:
        """A deployment to batch: the bucket policy must let Personalize read the users file and
        write the output as well (register personalize.batch.permissions), within this account."""
        self._let_personalize("PersonalizeReadsBatchInput", "s3:GetObject", input_objects_arn)
        self._let_personalize("PersonalizeWritesBatchOutput", "s3:PutObject", output_objects_arn)
