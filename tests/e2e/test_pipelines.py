"""Several pipelines from one app (personalize.pipelines): one stack each, side by side in one account.

One synth of two pipelines (tests/conftest.py TWO_PIPELINES_BLOCK: movielens with a campaign, films with
batch output, each its own data over shared defaults), then both deployed into one offline account, run,
and destroyed one at a time.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelinectl.cli import main
from pipelinectl.errors import ExitCode
from simulator.cloud_assembly import load_synthesized_pipeline
from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline, offline_account
from simulator.sample_data import generate_ratings, to_ratings_csv, to_u_data
from stacks.config import load_config, load_pipelines
from tests.conftest import BATCH_ONLY_BLOCK, BATCH_ONLY_STACK, TWO_PIPELINES_BLOCK, app_synth_once

STACKS = ("PersonalizePipeline-movielens", BATCH_ONLY_STACK)
ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}"
# Properties that give a resource its physical name: two stacks in one account must not share one.
NAME_PROPERTIES = ("BucketName", "LogGroupName", "StateMachineName", "FunctionName", "RoleName", "TopicName")


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    synth = app_synth_once(tmp_path_factory, TWO_PIPELINES_BLOCK)
    assert synth.completed.returncode == 0, synth.completed.stderr
    return synth.outdir


def template(cdk_out: Path, stack: str) -> dict[str, Any]:
    return dict(json.loads((cdk_out / f"{stack}.template.json").read_text()))


def test_each_pipeline_is_a_stack_of_its_own_with_its_own_definition_and_no_shared_physical_name(
    cdk_out: Path,
) -> None:
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    assert sorted(k for k, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack") == sorted(
        STACKS
    )
    names: dict[str, list[str]] = {}
    for stack in STACKS:
        resources = template(cdk_out, stack)["Resources"]
        for logical_id, resource in resources.items():
            for key, value in (resource.get("Properties") or {}).items():
                if key in NAME_PROPERTIES and isinstance(value, str):
                    names.setdefault(value, []).append(f"{stack}/{logical_id}")
        assert (cdk_out / f"{stack}.asl.json").exists()
    assert {name: where for name, where in names.items() if len(where) > 1} == {}
    # Each pipeline's values: its own over the shared defaults.
    movielens, films = load_pipelines(TWO_PIPELINES_BLOCK)
    assert films == load_config(BATCH_ONLY_BLOCK)
    assert (movielens.data.raw_key, movielens.schedule.expression) == ("raw/ml-100k/", "rate(1 day)")
    assert load_synthesized_pipeline(cdk_out, BATCH_ONLY_STACK).output_value("RawDataKey") == (
        "raw/ml-latest-small/ratings.csv"
    )
    schedules = {
        stack: next(
            r["Properties"]["ScheduleExpression"]
            for r in template(cdk_out, stack)["Resources"].values()
            if r["Type"] == "AWS::Scheduler::Schedule"
        )
        for stack in STACKS
    }
    assert schedules == {"PersonalizePipeline-movielens": "rate(1 day)", BATCH_ONLY_STACK: "rate(7 days)"}


@pytest.fixture
def side_by_side(cdk_out: Path) -> Iterator[tuple[OfflinePipeline, OfflinePipeline]]:
    with offline_account() as account:
        movielens = OfflinePipeline(load_synthesized_pipeline(cdk_out, STACKS[0]), account)
        films = OfflinePipeline(load_synthesized_pipeline(cdk_out, STACKS[1]), account)
        movielens.upload_raw_data(to_u_data(generate_ratings()))
        films.upload_raw_data(to_ratings_csv(generate_ratings(seed=3)))
        yield movielens, films


def test_two_pipelines_run_side_by_side_and_are_destroyed_one_at_a_time(
    side_by_side: tuple[OfflinePipeline, OfflinePipeline],
) -> None:
    movielens, films = side_by_side
    personalize = movielens.account.personalize

    assert movielens.start_execution(name="m1").status == "SUCCEEDED"
    assert films.start_execution(name="f1").status == "SUCCEEDED"
    assert sorted(g["name"] for g in personalize.resources_of("dataset_group")) == ["films", "movielens"]
    assert [c["name"] for c in personalize.resources_of("campaign")] == ["movielens-campaign"]
    jobs = [params["jobName"] for name, params in personalize.calls if name == "CreateBatchInferenceJob"]
    assert len(jobs) == 1 and jobs[0].startswith("films-batch-")
    assert movielens.bucket_name != films.bucket_name
    # Both outcome events are on the account's bus; each reaches only its own pipeline's topic (the
    # rules match on pipelineName).
    assert [e["detail"]["pipelineName"] for e in movielens.events] == ["movielens", "films"]
    for pipeline in side_by_side:
        delivered = [json.loads(d.message)["detail"]["pipelineName"] for d in pipeline.topics.delivered]
        assert delivered == [pipeline.synthesized.output_value("PipelineName")]

    destroyed = films.destroy()

    assert destroyed.status == "SUCCESS", destroyed.reason
    assert [g["name"] for g in personalize.resources_of("dataset_group")] == ["movielens"]
    assert [c["name"] for c in personalize.resources_of("campaign")] == ["movielens-campaign"]
    movielens.upload_raw_data(to_u_data(generate_ratings(users=230)))
    again = movielens.start_execution(name="m2")
    assert again.status == "SUCCEEDED", again.cause
    assert again.output["campaignAction"] == "updated"

    assert movielens.destroy().status == "SUCCESS"
    assert personalize.resources_of("dataset_group") == []


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_the_cli_picks_a_pipeline_and_says_which_exist_when_not_told(cdk_out: Path) -> None:
    code, out, err = run_cli("--offline", "--cdk-out", str(cdk_out), "--pipeline", "movielens", "run", "--wait")
    assert code == ExitCode.OK, err
    assert "execution:PersonalizePipeline-movielens:" in out
    assert "created movielens-campaign" in out

    code, _, err = run_cli("--offline", "--cdk-out", str(cdk_out), "status")
    assert code == ExitCode.ACTION_NEEDED
    assert "this cdk.out has the stacks of several pipelines: PersonalizePipeline-films, " in err
    assert "PersonalizePipeline-movielens (pass --pipeline NAME)" in err
