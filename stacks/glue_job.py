"""The Glue engine of data preparation (data.engine auto or glue): the Spark job, its role, its logs.

The job runs glue_jobs/prepare_interactions.py, deployed as an asset. It reads the raw objects the
data preparation lists and writes the run's training part files under training/<run>/interactions/.
It is a CloudFormation resource: `cdk destroy` deletes it, and no run creates anything of Glue's that
the teardown would have to find.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from contract.layout import TRAINING_PREFIX
from stacks.config import GlueConfig
from stacks.nag_acknowledgements import acknowledge_finding, acknowledge_reviewed_wildcards

SCRIPT = Path(__file__).resolve().parents[1] / "glue_jobs" / "prepare_interactions.py"
GLUE_VERSIONS = {"5.1": glue.GlueVersion.V5_1, "5.0": glue.GlueVersion.V5_0}
WORKER_TYPES = {
    "G.1X": glue.WorkerType.G_1X,
    "G.2X": glue.WorkerType.G_2X,
    "G.4X": glue.WorkerType.G_4X,
    "G.8X": glue.WorkerType.G_8X,
}
# Why the job has no security configuration (cdk-nag AwsSolutions-GL1 and GL3).
NO_SECURITY_CONFIGURATION_REASON = (
    "What a Glue security configuration would encrypt is encrypted without one: the job writes to the data bucket, "
    "whose default encryption (SSE-S3, or SSE-KMS with the pipeline's key with encryption.kmsKey) applies to every "
    "object; its logs go to its own two log groups, which the pipeline's key encrypts like every log group of the "
    "stack; it uses no job bookmarks (--job-bookmark-option job-bookmark-disable). With a security configuration, "
    "Glue 5 writes logs to groups named after the configuration and the role instead (register glue.logging), "
    "which the stack could not create with a retention."
)


def log_group_prefix(stack_name: str) -> str:
    """Glue 5 writes a job's logs to <prefix>/error and <prefix>/output (register glue.logging). Under the
    stack's name, so the pipeline key's grant to CloudWatch Logs covers them."""
    return f"/aws-glue/jobs/{stack_name}-prepare-interactions"


class _ScriptObject(glue.Code):  # type: ignore[misc]
    """The job's script as the asset's object. ``Code.from_asset`` and ``from_bucket`` would also grant
    the role CDK's read set (GetObject*, GetBucket*, List*) on the assets bucket; the role gets
    s3:GetObject on this one object instead."""

    def __init__(self, asset: s3_assets.Asset) -> None:
        super().__init__()
        self._asset = asset

    def bind(self, scope: Construct, grantable: iam.IGrantable) -> glue.CodeConfig:
        return glue.CodeConfig(
            s3_location=s3.Location(bucket_name=self._asset.s3_bucket_name, object_key=self._asset.s3_object_key)
        )


class GlueConversion(Construct):
    """The Spark job that converts ratings past one Lambda's reach, with a least-privilege role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: GlueConfig,
        bucket: s3.IBucket,
        raw_key: str,
        log_retention: logs.RetentionDays,
        wildcard_reasons: Mapping[str, str],
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = log_group_prefix(Stack.of(self).stack_name)
        # Created here with a retention, before Glue would create them without one.
        self.log_groups = [
            logs.LogGroup(
                self,
                f"{stream.capitalize()}Logs",
                log_group_name=f"{prefix}/{stream}",
                retention=log_retention,
                removal_policy=RemovalPolicy.DESTROY,
            )
            for stream in ("error", "output")
        ]
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description="The Glue job of data preparation: reads the raw ratings, writes the run's training files",
        )
        raw_objects = bucket.arn_for_objects(f"{raw_key}*" if raw_key.endswith("/") else raw_key)
        training_objects = bucket.arn_for_objects(f"{TRAINING_PREFIX}*")
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[raw_objects]))
        # Its inputs (the list of objects, the users to leave out) and outputs are in the run's folder;
        # Spark's committer writes there, lists, and deletes its temporary files.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], resources=[training_objects]
            )
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        for log_group in self.log_groups:
            log_group.grant_write(self.role)
        if encryption_key is not None:
            self.role.add_to_policy(
                iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[encryption_key.key_arn])
            )
        script = s3_assets.Asset(self, "Script", path=str(SCRIPT))
        # Glue reads the script when a run starts: that one object of the CDK assets bucket.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[script.bucket.arn_for_objects(script.s3_object_key)]
            )
        )
        self.job = glue.PySparkEtlJob(
            self,
            "Job",
            description="Converts raw MovieLens ratings into Personalize's interactions CSV (data.engine: glue)",
            role=self.role,
            script=_ScriptObject(script),
            # Set, not defaulted: the construct's default (4.0) is not the version the script is tested on.
            glue_version=GLUE_VERSIONS[config.version],
            worker_configuration=glue.WorkerConfiguration(
                worker_type=WORKER_TYPES[config.worker_type], number_of_workers=config.workers
            ),
            timeout=Duration.minutes(config.timeout_minutes),
            max_retries=0,
            max_concurrent_runs=1,
            default_arguments={
                "--data_root": f"s3://{bucket.bucket_name}",
                "--job-bookmark-option": "job-bookmark-disable",
                "--custom-logGroup-prefix": prefix,
            },
            # The construct's continuous logging sets --enable-continuous-cloudwatch-log, which Glue 5
            # no longer reads (register glue.logging): logs go to the prefix's groups above.
            continuous_logging=glue.ContinuousLoggingProps(enabled=False),
            # Job metrics would need cloudwatch:PutMetricData on "*"; the run record keeps the job's
            # counts and time, and its logs say the rest.
            enable_metrics=False,
            enable_observability_metrics=False,
        )
        job_resource = self.job.node.default_child
        acknowledge_finding(job_resource, "AwsSolutions-GL1", NO_SECURITY_CONFIGURATION_REASON)
        acknowledge_finding(job_resource, "AwsSolutions-GL3", NO_SECURITY_CONFIGURATION_REASON)
        acknowledge_reviewed_wildcards(self.role, wildcard_reasons)

    @property
    def job_name(self) -> str:
        return str(self.job.job_name)

    @property
    def job_arn(self) -> str:
        return str(self.job.job_arn)
