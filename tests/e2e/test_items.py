"""End-to-end: the movie file as the items dataset (data.useItems auto, the default config): its
import beside the ratings', change detection over both files, a dataset moved to a newer schema
with UpdateDataset, a failed items import, and the teardown of the items dataset and schemas."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3

from contract.names import PersonalizeNames
from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline
from simulator.sample_data import to_u_item
from stacks.items_schema import ITEMS_SCHEMA, ITEMS_SCHEMA_JSON

ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}"
ITEMS_SCHEMA_NAME = PersonalizeNames("movielens").items_schema(ITEMS_SCHEMA_JSON)


def calls(pipeline: OfflinePipeline, operation: str, since: int = 0) -> list[dict[str, Any]]:
    return [params for name, params in pipeline.account.personalize.calls[since:] if name == operation]


def personalize() -> Any:
    return boto3.client("personalize", region_name=REGION)


def campaign_version(pipeline: OfflinePipeline) -> str:
    (campaign,) = pipeline.account.personalize.resources_of("campaign")
    return str(campaign["solutionVersionArn"])


def items_dataset(pipeline: OfflinePipeline) -> dict[str, Any]:
    (dataset,) = [d for d in pipeline.account.personalize.resources_of("dataset") if d["datasetType"] == "ITEMS"]
    return dataset


def existing_items_dataset(
    pipeline: OfflinePipeline, schema_name: str, fields: list[dict[str, Any]]
) -> tuple[str, str]:
    """An earlier deployment's dataset group with an items dataset on a schema of ``fields``: (schema, dataset)."""
    schema = personalize().create_schema(name=schema_name, schema=json.dumps({**ITEMS_SCHEMA, "fields": fields}))
    group = personalize().create_dataset_group(name="movielens")["datasetGroupArn"]
    pipeline.account.clock.advance(120)
    dataset = personalize().create_dataset(
        name="movielens-items", schemaArn=schema["schemaArn"], datasetGroupArn=group, datasetType="Items"
    )
    pipeline.account.clock.advance(120)
    return schema["schemaArn"], dataset["datasetArn"]


WITHOUT_YEAR = [field for field in ITEMS_SCHEMA["fields"] if field["name"] != "YEAR"]


def test_first_run_imports_the_movie_file_beside_the_ratings_at_the_same_time(pipeline: OfflinePipeline) -> None:
    pipeline.upload_items(to_u_item())

    result = pipeline.start_execution(name="first-run")

    assert result.status == "SUCCEEDED", result.cause
    assert pipeline.items_key == "raw/ml-100k/u.item"
    schemas = {s["name"]: json.loads(s["schema"]) for s in calls(pipeline, "CreateSchema")}
    assert schemas[ITEMS_SCHEMA_NAME] == ITEMS_SCHEMA
    assert {"name": "movielens-items", "schemaArn": f"{ARN}:schema/{ITEMS_SCHEMA_NAME}"}.items() <= next(
        d for d in calls(pipeline, "CreateDataset") if d["datasetType"] == "Items"
    ).items()
    items_job, interactions_job = calls(pipeline, "CreateDatasetImportJob")
    assert items_job == {
        "jobName": items_job["jobName"],
        "datasetArn": f"{ARN}:dataset/movielens/ITEMS",
        "dataSource": {"dataLocation": f"s3://{pipeline.bucket_name}/training/first-run/items.csv"},
        "roleArn": pipeline.personalize_role_arn,
        "importMode": "FULL",
    }
    assert items_job["jobName"].startswith("movielens-items-2026")
    assert interactions_job["datasetArn"] == f"{ARN}:dataset/movielens/INTERACTIONS"
    # Both imports ran at once: the items import was started before the interactions import and
    # was still running when that one started (register personalize.import.concurrency).
    jobs = {job["jobName"]: job for job in pipeline.account.personalize.resources_of("import_job")}
    items, interactions = jobs[items_job["jobName"]], jobs[interactions_job["jobName"]]
    assert items["creationDateTime"] <= interactions["creationDateTime"] < items["lastUpdatedDateTime"]
    body = pipeline.account.s3().get_object(Bucket=pipeline.bucket_name, Key="training/first-run/items.csv")["Body"]
    lines = body.read().decode().splitlines()
    assert lines[0] == "ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP"
    assert len(lines) == 401
    assert result.output["data"]["items"]["itemsWritten"] == 400
    # The smoke test asks through the exclusion filter as well (see test_filters.py); here: served.
    assert len(result.output["recommendations"]["itemIds"]) == 10


def test_a_movie_file_uploaded_later_or_changed_alone_is_new_data(pipeline: OfflinePipeline) -> None:
    ratings_only = pipeline.start_execution(name="week-1")
    unchanged = pipeline.start_execution(name="week-2", gap=timedelta(days=7))
    pipeline.upload_items(to_u_item())
    with_items = pipeline.start_execution(name="week-3", gap=timedelta(days=7))
    pipeline.upload_items(to_u_item(seed=8))
    changed_items = pipeline.start_execution(name="week-4", gap=timedelta(days=7))

    assert ratings_only.status == "SUCCEEDED", ratings_only.cause
    assert "Ensure items dataset" not in ratings_only.states_entered()
    assert ratings_only.output["data"]["items"]["itemsUri"] is None
    assert unchanged.output["outcome"] == "skipped"
    # An interactions-only deployment gains the items dataset, and each change of the movie file
    # alone retrains: change detection covers both files.
    assert with_items.status == changed_items.status == "SUCCEEDED", changed_items.cause
    assert with_items.output["campaignAction"] == changed_items.output["campaignAction"] == "updated"
    assert [d["datasetType"] for d in calls(pipeline, "CreateDataset")] == ["Interactions", "Items"]
    assert len([j for j in calls(pipeline, "CreateDatasetImportJob") if "/ITEMS" in j["datasetArn"]]) == 2
    assert len(calls(pipeline, "CreateSolutionVersion")) == 3


def test_an_items_dataset_on_an_older_schema_moves_to_the_new_one_with_update_dataset(
    pipeline: OfflinePipeline,
) -> None:
    """A deployment whose items had no YEAR: the dataset and its imported data stay."""
    old_schema, dataset = existing_items_dataset(pipeline, "movielens-items-01d5c4e3", WITHOUT_YEAR)
    pipeline.upload_items(to_u_item())

    result = pipeline.start_execution(name="first-run")

    assert result.status == "SUCCEEDED", result.cause
    assert calls(pipeline, "UpdateDataset") == [
        {"datasetArn": dataset, "schemaArn": f"{ARN}:schema/{ITEMS_SCHEMA_NAME}"}
    ]
    assert calls(pipeline, "DeleteDataset") == []
    # The step compared the fields of the schema the dataset was on before moving it.
    assert {"schemaArn": old_schema} in calls(pipeline, "DescribeSchema")
    assert items_dataset(pipeline)["schemaArn"] == f"{ARN}:schema/{ITEMS_SCHEMA_NAME}"
    assert items_dataset(pipeline)["latestDatasetUpdate"]["status"] == "ACTIVE"
    # The import waited for the move: it was started only once the update was ACTIVE.
    (items_job,) = [j for j in pipeline.account.personalize.resources_of("import_job") if "/ITEMS" in j["datasetArn"]]
    assert items_job["creationDateTime"] >= items_dataset(pipeline)["latestDatasetUpdate"]["lastUpdatedDateTime"]


def test_a_schema_without_a_column_the_dataset_has_stops_the_run_before_anything_changes(
    pipeline: OfflinePipeline,
) -> None:
    newer = [*ITEMS_SCHEMA["fields"], {"name": "DIRECTOR", "type": ["null", "string"], "categorical": True}]
    schema, dataset = existing_items_dataset(pipeline, "movielens-items-d1rec70r", newer)
    pipeline.upload_items(to_u_item())

    result = pipeline.start_execution(name="first-run")

    assert result.status == "FAILED"
    assert result.error == "SchemaColumnRemovedError"
    message = json.loads(result.cause)["errorMessage"]
    assert message.startswith(f"the items dataset {dataset} has the column(s) DIRECTOR (schema {schema})")
    assert "Keep the column(s) in the schema" in message and message.endswith("Nothing was changed.")
    assert calls(pipeline, "UpdateDataset") == calls(pipeline, "DeleteDataset") == []
    assert calls(pipeline, "CreateDatasetImportJob") == []
    assert items_dataset(pipeline)["schemaArn"] == schema


def test_a_failed_items_import_fails_the_run_and_leaves_the_campaign_alone(pipeline: OfflinePipeline) -> None:
    pipeline.upload_items(to_u_item())
    first = pipeline.start_execution(name="week-1")
    reason = "Row 7: a categorical value of GENRES is over 1000 characters"
    # The items import is started first: the next import job to fail is this run's items import.
    pipeline.account.personalize.fail_next("import_job", reason)
    pipeline.upload_items(to_u_item(seed=8))
    before = len(pipeline.account.personalize.calls)

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert first.status == "SUCCEEDED", first.cause
    assert second.status == "FAILED"
    assert second.error == "ItemsImportJobFailed"
    assert second.cause.startswith(f"Items import job {ARN}:dataset-import-job/movielens-items-")
    assert second.cause.endswith(f"is CREATE FAILED: {reason}")
    assert calls(pipeline, "CreateSolutionVersion", since=before) == []
    assert calls(pipeline, "UpdateCampaign", since=before) == []
    assert campaign_version(pipeline) == first.output["solutionVersionArn"]
    (event,) = [e for e in pipeline.events if e["detail"]["runName"] == "week-2"]
    assert event["detail"]["failedStage"] == "items import"


def test_destroy_deletes_the_items_dataset_and_every_items_schema_it_had(pipeline: OfflinePipeline) -> None:
    old_fields = [field for field in ITEMS_SCHEMA["fields"] if field["name"] != "YEAR"]
    old_schema = personalize().create_schema(
        name="movielens-items-01d5c4e3", schema=json.dumps({**ITEMS_SCHEMA, "fields": old_fields})
    )["schemaArn"]
    # Another pipeline's items schema, whose name starts like ours: not ours to delete.
    personalize().create_schema(name="movielens-items-v2-items-12345678", schema=json.dumps(ITEMS_SCHEMA))
    group = personalize().create_dataset_group(name="movielens")["datasetGroupArn"]
    pipeline.account.clock.advance(120)
    personalize().create_dataset(
        name="movielens-items", schemaArn=old_schema, datasetGroupArn=group, datasetType="Items"
    )
    pipeline.account.clock.advance(120)
    pipeline.upload_items(to_u_item())
    assert pipeline.start_execution(name="week-1").status == "SUCCEEDED"

    outcome = pipeline.destroy()

    assert outcome.status == "SUCCESS", outcome.reason
    assert [s["name"] for s in pipeline.account.personalize.resources_of("schema")] == [
        "movielens-items-v2-items-12345678"
    ]
    assert pipeline.account.personalize.resources_of("dataset") == []
