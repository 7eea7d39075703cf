"""The Personalize step handlers against the simulated service (real boto3 clients and validation)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import personalize_steps as steps
import pytest
from botocore.exceptions import ClientError

from simulator import aws as simulated_aws
from simulator.clock import SimulatedClock
from simulator.personalize import PersonalizeSimulator
from stacks.interactions_schema import INTERACTIONS_SCHEMA_JSON

ARN = "arn:aws:personalize:us-east-1:123456789012"
RECIPE = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
SCHEMA = INTERACTIONS_SCHEMA_JSON


@pytest.fixture
def personalize(monkeypatch: pytest.MonkeyPatch) -> Iterator[PersonalizeSimulator]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    simulator = PersonalizeSimulator(SimulatedClock(), min_training_interactions=0)
    with simulated_aws.activate(simulator), steps.DEPENDENCIES.given(personalize=boto3.client("personalize")):
        yield simulator


def operations(simulator: PersonalizeSimulator) -> list[str]:
    return [name for name, _ in simulator.calls]


def client() -> Any:
    return boto3.client("personalize")


def test_run_scoped_name_is_stable_per_execution_and_fits_personalize_limits() -> None:
    name = steps.run_scoped_name(
        "a" * 32 + "-import", "5f0c9a3e-0000-4000-8000-000000000000", "2026-01-05T06:00:00.123Z"
    )
    assert name == "a" * 32 + "-import-20260105T060000-" + name[-6:]
    assert len(name) <= 63
    assert name == steps.run_scoped_name(
        "a" * 32 + "-import", "5f0c9a3e-0000-4000-8000-000000000000", "2026-01-05T06:00:00.123Z"
    )
    assert name != steps.run_scoped_name("a" * 32 + "-import", "another-execution", "2026-01-05T06:00:00.123Z")


def test_ensure_dataset_group_creates_once_then_reuses(personalize: PersonalizeSimulator) -> None:
    first = steps.ensure_dataset_group({"name": "movielens"})
    second = steps.ensure_dataset_group({"name": "movielens"})

    assert first == {"arn": f"{ARN}:dataset-group/movielens", "created": True}
    assert second == {"arn": f"{ARN}:dataset-group/movielens", "created": False}
    assert [params for name, params in personalize.calls if name == "CreateDatasetGroup"] == [{"name": "movielens"}]


KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = "arn:aws:kms:us-east-1:123456789012:key/99999999-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::123456789012:role/PersonalizeAccessRole"


def test_with_a_key_the_group_is_created_with_it_and_reused_while_it_has_it(personalize: PersonalizeSimulator) -> None:
    event = {"name": "movielens", "kmsKeyArn": KEY, "roleArn": ROLE}

    first = steps.ensure_dataset_group(event)
    second = steps.ensure_dataset_group(event)

    assert (first["created"], second["created"]) == (True, False)
    assert [params for name, params in personalize.calls if name == "CreateDatasetGroup"] == [
        {"name": "movielens", "kmsKeyArn": KEY, "roleArn": ROLE}
    ]


@pytest.mark.parametrize(
    ("existing", "says"),
    [
        ({}, "was created without a KMS key"),
        ({"kmsKeyArn": OTHER_KEY, "roleArn": ROLE}, f"is encrypted with {OTHER_KEY}"),
    ],
    ids=["group-without-key", "group-with-another-key"],
)
def test_an_existing_group_with_another_key_stops_the_run_and_nothing_is_deleted(
    personalize: PersonalizeSimulator, existing: dict[str, str], says: str
) -> None:
    client().create_dataset_group(name="movielens", **existing)

    with pytest.raises(steps.DatasetGroupKeyMismatchError) as refused:
        steps.ensure_dataset_group({"name": "movielens", "kmsKeyArn": KEY, "roleArn": ROLE})

    assert str(refused.value) == (
        f"dataset group 'movielens' ({ARN}:dataset-group/movielens) {says}, but encryption.kmsKey is {KEY}. "
        "Personalize cannot change a dataset group's key. Either set encryption.kmsKey back to the key the group "
        "has, or deploy under another pipelineName (a new dataset group, trained from the same data); then delete "
        "the old dataset group yourself once nothing serves from it. The pipeline deleted and recreated nothing."
    )
    assert [name for name, _ in personalize.calls if name.startswith(("Delete", "Create"))] == ["CreateDatasetGroup"]


def test_the_simulator_refuses_a_key_without_a_role_and_a_role_without_a_key(personalize: PersonalizeSimulator) -> None:
    with pytest.raises(ClientError, match="you must also include an IAM role"):
        client().create_dataset_group(name="a", kmsKeyArn=KEY)
    with pytest.raises(ClientError, match="only valid when also specifying a KMS key"):
        client().create_dataset_group(name="b", roleArn=ROLE)


def test_a_failed_dataset_group_is_deleted_and_created_again(personalize: PersonalizeSimulator) -> None:
    personalize.fail_next("dataset_group", "KMS key not accessible")
    steps.ensure_dataset_group({"name": "movielens"})
    personalize.clock.advance(3600)

    with pytest.raises(
        steps.ResourceBeingReplacedError,
        match=r"dataset group 'movielens' .* was CREATE FAILED \(KMS key not accessible\); it is being deleted",
    ):
        steps.ensure_dataset_group({"name": "movielens"})
    with pytest.raises(steps.ResourceBeingReplacedError, match="was DELETE PENDING"):
        steps.ensure_dataset_group({"name": "movielens"})  # a retry while the deletion runs
    personalize.clock.advance(3600)
    replaced = steps.ensure_dataset_group({"name": "movielens"})

    assert replaced["created"] is True
    assert [name for name in operations(personalize) if name.endswith("DatasetGroup")] == [
        "CreateDatasetGroup",
        "DeleteDatasetGroup",
        "CreateDatasetGroup",
    ]


def test_throttling_reaches_the_state_machine_under_its_own_name(personalize: PersonalizeSimulator) -> None:
    personalize.throttle("ListDatasetGroups")

    with pytest.raises(steps.ThrottlingException) as raised:
        steps.ensure_dataset_group({"name": "movielens"})

    assert type(raised.value).__name__ == "ThrottlingException"
    assert "when calling the ListDatasetGroups operation" in str(raised.value)


def test_existing_schema_with_other_fields_is_refused(personalize: PersonalizeSimulator) -> None:
    group = steps.ensure_dataset_group({"name": "movielens"})["arn"]
    personalize.clock.advance(3600)
    other = json.loads(SCHEMA)
    other["fields"] = [
        *other["fields"][:2],
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
    ]
    client().create_schema(name="movielens-interactions", schema=json.dumps(other))

    with pytest.raises(steps.ResourceUnusableError, match="exists with different fields"):
        steps.ensure_dataset(
            {
                "datasetGroupArn": group,
                "datasetType": "Interactions",
                "schemaName": "movielens-interactions",
                "schema": SCHEMA,
                "datasetName": "movielens-interactions",
            }
        )


def test_ensure_solution_creates_it_with_automatic_training_off(personalize: PersonalizeSimulator) -> None:
    group = steps.ensure_dataset_group({"name": "movielens"})["arn"]
    personalize.clock.advance(3600)

    result = steps.ensure_solution({"name": "movielens-solution", "datasetGroupArn": group, "recipeArn": RECIPE})

    assert result == {"arn": f"{ARN}:solution/movielens-solution", "created": True}
    assert [params for name, params in personalize.calls if name == "CreateSolution"] == [
        {"name": "movielens-solution", "datasetGroupArn": group, "recipeArn": RECIPE, "performAutoTraining": False}
    ]


def test_a_solution_that_trains_itself_is_reported_not_used(personalize: PersonalizeSimulator) -> None:
    group = steps.ensure_dataset_group({"name": "movielens"})["arn"]
    personalize.clock.advance(3600)
    # Made by hand without performAutoTraining: the service then trains it every 7 days.
    client().create_solution(name="movielens-solution", datasetGroupArn=group, recipeArn=RECIPE)

    with pytest.raises(
        steps.ResourceUnusableError, match="automatic training on, which would train beside the schedule"
    ):
        steps.ensure_solution({"name": "movielens-solution", "datasetGroupArn": group, "recipeArn": RECIPE})


def test_a_solution_with_another_recipe_is_reported(personalize: PersonalizeSimulator) -> None:
    group = steps.ensure_dataset_group({"name": "movielens"})["arn"]
    personalize.clock.advance(3600)
    client().create_solution(
        name="movielens-solution",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
        performAutoTraining=False,
    )

    with pytest.raises(
        steps.ResourceUnusableError, match="uses recipe arn:aws:personalize:::recipe/aws-popularity-count"
    ):
        steps.ensure_solution({"name": "movielens-solution", "datasetGroupArn": group, "recipeArn": RECIPE})


def _dataset(personalize: PersonalizeSimulator) -> str:
    group = steps.ensure_dataset_group({"name": "movielens"})["arn"]
    personalize.clock.advance(3600)
    dataset = steps.ensure_dataset(
        {
            "datasetGroupArn": group,
            "datasetType": "Interactions",
            "schemaName": "movielens-interactions",
            "schema": SCHEMA,
            "datasetName": "movielens-interactions",
        }
    )["arn"]
    personalize.clock.advance(3600)
    return dataset


def test_start_import_retried_after_success_returns_the_same_job(personalize: PersonalizeSimulator) -> None:
    event = {
        "datasetArn": _dataset(personalize),
        "dataLocation": "s3://bucket/training/run-1/interactions.csv",
        "roleArn": "arn:aws:iam::123456789012:role/personalize",
        "jobNamePrefix": "movielens-import",
        "executionName": "run-1",
        "executionStartTime": "2026-01-05T06:00:00Z",
    }

    first = steps.start_import(event)
    retried = steps.start_import(event)

    assert retried == first
    assert first["name"].startswith("movielens-import-20260105T060000-")
    assert next(params for name, params in personalize.calls if name == "CreateDatasetImportJob") == {
        "jobName": first["name"],
        "datasetArn": event["datasetArn"],
        "dataSource": {"dataLocation": "s3://bucket/training/run-1/interactions.csv"},
        "roleArn": "arn:aws:iam::123456789012:role/personalize",
        "importMode": "FULL",
    }


class CampaignPersonalize:
    """A pipeline campaign in a given status; records deletions."""

    def __init__(self, status: str) -> None:
        self.arn = f"{ARN}:campaign/movielens-campaign"
        self.status, self.deleted = status, []

    def get_paginator(self, operation: str) -> Any:
        campaigns = [{"name": "movielens-campaign", "campaignArn": self.arn}]
        return type("P", (), {"paginate": lambda _, **kw: [{"campaigns": campaigns}]})()

    def describe_campaign(self, campaignArn: str) -> dict[str, Any]:
        return {
            "campaign": {"campaignArn": self.arn, "status": self.status, "failureReason": "Solution version not found"}
        }

    def delete_campaign(self, campaignArn: str) -> dict[str, Any]:
        self.deleted.append(campaignArn)
        return {}


DEPLOY_EVENT = {
    "name": "movielens-campaign",
    "solutionArn": f"{ARN}:solution/movielens-solution",
    "solutionVersionArn": f"{ARN}:solution/movielens-solution/abcdef12",
    "minProvisionedTPS": 1,
}


def test_deploy_campaign_replaces_a_campaign_whose_creation_failed() -> None:
    fake = CampaignPersonalize("CREATE FAILED")

    with pytest.raises(steps.ResourceBeingReplacedError, match=r"was CREATE FAILED \(Solution version not found\)"):
        steps.deploy_campaign(DEPLOY_EVENT, personalize=fake)

    assert fake.deleted == [fake.arn]


def test_deploy_campaign_refuses_to_update_a_campaign_still_being_created() -> None:
    fake = CampaignPersonalize("CREATE IN_PROGRESS")

    with pytest.raises(steps.ResourceUnusableError, match=r"is CREATE IN_PROGRESS .*; it must be ACTIVE to be updated"):
        steps.deploy_campaign(DEPLOY_EVENT, personalize=fake)
    assert fake.deleted == []


def test_smoke_test_fails_when_the_campaign_returns_nothing() -> None:
    class EmptyRuntime:
        def get_recommendations(self, **params: Any) -> dict[str, Any]:
            assert params == {"campaignArn": f"{ARN}:campaign/c", "userId": "1", "numResults": 10}
            return {"itemList": []}

    with pytest.raises(steps.SmokeTestFailedError, match="returned no recommendations for user 1"):
        steps.smoke_test(
            {"campaignArn": f"{ARN}:campaign/c", "userId": "1", "numResults": 10},
            **{"personalize-runtime": EmptyRuntime()},
        )


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "event field 'name' must be a non-empty str; got None"),
        ({"name": ""}, "event field 'name' must be a non-empty str; got ''"),
        ({"name": 5}, "event field 'name' must be a non-empty str; got 5"),
    ],
)
def test_bad_events_are_rejected_with_the_field_named(event: dict[str, Any], message: str) -> None:
    with pytest.raises(steps.InvalidEventError) as raised:
        steps.ensure_dataset_group(event)
    assert str(raised.value) == message


def test_training_mode_must_be_full_or_update() -> None:
    with pytest.raises(steps.InvalidEventError, match="must be FULL or UPDATE; got 'AUTOTRAIN'"):
        steps.start_training({"solutionArn": f"{ARN}:solution/s", "trainingMode": "AUTOTRAIN"})


# --- quality gate --------------------------------------------------------------------------------

SOLUTION = f"{ARN}:solution/movielens-solution"
NEW, SERVED = f"{SOLUTION}/new00001", f"{SOLUTION}/old00001"
NDCG = "normalized_discounted_cumulative_gain_at_10"


class GatePersonalize:
    """Records the gate's calls; answers with the given metrics and campaign."""

    def __init__(self, metrics: dict[str, dict[str, float]], campaign: dict[str, Any] | None) -> None:
        self.metrics, self.campaign, self.calls = metrics, campaign, []

    def get_paginator(self, operation: str) -> Any:
        gate = self

        class Paginator:
            def paginate(self, **params: Any) -> list[dict[str, Any]]:
                gate.calls.append((operation, params))
                summaries = [{"name": "movielens-campaign", "campaignArn": f"{ARN}:campaign/movielens-campaign"}]
                return [{"campaigns": summaries if gate.campaign else []}]

        return Paginator()

    def get_solution_metrics(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("get_solution_metrics", params))
        return {
            "solutionVersionArn": params["solutionVersionArn"],
            "metrics": self.metrics[params["solutionVersionArn"]],
        }

    def describe_campaign(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("describe_campaign", params))
        return {"campaign": self.campaign}


def evaluate(fake: GatePersonalize, **overrides: Any) -> dict[str, Any]:
    event = {
        "solutionVersionArn": NEW,
        "solutionArn": SOLUTION,
        "campaignName": "movielens-campaign",
        "metric": NDCG,
        "maxRelativeRegression": 0.05,
        "minimum": None,
        **overrides,
    }
    return steps.evaluate_version(event, personalize=fake)


def test_gate_compares_the_new_version_with_the_served_one() -> None:
    fake = GatePersonalize({NEW: {NDCG: 0.21}, SERVED: {NDCG: 0.2}}, {"status": "ACTIVE", "solutionVersionArn": SERVED})

    result = evaluate(fake)

    assert fake.calls == [
        ("get_solution_metrics", {"solutionVersionArn": NEW}),
        ("list_campaigns", {"solutionArn": SOLUTION}),
        ("describe_campaign", {"campaignArn": f"{ARN}:campaign/movielens-campaign"}),
        ("get_solution_metrics", {"solutionVersionArn": SERVED}),
    ]
    assert {k: result[k] for k in ("passed", "candidate", "current", "threshold")} == {
        "passed": True,
        "candidate": {"solutionVersionArn": NEW, "value": 0.21},
        "current": {"solutionVersionArn": SERVED, "value": 0.2},
        "threshold": 0.19,
    }
    assert result["reason"] == f"{NDCG} 0.21 against the served version's 0.2 (tolerance 5%)"


@pytest.mark.parametrize(
    ("new", "served", "minimum", "passed", "reason"),
    [
        (0.18, 0.2, None, False, f"{NDCG} 0.18 is more than 5% below the served version's 0.2 (at least 0.19 needed)"),
        (0.19, 0.2, None, True, f"{NDCG} 0.19 against the served version's 0.2 (tolerance 5%)"),
        (0.25, 0.2, 0.3, False, f"{NDCG} 0.25 is below the minimum 0.3"),
        (
            0.1,
            0.2,
            0.15,
            False,
            f"{NDCG} 0.1 is below the minimum 0.15; {NDCG} 0.1 is more than 5% below the served version's 0.2 "
            "(at least 0.19 needed)",
        ),
    ],
)
def test_gate_decision(new: float, served: float, minimum: float | None, passed: bool, reason: str) -> None:
    fake = GatePersonalize(
        {NEW: {NDCG: new}, SERVED: {NDCG: served}}, {"status": "ACTIVE", "solutionVersionArn": SERVED}
    )

    result = evaluate(fake, minimum=minimum)

    assert (result["passed"], result["reason"]) == (passed, reason)


def test_before_the_first_deployment_only_the_floor_counts() -> None:
    fake = GatePersonalize({NEW: {NDCG: 0.01}}, None)

    result = evaluate(fake)

    assert result["passed"] is True and result["current"] is None and result["threshold"] is None
    assert [name for name, _ in fake.calls] == ["get_solution_metrics", "list_campaigns"]


def test_a_campaign_that_never_became_active_serves_nothing_to_compare_with() -> None:
    fake = GatePersonalize({NEW: {NDCG: 0.2}}, {"status": "CREATE FAILED", "failureReason": "x"})

    assert evaluate(fake, minimum=0.1)["current"] is None


def test_gate_needs_the_metric_on_the_new_version() -> None:
    fake = GatePersonalize({NEW: {"coverage": 0.3, "precision_at_5": 0.1}}, None)

    with pytest.raises(steps.MetricUnavailableError) as raised:
        evaluate(fake)

    assert str(raised.value) == (
        f"solution version {NEW} reports no {NDCG}; it reports coverage, precision_at_5: choose one of those "
        "as qualityGate.metric"
    )


@pytest.mark.parametrize(("field", "value"), [("maxRelativeRegression", "5%"), ("minimum", True)])
def test_gate_rejects_a_malformed_event(field: str, value: Any) -> None:
    with pytest.raises(steps.InvalidEventError, match=f"event field '{field}' must be a number"):
        evaluate(GatePersonalize({}, None), **{field: value})


@pytest.mark.parametrize(
    ("value", "served", "minimum", "passed", "reason", "threshold"),
    [
        (0.10, None, None, True, "ndcg 0.1 against no served version (tolerance 5%)", None),
        (0.10, None, 0.12, False, "ndcg 0.1 is below the minimum 0.12", None),
        (0.095, 0.10, None, True, "ndcg 0.095 against the served version's 0.1 (tolerance 5%)", 0.095),
        (
            0.0949,
            0.10,
            None,
            False,
            "ndcg 0.0949 is more than 5% below the served version's 0.1 (at least 0.095 needed)",
            0.095,
        ),
        (
            0.05,
            0.10,
            0.06,
            False,
            "ndcg 0.05 is below the minimum 0.06; ndcg 0.05 is more than 5% below the served version's 0.1 "
            "(at least 0.095 needed)",
            0.095,
        ),
        (0.2, 0.1, 0.1, True, "ndcg 0.2 against the served version's 0.1 (tolerance 5%, minimum 0.1)", 0.095),
    ],
)
def test_the_quality_gate_verdict_is_the_floor_then_the_tolerance(
    value: float, served: float | None, minimum: float | None, passed: bool, reason: str, threshold: float | None
) -> None:
    verdict = steps.quality_gate_verdict("ndcg", value, served, tolerance=0.05, minimum=minimum)

    assert (verdict.passed, verdict.reason, verdict.threshold) == (passed, reason, threshold)


def test_a_group_with_a_key_is_refused_when_the_config_names_none(personalize: PersonalizeSimulator) -> None:
    """kmsKey set back to null: the bucket would go back to SSE-S3 and the role lose the key, while
    the group keeps it; the run stops instead of failing later inside Personalize."""
    client().create_dataset_group(name="movielens", kmsKeyArn=KEY, roleArn=ROLE)

    with pytest.raises(
        steps.DatasetGroupKeyMismatchError, match=f"is encrypted with {KEY}, but encryption.kmsKey is null"
    ):
        steps.ensure_dataset_group({"name": "movielens"})


def test_filters_on_a_dataset_the_group_lacks_wait_and_the_smoke_test_goes_without_them(
    personalize: PersonalizeSimulator,
) -> None:
    _dataset(personalize)  # the group has interactions only: no items dataset yet
    group = f"{ARN}:dataset-group/movielens"
    event = {
        "datasetGroupArn": group,
        "namePrefix": "movielens-filter-",
        "filters": [
            {"name": "recent", "expression": "INCLUDE ItemID WHERE Items.YEAR >= 1990"},
            {"name": "unseen", "expression": 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")'},
        ],
        "smokeFilter": "recent",
        "batchFilter": "unseen",
    }

    result = steps.ensure_filters(event)

    assert result == {
        "filters": {"movielens-filter-unseen": {"arn": f"{ARN}:filter/movielens-filter-unseen", "action": "created"}},
        "removed": [],
        "waitingForData": ["movielens-filter-recent"],
        "smokeFilterArn": None,
        "batchFilterArn": f"{ARN}:filter/movielens-filter-unseen",
    }
    with pytest.raises(steps.InvalidEventError, match="names no filter this step keeps: 'gone'"):
        steps.ensure_filters({**event, "smokeFilter": "gone"})
