"""End-to-end with encryption.kmsKey "create": the run under the key, the import that cannot
decrypt, and the dataset group whose key cannot change (register personalize.dataset-group.kms,
s3.sse-kms.decrypt, kms.key-policy.authorization)."""

from __future__ import annotations

import copy
import dataclasses

import boto3
import pytest

from simulator.cloud_assembly import SynthesizedPipeline, load_synthesized_pipeline
from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline, offline_account
from simulator.sample_data import generate_ratings, to_u_data
from tests.conftest import VARIATIONS_BLOCK, synthesize

KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/EncryptionKey3A692D6E"
GROUP_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}:dataset-group/movielens"


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    return load_synthesized_pipeline(synthesize(tmp_path_factory, VARIATIONS_BLOCK))


def test_a_run_creates_the_dataset_group_with_the_key_and_its_import_reads_the_encrypted_file(
    encrypted: SynthesizedPipeline,
) -> None:
    with offline_account() as account:
        pipeline = OfflinePipeline(encrypted, account)
        pipeline.upload_raw_data(to_u_data(generate_ratings()))

        result = pipeline.start_execution(name="week-1")
        (group,) = account.personalize.resources_of("dataset_group")

    assert (result.status, result.output["outcome"]) == ("SUCCEEDED", "succeeded"), result.cause
    assert group["kmsKeyArn"] == KEY_ARN
    assert group["roleArn"] == pipeline.personalize_role_arn


def without_the_personalize_roles_key_grant(synthesized: SynthesizedPipeline) -> SynthesizedPipeline:
    """The template without the role's IAM grant of the key. The key policy names only the
    Personalize service and delegates to the account, so that grant is what lets the role
    decrypt (register kms.key-policy.authorization)."""
    template = copy.deepcopy(synthesized.template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            statements[:] = [s for s in statements if "kms:ListGrants" not in s.get("Action", [])]
    return dataclasses.replace(synthesized, template=template)


def test_an_import_whose_role_may_not_decrypt_the_training_file_fails(encrypted: SynthesizedPipeline) -> None:
    with offline_account() as account:
        pipeline = OfflinePipeline(without_the_personalize_roles_key_grant(encrypted), account)
        pipeline.upload_raw_data(to_u_data(generate_ratings()))

        result = pipeline.start_execution(name="week-1")

    assert (result.status, result.error) == ("FAILED", "DatasetImportJobFailed")
    assert f"Insufficient privileges for accessing data in S3 (kms:Decrypt on {KEY_ARN} denied)" in str(result.cause)


def test_a_dataset_group_created_without_the_key_stops_the_run_at_its_step(encrypted: SynthesizedPipeline) -> None:
    with offline_account() as account:
        pipeline = OfflinePipeline(encrypted, account)
        pipeline.upload_raw_data(to_u_data(generate_ratings()))
        boto3.client("personalize", region_name=REGION).create_dataset_group(name="movielens")  # an earlier deployment
        account.clock.advance(120)

        result = pipeline.start_execution(name="week-1")
        groups = account.personalize.resources_of("dataset_group")

    assert (result.status, result.error) == ("FAILED", "DatasetGroupKeyMismatchError")
    assert f"dataset group 'movielens' ({GROUP_ARN}) was created without a KMS key" in str(result.cause)
    assert [(g["datasetGroupArn"], g["status"], g.get("kmsKeyArn")) for g in groups] == [(GROUP_ARN, "ACTIVE", None)]
