"""ARNs of this pipeline's Personalize resources, and the role Personalize assumes for imports.

Every Personalize permission in the stack is scoped with these ARNs, so a role of this
pipeline cannot touch another pipeline's dataset group, solution or campaign.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contract.layout import RECOMMENDATIONS_PREFIX, TRAINING_PREFIX
from contract.names import PersonalizeNames
from stacks.data_bucket import PERSONALIZE_PRINCIPAL
from stacks.nag_acknowledgements import acknowledge_reviewed_wildcards


class PersonalizeArns:
    """ARNs derived from the pipeline's names (partition, region and account from the stack)."""

    def __init__(
        self,
        stack: Stack,
        names: PersonalizeNames,
        recipe_arns: list[str],
        solutions: tuple[str | None, ...] = (None,),
    ) -> None:
        """``solutions``: the names of the config's solutions (None: the single one), each with its
        own solution, versions and campaign; ``recipe_arns`` their recipes."""

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="personalize", resource=resource, resource_name=name)

        self.dataset_group = arn("dataset-group", names.dataset_group)
        self.schema = arn("schema", names.interactions_schema)
        # Items schemas carry a hash of their fields (contract/names.py): a newer one is a new name.
        self.items_schemas = arn("schema", f"{names.items_schema_prefix}*")
        self.datasets = arn("dataset", f"{names.dataset_group}/*")
        self.import_jobs = arn("dataset-import-job", f"{names.import_job_prefix}-*")
        self.items_import_jobs = arn("dataset-import-job", f"{names.items_import_job_prefix}-*")
        each = [names.for_solution(name) for name in solutions]
        self.solutions = [arn("solution", n.solution) for n in each]
        self.solution_versions = [arn("solution", f"{n.solution}/*") for n in each]
        self.campaigns = [arn("campaign", n.campaign) for n in each]
        # Every solution and campaign the pipeline names or named (a removed solution's too), with
        # their versions: what the teardown may delete.
        self.named_solutions = arn("solution", f"{names.solution}*")
        self.named_campaigns = arn("campaign", f"{names.campaign}*")
        self.batch_jobs = arn("batch-inference-job", f"{names.batch_job_prefix}-*")
        self.deletion_jobs = arn("data-deletion-job", f"{names.deletion_job_prefix}-*")
        self.filters = arn("filter", f"{names.owned_prefix}*")
        self.config_filters = arn("filter", f"{names.filter_prefix}*")
        # Event tracker ARNs carry an id, not the name: no narrower pattern exists.
        self.event_trackers = arn("event-tracker", "*")
        self.recipes = list(dict.fromkeys(recipe_arns))
        # Why each wildcard ARN cannot be narrower (cdk-nag AwsSolutions-IAM5 acknowledgements).
        self.wildcard_reasons = {
            self.datasets: "Dataset ARNs are {dataset group}/{dataset type}; the wildcard covers only the "
            "datasets of this pipeline's own dataset group.",
            self.import_jobs: "Each run creates its own import job named {pipeline}-import-{time}-{hash}, known "
            "only at run time; the wildcard covers only this pipeline's import-job name prefix.",
            self.items_schemas: "Items schemas are named {pipeline}-items-{hash of their fields}, so that a newer "
            "schema gets a new name (schemas cannot change); the wildcard covers only this pipeline's items schemas.",
            self.items_import_jobs: "Each run with a movie file creates its own items import job named "
            "{pipeline}-items-{time}-{hash}, known only at run time; the wildcard covers only this pipeline's "
            "items-import name prefix.",
            **{
                versions: "Solution version ARNs end in an id Personalize generates at training time; "
                "the wildcard covers only the versions of this pipeline's solution."
                for versions in self.solution_versions
            },
            self.named_solutions: "Every solution the config names or named before ({pipeline}-solution and "
            "{pipeline}-solution-{name}, with their versions): the teardown deletes them, so that a solution "
            "removed from the config stops billing, and with several solutions the state machine describes "
            "them; the wildcard covers only those names.",
            self.named_campaigns: "Every campaign the config names or named before ({pipeline}-campaign and "
            "{pipeline}-campaign-{name}): the teardown deletes them, and with several solutions the state "
            "machine describes them; the wildcard covers only those names.",
            self.deletion_jobs: "Each run with new deletion requests creates its own data deletion job named "
            "{pipeline}-delete-{time}-{hash}, known only at run time; the wildcard covers only this pipeline's "
            "deletion-job name prefix.",
            self.config_filters: "Filters come from the config and are named {pipeline}-filter-{name}; the "
            "wildcard covers only those, so the step never touches a filter made by hand.",
            self.batch_jobs: "Each run with batch output creates its own batch inference job named "
            "{pipeline}-batch-{time}-{hash}, known only at run time; the wildcard covers only this pipeline's "
            "batch-job name prefix.",
        }


def assumed_by_personalize(scope: Construct, description: str) -> iam.Role:
    """A role only the Personalize service may assume, and only for this account (confused-deputy
    prevention: register personalize.s3-access.policy)."""
    return iam.Role(
        scope,
        "Role",
        description=description,
        assumed_by=iam.ServicePrincipal(PERSONALIZE_PRINCIPAL).with_conditions(
            {"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}}
        ),
    )


class PersonalizeServiceRole(Construct):
    """The role Personalize assumes to read this run's training file."""

    def __init__(
        self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, wildcard_reasons: Mapping[str, str]
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = assumed_by_personalize(self, "Assumed by Amazon Personalize to read the pipeline's training files")
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{TRAINING_PREFIX}*")])
        )
        # As documented, without an s3:prefix condition (register personalize.s3-access.policy).
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        acknowledge_reviewed_wildcards(self.role, wildcard_reasons)


class BatchInferenceRole(Construct):
    """The role Personalize assumes for a batch inference job: it reads the users file and writes
    the run's output, nothing else.

    The guide's batch policy grants GetObject, PutObject and ListBucket on the whole bucket
    (register personalize.batch.permissions); here reading is limited to ``input_objects_arn`` and
    writing to ``recommendations/<run>/...``, so a job can never replace the manifest
    (``recommendations/latest.json``, one level up) that only the publishing step writes.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        input_objects_arn: str,
        wildcard_reasons: Mapping[str, str],
        several: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.output_objects_arn = batch_output_objects_arn(bucket, several=several)
        self.role = assumed_by_personalize(
            self, "Assumed by Amazon Personalize to read the batch users file and write batch recommendations"
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[input_objects_arn]))
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[self.output_objects_arn]))
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        acknowledge_reviewed_wildcards(self.role, wildcard_reasons)


def batch_output_objects_arn(bucket: s3.IBucket, *, several: bool = False) -> str:
    """Objects in a run's folder under recommendations/ (recommendations/<run>/<file>), not the manifest;
    with several solutions, recommendations/<solution>/<run>/<file>, not a solution's manifest
    (recommendations/<solution>/latest.json: one '/' too few to match)."""
    return bucket.arn_for_objects(f"{RECOMMENDATIONS_PREFIX}*/*/*" if several else f"{RECOMMENDATIONS_PREFIX}*/*")
