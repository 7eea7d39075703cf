"""Phase 2: the dataset group and the interactions dataset, found or created, and this run's import."""

from __future__ import annotations

from contract.events import STAGE_DATASET, STAGE_DATASET_GROUP, STAGE_IMPORT
from contract.functions import ENSURE_DATASET, ENSURE_DATASET_GROUP, START_IMPORT
from contract.readiness import DATASET_GROUP_READY, DATASET_READY, IMPORT_READY
from contract.resources import KMS_KEY_PLACEHOLDER, PERSONALIZE_ROLE_PLACEHOLDER
from stacks.interactions_schema import INTERACTIONS_SCHEMA_JSON
from stacks.workflow.builder import RUN_CONTEXT, WorkflowBuilder
from stacks.workflow.sdk import State


def build_ensure_and_import(b: WorkflowBuilder, *, then: State) -> State:
    """Each step waits until its resource is ACTIVE; the imported data goes on to ``then``."""
    names = b.names
    dataset_group: dict[str, str] = {"name": names.dataset_group}
    if b.config.encryption.kms_key is not None:
        # Created with the pipeline's key and the role Personalize assumes to use it; an
        # existing group must already have that key (the step refuses another).
        dataset_group |= {
            "kmsKeyArn": "${" + KMS_KEY_PLACEHOLDER + "}",
            "roleArn": "${" + PERSONALIZE_ROLE_PLACEHOLDER + "}",
        }
    ensure_dataset_group = b.invoke(
        "Ensure dataset group",
        ENSURE_DATASET_GROUP,
        dataset_group,
        "$.datasetGroup",
        STAGE_DATASET_GROUP,
    )
    ensure_dataset = b.invoke(
        "Ensure interactions dataset",
        ENSURE_DATASET,
        {
            "datasetGroupArn.$": "$.datasetGroup.arn",
            "schemaName": names.interactions_schema,
            "schema": INTERACTIONS_SCHEMA_JSON,
            "datasetName": names.interactions_dataset,
        },
        "$.dataset",
        STAGE_DATASET,
    )
    start_import = b.invoke(
        "Start dataset import",
        START_IMPORT,
        {
            "datasetArn.$": "$.dataset.arn",
            "dataLocation.$": "$.data.interactionsUri",
            "roleArn": "${" + PERSONALIZE_ROLE_PLACEHOLDER + "}",
            "jobNamePrefix": names.import_job_prefix,
            **RUN_CONTEXT,
        },
        "$.importJob",
        STAGE_IMPORT,
    )
    ensure_dataset_group.next(b.wait_until_active(DATASET_GROUP_READY, ensure_dataset, STAGE_DATASET_GROUP))
    ensure_dataset.next(b.wait_until_active(DATASET_READY, start_import, STAGE_DATASET))
    start_import.next(b.wait_until_active(IMPORT_READY, then, STAGE_IMPORT))
    return ensure_dataset_group
