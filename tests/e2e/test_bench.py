"""The benchmark's targets, on the simulated clock (counts and simulated seconds, not timings)."""

from __future__ import annotations

import io
import json

from simulator import bench
from simulator.cloud_assembly import SynthesizedPipeline


def test_polling_targets_hold_and_the_baseline_polls_the_notebook_way(synthesized: SynthesizedPipeline) -> None:
    measured = bench.polling_cycles(synthesized)
    out = io.StringIO()

    assert bench.print_polling(measured, out), out.getvalue()
    ours, base = measured["ours"], measured["baseline"]
    # The baseline checks every 30 s (60 s in training) through a Lambda: 120 min of training
    # alone is 120 checks of three transitions each.
    assert base[1].transitions > 3 * 120
    assert base[1].lambda_invocations > 120 + ours[1].lambda_invocations
    assert ours[1].delays["dataset group"] is None  # reused, not waited for


def test_a_month_of_daily_runs_trains_once_per_day_with_new_data(synthesized: SynthesizedPipeline) -> None:
    result = bench.month(synthesized, "ours")

    assert result.trainings_started == len(bench.NEW_DATA_DAYS) == 8
    assert result.automatic_trainings == 0
    assert result.campaign_updates == 7
    assert result.outcomes == {"succeeded": 8, "skipped": 22}


def test_the_baseline_is_built_with_the_sdk_around_the_same_lambdas(synthesized: SynthesizedPipeline) -> None:
    emitted = json.loads(synthesized.definition_text)
    baseline = bench.build_notebook_baseline(emitted)["States"]

    assert baseline["Wait for solution version"] == {"Seconds": 60, "Type": "Wait", "Next": "Check solution version"}
    assert baseline["Wait for dataset import job"]["Seconds"] == 30
    assert baseline["Start training"]["Resource"] == emitted["States"]["Start training"]["Resource"]
    assert baseline["Check solution version"]["Resource"] == bench.NOTEBOOK_DESCRIBE


def test_with_several_solutions_the_baseline_trains_them_one_after_the_other_and_delays_are_per_solution() -> None:
    """`make bench` on the shipped config (two solutions) compares each solution's waits; building the
    baseline needs no synth (the definition is the one app.py emits for the config)."""
    from stacks.config import load_config
    from stacks.workflow import build_workflow_definition
    from tests.conftest import SOLUTIONS_BLOCK

    emitted = build_workflow_definition(load_config({"solutions": SOLUTIONS_BLOCK["solutions"][:2]}))
    baseline = bench.build_notebook_baseline(emitted)["States"]

    assert bench.solution_scopes(emitted) == ["picks", "similar"]
    assert bench.solution_scopes(build_workflow_definition(load_config(None))) == [""]
    # The notebook's cells again for the second solution, once the first one's campaign is ACTIVE.
    assert baseline["Start dataset import"]["Next"] == "Wait for dataset import job"
    assert baseline["Dataset import job ready?"]["Choices"][0]["Next"] == "picks: Ensure solution"
    assert baseline["picks: Campaign ready?"]["Choices"][0]["Next"] == "similar: Ensure solution"
    assert baseline["similar: Campaign ready?"]["Choices"][0]["Next"] == "Run succeeded"
    branch = emitted["States"]["Train each solution"]["Branches"][1]["States"]
    assert baseline["similar: Start training"]["Resource"] == branch["similar: Start training"]["Resource"]
