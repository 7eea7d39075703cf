"""tools/acceptance.py against the offline account: its leftover check, and a whole session.

The real-account acceptance test cannot run here; what can is run on the synthesized stack deployed
into the simulator: the leftover check finds what a run created and nothing after the teardown, and
the session (deploy, two runs, recommendations, the campaign update, observations, destroy, checks)
passes with `cdk deploy` and `cdk destroy` replaced by what they do to the offline account.
"""

from __future__ import annotations

import dataclasses
import io
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipelinectl.backend import Backend
from simulator.cloud_assembly import load_synthesized_pipeline
from simulator.offline import ACCOUNT_ID, REGION, OfflinePipeline
from stacks.artifacts import STACK_NAME
from stacks.config import PipelineConfig, load_config
from tests.conftest import SOLUTIONS_BLOCK, synthesize
from tests.e2e.conftest import deployed_with_ratings
from tools import acceptance
from tools.acceptance import (
    OBSERVATIONS,
    CallerIdentity,
    Dependencies,
    Leftover,
    Plan,
    Session,
    estimate_for,
    find_leftovers,
    generate_dataset,
)

ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT_ID}"
EXPRESSION = 'EXCLUDE ItemID WHERE Interactions.event_type IN ("watch")'


def personalize() -> Any:
    return boto3.client("personalize", region_name=REGION)


def test_the_leftover_check_finds_what_a_run_created_and_nothing_after_the_teardown(pipeline: OfflinePipeline) -> None:
    assert (
        pipeline.start_execution(name="acceptance-run-1", execution_input={"trigger": "acceptance"}).status
        == "SUCCEEDED"
    )
    group = f"{ARN}:dataset-group/movielens"
    personalize().create_event_tracker(name="movielens-clicks", datasetGroupArn=group)
    personalize().create_filter(name="movielens-unseen", datasetGroupArn=group, filterExpression=EXPRESSION)
    personalize().create_dataset_group(name="films")  # another pipeline's: not ours

    found = find_leftovers(personalize(), "movielens")

    assert [(item.kind, item.name) for item in found] == [
        ("campaign", "movielens-campaign"),
        ("dataset", "movielens-interactions"),
        ("dataset group", "movielens"),
        ("event tracker", "movielens-clicks"),
        ("filter", "movielens-filter-unseen"),  # the configured exclusion filter
        ("filter", "movielens-unseen"),
        ("schema", "movielens-interactions"),
        ("solution", "movielens-solution"),
    ]
    assert all(item.arn.startswith(ARN) and item.status for item in found if item.kind != "schema")

    assert pipeline.destroy().status == "SUCCESS"

    assert find_leftovers(personalize(), "movielens") == []
    assert [g["name"] for g in personalize().list_dataset_groups()["datasetGroups"]] == ["films"]


def test_a_resource_the_teardown_does_not_own_but_named_after_the_pipeline_is_a_leftover(
    pipeline: OfflinePipeline,
) -> None:
    pipeline.start_execution(name="acceptance-run-1", execution_input={"trigger": "acceptance"})
    personalize().create_dataset_group(name="movielens-v2")
    personalize().create_dataset_group(name="movielensx")  # neither the name nor "movielens-…"

    pipeline.destroy()

    assert find_leftovers(personalize(), "movielens") == [
        Leftover("dataset group", "movielens-v2", f"{ARN}:dataset-group/movielens-v2", "ACTIVE")
    ]


class OfflineCdk:
    """What `cdk deploy` and `cdk destroy` do to the offline account, for the commands the session runs."""

    def __init__(self, pipeline: OfflinePipeline) -> None:
        self.pipeline = pipeline
        self.commands: list[list[str]] = []
        # The fixture "deployed" the stack already; the session's deploy is what records it.
        self.stack_record = pipeline.account.cloudformation.stacks.pop(STACK_NAME)

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> int:
        self.commands.append(list(argv))
        assert env["AWS_REGION"] == REGION
        if "deploy" in argv:
            self.pipeline.account.cloudformation.stacks[STACK_NAME] = self.stack_record
            self._disable_schedule()  # schedule.enabled false in the acceptance context
        elif "destroy" in argv:
            assert self.pipeline.destroy().status == "SUCCESS"
            del self.pipeline.account.cloudformation.stacks[STACK_NAME]
            self._delete_bucket()  # data.onDestroy destroy
        return 0

    def _disable_schedule(self) -> None:
        scheduler = self.pipeline.scheduler()
        schedule = scheduler.get_schedule(Name=self.pipeline.schedule_name)
        scheduler.update_schedule(
            Name=self.pipeline.schedule_name,
            ScheduleExpression=schedule["ScheduleExpression"],
            FlexibleTimeWindow=schedule["FlexibleTimeWindow"],
            Target=schedule["Target"],
            State="DISABLED",
        )

    def _delete_bucket(self) -> None:
        s3 = self.pipeline.account.s3()
        bucket = self.pipeline.bucket_name
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        s3.delete_bucket(Bucket=bucket)


def offline_session(
    pipeline: OfflinePipeline, tmp_path: Path, config: PipelineConfig | None = None
) -> tuple[Session, OfflineCdk, io.StringIO, io.StringIO]:
    """A session on the stack of ``config`` (the default one), in the offline account, on its simulated clock."""
    config = config or PipelineConfig()
    plan = Plan(stack_name=STACK_NAME, pipeline_name=config.pipeline_name, context_block={}, config=config)
    data = generate_dataset(config)
    cdk = OfflineCdk(pipeline)
    clock = pipeline.account.clock
    out, err = io.StringIO(), io.StringIO()

    def wait(seconds: float) -> None:
        clock.advance(seconds)

    deps = Dependencies(
        out=out,
        err=err,
        environ={},
        run_command=cdk,
        # As `python -m pipelinectl --offline` does: watching pauses in real time, waiting for AWS
        # (the campaign update) moves the simulated clock.
        make_backend=lambda session: Backend(
            session=session,
            now=clock.now,
            pause_between_polls=lambda: time.sleep(0.01),
            wait=wait,
            simulated=True,
            offline=pipeline,
        ),
        identify=lambda session: CallerIdentity(ACCOUNT_ID, f"arn:aws:iam::{ACCOUNT_ID}:user/offline"),
        output_dir=lambda: tmp_path / "cdk.out",
    )
    session = Session(plan, data, estimate_for(plan, data), boto3.session.Session(), REGION, None, deps)
    return session, cdk, out, err


@pytest.fixture
def listed_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflinePipeline]:
    """The shape the shipped cdk.json has: two solutions (with a created key)."""
    synthesized = load_synthesized_pipeline(synthesize(tmp_path_factory, SOLUTIONS_BLOCK))
    with deployed_with_ratings(synthesized) as deployed:
        yield deployed


def test_a_whole_session_passes_against_the_offline_account(listed_pipeline: OfflinePipeline, tmp_path: Path) -> None:
    pipeline = listed_pipeline
    session, cdk, out, err = offline_session(pipeline, tmp_path, load_config(SOLUTIONS_BLOCK))

    session.precheck()
    code = session.run()
    pipeline.wait_for_background_executions()

    text = out.getvalue()
    assert code == 0, err.getvalue() + text
    assert [argv[len(acceptance.CDK_BASE)] for argv in cdk.commands] == ["deploy", "destroy"]
    assert "ACCEPTANCE PASSED" in text
    runs = session.evidence.runs
    assert [(name, record.run.outcome) for name, record in runs.items()] == [
        ("acceptance-run-1", "succeeded"),
        ("acceptance-run-2", "skipped"),
    ]
    # Each run's steps with their durations (each solution's branch), and the stages as Personalize timed them.
    assert "similar: Wait until solution version is ACTIVE  2:00:00" in text
    assert re.search(r"picks: SolutionVersion\.FULL +2:00:00", text)
    # Each solution's campaign answers its own request.
    assert "(picks) for recommendations for user 1" in text
    assert "(similar) for recommendations for item 1" in text
    for entry, _ in OBSERVATIONS:
        assert f"[{entry}]" in text
    assert "uploading the same bytes again gave the same ETag" in text
    assert "[personalize.campaign-update.stale-read] right after UpdateCampaign, DescribeCampaign said" in text
    assert "the update ended ACTIVE" in text
    assert (
        "[personalize.filters.expressions] filter movielens-filter-unseen (EXCLUDE ItemID WHERE "
        'Interactions.EVENT_TYPE IN ("*")) is ACTIVE; GetRecommendations through it answered 10 items' in text
    )
    assert "no Personalize resource named movielens or movielens-… is left" in text
    assert find_leftovers(personalize(), "movielens") == []
    assert err.getvalue() == ""


def test_a_failed_expectation_still_destroys_the_stack_and_fails_the_session(
    pipeline: OfflinePipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, cdk, out, err = offline_session(pipeline, tmp_path)
    # The campaign answers no items: the session must fail there, and still destroy everything.
    monkeypatch.setattr(
        acceptance.Session,
        "check_recommendations",
        lambda self, first: acceptance.check(False, "campaign movielens-campaign answered no items for user 1"),
    )

    code = session.run()
    pipeline.wait_for_background_executions()

    assert code == 1
    assert [argv[len(acceptance.CDK_BASE)] for argv in cdk.commands] == ["deploy", "destroy"]
    assert err.getvalue() == "error: campaign movielens-campaign answered no items for user 1\n"
    assert "ACCEPTANCE FAILED" in out.getvalue()
    assert "acceptance-run-2" not in session.evidence.runs
    assert find_leftovers(personalize(), "movielens") == []


def test_with_keep_the_stack_stays_and_the_destroy_command_is_printed(
    pipeline: OfflinePipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, cdk, out, _err = offline_session(pipeline, tmp_path)
    session.plan = dataclasses.replace(session.plan, keep=True)
    monkeypatch.setattr(acceptance.Session, "probe_campaign_update", lambda self, first: None)

    assert session.run() == 0
    pipeline.wait_for_background_executions()

    assert [argv[len(acceptance.CDK_BASE)] for argv in cdk.commands] == ["deploy"]
    hint = f"AWS_REGION={REGION} npx --no-install cdk --no-notices --no-version-reporting destroy PersonalizePipeline --force"
    assert hint in out.getvalue()
    assert {item.kind for item in find_leftovers(personalize(), "movielens")} >= {"campaign", "dataset group"}
