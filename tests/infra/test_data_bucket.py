"""The data bucket (stacks/data_bucket.py): private, encrypted, TLS-only, Personalize reads only training/, retained or destroyed as configured.

Expected values are written out here, not read back from the code under test.
"""

from __future__ import annotations

from aws_cdk.assertions import Match

from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    PERSONALIZE_PRINCIPAL,
    SOURCE_ACCOUNT,
    Statement,
    bucket_id,
    only_resource,
)

# --- data bucket ----------------------------------------------------------------------------


def test_stack_has_exactly_one_data_bucket(pipeline: SynthesizedPipeline) -> None:
    pipeline.template.resource_count_is("AWS::S3::Bucket", 1)


def test_data_bucket_is_encrypted_with_s3_managed_keys(default_pipeline: SynthesizedPipeline) -> None:
    default_pipeline.template.has_resource_properties(
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


def test_by_default_the_data_bucket_and_its_objects_survive_destroy(default_pipeline: SynthesizedPipeline) -> None:
    default_pipeline.template.has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
    default_pipeline.template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_set_to_destroy_the_bucket_is_emptied_and_deleted(variations_pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(variations_pipeline)
    _, auto_delete = only_resource(variations_pipeline, "Custom::S3AutoDeleteObjects")

    variations_pipeline.template.has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
    )
    assert auto_delete["BucketName"] == {"Ref": bucket}
