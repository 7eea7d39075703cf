"""End-to-end: several solutions from one import (README's two: top picks and similar items).

Each solution trains, is gated and deployed on its own branch; one's rejection or failure neither
stops nor undoes the other, and the outcome event says which solution did what.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from rich.console import Console

from pipelinectl.backend import Backend
from pipelinectl.cli import main
from pipelinectl.errors import ExitCode
from pipelinectl.offline_session import offline_backend
from simulator.cloud_assembly import SynthesizedPipeline, load_synthesized_pipeline
from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline, offline_account
from simulator.sample_data import generate_ratings, to_u_data
from stacks.config import DataConfig, default_solutions, load_config
from tests.conftest import SOLUTIONS_BLOCK, synthesize

ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}"
STATE_KEY = "state/pipeline-state.json"
LOW_METRICS = {
    "coverage": 0.01,
    "mean_reciprocal_rank_at_25": 0.01,
    "normalized_discounted_cumulative_gain_at_5": 0.01,
    "normalized_discounted_cumulative_gain_at_10": 0.01,
    "normalized_discounted_cumulative_gain_at_25": 0.01,
    "precision_at_5": 0.01,
    "precision_at_10": 0.01,
    "precision_at_25": 0.01,
}


def test_the_config_is_readmes_two_solutions_and_one_with_batch_output_only() -> None:
    picks, similar, mail = load_config(SOLUTIONS_BLOCK).solutions
    shipped_picks, shipped_similar = load_config({"solutions": default_solutions(DataConfig())}).solutions
    # The shipped picks keep the single solution's names (legacyNames); here they are named after it.
    assert (replace(picks, legacy_names=True), similar) == (shipped_picks, shipped_similar)
    assert (mail.deployment.targets, mail.deployment.batch.filter) == (("batch",), "unseen")


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    return load_synthesized_pipeline(synthesize(tmp_path_factory, SOLUTIONS_BLOCK))


@pytest.fixture
def pipeline(shipped: SynthesizedPipeline) -> Iterator[OfflinePipeline]:
    with offline_account() as account:
        deployed = OfflinePipeline(shipped, account)
        deployed.upload_raw_data(to_u_data(generate_ratings()))
        yield deployed


def calls(pipeline: OfflinePipeline, operation: str, since: int = 0) -> list[dict[str, Any]]:
    return [params for name, params in pipeline.account.personalize.calls[since:] if name == operation]


def record(pipeline: OfflinePipeline) -> dict[str, Any]:
    body = pipeline.account.s3().get_object(Bucket=pipeline.bucket_name, Key=STATE_KEY)["Body"]
    return dict(json.loads(body.read()))


def outcome(pipeline: OfflinePipeline) -> dict[str, Any]:
    return dict(pipeline.events[-1]["detail"])


def by_solution(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["solution"]: s for s in detail["solutions"]}


def campaign_version(pipeline: OfflinePipeline, name: str) -> str:
    (campaign,) = [c for c in pipeline.account.personalize.resources_of("campaign") if c["name"] == name]
    return str(campaign["solutionVersionArn"])


def new_ratings_arrive(pipeline: OfflinePipeline, week: int) -> None:
    ratings = generate_ratings() + generate_ratings(users=30, seed=week, first_user=1000 + 30 * week)
    pipeline.upload_raw_data(to_u_data(ratings))


def test_one_import_trains_every_solution_each_deploys_its_own_way_and_a_removed_one_is_deleted(
    pipeline: OfflinePipeline,
) -> None:
    result = pipeline.start_execution(name="first-run")

    assert result.status == "SUCCEEDED", result.cause
    assert len(calls(pipeline, "CreateDatasetImportJob")) == 1
    assert calls(pipeline, "CreateSolution") == [
        {
            "name": "movielens-solution-picks",
            "datasetGroupArn": f"{ARN}:dataset-group/movielens",
            "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2",
            "performAutoTraining": False,
        },
        {
            "name": "movielens-solution-similar",
            "datasetGroupArn": f"{ARN}:dataset-group/movielens",
            "recipeArn": "arn:aws:personalize:::recipe/aws-similar-items",
            "performAutoTraining": False,
        },
        {
            "name": "movielens-solution-mail",
            "datasetGroupArn": f"{ARN}:dataset-group/movielens",
            "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2",
            "performAutoTraining": False,
        },
    ]
    assert sorted(c["name"] for c in calls(pipeline, "CreateCampaign")) == [
        "movielens-campaign-picks",
        "movielens-campaign-similar",
    ]
    # Each smoke test asks what its recipe type answers: a user's picks (also through the exclusion
    # filter), the items related to an item.
    requests = calls(pipeline, "GetRecommendations")
    assert {"campaignArn": f"{ARN}:campaign/movielens-campaign-similar", "itemId": "1", "numResults": 10} in requests
    assert {"campaignArn": f"{ARN}:campaign/movielens-campaign-picks", "userId": "1", "numResults": 10} in requests
    detail = outcome(pipeline)
    assert detail["outcome"] == "succeeded"
    # The run's output says it too, as a single solution's does (history and rollback read it back).
    assert result.output["outcome"] == "succeeded"
    assert [s["solution"] for s in result.output["recorded"]["solutions"]] == ["picks", "similar", "mail"]
    solutions = by_solution(detail)
    assert {name: s["outcome"] for name, s in solutions.items()} == {
        "picks": "succeeded",
        "similar": "succeeded",
        "mail": "succeeded",
    }
    assert solutions["similar"]["recommendations"]["itemId"] == "1"
    assert "1" not in solutions["similar"]["recommendations"]["itemIds"]
    state = record(pipeline)
    for name in ("picks", "similar"):
        run = state["solutions"][name]["lastSuccessfulRun"]
        assert run["campaignArn"] == f"{ARN}:campaign/movielens-campaign-{name}"
        assert run["solutionVersionArn"] == solutions[name]["solutionVersionArn"]
    # The batch-only solution: its own job through its filter, its own output folder and manifest.
    (job,) = calls(pipeline, "CreateBatchInferenceJob")
    assert job["jobName"].startswith("movielens-batch-mail-")
    assert job["solutionVersionArn"] == solutions["mail"]["solutionVersionArn"]
    assert job["filterArn"] == f"{ARN}:filter/movielens-filter-unseen"
    assert job["jobInput"]["s3DataSource"]["path"] == f"s3://{pipeline.bucket_name}/batch-input/first-run/users.json"
    assert job["jobOutput"]["s3DataDestination"]["path"] == (
        f"s3://{pipeline.bucket_name}/recommendations/mail/first-run/"
    )
    manifest = json.loads(
        pipeline.account.s3()
        .get_object(Bucket=pipeline.bucket_name, Key="recommendations/mail/latest.json")["Body"]
        .read()
    )
    assert (manifest["runName"], manifest["solutionVersionArn"]) == (
        "first-run",
        solutions["mail"]["solutionVersionArn"],
    )
    assert state["solutions"]["mail"]["lastSuccessfulRun"]["batchOutputPrefix"] == "recommendations/mail/first-run/"
    assert solutions["mail"]["batchOutput"]["outputPrefix"] == "recommendations/mail/first-run/"
    # The shared stages' durations are the run's; each solution learns its own.
    assert "DatasetImportJob" in state["stageSeconds"]
    assert "SolutionVersion.FULL" in state["solutions"]["similar"]["stageSeconds"]

    again = pipeline.start_execution(name="same-data")
    assert again.status == "SUCCEEDED", again.cause
    assert outcome(pipeline)["outcome"] == "skipped"
    assert len(calls(pipeline, "CreateDatasetImportJob")) == 1

    # The dashboard draws every metric the run sent, per solution where it is a solution's.
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    sent = {
        (metric["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in metric["Dimensions"])))
        for name in ("DeployedModelMetric", "StageDuration")
        for metric in cloudwatch.list_metrics(Namespace="PersonalizePipeline", MetricName=name)["Metrics"]
    }
    (dashboard,) = [
        r for r in pipeline.synthesized.template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = json.loads(pipeline.values.resolve(dashboard["Properties"]["DashboardBody"]))
    drawn = {
        (line[1], tuple(sorted(zip(line[2:-1:2], line[3::2], strict=False))))
        for widget in body["widgets"]
        for line in widget.get("properties", {}).get("metrics", [])
        if line[0] == "PersonalizePipeline"
    }
    deployed = {dims for name, dims in sent if name == "DeployedModelMetric"}
    assert {dict(dims).get("Solution") for dims in deployed} == {"picks", "similar", "mail"}
    assert sent <= drawn, sent - drawn

    # A solution removed from the config: what the stack's update sends once it lists only "picks"
    # (contract/names.py). Its campaign goes first, then the solution, so it stops billing.
    properties = pipeline.teardown.properties
    names = {
        **properties["Names"],
        "Solutions": ["movielens-solution-picks"],
        "Campaigns": ["movielens-campaign-picks"],
    }
    updated = pipeline.teardown.update({**properties, "Names": names})

    assert updated.status == "SUCCESS", updated.reason
    personalize = pipeline.account.personalize
    assert [c["name"] for c in personalize.resources_of("campaign")] == ["movielens-campaign-picks"]
    assert [s["name"] for s in personalize.resources_of("solution")] == ["movielens-solution-picks"]
    deleted = [params for name, params in personalize.calls if name in ("DeleteCampaign", "DeleteSolution")]
    assert deleted == [
        {"campaignArn": f"{ARN}:campaign/movielens-campaign-similar"},
        {"solutionArn": f"{ARN}:solution/movielens-solution-similar"},
        {"solutionArn": f"{ARN}:solution/movielens-solution-mail"},
    ]
    assert personalize.status_of(f"{ARN}:campaign/movielens-campaign-picks") == "ACTIVE"


def test_a_rejected_solution_keeps_its_campaign_while_the_other_is_promoted(pipeline: OfflinePipeline) -> None:
    assert pipeline.start_execution(name="first").status == "SUCCEEDED"
    served_similar = campaign_version(pipeline, "movielens-campaign-similar")
    served_picks = campaign_version(pipeline, "movielens-campaign-picks")
    new_ratings_arrive(pipeline, 1)
    pipeline.account.personalize.set_metrics(None, LOW_METRICS, solution="movielens-solution-similar")

    result = pipeline.start_execution(name="second")

    assert result.status == "SUCCEEDED", result.cause
    detail = outcome(pipeline)
    assert detail["outcome"] == "succeeded"
    solutions = by_solution(detail)
    assert solutions["similar"]["outcome"] == "rejected"
    assert "more than 5% below the served version's" in solutions["similar"]["reason"]
    assert solutions["picks"]["outcome"] == "succeeded"
    assert campaign_version(pipeline, "movielens-campaign-similar") == served_similar
    assert campaign_version(pipeline, "movielens-campaign-picks") == solutions["picks"]["solutionVersionArn"]
    assert campaign_version(pipeline, "movielens-campaign-picks") != served_picks
    state = record(pipeline)["solutions"]
    assert state["similar"]["lastTraining"]["outcome"] == "rejected"
    assert state["similar"]["lastSuccessfulRun"]["solutionVersionArn"] == served_similar


def test_a_failed_solution_fails_the_run_and_the_event_says_which_while_the_other_is_deployed(
    pipeline: OfflinePipeline,
) -> None:
    pipeline.account.personalize.fail_next(
        "solution_version", "Internal training error", name="movielens-solution-picks"
    )

    result = pipeline.start_execution(name="first")

    assert result.status == "FAILED"
    assert result.error == "SolutionFailed"
    assert result.cause is not None and result.cause.startswith(
        "picks failed in training: SolutionVersionFailed: Solution version "
    )
    assert "Internal training error" in result.cause
    detail = outcome(pipeline)
    assert (detail["outcome"], detail["failedStage"], detail["error"]) == ("failed", "solutions", "SolutionFailed")
    solutions = by_solution(detail)
    assert solutions["picks"]["outcome"] == "failed"
    assert solutions["picks"]["failedStage"] == "training"
    assert solutions["similar"]["outcome"] == "succeeded"
    assert [c["name"] for c in calls(pipeline, "CreateCampaign")] == ["movielens-campaign-similar"]
    state = record(pipeline)["solutions"]
    assert set(state) == {"similar", "mail"}

    # The next run on the same data trains only the solution that has not been trained on it.
    since = len(pipeline.account.personalize.calls)
    retry = pipeline.start_execution(name="retry")

    assert retry.status == "SUCCEEDED", retry.cause
    assert [c["solutionArn"] for c in calls(pipeline, "CreateSolutionVersion", since)] == [
        f"{ARN}:solution/movielens-solution-picks"
    ]
    solutions = by_solution(outcome(pipeline))
    for name in ("similar", "mail"):
        assert solutions[name] == {
            "solution": name,
            "outcome": "skipped",
            "reason": "this solution was already trained on this data",
        }
    assert solutions["picks"]["outcome"] == "succeeded"


def test_the_deploy_output_names_the_solutions_it_keeps(shipped: SynthesizedPipeline) -> None:
    output = shipped.template["Outputs"]["Solutions"]

    assert json.loads(output["Value"]) == {
        "picks": {
            "solution": "movielens-solution-picks",
            "campaign": "movielens-campaign-picks",
            "recipeType": "USER_PERSONALIZATION",
        },
        "similar": {
            "solution": "movielens-solution-similar",
            "campaign": "movielens-campaign-similar",
            "recipeType": "RELATED_ITEMS",
        },
        "mail": {
            "solution": "movielens-solution-mail",
            "campaign": None,
            "recipeType": "USER_PERSONALIZATION",
            "batch": "recommendations/mail/latest.json",
        },
    }
    assert "is deleted by this deploy" in output["Description"]


# --------------------------------------------------------------------------- the command-line tool


def run_cli(*argv: str, backend: Backend | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, backend=backend)
    return code, out.getvalue(), err.getvalue()


def test_the_cli_addresses_one_solution_and_watch_shows_each_ones_steps(shipped: SynthesizedPipeline) -> None:
    with offline_backend(shipped.directory, prior_runs=2, same_data=False, console=Console(file=io.StringIO())) as b:
        code, out, err = run_cli("recommend", "--item", "1", backend=b)
        assert code == ExitCode.OK, err
        assert "Items related to item 1 " in out and "(campaign movielens-campaign-similar, version " in out

        code, out, err = run_cli("recommend", "--user", "1", backend=b)
        assert code == ExitCode.OK, err
        assert "Recommendations for user 1 (campaign movielens-campaign-picks, version " in out

        code, _, err = run_cli("recommend", "--item", "1", "--solution", "picks", backend=b)
        assert (code, err) == (
            ExitCode.ACTION_NEEDED,
            "error: solution picks is USER_PERSONALIZATION: its campaign answers requests by user (--user), not by "
            "item\n",
        )
        code, _, err = run_cli("recommend", "--user", "1", "--solution", "similar", backend=b)
        assert (code, err) == (
            ExitCode.ACTION_NEEDED,
            "error: solution similar is RELATED_ITEMS: its campaign answers by item (--item), not recommendations "
            "for a user (--user)\n",
        )
        code, _, err = run_cli("recommend", "--user", "1", "--solution", "ranking", backend=b)
        assert (code, err) == (
            ExitCode.ACTION_NEEDED,
            "error: pipeline movielens has no solution ranking: its solutions are picks (USER_PERSONALIZATION), "
            "similar (RELATED_ITEMS), mail (USER_PERSONALIZATION)\n",
        )

        code, out, err = run_cli("status", backend=b)
        assert code == ExitCode.OK, err
        assert "Solution picks (USER_PERSONALIZATION)" in out and "Solution similar (RELATED_ITEMS)" in out
        assert "Campaign  movielens-campaign-similar (ACTIVE)" in out
        assert "Solution mail (USER_PERSONALIZATION)\nBatch output  run offline-week-2, s3://" in out
        assert "/recommendations/mail/offline-week-2/" in out

        # The batch-only solution answers from its published output.
        code, out, err = run_cli("recommend", "--user", "7", "--solution", "mail", "--n", "3", backend=b)
        assert code == ExitCode.OK, err
        assert "from the batch output of run offline-week-2" in out

        code, out, err = run_cli("history", "--solution", "similar", backend=b)
        assert code == ExitCode.OK, err
        assert ", solution similar" in out and out.count("succeeded") == 2

        code, _, err = run_cli("rollback", "--yes", backend=b)
        assert (code, err) == (
            ExitCode.ACTION_NEEDED,
            "error: pipeline movielens has several solutions: pass --solution (one of picks (USER_PERSONALIZATION), "
            "similar (RELATED_ITEMS), mail (USER_PERSONALIZATION))\n",
        )
        served = campaign_version(b.offline, "movielens-campaign-similar")
        code, out, err = run_cli("rollback", "--yes", "--solution", "similar", backend=b)
        assert code == ExitCode.OK, err
        assert campaign_version(b.offline, "movielens-campaign-similar") != served
        assert "Campaign movielens-campaign-similar serves version " in out

        # A run with the week's new ratings: watch shows each solution's steps and outcome.
        code, out, err = run_cli("run", "--wait", "--name", "week-3", backend=b)
        assert code == ExitCode.OK, err
        for row in (
            "│ ✓ │ picks: Start training ",
            "│ ✓ │ similar: Wait until solution version is ACTIVE ",
            "│ ✓ │ similar: Smoke test recommendations ",
            "item 1 gets 10 related items",
            "│ ✓ │ picks: Smoke test recommendations ",
            "user 1 gets 10 items, 10 through a filter",
            "│ ✓ │ mail: Wait until batch inference job is ACTIVE ",
            "│ ✓ │ mail: Publish batch recommendations ",
            "│ ✓ │ Record solutions ",
        ):
            assert row in out, row
        assert "Outcome: succeeded after " in out
        assert "  picks: deployed version " in out and ", campaign movielens-campaign-picks (updated)" in out
        assert "  mail: deployed version " in out
