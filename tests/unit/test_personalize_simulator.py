"""The Personalize simulator behaves like the service, seen through real boto3 clients."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.handlers
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ParamValidationError

from simulator import aws
from simulator.clock import SimulatedClock
from simulator.personalize import PersonalizeSimulator, StageDurations
from simulator.service_model import SimulatedServiceError
from stacks.interactions_schema import INTERACTIONS_SCHEMA_JSON
from stacks.items_schema import ITEMS_SCHEMA_JSON

ROLE = "arn:aws:iam::123456789012:role/PersonalizeRole"
RECIPE = "arn:aws:personalize:::recipe/aws-user-personalization"
SCHEMA = INTERACTIONS_SCHEMA_JSON
D = StageDurations()


def interactions_csv(users: int = 40, per_user: int = 30) -> bytes:
    """Item i{n} is more popular the smaller n is; user u0 has seen only the top items."""
    lines = ["USER_ID,ITEM_ID,TIMESTAMP"]
    for user in range(users):
        lines += [f"u{user},i{(user + k) % 60},{1_700_000_000 + k}" for k in range(per_user)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock()


@pytest.fixture
def files() -> dict[tuple[str, str], bytes]:
    return {("data-bucket", "train/interactions.csv"): interactions_csv()}


@pytest.fixture
def sim(clock: SimulatedClock, files: dict[tuple[str, str], bytes]) -> Iterator[PersonalizeSimulator]:
    def read(bucket: str, key: str) -> bytes:
        return files[(bucket, key)]  # KeyError: the object does not exist

    simulator = PersonalizeSimulator(clock, s3_reader=read)
    with aws.activate(simulator):
        yield simulator


def _client(service: str) -> BaseClient:
    return boto3.session.Session().client(
        service, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )


@pytest.fixture(scope="module")
def pz() -> BaseClient:
    """Created once, before any simulator is active: activation must still reach it."""
    return _client("personalize")


@pytest.fixture(scope="module")
def runtime() -> BaseClient:
    return _client("personalize-runtime")


def build_group(pz: BaseClient, clock: SimulatedClock, name: str = "movies") -> dict[str, str]:
    group = pz.create_dataset_group(name=name)["datasetGroupArn"]
    clock.advance(D.dataset_group)
    schema = pz.create_schema(name=f"{name}-schema", schema=SCHEMA)["schemaArn"]
    dataset = pz.create_dataset(
        name=f"{name}-interactions", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    clock.advance(D.dataset)
    return {"group": group, "schema": schema, "dataset": dataset}


def import_data(
    pz: BaseClient, clock: SimulatedClock, dataset: str, job: str = "import-1", key: str = "train/interactions.csv"
) -> str:
    arn: str = pz.create_dataset_import_job(
        jobName=job, datasetArn=dataset, dataSource={"dataLocation": f"s3://data-bucket/{key}"}, roleArn=ROLE
    )["datasetImportJobArn"]
    clock.advance(D.import_job)
    return arn


def train(pz: BaseClient, clock: SimulatedClock, solution: str, mode: str = "FULL") -> str:
    arn: str = pz.create_solution_version(solutionArn=solution, trainingMode=mode)["solutionVersionArn"]
    clock.advance(D.solution_version if mode == "FULL" else D.solution_version_update)
    return arn


@pytest.fixture
def trained(pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator) -> dict[str, str]:
    arns = build_group(pz, clock)
    import_data(pz, clock, arns["dataset"])
    arns["solution"] = pz.create_solution(
        name="movies-solution", datasetGroupArn=arns["group"], recipeArn=RECIPE, performAutoTraining=False
    )["solutionArn"]
    clock.advance(D.solution)
    arns["version"] = train(pz, clock, arns["solution"])
    return arns


def deploy(pz: BaseClient, clock: SimulatedClock, version: str) -> str:
    arn: str = pz.create_campaign(name="movies-campaign", solutionVersionArn=version, minProvisionedTPS=1)[
        "campaignArn"
    ]
    clock.advance(D.campaign)
    return arn


def status(pz: BaseClient, arn: str) -> str:
    result: str = pz.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]["status"]
    return result


# --------------------------------------------------------------------------- wiring


def test_hook_is_a_builtin_handler_for_both_services_and_the_routable_ones() -> None:
    events = {spec[0] for spec in botocore.handlers.BUILTIN_HANDLERS if spec[1] is aws._before_call}
    # Step Functions and CloudFormation are answered only while a route is registered (offline runs).
    assert events == {
        "before-call.personalize",
        "before-call.personalize-runtime",
        "before-call.stepfunctions",
        "before-call.cloudformation",
    }


def test_without_activation_the_hook_stays_out_of_the_way(pz: BaseClient) -> None:
    assert aws.active_simulator() is None
    assert aws._before_call(pz.meta.service_model.operation_model("ListCampaigns"), {"body": b"{}"}) is None


def test_only_one_simulator_at_a_time(sim: PersonalizeSimulator, clock: SimulatedClock) -> None:
    with pytest.raises(RuntimeError):
        aws.activate(PersonalizeSimulator(clock))


# --------------------------------------------------------------------------- lifecycle


def test_dataset_group_status_follows_the_clock(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator
) -> None:
    arn = pz.create_dataset_group(name="movies")["datasetGroupArn"]
    assert arn == "arn:aws:personalize:us-east-1:123456789012:dataset-group/movies"
    assert status(pz, arn) == "CREATE PENDING"
    clock.advance(1)
    assert status(pz, arn) == "CREATE IN_PROGRESS"
    clock.advance(D.dataset_group - 2)
    assert status(pz, arn) == "CREATE IN_PROGRESS"
    clock.advance(1)
    group = pz.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    assert group["status"] == "ACTIVE"
    assert group["lastUpdatedDateTime"] - group["creationDateTime"] == (clock.now() - group["creationDateTime"])


def test_resources_have_the_real_arn_formats(pz: BaseClient, clock: SimulatedClock, trained: dict[str, str]) -> None:
    base = "arn:aws:personalize:us-east-1:123456789012:"
    assert trained["schema"] == base + "schema/movies-schema"
    assert trained["dataset"] == base + "dataset/movies/INTERACTIONS"
    assert trained["solution"] == base + "solution/movies-solution"
    suffix = trained["version"].removeprefix(trained["solution"] + "/")
    assert len(suffix) == 8 and all(c in "0123456789abcdef" for c in suffix)
    assert deploy(pz, clock, trained["version"]) == base + "campaign/movies-campaign"


def test_delete_goes_through_pending_and_in_progress_then_not_found(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator
) -> None:
    arn = pz.create_dataset_group(name="movies")["datasetGroupArn"]
    clock.advance(D.dataset_group)
    pz.delete_dataset_group(datasetGroupArn=arn)
    assert status(pz, arn) == "DELETE PENDING"
    clock.advance(1)
    assert status(pz, arn) == "DELETE IN_PROGRESS"
    clock.advance(D.delete)
    with pytest.raises(pz.exceptions.ResourceNotFoundException) as caught:
        status(pz, arn)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert pz.list_dataset_groups()["datasetGroups"] == []


def test_stick_deleting_keeps_a_resource_deleting(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator
) -> None:
    sim.stick_deleting("dataset_group")
    arn = pz.create_dataset_group(name="movies")["datasetGroupArn"]
    clock.advance(D.dataset_group)
    pz.delete_dataset_group(datasetGroupArn=arn)
    clock.advance(86_400)
    assert status(pz, arn) == "DELETE IN_PROGRESS"


def test_stop_solution_version(pz: BaseClient, clock: SimulatedClock, trained: dict[str, str]) -> None:
    version = pz.create_solution_version(solutionArn=trained["solution"])["solutionVersionArn"]
    clock.advance(10)
    pz.stop_solution_version_creation(solutionVersionArn=version)
    described = pz.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["status"] == "CREATE STOPPING"
    clock.advance(D.stop)
    described = pz.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["status"] == "CREATE STOPPED"
    assert "trainingHours" not in described


# --------------------------------------------------------------------------- validation


def test_bad_name_pattern_is_invalid_input(pz: BaseClient, sim: PersonalizeSimulator) -> None:
    with pytest.raises(pz.exceptions.InvalidInputException) as caught:
        pz.create_dataset_group(name="my movies")
    message = caught.value.response["Error"]["Message"]
    assert message.startswith("1 validation error detected: Value 'my movies' at 'name'")
    assert "regular expression pattern" in message


def test_name_too_long_is_invalid_input(pz: BaseClient, sim: PersonalizeSimulator) -> None:
    with pytest.raises(pz.exceptions.InvalidInputException, match="less than or equal to 63"):
        pz.create_dataset_group(name="a" * 64)


def test_bad_enum_is_invalid_input(pz: BaseClient, trained: dict[str, str]) -> None:
    with pytest.raises(pz.exceptions.InvalidInputException, match="enum value set: \\[FULL, UPDATE, AUTOTRAIN\\]"):
        pz.create_solution_version(solutionArn=trained["solution"], trainingMode="PARTIAL")


def test_botocore_still_validates_types_and_required_members(pz: BaseClient, sim: PersonalizeSimulator) -> None:
    with pytest.raises(ParamValidationError):
        pz.create_dataset_group()
    with pytest.raises(ParamValidationError):
        pz.create_campaign(
            name="c", solutionVersionArn="arn:aws:personalize:us-east-1:1:solution/s/1", minProvisionedTPS="1"
        )
    assert sim.calls == []


def test_direct_handle_validates_too(sim: PersonalizeSimulator) -> None:
    with pytest.raises(SimulatedServiceError) as caught:
        sim.handle("DescribeCampaign", {"campaignArn": "not-an-arn"})
    assert caught.value.code == "InvalidInputException"
    with pytest.raises(SimulatedServiceError, match="Missing required parameter"):
        sim.handle("CreateDatasetGroup", {})


def test_schema_must_be_an_avro_record(pz: BaseClient, sim: PersonalizeSimulator) -> None:
    with pytest.raises(pz.exceptions.InvalidInputException, match="not valid JSON"):
        pz.create_schema(name="s", schema="{nope")
    with pytest.raises(pz.exceptions.InvalidInputException, match="record"):
        pz.create_schema(name="s", schema=json.dumps({"type": "enum", "name": "x", "fields": []}))


def test_recipe_arn_is_checked(pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator) -> None:
    group = build_group(pz, clock)["group"]
    with pytest.raises(pz.exceptions.InvalidInputException, match="recipe"):
        pz.create_solution(name="s", datasetGroupArn=group, recipeArn="arn:aws:personalize:us-east-1:1:solution/x")
    with pytest.raises(pz.exceptions.ResourceNotFoundException):
        pz.create_solution(name="s", datasetGroupArn=group, recipeArn="arn:aws:personalize:::recipe/aws-nope")


# --------------------------------------------------------------------------- ordering rules


def test_duplicate_name_is_already_exists(pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator) -> None:
    pz.create_dataset_group(name="movies")
    with pytest.raises(pz.exceptions.ResourceAlreadyExistsException):
        pz.create_dataset_group(name="movies")


def test_child_of_a_parent_not_active_is_resource_in_use(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator
) -> None:
    group = pz.create_dataset_group(name="movies")["datasetGroupArn"]
    schema = pz.create_schema(name="s", schema=SCHEMA)["schemaArn"]
    clock.advance(5)
    with pytest.raises(pz.exceptions.ResourceInUseException, match="CREATE IN_PROGRESS"):
        pz.create_dataset(name="d", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions")
    clock.advance(D.dataset_group)
    dataset = pz.create_dataset(name="d", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions")[
        "datasetArn"
    ]
    with pytest.raises(pz.exceptions.ResourceInUseException):
        pz.create_dataset_import_job(jobName="j", datasetArn=dataset, dataSource={"dataLocation": "s3://b/k.csv"})


def test_one_training_per_solution_at_a_time(pz: BaseClient, clock: SimulatedClock, trained: dict[str, str]) -> None:
    pz.create_solution_version(solutionArn=trained["solution"])
    with pytest.raises(pz.exceptions.ResourceInUseException):
        pz.create_solution_version(solutionArn=trained["solution"])


def test_deleting_parents_with_children_is_resource_in_use(
    pz: BaseClient, clock: SimulatedClock, trained: dict[str, str]
) -> None:
    with pytest.raises(pz.exceptions.ResourceInUseException):
        pz.delete_dataset_group(datasetGroupArn=trained["group"])
    deploy(pz, clock, trained["version"])
    with pytest.raises(pz.exceptions.ResourceInUseException):
        pz.delete_solution(solutionArn=trained["solution"])
    with pytest.raises(pz.exceptions.ResourceInUseException):
        pz.delete_schema(schemaArn=trained["schema"])


def test_teardown_in_dependency_order(
    pz: BaseClient, clock: SimulatedClock, trained: dict[str, str], sim: PersonalizeSimulator
) -> None:
    campaign = deploy(pz, clock, trained["version"])
    pz.delete_campaign(campaignArn=campaign)
    clock.advance(D.delete)
    pz.delete_solution(solutionArn=trained["solution"])
    pz.delete_dataset(datasetArn=trained["dataset"])
    clock.advance(D.delete)
    assert sim.resources_of("solution_version") == []
    assert sim.resources_of("import_job") == []
    pz.delete_schema(schemaArn=trained["schema"])
    pz.delete_dataset_group(datasetGroupArn=trained["group"])
    clock.advance(D.delete)
    assert all(sim.resources_of(kind) == [] for kind in ("dataset_group", "schema", "campaign", "solution"))


# --------------------------------------------------------------------------- solutions and training


def test_solution_records_what_was_sent_and_the_service_default(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator
) -> None:
    group = build_group(pz, clock)["group"]
    explicit = pz.create_solution(name="a", datasetGroupArn=group, recipeArn=RECIPE, performAutoTraining=False)
    implicit = pz.create_solution(name="b", datasetGroupArn=group, recipeArn=RECIPE)
    assert pz.describe_solution(solutionArn=explicit["solutionArn"])["solution"]["performAutoTraining"] is False
    assert pz.describe_solution(solutionArn=implicit["solutionArn"])["solution"]["performAutoTraining"] is True


def test_auto_training_adds_versions_unless_disabled(
    pz: BaseClient, clock: SimulatedClock, trained: dict[str, str]
) -> None:
    auto = pz.create_solution(name="auto", datasetGroupArn=trained["group"], recipeArn=RECIPE)["solutionArn"]
    clock.advance(D.solution + 3600 + D.solution_version)
    versions = pz.list_solution_versions(solutionArn=auto)["solutionVersions"]
    assert [(v["trainingMode"], v["status"]) for v in versions] == [("AUTOTRAIN", "ACTIVE")]
    assert len(pz.list_solution_versions(solutionArn=trained["solution"])["solutionVersions"]) == 1


def test_update_training_needs_a_capable_recipe(pz: BaseClient, clock: SimulatedClock, trained: dict[str, str]) -> None:
    sims = pz.create_solution(
        name="sims",
        datasetGroupArn=trained["group"],
        recipeArn="arn:aws:personalize:::recipe/aws-sims",
        performAutoTraining=False,
    )["solutionArn"]
    clock.advance(D.solution)
    with pytest.raises(pz.exceptions.InvalidInputException, match="UPDATE"):
        pz.create_solution_version(solutionArn=sims, trainingMode="UPDATE")
    update = train(pz, clock, trained["solution"], "UPDATE")
    described = pz.describe_solution_version(solutionVersionArn=update)["solutionVersion"]
    assert (described["trainingMode"], described["status"]) == ("UPDATE", "ACTIVE")
    assert described["trainingHours"] > 0


def test_metrics_are_deterministic_and_settable(
    pz: BaseClient, clock: SimulatedClock, trained: dict[str, str], sim: PersonalizeSimulator
) -> None:
    first = pz.get_solution_metrics(solutionVersionArn=trained["version"])
    assert first["solutionVersionArn"] == trained["version"]
    assert set(first["metrics"]) >= {
        "coverage",
        "mean_reciprocal_rank_at_25",
        "precision_at_5",
        "normalized_discounted_cumulative_gain_at_10",
    }
    assert pz.get_solution_metrics(solutionVersionArn=trained["version"])["metrics"] == first["metrics"]
    sim.set_metrics(None, {"coverage": 0.01, "precision_at_5": 0.0})
    worse = train(pz, clock, trained["solution"])
    assert pz.get_solution_metrics(solutionVersionArn=worse)["metrics"] == {"coverage": 0.01, "precision_at_5": 0.0}


def test_metrics_of_a_version_still_training_are_refused(pz: BaseClient, trained: dict[str, str]) -> None:
    version = pz.create_solution_version(solutionArn=trained["solution"])["solutionVersionArn"]
    with pytest.raises(pz.exceptions.ResourceInUseException):
        pz.get_solution_metrics(solutionVersionArn=version)


def test_an_import_of_too_little_data_fails_and_so_does_training_without_data(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator, files: dict[tuple[str, str], bytes]
) -> None:
    """Register personalize.import.quotas: an interactions import job takes at least 1,000 records."""
    files[("data-bucket", "tiny.csv")] = interactions_csv(users=3, per_user=2)
    arns = build_group(pz, clock)
    job = import_data(pz, clock, arns["dataset"], key="tiny.csv")
    described_job = pz.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
    assert described_job["status"] == "CREATE FAILED"
    assert "6 interaction records; a dataset import job needs at least 1000" in described_job["failureReason"]
    solution = pz.create_solution(name="s", datasetGroupArn=arns["group"], recipeArn=RECIPE, performAutoTraining=False)[
        "solutionArn"
    ]
    clock.advance(D.solution)
    described = pz.describe_solution_version(solutionVersionArn=train(pz, clock, solution))["solutionVersion"]
    assert described["status"] == "CREATE FAILED"
    assert described["failureReason"] == "No data found in the dataset group: import interactions before training"


# --------------------------------------------------------------------------- imports


def test_import_of_a_missing_object_fails_with_a_reason(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator
) -> None:
    dataset = build_group(pz, clock)["dataset"]
    job = import_data(pz, clock, dataset, key="missing.csv")
    described = pz.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
    assert described["status"] == "CREATE FAILED"
    assert "s3://data-bucket/missing.csv" in described["failureReason"]


def test_import_of_a_csv_without_the_columns_fails(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator, files: dict[tuple[str, str], bytes]
) -> None:
    files[("data-bucket", "bad.csv")] = b"userId,movieId,rating\n1,2,5\n"
    dataset = build_group(pz, clock)["dataset"]
    job = import_data(pz, clock, dataset, key="bad.csv")
    reason = pz.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]["failureReason"]
    assert reason == "Input CSV is missing the following columns: [USER_ID, ITEM_ID, TIMESTAMP]"


def test_one_import_at_a_time_per_dataset(pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator) -> None:
    dataset = build_group(pz, clock)["dataset"]
    source = {"dataLocation": "s3://data-bucket/train/interactions.csv"}
    pz.create_dataset_import_job(jobName="a", datasetArn=dataset, dataSource=source, roleArn=ROLE)
    with pytest.raises(pz.exceptions.ResourceInUseException):
        pz.create_dataset_import_job(jobName="b", datasetArn=dataset, dataSource=source, roleArn=ROLE)


# --------------------------------------------------------------------------- campaigns


def test_update_campaign_keeps_serving_and_switches_at_the_end(
    pz: BaseClient, clock: SimulatedClock, trained: dict[str, str], sim: PersonalizeSimulator
) -> None:
    campaign = deploy(pz, clock, trained["version"])
    new_version = train(pz, clock, trained["solution"])
    pz.update_campaign(campaignArn=campaign, solutionVersionArn=new_version, minProvisionedTPS=2)

    # Register personalize.campaign-update.stale-read: right after the call, the campaign reads as before.
    described = pz.describe_campaign(campaignArn=campaign)["campaign"]
    assert described["status"] == "ACTIVE"
    assert described["solutionVersionArn"] == trained["version"]
    assert "latestCampaignUpdate" not in described
    with pytest.raises(pz.exceptions.ResourceInUseException):
        pz.update_campaign(campaignArn=campaign, solutionVersionArn=new_version)

    clock.advance(sim.campaign_update_read_lag_seconds)
    update = pz.describe_campaign(campaignArn=campaign)["campaign"]["latestCampaignUpdate"]
    assert (update["status"], update["solutionVersionArn"]) == ("CREATE IN_PROGRESS", new_version)
    clock.advance(D.campaign_update)
    described = pz.describe_campaign(campaignArn=campaign)["campaign"]
    assert described["latestCampaignUpdate"]["status"] == "ACTIVE"
    assert (described["solutionVersionArn"], described["minProvisionedTPS"]) == (new_version, 2)


def test_failed_campaign_update_keeps_the_old_version(
    pz: BaseClient, clock: SimulatedClock, trained: dict[str, str], sim: PersonalizeSimulator
) -> None:
    campaign = deploy(pz, clock, trained["version"])
    new_version = train(pz, clock, trained["solution"])
    sim.fail_next("campaign_update", "Internal error deploying the solution version")
    pz.update_campaign(campaignArn=campaign, solutionVersionArn=new_version)
    clock.advance(D.campaign_update)
    described = pz.describe_campaign(campaignArn=campaign)["campaign"]
    assert described["status"] == "ACTIVE"
    assert described["solutionVersionArn"] == trained["version"]
    assert described["latestCampaignUpdate"]["status"] == "CREATE FAILED"
    assert described["latestCampaignUpdate"]["failureReason"] == "Internal error deploying the solution version"


def test_campaign_needs_an_active_version(pz: BaseClient, clock: SimulatedClock, trained: dict[str, str]) -> None:
    training = pz.create_solution_version(solutionArn=trained["solution"])["solutionVersionArn"]
    with pytest.raises(pz.exceptions.ResourceInUseException):
        pz.create_campaign(name="c", solutionVersionArn=training)


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize("kind", ["dataset_group", "solution"])
def test_fail_next_marks_the_next_resource_failed(
    kind: str, pz: BaseClient, clock: SimulatedClock, trained: dict[str, str], sim: PersonalizeSimulator
) -> None:
    sim.fail_next(kind, "Simulated failure")
    if kind == "dataset_group":
        arn = pz.create_dataset_group(name="other")["datasetGroupArn"]
        clock.advance(D.dataset_group)
        described = pz.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    else:
        arn = pz.create_solution(
            name="other", datasetGroupArn=trained["group"], recipeArn=RECIPE, performAutoTraining=False
        )["solutionArn"]
        clock.advance(D.solution)
        described = {**pz.describe_solution(solutionArn=arn)["solution"], "failureReason": "Simulated failure"}
    # The Solution shape has no failureReason member: the service cannot report one.
    assert (described["status"], described["failureReason"]) == ("CREATE FAILED", "Simulated failure")


def test_fail_next_solution_version(
    pz: BaseClient, clock: SimulatedClock, trained: dict[str, str], sim: PersonalizeSimulator
) -> None:
    sim.fail_next("solution_version", "AlgorithmError: training diverged")
    version = train(pz, clock, trained["solution"])
    summary = pz.list_solution_versions(solutionArn=trained["solution"])["solutionVersions"][0]
    assert summary == {
        **summary,
        "solutionVersionArn": version,
        "status": "CREATE FAILED",
        "failureReason": "AlgorithmError: training diverged",
    }


def test_throttling_then_recovery(
    pz: BaseClient, clock: SimulatedClock, trained: dict[str, str], sim: PersonalizeSimulator
) -> None:
    sim.throttle("DescribeSolutionVersion", times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            pz.describe_solution_version(solutionVersionArn=trained["version"])
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert pz.describe_solution_version(solutionVersionArn=trained["version"])["solutionVersion"]["status"] == "ACTIVE"
    assert [op for op, _ in sim.calls].count("DescribeSolutionVersion") == 3


# --------------------------------------------------------------------------- runtime


def test_recommendations_come_from_the_imported_data(
    pz: BaseClient, runtime: BaseClient, clock: SimulatedClock, trained: dict[str, str]
) -> None:
    campaign = deploy(pz, clock, trained["version"])
    seen_by_u0 = {f"i{k}" for k in range(30)}
    items = runtime.get_recommendations(campaignArn=campaign, userId="u0", numResults=5)["itemList"]
    assert len(items) == 5
    assert not {item["itemId"] for item in items} & seen_by_u0
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    again = runtime.get_recommendations(campaignArn=campaign, userId="u0", numResults=5)["itemList"]
    assert again == items


def test_cold_user_gets_popular_items(
    pz: BaseClient, runtime: BaseClient, clock: SimulatedClock, trained: dict[str, str]
) -> None:
    campaign = deploy(pz, clock, trained["version"])
    items = runtime.get_recommendations(campaignArn=campaign, userId="never-seen")["itemList"]
    counts = Counter(line.split(",")[1] for line in interactions_csv().decode().splitlines()[1:])
    expected = sorted(counts, key=lambda item: (-counts[item], item))[:25]
    assert [item["itemId"] for item in items] == expected


def test_recommendations_need_an_active_campaign(pz: BaseClient, runtime: BaseClient, trained: dict[str, str]) -> None:
    campaign = pz.create_campaign(name="c", solutionVersionArn=trained["version"])["campaignArn"]
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_recommendations(campaignArn=campaign, userId="u0")


# --------------------------------------------------------------------------- Step Functions aws-sdk bridge


def test_call_speaks_step_functions_pascal_case(clock: SimulatedClock, trained: dict[str, str]) -> None:
    result = aws.call("personalize", "describeSolutionVersion", {"SolutionVersionArn": trained["version"]})
    version = result["SolutionVersion"]
    assert version["Status"] == "ACTIVE"
    assert version["TrainingMode"] == "FULL"
    assert version["CreationDateTime"] == "2026-01-05T06:18:00Z"
    json.dumps(result)  # JSON-safe
    metrics = aws.call("personalize", "getSolutionMetrics", {"SolutionVersionArn": trained["version"]})["Metrics"]
    assert "precision_at_5" in metrics  # map keys are data, not members: not re-cased


def test_call_names_errors_like_step_functions(trained: dict[str, str]) -> None:
    missing = trained["solution"] + "/deadbeef"
    with pytest.raises(aws.AwsSdkTaskError) as caught:
        aws.call("personalize", "describeSolutionVersion", {"SolutionVersionArn": missing})
    assert caught.value.error == "Personalize.ResourceNotFoundException"
    assert "(Service: Personalize, Status Code: 400" in caught.value.cause
    with pytest.raises(aws.AwsSdkParameterError):
        aws.call("personalize", "describeSolutionVersion", {"VersionArn": missing})


def test_call_works_without_credentials_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, sim: PersonalizeSimulator
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    assert aws.call("personalize", "listDatasetGroups", {}) == {"DatasetGroups": []}


def test_iso_timestamps_are_utc_with_z() -> None:
    moment = datetime(2026, 1, 5, 6, 0, 0, 250_000, tzinfo=UTC)
    assert aws.iso_timestamp(moment) == "2026-01-05T06:00:00.250Z"


def test_responses_carry_only_modeled_members(
    sim: PersonalizeSimulator, trained: dict[str, str], clock: SimulatedClock, pz: BaseClient
) -> None:
    """Every Describe/List answer passed check_response inside handle(); exercise them all."""
    campaign = deploy(pz, clock, trained["version"])
    calls: list[tuple[str, dict[str, Any]]] = [
        ("DescribeDatasetGroup", {"datasetGroupArn": trained["group"]}),
        ("DescribeSchema", {"schemaArn": trained["schema"]}),
        ("DescribeDataset", {"datasetArn": trained["dataset"]}),
        ("DescribeSolution", {"solutionArn": trained["solution"]}),
        ("DescribeCampaign", {"campaignArn": campaign}),
        ("ListSchemas", {}),
        ("ListDatasets", {"datasetGroupArn": trained["group"]}),
        ("ListDatasetImportJobs", {"datasetArn": trained["dataset"]}),
        ("ListSolutions", {}),
        ("ListCampaigns", {"solutionArn": trained["solution"]}),
    ]
    for operation, params in calls:
        assert sim.handle(operation, params)


def test_failed_dataset_reports_status_without_an_unmodeled_reason(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator
) -> None:
    sim.fail_next("dataset", "Simulated failure")
    arns = build_group(pz, clock)
    assert pz.describe_dataset(datasetArn=arns["dataset"])["dataset"]["status"] == "CREATE FAILED"


def test_lists_paginate_newest_first(pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator) -> None:
    for index in range(3):
        pz.create_dataset_group(name=f"group-{index}")
        clock.advance(1)
    first = pz.list_dataset_groups(maxResults=2)
    assert [g["name"] for g in first["datasetGroups"]] == ["group-2", "group-1"]
    rest = pz.list_dataset_groups(maxResults=2, nextToken=first["nextToken"])
    assert [g["name"] for g in rest["datasetGroups"]] == ["group-0"] and "nextToken" not in rest


def test_auto_training_skips_a_slot_while_busy_and_keeps_its_schedule(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator, trained: dict[str, str]
) -> None:
    auto = pz.create_solution(name="auto", datasetGroupArn=trained["group"], recipeArn=RECIPE)["solutionArn"]
    clock.advance(D.solution + 1800)
    manual = pz.create_solution_version(solutionArn=auto, trainingMode="FULL")["solutionVersionArn"]
    clock.advance(7 * 86400 + D.solution_version)  # the first slot (busy) and the second (free)

    versions = {v["solutionVersionArn"]: v for v in pz.list_solution_versions(solutionArn=auto)["solutionVersions"]}
    modes = sorted(
        pz.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]["trainingMode"] for arn in versions
    )
    assert manual in versions
    assert modes == ["AUTOTRAIN", "FULL"]
    assert [arn for arn, _ in sim.autotraining_skipped] == [auto]


def test_a_snapshot_carries_resources_into_another_simulator_but_never_pending_faults(
    sim: PersonalizeSimulator, clock: SimulatedClock, pz: BaseClient
) -> None:
    group = pz.create_dataset_group(name="snap")["datasetGroupArn"]
    state = sim.export_state()
    other = PersonalizeSimulator(clock)

    other.import_state(state)

    assert [g["datasetGroupArn"] for g in other.resources_of("dataset_group")] == [group]
    sim.fail_next("solution", "later")
    with pytest.raises(ValueError, match="injected faults pending"):
        sim.export_state()


# --- the items dataset (register personalize.items.schema) ------------------------------------------

ITEMS_CSV = b"ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP\n1,Comedy|Drama,1995,788918400\n2,,,\n"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (ITEMS_CSV, None),
        (
            b"ITEM_ID,YEAR,GENRES,CREATION_TIMESTAMP\n1,1995,Comedy,1\n",
            "Input CSV columns ['ITEM_ID', 'YEAR', 'GENRES', 'CREATION_TIMESTAMP'] do not match the schema's "
            "fields in order: ['ITEM_ID', 'GENRES', 'YEAR', 'CREATION_TIMESTAMP']",
        ),
        (
            b"ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP\n1," + b"x" * 1001 + b",1995,\n",
            "Row 2: a categorical value of GENRES is over 1000 characters",
        ),
        (
            b"ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP\n,Comedy,1995,\n",
            "Row 2: ITEM_ID is empty but the schema does not allow null",
        ),
        (b"ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP\n1,Comedy,MCMXCV,\n", "Row 2: YEAR 'MCMXCV' is not a int"),
    ],
    ids=["converted-file", "columns-out-of-order", "categorical-too-long", "no-item-id", "year-not-a-number"],
)
def test_an_items_import_is_checked_against_its_schema(
    pz: BaseClient,
    clock: SimulatedClock,
    sim: PersonalizeSimulator,
    files: dict[tuple[str, str], bytes],
    body: bytes,
    reason: str | None,
) -> None:
    arns = build_group(pz, clock)
    schema = pz.create_schema(name="movies-items", schema=ITEMS_SCHEMA_JSON)["schemaArn"]
    dataset = pz.create_dataset(
        name="movies-items", schemaArn=schema, datasetGroupArn=arns["group"], datasetType="Items"
    )
    clock.advance(D.dataset)
    files[("data-bucket", "train/items.csv")] = body

    job = import_data(pz, clock, dataset["datasetArn"], job="items-1", key="train/items.csv")

    described = pz.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
    assert (described["status"], described.get("failureReason")) == (
        ("ACTIVE", None) if reason is None else ("CREATE FAILED", reason)
    )


def test_an_items_dataset_needs_an_item_id_in_its_schema(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator
) -> None:
    arns = build_group(pz, clock)
    titles_only = {"type": "record", "name": "Items", "fields": [{"name": "TITLE", "type": "string"}]}
    schema = pz.create_schema(name="titles", schema=json.dumps(titles_only))["schemaArn"]
    with pytest.raises(ClientError, match=r"missing required fields for ITEMS: \['ITEM_ID'\]"):
        pz.create_dataset(name="movies-items", schemaArn=schema, datasetGroupArn=arns["group"], datasetType="Items")


def _schema_with(pz: BaseClient, name: str, fields: list[dict[str, Any]]) -> str:
    base = json.loads(ITEMS_SCHEMA_JSON)
    return str(pz.create_schema(name=name, schema=json.dumps({**base, "fields": fields}))["schemaArn"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop-year", r"must keep all fields of the previous schema; missing: \['YEAR'\]"),
        ("year-as-string", r"can't change the data type or attributes of fields: \['YEAR'\]"),
        ("new-not-nullable", r"New fields must support null data: \['DIRECTOR'\]"),
    ],
)
def test_update_dataset_refuses_a_schema_that_drops_changes_or_requires_a_field(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator, change: str, message: str
) -> None:
    """Register personalize.dataset.update."""
    arns = build_group(pz, clock)
    fields = json.loads(ITEMS_SCHEMA_JSON)["fields"]
    current = pz.create_schema(name="items-v1", schema=ITEMS_SCHEMA_JSON)["schemaArn"]
    dataset = pz.create_dataset(name="items", schemaArn=current, datasetGroupArn=arns["group"], datasetType="Items")
    clock.advance(D.dataset)
    new_fields = {
        "drop-year": [f for f in fields if f["name"] != "YEAR"],
        "year-as-string": [f if f["name"] != "YEAR" else {"name": "YEAR", "type": ["null", "string"]} for f in fields],
        "new-not-nullable": [*fields, {"name": "DIRECTOR", "type": "string", "categorical": True}],
    }[change]

    with pytest.raises(ClientError, match=message) as raised:
        pz.update_dataset(datasetArn=dataset["datasetArn"], schemaArn=_schema_with(pz, "items-v2", new_fields))
    assert raised.value.response["Error"]["Code"] == "InvalidInputException"


def test_update_dataset_adds_a_nullable_field_to_items_only_and_blocks_imports_meanwhile(
    pz: BaseClient, clock: SimulatedClock, sim: PersonalizeSimulator, files: dict[tuple[str, str], bytes]
) -> None:
    arns = build_group(pz, clock)
    fields = json.loads(ITEMS_SCHEMA_JSON)["fields"]
    older = _schema_with(pz, "items-v1", [f for f in fields if f["name"] != "YEAR"])
    newer = pz.create_schema(name="items-v2", schema=ITEMS_SCHEMA_JSON)["schemaArn"]
    dataset = pz.create_dataset(name="items", schemaArn=older, datasetGroupArn=arns["group"], datasetType="Items")
    clock.advance(D.dataset)
    with pytest.raises(ClientError, match="You can't replace the schema of a INTERACTIONS dataset"):
        pz.update_dataset(datasetArn=arns["dataset"], schemaArn=newer)

    pz.update_dataset(datasetArn=dataset["datasetArn"], schemaArn=newer)

    pending = pz.describe_dataset(datasetArn=dataset["datasetArn"])["dataset"]
    assert (pending["status"], pending["schemaArn"]) == ("ACTIVE", older)
    assert pending["latestDatasetUpdate"]["status"] == "CREATE PENDING"
    assert pending["latestDatasetUpdate"]["schemaArn"] == newer
    files[("data-bucket", "train/items.csv")] = b"ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP\n1,Comedy,1995,\n"
    with pytest.raises(ClientError, match="is being updated to a new schema") as raised:
        import_data(pz, clock, dataset["datasetArn"], job="items-1", key="train/items.csv")
    assert raised.value.response["Error"]["Code"] == "ResourceInUseException"
    with pytest.raises(ClientError, match="is used by a dataset") as in_use:
        pz.delete_schema(schemaArn=newer)
    assert in_use.value.response["Error"]["Code"] == "ResourceInUseException"
    clock.advance(D.dataset)
    moved = pz.describe_dataset(datasetArn=dataset["datasetArn"])["dataset"]
    assert (moved["schemaArn"], moved["latestDatasetUpdate"]["status"]) == (newer, "ACTIVE")
    job = import_data(pz, clock, dataset["datasetArn"], job="items-1", key="train/items.csv")
    assert pz.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]["status"] == "ACTIVE"
    pz.delete_schema(schemaArn=older)  # no longer used by any dataset
