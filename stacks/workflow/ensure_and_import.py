"""Phase 2: the dataset group and its datasets, found or created, and this run's imports.

With items (data.useItems) and a movie file in the run, the items dataset is ensured next to the
interactions dataset and both imports run at once: Personalize runs import jobs of different
datasets side by side (register personalize.import.concurrency), so the run waits for the longer
of the two, not their sum. No Parallel state: a failure of either import is an ordinary failed
wait that ends the run like any other, before anything is trained or deployed.
"""

from __future__ import annotations

from contract.events import (
    STAGE_DATASET,
    STAGE_DATASET_GROUP,
    STAGE_FILTERS,
    STAGE_IMPORT,
    STAGE_ITEMS_DATASET,
    STAGE_ITEMS_IMPORT,
)
from contract.functions import ENSURE_DATASET, ENSURE_DATASET_GROUP, ENSURE_FILTERS, RECORD_IMPORT, START_IMPORT
from contract.layout import IMPORTED_OBJECTS_KEY
from contract.readiness import (
    DATASET_GROUP_READY,
    DATASET_READY,
    IMPORT_READY,
    ITEMS_DATASET_READY,
    ITEMS_IMPORT_READY,
)
from contract.resources import DATA_BUCKET_PLACEHOLDER, KMS_KEY_PLACEHOLDER, PERSONALIZE_ROLE_PLACEHOLDER
from stacks.interactions_schema import INTERACTIONS_SCHEMA_JSON
from stacks.items_schema import ITEMS_SCHEMA_JSON
from stacks.workflow.builder import RUN_CONTEXT, WorkflowBuilder
from stacks.workflow.sdk import Choice, ChoiceRule, State

# Where the data preparation says whether this run has a movie file (null: ratings only).
ITEMS_URI_PATH = "$.data.items.itemsUri"


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
            "datasetType": "Interactions",
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
            **({"importMode.$": "$.data.importMode"} if b.config.data.incremental else {}),
        },
        "$.importJob",
        STAGE_IMPORT,
    )
    ensure_dataset_group.next(b.wait_until_active(DATASET_GROUP_READY, ensure_dataset, STAGE_DATASET_GROUP))
    if not b.config.data.uses_items:
        ensure_dataset.next(b.wait_until_active(DATASET_READY, start_import, STAGE_DATASET))
        start_import.next(b.wait_until_active(IMPORT_READY, _after_import(b, then), STAGE_IMPORT))
        return ensure_dataset_group

    ensure_items = b.invoke(
        "Ensure items dataset",
        ENSURE_DATASET,
        {
            "datasetGroupArn.$": "$.datasetGroup.arn",
            "datasetType": "Items",
            "schemaName": names.items_schema(ITEMS_SCHEMA_JSON),
            "schema": ITEMS_SCHEMA_JSON,
            "datasetName": names.items_dataset,
        },
        "$.itemsDataset",
        STAGE_ITEMS_DATASET,
    )
    start_items_import = b.invoke(
        "Start items import",
        START_IMPORT,
        {
            "datasetArn.$": "$.itemsDataset.arn",
            "dataLocation.$": ITEMS_URI_PATH,
            "roleArn": "${" + PERSONALIZE_ROLE_PLACEHOLDER + "}",
            "jobNamePrefix": names.items_import_job_prefix,
            **RUN_CONTEXT,
        },
        "$.itemsImportJob",
        STAGE_ITEMS_IMPORT,
    )
    has_items = Choice("Movie file in this run?")
    has_items.add_choice(ChoiceRule.IsNull(variable=ITEMS_URI_PATH, value=True), start_import)
    has_items.default_choice(ensure_items)
    items_imported = Choice("Items import started?")
    items_imported.add_choice(ChoiceRule.IsNull(variable=ITEMS_URI_PATH, value=True), then)
    items_imported.default_choice(b.wait_until_active(ITEMS_IMPORT_READY, then, STAGE_ITEMS_IMPORT))

    ensure_dataset.next(b.wait_until_active(DATASET_READY, has_items, STAGE_DATASET))
    ensure_items.next(b.wait_until_active(ITEMS_DATASET_READY, start_items_import, STAGE_ITEMS_DATASET))
    start_items_import.next(start_import)
    start_import.next(b.wait_until_active(IMPORT_READY, _after_import(b, items_imported), STAGE_IMPORT))
    return ensure_dataset_group


def _after_import(b: WorkflowBuilder, then: State) -> State:
    """What follows the interactions import: with data.importMode INCREMENTAL, once it is ACTIVE, the
    record of the objects the dataset now holds, which the next run's new objects are counted from."""
    if not b.config.data.incremental:
        return then
    record = b.invoke(
        "Record imported objects",
        RECORD_IMPORT,
        {
            "bucket": "${" + DATA_BUCKET_PLACEHOLDER + "}",
            "listingKey.$": "$.data.importedObjectsKey",
            "importedKey": IMPORTED_OBJECTS_KEY,
        },
        "$.importRecord",
        STAGE_IMPORT,
    )
    record.next(then)
    return record


def build_ensure_filters(b: WorkflowBuilder, *, then: State) -> State:
    """The configured filters, kept in the dataset group after the imports (config ``filters``).

    Not awaited here: a filter takes minutes, training hours; the smoke test checks that the one
    it asks through is ACTIVE."""
    config = b.config
    smoke = config.smoke_filter
    batch_filters = {
        str(s.name): s.deployment.batch.filter for s in config.solutions if s.deployment.batch.filter is not None
    }
    ensure = b.invoke(
        "Ensure filters",
        ENSURE_FILTERS,
        {
            "datasetGroupArn.$": "$.datasetGroup.arn",
            "namePrefix": b.names.filter_prefix,
            "filters": [{"name": f.name, "expression": f.expression} for f in config.filters],
            **({"smokeFilter": smoke.name} if smoke is not None and config.deployment.campaign else {}),
            **(
                {"batchFilter": config.deployment.batch.filter}
                if config.deployment.batch.filter and not config.several_solutions
                else {}
            ),
            # With several solutions, each batch job's own filter (a map: solution -> filter name).
            **({"batchFilters": batch_filters} if batch_filters else {}),
        },
        "$.filters",
        STAGE_FILTERS,
    )
    ensure.next(then)
    return ensure
