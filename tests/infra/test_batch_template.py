"""The template of a deployment to batch only: the batch job's role, the bucket policy, the steps.

Expected values are written out from the batch tests' config (tests/conftest.py BATCH_ONLY_BLOCK);
every grant is checked against the Service Authorization Reference table (stacks/iam_reference.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulator.iam import TemplateValues
from stacks.iam_reference import ACTIONS, resource_types_of
from tests.conftest import BATCH_ONLY_STACK, TWO_PIPELINES_BLOCK
from tests.infra.conftest import SynthesizedPipeline, synthesize

REGION, ACCOUNT = "us-east-1", "123456789012"
BUCKET = "DataBucket"


@pytest.fixture(scope="module")
def batch_only(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    # BATCH_ONLY_BLOCK, synthesized as one of two pipelines (tests/conftest.py).
    return synthesize(tmp_path_factory, TWO_PIPELINES_BLOCK, BATCH_ONLY_STACK)


def resolved(pipeline: SynthesizedPipeline, value: Any) -> Any:
    names = {logical_id: logical_id for logical_id in pipeline.resources}
    names |= {lid: BUCKET for lid, r in pipeline.resources.items() if r["Type"] == "AWS::S3::Bucket"}
    return TemplateValues(pipeline.template_json, REGION, ACCOUNT, BATCH_ONLY_STACK, names).resolve(value)


def policies_of(pipeline: SynthesizedPipeline, role_prefix: str) -> list[dict[str, Any]]:
    """Statements of the policies attached to the one role whose logical id starts with ``role_prefix``."""
    (role,) = [
        lid for lid, r in pipeline.resources.items() if r["Type"] == "AWS::IAM::Role" and lid.startswith(role_prefix)
    ]
    return [
        statement
        for r in pipeline.resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
        for statement in resolved(pipeline, r["Properties"]["PolicyDocument"])["Statement"]
    ]


def test_the_batch_role_reads_only_the_users_files_and_writes_only_run_folders(batch_only: SynthesizedPipeline) -> None:
    (role_id,) = [
        lid
        for lid, r in batch_only.resources.items()
        if r["Type"] == "AWS::IAM::Role" and lid.startswith("BatchInferenceRole")
    ]
    trust = batch_only.resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "personalize.amazonaws.com"}]
    assert resolved(batch_only, trust[0]["Condition"]) == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}

    grants = {
        (json.dumps(s["Action"]), json.dumps(s["Resource"])) for s in policies_of(batch_only, "BatchInferenceRole")
    }
    assert grants == {
        ('"s3:GetObject"', f'"arn:aws:s3:::{BUCKET}/batch-input/*"'),
        ('"s3:PutObject"', f'"arn:aws:s3:::{BUCKET}/recommendations/*/*"'),
        ('"s3:ListBucket"', f'"arn:aws:s3:::{BUCKET}"'),
    }


def test_the_bucket_policy_lets_personalize_read_users_and_write_run_folders_only(
    batch_only: SynthesizedPipeline,
) -> None:
    (policy,) = [r for r in batch_only.resources.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    statements = {
        s["Sid"]: s for s in resolved(batch_only, policy["Properties"]["PolicyDocument"])["Statement"] if "Sid" in s
    }
    assert statements["PersonalizeReadsBatchInput"]["Resource"] == f"arn:aws:s3:::{BUCKET}/batch-input/*"
    assert statements["PersonalizeWritesBatchOutput"]["Action"] == "s3:PutObject"
    assert statements["PersonalizeWritesBatchOutput"]["Resource"] == f"arn:aws:s3:::{BUCKET}/recommendations/*/*"
    assert statements["PersonalizeWritesBatchOutput"]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_a_batch_only_deployment_has_no_campaign_steps_and_waits_on_the_batch_job(
    batch_only: SynthesizedPipeline,
) -> None:
    functions = {lid for lid, r in batch_only.resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert not any(f.startswith(("StepsDeployCampaign", "StepsSmokeTest")) for f in functions)
    for step in ("StepsStartBatchInference", "StepsValidateBatchOutput", "StepsPublishBatchOutput"):
        assert any(f.startswith(step) for f in functions), step
    states = json.loads(batch_only.definition_text)["States"]
    assert "Deploy campaign" not in states
    assert states["Check batch inference job"]["Resource"].endswith(":personalize:describeBatchInferenceJob")
    machine = policies_of(batch_only, "RetrainingStateMachineRole")
    describe = [s for s in machine if "personalize:DescribeBatchInferenceJob" in json.dumps(s["Action"])]
    assert describe and f"arn:aws:personalize:{REGION}:{ACCOUNT}:batch-inference-job/films-batch-*" in json.dumps(
        describe[0]["Resource"]
    )
    assert not any(":campaign/" in json.dumps(s["Resource"]) for s in machine)


def test_every_batch_grant_is_in_the_reference_table_and_of_its_resource_types(batch_only: SynthesizedPipeline) -> None:
    for prefix in ("StepsStartBatchInferenceRole", "StepsValidateBatchOutputRole", "StepsPublishBatchOutputRole"):
        for statement in policies_of(batch_only, prefix):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                assert action in ACTIONS, action
                for resource in resources:
                    assert resource == "*" or resource_types_of(action, resource), (action, resource)
