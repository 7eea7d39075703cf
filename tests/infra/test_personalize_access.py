"""The role Personalize assumes (stacks/personalize_access.py): trusted by Personalize in this account only, reading only training/.

Expected values are written out here, not read back from the code under test.
"""

from __future__ import annotations

from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    PERSONALIZE_PRINCIPAL,
    PERSONALIZE_ROLE_KEY_ACTIONS,
    SOURCE_ACCOUNT,
    Statement,
    bucket_id,
    encrypted,
    personalize_service_role_id,
    role_statements,
)

# --- the role Personalize assumes -----------------------------------------------------------


def test_personalize_role_trusts_only_personalize_in_this_account(pipeline: SynthesizedPipeline) -> None:
    role_id = personalize_service_role_id(pipeline)

    assert pipeline.resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Condition": SOURCE_ACCOUNT,
            "Effect": "Allow",
            "Principal": {"Service": PERSONALIZE_PRINCIPAL},
        }
    ]


def test_personalize_role_reads_only_training_prefix(pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(pipeline)
    statements = role_statements(pipeline, personalize_service_role_id(pipeline))

    expected = [
        Statement("Allow", frozenset({"s3:GetObject"}), frozenset({f"${{{bucket}.Arn}}/training/*"}), {}, None),
        Statement("Allow", frozenset({"s3:ListBucket"}), frozenset({f"${{{bucket}.Arn}}"}), {}, None),
    ]
    if encrypted(pipeline):
        key = pipeline.config.encryption.imported_key_arn or "${EncryptionKey3A692D6E.Arn}"
        expected.insert(0, Statement("Allow", frozenset(PERSONALIZE_ROLE_KEY_ACTIONS), frozenset({key}), {}, None))

    assert sorted(statements, key=lambda s: sorted(s.actions)) == expected
