"""End-to-end: the configured filters (the default config's three) kept in the dataset group by the
workflow, and each checked against the simulated catalogue through GetRecommendations."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from contract.filters import format_filter_values
from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline
from simulator.sample_data import to_u_item

ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}"
CAMPAIGN = f"{ARN}:campaign/movielens-campaign"
UNSEEN = f"{ARN}:filter/movielens-filter-unseen"
GENRE = f"{ARN}:filter/movielens-filter-genre"
UNSEEN_GENRE = f"{ARN}:filter/movielens-filter-unseen-genre"


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def recommend(user: str = "1", **request: Any) -> list[str]:
    answer = client("personalize-runtime").get_recommendations(
        campaignArn=CAMPAIGN, userId=user, numResults=500, **request
    )
    return [item["itemId"] for item in answer["itemList"]]


def genres_of(pipeline: OfflinePipeline, run: str) -> dict[str, set[str]]:
    """Each movie's genres, from the items file the run imported."""
    body = pipeline.account.s3().get_object(Bucket=pipeline.bucket_name, Key=f"training/{run}/items.csv")["Body"]
    return {row["ITEM_ID"]: set(row["GENRES"].split("|")) for row in csv.DictReader(io.StringIO(body.read().decode()))}


def filters(pipeline: OfflinePipeline) -> dict[str, str]:
    return {f["name"]: f["filterExpression"] for f in pipeline.account.personalize.resources_of("filter")}


@pytest.fixture
def with_items(pipeline: OfflinePipeline) -> OfflinePipeline:
    pipeline.upload_items(to_u_item())
    result = pipeline.start_execution(name="week-1")
    assert result.status == "SUCCEEDED", result.cause
    return pipeline


def test_a_genre_filter_returns_only_that_genre(with_items: OfflinePipeline) -> None:
    genres = genres_of(with_items, "week-1")
    comedy = recommend(filterArn=GENRE, filterValues=format_filter_values({"GENRES": ["Comedy"]}))
    either = recommend(filterArn=GENRE, filterValues=format_filter_values({"GENRES": ["Comedy", "Western"]}))

    assert comedy and all("Comedy" in genres[item] for item in comedy)
    assert set(comedy) < set(either)
    assert all(genres[item] & {"Comedy", "Western"} for item in either)
    assert set(recommend()) - set(comedy), "unfiltered, other genres come too"
    # An INCLUDE clause needs its values.
    with pytest.raises(ClientError, match=r"filterValues has no value for \$GENRES"):
        recommend(filterArn=GENRE)


def test_the_exclusion_filter_leaves_out_what_the_user_rated_since_training(with_items: OfflinePipeline) -> None:
    """The model never saw user 1 rate the top items; the interactions imported since then, it did not
    train on, but the filter reads them (register personalize.filters.expressions)."""
    unfiltered = recommend()
    rated_since = unfiltered[:3]
    # An import job takes at least 1,000 interactions (register personalize.import.quotas): user 1's
    # three, and a thousand of users the test does not ask about.
    others = "".join(f"9{n},{rated_since[0]},1767600000\n" for n in range(1000))
    body = "USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(f"1,{item},1767600000\n" for item in rated_since) + others
    with_items.account.s3().put_object(
        Bucket=with_items.bucket_name, Key="training/events/events.csv", Body=body.encode()
    )
    personalize = client("personalize")
    personalize.create_dataset_import_job(
        jobName="events-by-hand",
        datasetArn=f"{ARN}:dataset/movielens/INTERACTIONS",
        dataSource={"dataLocation": f"s3://{with_items.bucket_name}/training/events/events.csv"},
        roleArn=with_items.personalize_role_arn,
        importMode="INCREMENTAL",
    )
    with_items.account.clock.advance(3600)
    assert with_items.account.personalize.resources_of("import_job")[-1]["status"] == "ACTIVE"

    unseen = recommend(filterArn=UNSEEN)
    both = recommend(filterArn=UNSEEN_GENRE, filterValues=format_filter_values({"GENRES": ["Drama"]}))

    assert recommend() == unfiltered  # the model has not changed
    assert unseen == [item for item in unfiltered if item not in rated_since]
    genres = genres_of(with_items, "week-1")
    assert both == [item for item in unseen if "Drama" in genres[item]]
    # EXCLUDE without values would be left out; the chained INCLUDE still needs $GENRES.
    with pytest.raises(ClientError, match=r"filterValues has no value for \$GENRES"):
        recommend(filterArn=UNSEEN_GENRE)


def test_the_run_keeps_the_filters_as_configured_and_leaves_other_filters_alone(
    pipeline: OfflinePipeline,
) -> None:
    first = pipeline.start_execution(name="week-1")
    # Without a movie file there is no items dataset: only the exclusion filter can exist yet.
    assert first.status == "SUCCEEDED", first.cause
    assert filters(pipeline) == {"movielens-filter-unseen": 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")'}
    personalize = client("personalize")
    group = f"{ARN}:dataset-group/movielens"
    personalize.delete_filter(filterArn=UNSEEN)
    pipeline.account.clock.advance(120)
    changed = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")'
    personalize.create_filter(name="movielens-filter-unseen", datasetGroupArn=group, filterExpression=changed)
    # One the config no longer names, and one made by hand.
    personalize.create_filter(name="movielens-filter-old", datasetGroupArn=group, filterExpression=changed)
    personalize.create_filter(name="movielens-mine", datasetGroupArn=group, filterExpression=changed)
    pipeline.account.clock.advance(120)
    pipeline.upload_items(to_u_item())
    before = len(pipeline.account.personalize.calls)

    second = pipeline.start_execution(name="week-2", gap=timedelta(days=7))

    assert second.status == "SUCCEEDED", second.cause
    assert filters(pipeline) == {
        "movielens-filter-unseen": 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
        "movielens-filter-genre": "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)",
        "movielens-filter-unseen-genre": 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*") | '
        "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)",
        "movielens-mine": changed,
    }
    deleted = [p["filterArn"] for name, p in pipeline.account.personalize.calls[before:] if name == "DeleteFilter"]
    assert sorted(deleted) == [f"{ARN}:filter/movielens-filter-old", UNSEEN]
    # The changed filter was replaced: the step was retried until its name was free.
    assert second.retries >= 1
    smoke = [p for name, p in pipeline.account.personalize.calls[before:] if name == "GetRecommendations"]
    assert [p.get("filterArn") for p in smoke] == [None, UNSEEN]
    assert json.dumps(second.output["recommendations"])  # served, and asked through the new filter
