"""encryption.kmsKey (stacks/encryption.py): one customer-managed key over the whole data path.

Three modes: none (default_pipeline), a key the stack creates (variations_pipeline, with the data
deleted on destroy), and an existing key by ARN (custom_pipeline). Expected values are written
out here, not read back from the code under test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.artifacts import KEY_POLICY_FILE_NAME
from tests.conftest import IMPORTED_KEY_ARN, REPO
from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    Json,
    only_resource,
    render,
    resources_of_type,
    workflow_state_machine,
)

CREATED_KEY = {"Fn::GetAtt": ["EncryptionKey3A692D6E", "Arn"]}


def key_of(pipeline: SynthesizedPipeline) -> Any:
    return CREATED_KEY if pipeline.config.encryption.creates_key else IMPORTED_KEY_ARN


@pytest.fixture(params=["variations_pipeline", "custom_pipeline"], ids=["created-key", "imported-key"])
def encrypted(request: pytest.FixtureRequest) -> SynthesizedPipeline:
    pipeline: SynthesizedPipeline = request.getfixturevalue(request.param)
    return pipeline


def test_without_a_key_nothing_is_customer_key_encrypted(default_pipeline: SynthesizedPipeline) -> None:
    default_pipeline.template.resource_count_is("AWS::KMS::Key", 0)
    assert "PipelineKeyArn" not in default_pipeline.definition_text
    for group in resources_of_type(default_pipeline, "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" not in group["Properties"]
    _, state_machine = workflow_state_machine(default_pipeline)
    assert "EncryptionConfiguration" not in state_machine


def test_by_default_a_created_key_is_kept_with_the_data(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.conftest import SOLUTIONS_BLOCK
    from tests.infra.conftest import synthesize

    kept = synthesize(tmp_path_factory, SOLUTIONS_BLOCK)  # a created key, data.onDestroy retain
    (key,) = [r for r in kept.resources.values() if r["Type"] == "AWS::KMS::Key"]

    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    kept.template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})


def test_the_created_key_rotates_and_is_deleted_after_the_longest_wait_only_with_the_data(
    variations_pipeline: SynthesizedPipeline,
) -> None:
    (key_id,) = [lid for lid, r in variations_pipeline.resources.items() if r["Type"] == "AWS::KMS::Key"]
    key = variations_pipeline.resources[key_id]

    assert key_id == CREATED_KEY["Fn::GetAtt"][0]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["PendingWindowInDays"] == 30
    # data.onDestroy is "destroy" in this config: the key goes with the data it protects.
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Delete", "Delete")


def test_an_imported_key_is_referenced_never_created(custom_pipeline: SynthesizedPipeline) -> None:
    custom_pipeline.template.resource_count_is("AWS::KMS::Key", 0)
    assert IMPORTED_KEY_ARN in str(custom_pipeline.template_json)


def test_the_bucket_uses_sse_kms_with_a_bucket_key(encrypted: SynthesizedPipeline) -> None:
    _, bucket = only_resource(encrypted, "AWS::S3::Bucket")

    assert bucket["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {"KMSMasterKeyID": key_of(encrypted), "SSEAlgorithm": "aws:kms"},
            }
        ]
    }


def test_every_log_group_topic_and_function_environment_uses_the_key(encrypted: SynthesizedPipeline) -> None:
    key = key_of(encrypted)
    log_groups = resources_of_type(encrypted, "AWS::Logs::LogGroup")
    functions = resources_of_type(encrypted, "AWS::Lambda::Function")

    assert len(log_groups) >= 15 and len(functions) >= 15
    assert [lid for lid, group in log_groups.items() if group["Properties"].get("KmsKeyId") != key] == []
    assert [lid for lid, function in functions.items() if function["Properties"].get("KmsKeyArn") != key] == []
    assert only_resource(encrypted, "AWS::SNS::Topic")[1]["KmsMasterKeyId"] == key


def test_the_state_machine_encrypts_its_execution_data_with_the_key(encrypted: SynthesizedPipeline) -> None:
    _, state_machine = workflow_state_machine(encrypted)

    assert state_machine["EncryptionConfiguration"] == {
        "KmsDataKeyReusePeriodSeconds": 300,
        "KmsKeyId": key_of(encrypted),
        "Type": "CUSTOMER_MANAGED_KMS_KEY",
    }


def test_the_dataset_group_is_created_with_the_key_and_the_personalize_role(encrypted: SynthesizedPipeline) -> None:
    definition = json.loads(encrypted.definition_text)
    parameters = definition["States"]["Ensure dataset group"]["Parameters"]

    assert parameters == {
        "name": encrypted.config.pipeline_name,
        "kmsKeyArn": "${PipelineKeyArn}",
        "roleArn": "${PersonalizeRoleArn}",
    }
    _, state_machine = workflow_state_machine(encrypted)
    assert state_machine["DefinitionSubstitutions"]["PipelineKeyArn"] == key_of(encrypted)


def rendered(value: Any) -> Any:
    """A policy element with every intrinsic function rendered as text."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::Join"):
        return render(value)
    if isinstance(value, dict):
        return {key: rendered(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rendered(item) for item in value]
    return value


def key_policy(pipeline: SynthesizedPipeline) -> list[Json]:
    statements: list[Json] = pipeline.resources[CREATED_KEY["Fn::GetAtt"][0]]["Properties"]["KeyPolicy"]["Statement"]
    return statements


def test_the_created_key_policy_lets_each_service_do_only_its_part(variations_pipeline: SynthesizedPipeline) -> None:
    by_sid = {s["Sid"]: rendered(s) for s in key_policy(variations_pipeline) if "Sid" in s}

    logs = by_sid["CloudWatchLogsEncryptsThisStacksLogGroups"]
    groups = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    assert logs["Principal"] == {"Service": "logs.${AWS::Region}.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": [
                f"{groups}PersonalizePipeline-*",
                f"{groups}/aws/vendedlogs/states/PersonalizePipeline-*",
                f"{groups}/aws-glue/jobs/PersonalizePipeline-*",
            ]
        }
    }
    # The condition covers every log group: CloudFormation names those without a LogGroupName
    # <stack>-<logical id>-<suffix>; the named groups are the state machine's and the Glue job's.
    named = {
        lid: group["Properties"]["LogGroupName"]
        for lid, group in resources_of_type(variations_pipeline, "AWS::Logs::LogGroup").items()
        if "LogGroupName" in group["Properties"]
    }
    assert sorted(named.values()) == [
        "/aws-glue/jobs/PersonalizePipeline-prepare-interactions/error",
        "/aws-glue/jobs/PersonalizePipeline-prepare-interactions/output",
        "/aws/vendedlogs/states/PersonalizePipeline-retraining",
    ]
    personalize = by_sid["PersonalizeUsesTheKeyForTheDatasetGroup"]
    assert personalize["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert sorted(personalize["Action"]) == [
        "kms:CreateGrant",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKey",
        "kms:ListGrants",
    ]
    publishers = by_sid["EventBridgeAndCloudWatchPublishToTheEncryptedTopic"]
    assert sorted(publishers["Principal"]["Service"]) == ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    assert sorted(publishers["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # The account's own administrators keep the key manageable (IAM decides for the stack's roles).
    assert any(s["Action"] == "kms:*" and "root" in str(s["Principal"]) for s in key_policy(variations_pipeline))


def test_with_an_existing_key_synth_writes_the_statements_the_readme_shows(
    custom_pipeline: SynthesizedPipeline,
) -> None:
    written = json.loads((custom_pipeline.outdir / KEY_POLICY_FILE_NAME).read_text())
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Encryption with your own key", 1)[1]
    shown = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])

    assert written == shown
    assert {s["Sid"] for s in written["Statement"]} == {
        "CloudWatchLogsEncryptsThisStacksLogGroups",
        "PersonalizeUsesTheKeyForTheDatasetGroup",
        "EventBridgeAndCloudWatchPublishToTheEncryptedTopic",
    }


def test_the_state_machine_and_its_callers_may_use_the_key_for_its_executions_only(
    variations_pipeline: SynthesizedPipeline,
) -> None:
    """The role's grant is scoped by aws:states:stateMachineArn: with an empty name it would match
    nothing and every run would fail on KMS (hence the fixed name in this mode)."""
    machine_id, state_machine = workflow_state_machine(variations_pipeline)
    name = state_machine["StateMachineName"]
    arn = f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{name}"
    scoped = [
        (policy_id, rendered(statement["Condition"]))
        for policy_id, policy in resources_of_type(variations_pipeline, "AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "kms:EncryptionContext:aws:states:stateMachineArn" in str(statement.get("Condition"))
    ]

    assert name == "PersonalizePipeline-retraining"
    assert [c for _, c in scoped if not c["StringEquals"]["kms:EncryptionContext:aws:states:stateMachineArn"]] == []
    by_role = {policy_id.split("DefaultPolicy")[0]: c for policy_id, c in scoped}
    assert by_role["RetrainingStateMachineRole"]["StringEquals"] == {
        "kms:EncryptionContext:aws:states:stateMachineArn": arn
    }
    # The schedule starts executions and the teardown stops them with an error and cause.
    assert any(role.startswith("SchedulerRoleForTarget") for role in by_role)
    assert any(role.startswith("TeardownPausePipelineRole") for role in by_role)
    for condition in by_role.values():
        assert condition["StringEquals"]["kms:EncryptionContext:aws:states:stateMachineArn"] in (
            arn,
            f"${{{machine_id}}}",
        )
