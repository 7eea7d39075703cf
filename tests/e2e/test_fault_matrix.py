"""The fault matrix: what goes wrong, what the user sees, what state the system is left in.

Every scenario runs the emitted definition end to end offline with the real handlers: a good
run first where the scenario needs a model in service, then the faulty run, then a recovery
run with the fault gone. After each one the invariants a user relies on are asserted:

- the campaign serves the last good solution version (a failed run never touches it);
- whatever the faulty run left behind, the next run continues from it and succeeds;
- nothing outside the pipeline is touched (another team's dataset group and its solution).

The scenarios are in simulator/fault_scenarios.py; docs/fault-matrix.md is rendered from them
(``python tools/render_fault_matrix.py``);
a test fails when it no longer matches, so the table cannot drift from what is tested.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from contract.layout import MANIFEST_KEY
from simulator.cloud_assembly import SynthesizedPipeline, load_synthesized_pipeline
from simulator.fault_scenarios import (
    BATCH_RUN_CALLS,
    DOC,
    EVERY_RUN_CALLS,
    FIRST_RUN_ONLY_CALLS,
    FOREIGN_GROUP,
    SCENARIOS,
    Scenario,
    render_report,
)
from simulator.interpreter import ExecutionResult
from simulator.offline import REGION, OfflinePipeline, OfflineSnapshot, offline_account
from simulator.sample_data import generate_ratings
from tests.conftest import BATCH_ONLY_STACK, TWO_PIPELINES_BLOCK, synthesize

# --- running a scenario --------------------------------------------------------------------------


def _new_ratings(pipeline: OfflinePipeline, seed: int) -> None:
    pipeline.upload_ratings(generate_ratings() + generate_ratings(users=30, seed=seed, first_user=1000 + 30 * seed))


def _foreign_resources() -> dict[str, str]:
    """Another team's dataset group (whose name starts like ours would not matter) and solution."""
    personalize = boto3.client("personalize", region_name=REGION)
    group = personalize.create_dataset_group(name=FOREIGN_GROUP)["datasetGroupArn"]
    return {"group": group}


@pytest.fixture(scope="module")
def batch_only(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    # BATCH_ONLY_BLOCK, synthesized as one of two pipelines (tests/conftest.py).
    return load_synthesized_pipeline(synthesize(tmp_path_factory, TWO_PIPELINES_BLOCK), BATCH_ONLY_STACK)


def _served(pipeline: OfflinePipeline) -> str | None:
    if pipeline.raw_data_format == "ratings-csv":  # the batch-only config: what the manifest names
        s3 = pipeline.account.s3()
        try:
            manifest = json.loads(s3.get_object(Bucket=pipeline.bucket_name, Key=MANIFEST_KEY)["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None
        return str(manifest["solutionVersionArn"])
    campaigns = pipeline.account.personalize.resources_of("campaign")
    return campaigns[0]["solutionVersionArn"] if campaigns and campaigns[0]["status"] == "ACTIVE" else None


def _assert_outcome(scenario: Scenario, result: ExecutionResult) -> None:
    assert result.status == scenario.status, (result.error, result.cause)
    if scenario.status == "SUCCEEDED":
        assert result.output["outcome"] == scenario.outcome
        return
    assert result.error == scenario.error, result.cause
    if scenario.cause is not None:
        assert scenario.cause in (result.cause or ""), result.cause


# Per worker and config: the account after the good run every later-run scenario starts from.
_AFTER_GOOD_RUN: dict[Path, tuple[OfflineSnapshot, str, dict[str, str]]] = {}


def _start(pipeline: OfflinePipeline) -> dict[str, str]:
    foreign = _foreign_resources()
    pipeline.account.clock.advance(120)
    pipeline.upload_ratings(generate_ratings())
    return foreign


def _after_a_good_run(pipeline: OfflinePipeline) -> tuple[str, dict[str, str]]:
    """A good run, then new ratings: run once per worker and config, restored for the others
    (the same synth, data and clock make the same account every time)."""
    cached = _AFTER_GOOD_RUN.get(pipeline.synthesized.directory)
    if cached is not None:
        snapshot, good_version, foreign = cached
        pipeline.restore(snapshot)
        return good_version, foreign
    foreign = _start(pipeline)
    good = pipeline.start_execution(name="good-run")
    assert good.status == "SUCCEEDED", good.cause
    _new_ratings(pipeline, 1)
    good_version = str(good.output["solutionVersionArn"])
    _AFTER_GOOD_RUN[pipeline.synthesized.directory] = (pipeline.snapshot(), good_version, foreign)
    return good_version, foreign


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_fault(request: pytest.FixtureRequest, scenario: Scenario) -> None:
    synthesized = request.getfixturevalue("batch_only" if scenario.deployment == "batch" else "synthesized")
    with offline_account() as account:
        pipeline = OfflinePipeline(synthesized, account)
        good_version: str | None = None
        if scenario.first_run:
            foreign = _start(pipeline)
        else:
            good_version, foreign = _after_a_good_run(pipeline)
        scenario.inject(pipeline)

        calls_before = len(account.personalize.calls)
        faulty = pipeline.start_execution(
            name="faulty-run", gap=timedelta(days=1), execution_input=scenario.execution_input
        )

        _assert_outcome(scenario, faulty)
        if scenario.group == "Execution input":
            assert account.personalize.calls[calls_before:] == []  # refused before touching anything
        if scenario.status == "SUCCEEDED":
            assert _served(pipeline) == faulty.output["solutionVersionArn"]
            if scenario.group in ("Throttling", "Lambda"):
                assert faulty.retries >= 1
        elif scenario.serves_new_version:
            assert _served(pipeline) not in (None, good_version)
        else:
            assert _served(pipeline) == good_version  # the last good version, or none yet
        # A run that succeeded despite the fault left a good run behind, which every test of later
        # runs (test_retraining_runs.py) continues from, and a run stopped by a refused List or
        # Describe changed nothing: the recovery run is for the others.
        succeeded = scenario.status == "SUCCEEDED" and scenario.deployment == "campaign"
        if not succeeded and not scenario.read_only:
            _assert_the_next_run_recovers(pipeline, scenario)
        # Nothing outside the pipeline was touched.
        assert [
            g["status"] for g in account.personalize.resources_of("dataset_group") if g["name"] == FOREIGN_GROUP
        ] == ["ACTIVE"]
        touched = [
            (name, params)
            for name, params in account.personalize.calls
            if not name.startswith(("List", "Describe", "Get")) and foreign["group"] in json.dumps(params)
        ]
        assert touched == []


def _assert_the_next_run_recovers(pipeline: OfflinePipeline, scenario: Scenario) -> None:
    """The service recovers (the user repairs their data), new ratings arrive: the next run continues
    from what is left."""
    pipeline.clear_faults()
    if scenario.repair is not None:
        scenario.repair(pipeline)
    _new_ratings(pipeline, 2)
    recovery = pipeline.start_execution(name="next-run", gap=timedelta(days=1))
    assert (recovery.status, recovery.output and recovery.output["outcome"]) == ("SUCCEEDED", "succeeded"), (
        recovery.error,
        recovery.cause,
    )
    assert _served(pipeline) == recovery.output["solutionVersionArn"]


def test_the_matrix_covers_every_personalize_call_the_workflow_makes(synthesized: SynthesizedPipeline) -> None:
    with offline_account() as account:
        pipeline = OfflinePipeline(synthesized, account)
        pipeline.upload_ratings(generate_ratings())
        pipeline.start_execution(name="first")
        first_calls = {name for name, _ in account.personalize.calls}
        before = len(account.personalize.calls)
        _new_ratings(pipeline, 1)
        pipeline.start_execution(name="second", gap=timedelta(days=1))
        later_calls = {name for name, _ in account.personalize.calls[before:]}

    assert later_calls == set(EVERY_RUN_CALLS)
    assert first_calls - later_calls == set(FIRST_RUN_ONLY_CALLS)


def test_the_matrix_covers_every_batch_call_of_a_deployment_to_batch(batch_only: SynthesizedPipeline) -> None:
    with offline_account() as account:
        pipeline = OfflinePipeline(batch_only, account)
        pipeline.upload_ratings(generate_ratings())
        pipeline.start_execution(name="first")
        before = len(account.personalize.calls)
        _new_ratings(pipeline, 1)
        pipeline.start_execution(name="second", gap=timedelta(days=1))
        later_calls = {name for name, _ in account.personalize.calls[before:]}

    campaign_calls = {"ListCampaigns", "DescribeCampaign", "UpdateCampaign", "GetRecommendations"}
    assert later_calls == (set(EVERY_RUN_CALLS) - campaign_calls) | set(BATCH_RUN_CALLS)


def test_the_report_in_docs_matches_the_scenarios() -> None:
    assert DOC.exists() and DOC.read_text() == render_report(), (
        "docs/fault-matrix.md is stale: run python tools/render_fault_matrix.py"
    )
